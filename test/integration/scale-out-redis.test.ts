/**
 * Scale-out with the Redis store: three replicas, each the CLI's full wiring (`main()`: its own
 * Redis connection, read cache, config watcher and admin listener) on loopback, share the test run's
 * Redis as pods of one Deployment behind one Service would. They run in this process because a child
 * process takes tens of seconds to start on a loaded CI machine; scale-out-processes.test.ts runs
 * real child processes. A fresh key prefix keeps this file's keys apart from every other test's.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { getToken, request, tokenRequest } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { freshPrefix, privateRedis, REDIS_URL, requireRedis } from '../helpers/redis.js';
import { startMain, type InProcessSidecar } from '../helpers/in-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

const CACHE_TTL_MS = 300;
let upstream: Upstream;
let dir: string;
const prefix = freshPrefix();
/** The fixture config with the Redis store; `profileB` patches access profile "b". */
const config = (profileB: Record<string, unknown> = {}, store: Record<string, unknown> = {}): string => {
  const doc = JSON.parse(configText(upstream.url, { admin_listen: undefined })) as Record<string, unknown>;
  const profiles = doc.access_profiles as Record<string, unknown>[];
  profiles[1] = { ...profiles[1], ...profileB };
  return JSON.stringify({
    ...doc,
    store: { type: 'redis', url_env: 'REDIS_URL', key_prefix: prefix, cache_ttl_ms: CACHE_TTL_MS, ...store },
  });
};
const env = { REDIS_URL };
// The config watcher validates a reloaded file against process.env, as the binary's would.
process.env.REDIS_URL = REDIS_URL;

/** Writes a replica's config file and runs main() on it. */
function replica(t: Test, name: string, text: string, environment: NodeJS.ProcessEnv = env): Promise<InProcessSidecar> {
  writeFileSync(join(dir, name), text);
  return startMain(t, join(dir, name), environment);
}
const status = async (port: number, token: string, path = '/public/x'): Promise<number> =>
  (await request(port, 'GET', path, { authorization: `Bearer ${token}` })).status;

let replicas: InProcessSidecar[];
t.before(async () => {
  await requireRedis();
  upstream = await startUpstream();
  dir = t.testdir({});
  replicas = await Promise.all([0, 1, 2].map((i) => replica(t, `r${i}.yaml`, config())));
});
t.teardown(() => upstream.close());

t.test('scale-out: a token issued by one replica is accepted by the other two', async (t) => {
  const token = await getToken(replicas[0]!.port, BASIC.b);
  t.same(await Promise.all(replicas.map((r) => status(r.port, token))), [200, 200, 200]);
  t.same(await Promise.all(replicas.map((r) => status(r.port, token, '/orders/x'))), [403, 403, 403], 'scope holds everywhere');
});

t.test('scale-out: revocation on one replica (its reload disabled the profile) is seen by all within cache_ttl_ms', async (t) => {
  const token = await getToken(replicas[1]!.port, BASIC.b);
  t.same(await Promise.all(replicas.map((r) => status(r.port, token))), [200, 200, 200], 'cached on every replica');
  writeFileSync(join(dir, 'r0.yaml'), config({ enabled: false }));
  await replicas[0]!.running.watcher.check(); // as SIGHUP does
  await replicas[0]!.logged('config_reloaded');
  // Replicas 1 and 2 still have the profile enabled in their config: only Redis tells them.
  t.ok(await eventually(async () => (await status(replicas[2]!.port, token)) === 401, 3000), 'replica 2 refuses it');
  t.equal(await status(replicas[1]!.port, token), 401, 'replica 1 refuses it');
  writeFileSync(join(dir, 'r0.yaml'), config());
  await replicas[0]!.running.watcher.check();
  await replicas[0]!.logged('config_reloaded', 2);
  const fresh = await getToken(replicas[0]!.port, BASIC.b);
  t.same(await Promise.all(replicas.map((r) => status(r.port, fresh))), [200, 200, 200], 'enabled again: new tokens work');
  t.equal(await status(replicas[0]!.port, token), 401, 'the revoked token stays revoked');
});

t.test('scale-out: a restart of one replica keeps every token working', async (t) => {
  const tokens = await Promise.all(replicas.map((r) => getToken(r.port, BASIC.b)));
  t.equal(await replicas[2]!.running.stop(false), 0, 'stopped cleanly');
  replicas[2] = await startMain(t, join(dir, 'r2.yaml'), env);
  t.same(await Promise.all(tokens.map((token) => status(replicas[2]!.port, token))), [200, 200, 200]);
});

t.test('scale-out §3: Redis stopped and started mid-test: 503 and not ready, no crash; served again without a restart', async (t) => {
  const server = await privateRedis(t);
  const privateEnv = { PRIVATE_REDIS_URL: server.url };
  const text = configText(upstream.url).replace(/^\{/, `{"store": {"type": "redis", "url_env": "PRIVATE_REDIS_URL"},`);
  const pair = await Promise.all([0, 1].map((i) => replica(t, `p${i}.yaml`, text, privateEnv)));
  const token = await getToken(pair[0]!.port, BASIC.b);
  t.equal(await status(pair[1]!.port, token), 200);
  await server.stop();
  t.equal(await status(pair[1]!.port, token), 200, 'still in replica 1 read cache');
  t.ok(await eventually(async () => (await status(pair[0]!.port, token)) === 503, 3000), 'not cached on replica 0: 503');
  t.equal(
    (await tokenRequest(pair[0]!.port, 'grant_type=client_credentials', { authorization: BASIC.b })).status,
    503,
    'the token endpoint',
  );
  const ready = await request(pair[1]!.adminPort, 'GET', '/readyz');
  t.strictSame([ready.status, ready.json], [503, { status: 'not_ready', reason: 'redis unavailable' }]);
  t.match(await pair[1]!.logged('store_unavailable'), { level: 'error', store: 'redis' });
  t.match(pair[0]!.events('access_denied').at(-1), { status: 503, error: 'store_unavailable' });
  await server.start();
  t.ok(await eventually(async () => (await request(pair[1]!.adminPort, 'GET', '/readyz')).status === 200, 5000), 'ready again');
  const fresh = await getToken(pair[1]!.port, BASIC.b);
  t.same(await Promise.all(pair.map((p) => status(p.port, fresh))), [200, 200]);
  t.match(pair[1]!.events('store_recovered'), [{ level: 'warn', store: 'redis' }]);
});

t.test('scale-out: an access policy of N requests a minute over three replicas admits exactly N (counters in Redis)', async (t) => {
  const N = 7;
  const ownPrefix = freshPrefix();
  const text = JSON.stringify({
    ...JSON.parse(config({ policy: 'tight' }, { key_prefix: ownPrefix })),
    policies: [{ name: 'tight', rate_limit: { requests: N, window_s: 60 } }],
  });
  const three = await Promise.all([0, 1, 2].map((i) => replica(t, `p${i}.yaml`, text)));
  const token = await getToken(three[0]!.port, BASIC.b);
  // 21 calls at once, spread over the three replicas; a window boundary between them would let a few
  // more through, so a window that is about to end is waited out first.
  const secondsLeft = 60 - (Math.floor(Date.now() / 1000) % 60);
  if (secondsLeft < 5) await new Promise((resolve) => setTimeout(resolve, secondsLeft * 1000));
  const statuses = await Promise.all(Array.from({ length: 3 * N }, (_, i) => status(three[i % 3]!.port, token)));
  t.equal(statuses.filter((s) => s === 200).length, N, 'exactly N admitted');
  t.equal(statuses.filter((s) => s === 429).length, 2 * N, 'the rest refused with 429');
});
