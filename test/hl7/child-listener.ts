/**
 * Child process for the crash test (test/hl7/durability.test.ts): an HL7 interface on an ephemeral
 * port with its queue in argv[2]; prints the port, then runs until killed. argv[3] "paused" leaves
 * messages queued (not applied), so the parent can see that every ACKed one was stored.
 */
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import { createLogger } from '../../src/logger.js';

const hl7 = await startHl7Interface({
  port: 0,
  host: '127.0.0.1',
  dataDir: process.argv[2]!,
  writer: storeWriter(new FhirStore()),
  logger: createLogger('silent'),
  applyPaused: process.argv[3] === 'paused',
});
process.stdout.write(`PORT ${hl7.port}\n`);
