/**
 * deploy/ cannot be built or applied here (no Docker, no cluster), so its manifests are parsed and checked
 * for the properties docs/deploy.md promises: probes on /readyz and /healthz, resources, a non-root
 * read-only container, selectors that actually match, an HPA and PDB on the Deployment, and configuration
 * keys that src/config.ts really reads.
 */
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';

const DEPLOY = path.resolve('deploy');
const K8S = path.join(DEPLOY, 'k8s');

type Obj = Record<string, unknown>;
const docs: Obj[] = fs
  .readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(K8S, f), 'utf8')).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as Obj;
    }),
  );

function byKind<T = Obj>(kind: string): T {
  const found = docs.filter((d) => d.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as T;
}

/** Environment variables src/config.ts documents ("NAME — meaning" in its doc comments). */
function configVariables(): Set<string> {
  const source = fs.readFileSync(path.resolve('src/config.ts'), 'utf8');
  return new Set([...source.matchAll(/\*\s+([A-Z][A-Z0-9_]+) —/g)].map((m) => m[1]!));
}

interface Container {
  name: string;
  ports: Array<{ name: string; containerPort: number }>;
  env: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom: Array<{ configMapRef: { name: string } }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
}
interface Deployment {
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { securityContext: { runAsNonRoot: boolean; runAsUser: number }; containers: Container[] } };
  };
}

describe('deploy/k8s', () => {
  const deployment = byKind<Deployment>('Deployment');
  const container = deployment.spec.template.spec.containers[0]!;
  const podLabels = deployment.spec.template.metadata.labels;
  const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);

  it('lists every manifest in the kustomization', () => {
    const kustomization = parseAllDocuments(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    for (const file of kustomization.resources) expect(fs.existsSync(path.join(K8S, file))).toBe(true);
    expect(kustomization.resources.length).toBe(fs.readdirSync(K8S).filter((f) => f.endsWith('.yaml')).length - 1);
  });

  it('probes readiness on /readyz and liveness on /healthz, on the container port', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.ports.map((p) => p.name)).toContain('http');
  });

  it('sets requests and limits, and runs non-root, read-only, without capabilities', () => {
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(deployment.spec.template.spec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('has a Deployment selector, Service, HPA and PDB that all point at the same pods', () => {
    expect(matches(deployment.spec.selector.matchLabels)).toBe(true);
    const service = byKind<{ spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } }>('Service');
    expect(matches(service.spec.selector)).toBe(true);
    expect(service.spec.ports[0]!.targetPort).toBe('http');
    const hpa = byKind<{ apiVersion: string; spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: Array<{ resource: { name: string } }> } }>('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics[0]!.resource.name).toBe('cpu');
    expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    const pdb = byKind<{ spec: { selector: { matchLabels: Record<string, string> }; minAvailable: number } }>('PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
  });

  it('configures only variables src/config.ts reads, with the sandbox off, and takes secrets from the Secret', () => {
    const known = configVariables();
    const configMap = byKind<{ metadata: { name: string }; data: Record<string, string> }>('ConfigMap');
    const envKeys = Object.keys(configMap.data).filter((k) => /^[A-Z0-9_]+$/.test(k));
    expect(envKeys.filter((k) => !known.has(k))).toEqual([]);
    expect(configMap.data.SANDBOX).toBe('off');
    expect(configMap.data.PUBLIC_BASE_URL).toMatch(/^https:\/\//);
    expect(JSON.parse(configMap.data['cds-clients.json']!)).toEqual(expect.arrayContaining([expect.objectContaining({ issuer: expect.any(String) })]));
    expect(container.envFrom[0]!.configMapRef.name).toBe(configMap.metadata.name);

    const secret = byKind<{ metadata: { name: string }; stringData: Record<string, string> }>('Secret');
    const refs = container.env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    expect(refs.map((r) => r.key).sort()).toEqual(['ADMIN_TOKEN', 'DATABASE_URL', 'SESSION_KEYS']);
    for (const ref of refs) {
      expect(ref.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(ref.key);
    }
    // No secret material in the ConfigMap.
    expect(Object.keys(configMap.data).filter((k) => /TOKEN|PASSWORD|SECRET|DATABASE_URL|KEYS/.test(k))).toEqual([]);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  it('is multi-stage on node:20-slim, installs production dependencies with npm ci and builds', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM node:20-slim\b/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/npm run build/);
  });

  it('runs as a non-root user with a HEALTHCHECK on /healthz and the sandbox off', () => {
    const user = instructions.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER\s+(root|0)\b/);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(dockerfile).toMatch(/SANDBOX=off/);
    expect(instructions.pop()).toMatch(/^CMD \["node", "dist\/src\/server\.js"\]/);
  });

  it('copies only paths that exist in the repository', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const sources = line.replace(/^COPY\s+/, '').split(/\s+/).slice(0, -1);
      for (const source of sources) expect(fs.existsSync(path.resolve(source))).toBe(true);
    }
  });
});

