/** Entry point: `npm start`. Loads configuration, builds the app and listens. */
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config.js';
import { createVigil } from './app.js';
import { startHl7FromConfig } from './hl7/index.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const vigil = await createVigil(config);
  // HL7 v2 MLLP listener (HL7_PORT, default 2575; off disables): docs/hl7.md.
  const hl7 = await startHl7FromConfig(config, {
    logger: vigil.logger,
    ...(vigil.sandboxStore ? { sandboxStore: vigil.sandboxStore } : {}),
    // Ahead-of-time explanations (src/precompute) start when an ORU brings new Observations.
    ...(vigil.precompute ? { onPatientDataChanged: (patientId: string) => vigil.precompute?.notify(patientId) } : {}),
    onPurged: (purged) => vigil.metrics.countHl7Purged(purged),
  });
  // vigil_hl7_queue_depth{queue}: read from the message store at each scrape.
  if (hl7) {
    vigil.metrics.registerQueueDepth('hl7', async () => {
      const c = await hl7.store.counts();
      return { inbound: c.pending, 'inbound-failed': c.failed, outbound: c.outboundPending, 'outbound-failed': c.outboundFailed };
    });
  }
  const server = vigil.app.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    vigil.logger.info({ port, sandbox: config.sandbox }, `Vigil listening on http://localhost:${port}`);
    if (config.sandbox) vigil.logger.info(`Sandbox EHR: http://localhost:${port}/sandbox`);
  });
  server.keepAliveTimeout = config.httpKeepAliveMs;
  // A request's headers may arrive on a connection that has been idle up to keepAliveTimeout.
  server.headersTimeout = config.httpKeepAliveMs + 1000;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    vigil.logger.info({ signal }, 'shutting down');
    server.close(() => {
      (hl7 ? hl7.close() : Promise.resolve()).then(() => vigil.close()).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    // In-flight hook calls get a grace period; then we exit regardless.
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // Start-up failures are configuration or packaging problems; no patient data can be involved yet.
  console.error('Vigil failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
