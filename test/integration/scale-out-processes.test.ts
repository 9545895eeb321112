/**
 * Scale-out in real child processes (src/main.ts, as the binary runs): two sidecar processes on
 * loopback share the test run's Redis; a token from one is accepted by the other, and a revocation
 * on one (its reload disabled the profile) is seen by the other.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { freshPrefix, REDIS_URL, requireRedis } from '../helpers/redis.js';
import { spawnSidecar } from '../helpers/sidecar-process.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

t.test('scale-out: two processes on one Redis share tokens and revocations', async (t) => {
  await requireRedis();
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = t.testdir({});
  const prefix = freshPrefix();
  const config = (enabled = true): string => {
    const doc = JSON.parse(configText(upstream.url, { admin_listen: undefined })) as { access_profiles: Record<string, unknown>[] };
    doc.access_profiles[1]!.enabled = enabled;
    return JSON.stringify({ ...doc, store: { type: 'redis', url_env: 'REDIS_URL', key_prefix: prefix, cache_ttl_ms: 200 } });
  };
  const env = { ...process.env, REDIS_URL, LOG_LEVEL: 'warn' };
  // One after the other: two children compiling at once on a busy 2-core machine start slower than twice one.
  const p0 = await spawnSidecar(t, join(dir, 'p0.yaml'), config(), { env });
  const p1 = await spawnSidecar(t, join(dir, 'p1.yaml'), config(), { env });
  const status = async (port: number, token: string): Promise<number> =>
    (await request(port, 'GET', '/public/x', { authorization: `Bearer ${token}` })).status;
  const token = await getToken(p0.port, BASIC.b);
  t.same([await status(p0.port, token), await status(p1.port, token)], [200, 200], 'issued by p0, accepted by both');
  writeFileSync(join(dir, 'p0.yaml'), config(false));
  p0.child.kill('SIGHUP');
  t.ok(await eventually(async () => (await status(p1.port, token)) === 401, 5000), 'revoked on p0, refused by p1');
});