/** Every variable loadConfig reads, observed by handing it an environment that records each lookup. */
function variablesRead(): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_target, key) {
      if (typeof key === 'string') seen.add(key);
      return undefined;
    },
  });
  loadConfig(env);
  return seen;
}

/** The variable names in the first column of the README's configuration table. */
function readmeVariables(): Set<string> {
  const rows = fs.readFileSync(path.resolve('README.md'), 'utf8').split('\n').filter((l) => l.startsWith('| `'));
  return new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)));
}

/** NAME=value pairs of the Dockerfile's ENV instructions (continuation lines included). */
function dockerfileEnv(): Record<string, string> {
  const text = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const env: Record<string, string> = {};
  for (const line of text.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const m of line.matchAll(/([A-Z][A-Z0-9_]*)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return env;
}

describe('configuration surface: src/config.ts, the README table and deploy/ agree', () => {
  const read = variablesRead();
  // Read by Node and npm themselves, not by Vigil.
  const runtimeConventions = new Set(['NODE_ENV']);

  it('every variable loadConfig reads is documented in src/config.ts and in the README table, and nothing else is', () => {
    expect(read.size).toBeGreaterThan(40);
    expect([...read].sort()).toEqual([...configVariables()].sort());
    expect([...read].sort()).toEqual([...readmeVariables()].sort());
  });

  it('the Dockerfile, ConfigMap, Secret and Deployment set only variables loadConfig reads', () => {
    const configMap = byKind<{ data: Record<string, string> }>('ConfigMap');
    const secret = byKind<{ stringData: Record<string, string> }>('Secret');
    const container = byKind<Deployment>('Deployment').spec.template.spec.containers[0]!;
    const set = [
      ...Object.keys(dockerfileEnv()),
      ...Object.keys(configMap.data).filter((k) => /^[A-Z0-9_]+$/.test(k)),
      ...Object.keys(secret.stringData),
      ...container.env.map((e) => e.name),
    ];
    expect(set.filter((name) => !read.has(name) && !runtimeConventions.has(name))).toEqual([]);
  });

  it('the environment the manifests assemble loads: sandbox off, PostgreSQL on, every value well-formed', () => {
    const configMap = byKind<{ data: Record<string, string> }>('ConfigMap');
    const secret = byKind<{ stringData: Record<string, string> }>('Secret');
    const container = byKind<Deployment>('Deployment').spec.template.spec.containers[0]!;
    const env: Record<string, string> = { ...dockerfileEnv() };
    for (const [k, v] of Object.entries(configMap.data)) if (/^[A-Z0-9_]+$/.test(k)) env[k] = v;
    for (const e of container.env as Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }>) {
      const ref = e.valueFrom?.secretKeyRef;
      env[e.name] = ref ? secret.stringData[ref.key]! : e.value!;
    }
    // The example Secret holds placeholders; SESSION_KEYS must be a real key for loadConfig to accept it.
    expect(() => loadConfig(env)).toThrow(/SESSION_KEYS/);
    env.SESSION_KEYS = randomBytes(32).toString('base64');
    const config = loadConfig(env);
    expect(config).toMatchObject({ sandbox: false, port: 8080, backend: 'wasm', dataDir: '/var/lib/vigil' });
    expect(config.databaseUrl).toMatch(/^postgres:\/\//);
    expect(config.hl7Port).toBeUndefined();
    expect(config.publicBaseUrl).toMatch(/^https:\/\//);
    expect(config.cdsClientsFile).toBe('/etc/vigil/clients/cds-clients.json');
  });
});
