/**
 * Child process for the crash tests (test/hl7/durability.test.ts): an HL7 interface on an ephemeral
 * port with its SQLite queue in argv[2] — or, with DATABASE_URL set, the PostgreSQL queue in schema
 * VIGIL_TEST_PG_SCHEMA (claim lease VIGIL_TEST_LEASE_MS); prints the port, then runs until killed.
 * argv[3] "paused" leaves messages queued (not applied), so the parent can see that every ACKed one
 * was stored; VIGIL_TEST_APPLY_DELAY_MS slows each FHIR write (so claims are held when it dies).
 */
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import { openPgQueue } from '../../src/hl7/pg-queue.js';
import { openPgPool } from '../../src/storage/postgres.js';
import { createLogger } from '../../src/logger.js';

const url = process.env.DATABASE_URL;
const delayMs = Number(process.env.VIGIL_TEST_APPLY_DELAY_MS ?? 0);
const writer = storeWriter(new FhirStore());
const slowWriter: typeof writer = {
  ...writer,
  write: async (resources) => {
    await new Promise((r) => setTimeout(r, delayMs));
    await writer.write(resources);
  },
};
const store = url
  ? await openPgQueue(openPgPool(url, { max: 5, schema: process.env.VIGIL_TEST_PG_SCHEMA! }), {
      ownsPool: true,
      ...(process.env.VIGIL_TEST_LEASE_MS ? { leaseMs: Number(process.env.VIGIL_TEST_LEASE_MS) } : {}),
    })
  : undefined;
const hl7 = await startHl7Interface({
  port: 0,
  host: '127.0.0.1',
  dataDir: process.argv[2]!,
  ...(store ? { store } : {}),
  writer: delayMs > 0 ? slowWriter : writer,
  logger: createLogger('silent'),
  applyPaused: process.argv[3] === 'paused',
});
process.stdout.write(`PORT ${hl7.port}\n`);
