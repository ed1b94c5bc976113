/** A programmable FHIR server on localhost for client tests: each request goes to `handle`. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  url: string;
  authorization?: string;
  body: string;
}

export interface FakeResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface FakeServer {
  baseUrl: string;
  requests: FakeRequest[];
  handle: (req: FakeRequest) => FakeResponse;
  close(): Promise<void>;
}

export const R4_METADATA = { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], date: '2024-01-01' };

export async function startFakeServer(handle: (req: FakeRequest) => FakeResponse, options: { metadata?: unknown } = {}): Promise<FakeServer> {
  const fake: FakeServer = { baseUrl: '', requests: [], handle, close: async () => undefined };
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/fhir\/?/, '');
      const r: FakeRequest = { method: req.method ?? 'GET', url: decodeURIComponent(path), body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
      fake.requests.push(r);
      const answer = path === 'metadata' ? { body: options.metadata ?? R4_METADATA } : fake.handle(r);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/fhir+json', ...answer.headers });
        res.end(answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  fake.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return fake;
}
