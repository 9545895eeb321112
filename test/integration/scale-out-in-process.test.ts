/**
 * Scale-out behaviour of one sidecar on the wire: an unavailable Redis fails closed with 503 and
 * recovers without a restart; JWT tokens from the token endpoint and the JWKS document.
 */
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createAdminServer } from '../../src/admin/server.js';
import { loadSigningKeys } from '../../src/config/scale-out.js';
import { JwtTokenStore } from '../../src/oauth/jwt-tokens.js';
import { RedisConnection } from '../../src/store/redis.js';
import { RedisTokenStore } from '../../src/store/redis-tokens.js';
import { getToken, request, tokenRequest } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { privateKeyPem } from '../helpers/keys.js';
import { memoryLogger, privateRedis } from '../helpers/redis.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

t.test(
  'scale-out §3: Redis unreachable -> bearer 503, token endpoint 503 temporarily_unavailable, /readyz 503; back -> served again, no restart',
  async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const server = await privateRedis(t);
    const redis = new RedisConnection(server.url, memoryLogger().log);
    await redis.ready(2000);
    const config = testConfig(upstream.url);
    const sc = await startSidecar(config, { store: new RedisTokenStore(redis, { maxCached: 100, cacheTtlMs: 0 }) });
    t.teardown(() => sc.close());
    const admin = createAdminServer(sc.sidecar.metrics, sc.sidecar);
    await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => admin.close(resolve)));
    const adminPort = (admin.address() as AddressInfo).port;
    const token = await getToken(sc.port, BASIC.b);
    t.equal((await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${token}` })).status, 200);
    t.equal((await request(adminPort, 'GET', '/readyz')).status, 200);

    await server.stop();
    const bearer = await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${token}` });
    t.equal(bearer.status, 503);
    t.equal(bearer.headers['retry-after'], '1');
    t.strictSame(bearer.json, { message: 'the token store is unavailable' });
    t.match(
      sc.logs.findLast((l) => l.event === 'access_denied'),
      { level: 'info', status: 503, error: 'store_unavailable' },
    );
    const issue = await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.b });
    t.equal(issue.status, 503);
    t.equal(issue.headers['retry-after'], '1');
    t.equal(issue.headers['cache-control'], 'no-store');
    t.strictSame(issue.json, { error: 'temporarily_unavailable', error_description: 'the token store is unavailable, retry later' });
    t.match(
      sc.logs.findLast((l) => l.event === 'token_denied'),
      { level: 'error', status: 503, error: 'temporarily_unavailable' },
    );
    const ready = await request(adminPort, 'GET', '/readyz');
    t.equal(ready.status, 503);
    t.strictSame(ready.json, { status: 'not_ready', reason: 'redis unavailable' });

    await server.start(); // an empty Redis: the old token is gone, a new one works
    t.ok(await eventually(async () => (await request(adminPort, 'GET', '/readyz')).status === 200, 5000), 'ready again');
    const fresh = await getToken(sc.port, BASIC.b);
    t.equal((await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${fresh}` })).status, 200);
    t.equal(
      (await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${token}` })).status,
      401,
      'the lost token is invalid, not 503',
    );
  },
);

t.test(
  'RFC 9068: the token endpoint issues JWT access tokens with iss = the domain as addressed; they pass the bearer check',
  async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const keys = loadSigningKeys([{ kid: 'k1', private_key_env: 'K' } as { kid: string }], { K: privateKeyPem('ec') });
    const sc = await startSidecar(testConfig(upstream.url), { store: new JwtTokenStore(keys, { maxCached: 10 }) });
    t.teardown(() => sc.close());
    const answer = await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.b });
    t.equal(answer.status, 200);
    t.match(answer.json, { token_type: 'bearer', expires_in: 3599, access_token: /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/ });
    const claims = JSON.parse(Buffer.from(answer.json.access_token.split('.')[1], 'base64url').toString());
    t.match(claims, { iss: 'http://api.example.com', aud: 'http://api.example.com', client_id: 'svc-b', scope: 'public' });
    const ok = await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${answer.json.access_token}` });
    t.equal(ok.status, 200);
    t.equal(ok.json.headers['x-client-id'], 'svc-b');
    const scope = await request(sc.port, 'GET', '/orders/x', { authorization: `Bearer ${answer.json.access_token}` });
    t.equal(scope.status, 403, 'RFC 6750 §3.1 insufficient_scope');
  },
);

t.test('RFC 7517 §5: GET /.well-known/jwks.json serves the public keys; other methods 405', async (t) => {
  const keys = loadSigningKeys([{ kid: 'k1', private_key_env: 'K' } as { kid: string }], { K: privateKeyPem('ed25519') });
  const sc = await startSidecar(testConfig('http://127.0.0.1:9'), { store: new JwtTokenStore(keys, { maxCached: 10 }) });
  t.teardown(() => sc.close());
  const jwks = await request(sc.port, 'GET', '/.well-known/jwks.json');
  t.equal(jwks.status, 200);
  t.equal(jwks.headers['content-type'], 'application/json');
  t.equal(jwks.headers['cache-control'], 'public, max-age=300');
  t.match(jwks.json, { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k1', alg: 'EdDSA', use: 'sig', x: /^[\w-]{43}$/ }] });
  t.notOk('d' in jwks.json.keys[0], 'no private part');
  const post = await request(sc.port, 'POST', '/.well-known/jwks.json');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
  t.strictSame(post.json, { message: 'the JWKS accepts GET only' });
});

t.test('with opaque tokens there is no JWKS: /.well-known/jwks.json is an unknown path (404)', async (t) => {
  const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
  t.teardown(() => sc.close());
  t.equal((await request(sc.port, 'GET', '/.well-known/jwks.json')).status, 404);
});

t.test('a reload that changes store, tokens.format or signing_keys warns that it applies at the next start', async (t) => {
  const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
  t.teardown(() => sc.close());
  const original = sc.sidecar.config;
  sc.sidecar.reload({ ...original, store: { type: 'memory' } });
  t.match(
    sc.logs.findLast((l) => l.event === 'config_needs_restart'),
    {
      detail: 'store or tokens.format or tokens.signing_keys changed: it applies at the next start',
    },
  );
});
