/**
 * The MLLP listener (TCP, HL7 v2.5.1 Appendix C): persistent connections carrying any number of
 * messages, answered strictly in order per connection. A connection's failure (reset, garbage, a
 * frame over the size limit) affects only that connection; nothing a peer sends can throw out of here.
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { frame, MllpDecoder } from './mllp.js';
import type { Ingest, IngestOutcome } from './ingest.js';

export interface MllpListenerOptions {
  port: number;
  host?: string;
  maxMessageBytes: number;
  ingest: Pick<Ingest, 'receive' | 'oversize'>;
  logger: Logger;
  /** Close connections silent for this long (default 10 minutes; 0 = never). */
  idleTimeoutMs?: number;
}

export interface MllpListener {
  port: number;
  /** Stops accepting, ends open connections after their in-flight ACKs, and resolves when closed. */
  close(): Promise<void>;
  connections(): number;
}

export function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  const { logger, ingest } = options;
  const sockets = new Set<Socket>();

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const decoder = new MllpDecoder(options.maxMessageBytes);
    // ACKs must leave in message order even though stores complete asynchronously.
    let chain: Promise<void> = Promise.resolve();
    const send = (outcome: Promise<IngestOutcome> | IngestOutcome) => {
      chain = chain.then(async () => {
        const { ack } = await outcome;
        if (!socket.destroyed) socket.write(frame(ack));
      }).catch((err: unknown) => {
        // Unreachable by design (receive never throws); if it happens, drop only this connection.
        logger.error({ errMessage: (err as Error)?.message }, 'hl7: could not answer; closing connection');
        socket.destroy();
      });
    };
    if (options.idleTimeoutMs !== 0) socket.setTimeout(options.idleTimeoutMs ?? 600_000, () => socket.end());
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.kind === 'frame') send(ingest.receive(event.payload));
        else if (event.kind === 'oversize') send(ingest.oversize(event.head, event.bytes));
        else logger.warn({ bytes: event.bytes }, 'hl7: truncated frame dropped (new start block before end block)');
      }
    });
    socket.on('error', (err) => logger.debug({ errMessage: err.message }, 'hl7: connection error'));
    socket.on('close', () => {
      sockets.delete(socket);
      if (decoder.buffered > 0) logger.warn({ bytes: decoder.buffered }, 'hl7: connection closed inside a frame (truncated message not ACKed)');
    });
  });
  server.on('error', (err) => logger.error({ errMessage: err.message }, 'hl7: listener error'));

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        port,
        connections: () => sockets.size,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.end();
            // Peers that do not close their side get cut after a grace period.
            setTimeout(() => {
              for (const s of sockets) s.destroy();
            }, 2000).unref();
          }),
      });
    });
  });
}
