/**
 * Scale-out with JWT access tokens and no Redis at all: replicas (the CLI's full wiring, `main()`,
 * in this process: see scale-out-redis.test.ts for why) holding the same keys accept each other's
 * tokens; `kid` rotation in three steps; revocation falls back to disabling the access profile.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { startMain, type InProcessSidecar } from '../helpers/in-process.js';
import { privateKeyPem } from '../helpers/keys.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const env = { KEY_2026_10: privateKeyPem('ec'), KEY_2026_11: privateKeyPem('ed25519') };
// The config watcher validates a reloaded file against process.env, as the binary's would.
Object.assign(process.env, env);
const K1 = { kid: '2026-10', private_key_env: 'KEY_2026_10' };
const K2 = { kid: '2026-11', private_key_env: 'KEY_2026_11' };

let upstream: Upstream;
let dir: string;
const config = (keys: object[], profileB: Record<string, unknown> = {}): string => {
  const doc = JSON.parse(configText(upstream.url, { admin_listen: undefined })) as Record<string, unknown>;
  const profiles = doc.access_profiles as Record<string, unknown>[];
  profiles[1] = { ...profiles[1], ...profileB };
  return JSON.stringify({ ...doc, tokens: { expires_in: 600, format: 'jwt', signing_keys: keys } });
};
function replica(t: Test, name: string, text: string): Promise<InProcessSidecar> {
  writeFileSync(join(dir, name), text);
  return startMain(t, join(dir, name), env);
}
const status = async (port: number, token: string): Promise<number> =>
  (await request(port, 'GET', '/public/x', { authorization: `Bearer ${token}` })).status;
const kid = (jwt: string): unknown => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid;

t.before(async () => {
  upstream = await startUpstream();
  dir = t.testdir({});
});
t.teardown(() => upstream.close());

t.test('scale-out: a JWT issued by one replica is accepted by the others, with no shared store', async (t) => {
  const replicas = await Promise.all([0, 1, 2].map((i) => replica(t, `a${i}.yaml`, config([K1]))));
  const token = await getToken(replicas[0]!.port, BASIC.b);
  t.equal(kid(token), '2026-10');
  t.same(await Promise.all(replicas.map((r) => status(r.port, token))), [200, 200, 200]);
  const jwks = await request(replicas[2]!.port, 'GET', '/.well-known/jwks.json');
  t.match(jwks.json, { keys: [{ kid: '2026-10', alg: 'ES256', kty: 'EC', crv: 'P-256' }] });
});

t.test('kid rotation: add the new key second, then make it first, then remove the old one; no token fails early', async (t) => {
  let r0 = await replica(t, 'b0.yaml', config([K1]));
  let r1 = await replica(t, 'b1.yaml', config([K1]));
  const old = await getToken(r0.port, BASIC.b);
  // Step 1, every replica: the new key verifies.
  await r1.running.stop(false);
  r1 = await replica(t, 'b1.yaml', config([K1, K2]));
  // Step 2: the new key signs.
  await r0.running.stop(false);
  r0 = await replica(t, 'b0.yaml', config([K2, K1]));
  const fresh = await getToken(r0.port, BASIC.b);
  t.equal(kid(fresh), '2026-11');
  t.same([await status(r0.port, old), await status(r1.port, old), await status(r1.port, fresh)], [200, 200, 200]);
  // Step 3 (once tokens of the old key have expired, or to cut them off): the old key goes.
  await r1.running.stop(false);
  r1 = await replica(t, 'b1.yaml', config([K2]));
  t.equal(await status(r1.port, old), 401, 'the old key removed: its tokens end');
  t.equal(await status(r1.port, fresh), 200);
  t.same(
    (await request(r1.port, 'GET', '/.well-known/jwks.json')).json.keys.map((k: { kid: string }) => k.kid),
    ['2026-11'],
  );
});

t.test('revocation without Redis: disabling the profile ends its JWTs; enabling it again does not revive them', async (t) => {
  const r = await replica(t, 'c0.yaml', config([K1]));
  const token = await getToken(r.port, BASIC.b);
  t.equal(await status(r.port, token), 200);
  writeFileSync(join(dir, 'c0.yaml'), config([K1], { enabled: false }));
  await r.running.watcher.check();
  t.equal(await status(r.port, token), 401);
  writeFileSync(join(dir, 'c0.yaml'), config([K1]));
  await r.running.watcher.check();
  t.equal(await status(r.port, token), 401, 'revoked up to the second of the reload');
  t.equal(await status(r.port, await getToken(r.port, BASIC.b)), 200, 'a token issued right after works');
  await r.logged('config_reloaded', 2);
});

t.test('RFC 8414 §2: with JWT tokens the metadata links the JWKS (jwks_uri) under the issuer', async (t) => {
  const r = await replica(t, 'd0.yaml', config([K1]));
  const metadata = await request(r.port, 'GET', '/.well-known/oauth-authorization-server', { host: 'api.example.com' });
  t.equal(metadata.status, 200);
  t.equal(metadata.json.jwks_uri, 'http://api.example.com/.well-known/jwks.json');
});

t.test('RFC 9068 §2.2: with a configured domain issuer the JWT iss is that issuer, and the token is accepted', async (t) => {
  const doc = JSON.parse(config([K1])) as { domains: Record<string, unknown>[] };
  doc.domains[0]!.issuer = 'https://auth.example.net';
  const r = await replica(t, 'e0.yaml', JSON.stringify(doc));
  const token = await getToken(r.port, BASIC.b);
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string; aud: string };
  t.same([claims.iss, claims.aud], ['https://auth.example.net', 'https://auth.example.net']);
  t.equal(await status(r.port, token), 200);
});
