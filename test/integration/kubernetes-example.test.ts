/**
 * Issue 3, capability 6: deploy/kubernetes.yaml is an example that works: its ConfigMap's config
 * serves tokens with the Secret's and the hashed demo secret, its probes reach the admin listener,
 * and its grace period covers the drain.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { tokenRequest } from '../helpers/client.js';
import { expectToken } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

interface Container {
  name: string;
  env?: { name: string; value: string }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}

const docs = parseAllDocuments(readFileSync(new URL('../../deploy/kubernetes.yaml', import.meta.url), 'utf8')).map((d) => d.toJS());
const byKind = (kind: string, name?: string): any => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
const secret = byKind('Secret').stringData as Record<string, string>;
const configText = byKind('ConfigMap').data['config.yaml'] as string;
const pod = byKind('Deployment').spec.template.spec as { terminationGracePeriodSeconds: number; containers: Container[] };
const sidecar = pod.containers.find((c) => c.name === 'oauth2-sidecar')!;
const api = pod.containers.find((c) => c.name !== 'oauth2-sidecar')!;

/** The ConfigMap's config, validated with the Secret's variables in the environment. */
function exampleConfig() {
  const saved = { ...process.env };
  Object.assign(process.env, secret);
  try {
    return parseConfig(configText, 'kubernetes.yaml');
  } finally {
    for (const key of Object.keys(secret)) if (saved[key] === undefined) delete process.env[key];
  }
}

const basic = (id: string, password: string): string => `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}`;

t.test('the ConfigMap config issues tokens: acme with its Secret value (client_secret_env)', async (t) => {
  const sc = await startSidecar(exampleConfig());
  t.teardown(() => sc.close());
  expectToken(
    t,
    await tokenRequest(sc.port, 'grant_type=client_credentials', {
      host: 'orders.example.com',
      authorization: basic('acme', secret.ACME_SECRET!),
    }),
  );
});

t.test('the ConfigMap config issues tokens: partner with the demo secret its client_secret_hash was made from', async (t) => {
  const sc = await startSidecar(exampleConfig());
  t.teardown(() => sc.close());
  expectToken(
    t,
    await tokenRequest(sc.port, 'grant_type=client_credentials', {
      host: 'orders.example.com',
      authorization: basic('partner', 'partner-demo-secret'),
    }),
  );
});

t.test('probes: liveness /healthz and readiness /readyz on the admin port, which admin_listen binds on the pod IP', async (t) => {
  const config = exampleConfig();
  const admin = sidecar.ports!.find((p) => p.name === 'admin')!;
  t.strictSame(config.admin_listen, { host: '0.0.0.0', port: admin.containerPort }, 'the kubelet probes the pod IP, not 127.0.0.1');
  t.strictSame(sidecar.livenessProbe!.httpGet, { path: '/healthz', port: 'admin' });
  t.strictSame(sidecar.readinessProbe!.httpGet, { path: '/readyz', port: 'admin' });
});

t.test('termination: the grace period covers shutdown_delay_ms + shutdown_timeout_ms, and the API outlives the delay', async (t) => {
  const { shutdown_delay_ms, shutdown_timeout_ms } = exampleConfig();
  t.ok(pod.terminationGracePeriodSeconds * 1000 > shutdown_delay_ms + shutdown_timeout_ms, `${pod.terminationGracePeriodSeconds} s`);
  t.ok(api.lifecycle!.preStop!.sleep!.seconds * 1000 > shutdown_delay_ms, 'the API gets SIGTERM only after the sidecar stopped accepting');
});

t.test('the ConfigMap is mounted as the directory of CONFIG_FILE (no subPath, or updates never arrive)', async (t) => {
  const configFile = sidecar.env!.find((e) => e.name === 'CONFIG_FILE')!.value;
  const mount = sidecar.volumeMounts!.find((m) => m.name === 'config')!;
  t.equal(mount.mountPath, posix.dirname(configFile));
  t.equal(mount.subPath, undefined);
});

t.test('scale-out: several replicas share one Redis: store redis with REDIS_URL from the Secret naming the Redis Service', async (t) => {
  const config = exampleConfig();
  t.ok(byKind('Deployment', 'orders-api').spec.replicas > 1, 'several replicas');
  t.strictSame(config.store, { type: 'redis', url_env: 'REDIS_URL', cache_ttl_ms: 2000 });
  const url = new URL(secret.REDIS_URL!);
  const service = byKind('Service', url.hostname);
  t.ok(service, `a Service named ${url.hostname}`);
  t.equal(service.spec.ports[0].port, Number(url.port));
  t.strictSame(
    byKind('Deployment', url.hostname).spec.template.metadata.labels,
    service.spec.selector,
    'the Service selects the Redis pod',
  );
});
