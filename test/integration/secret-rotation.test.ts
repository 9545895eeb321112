/**
 * Issue 4 capability 6, secret rotation without downtime, on the wire: a profile's previous secret
 * (`previous_client_secret`, `_env` or `_hash`) is accepted alongside the current one until
 * `previous_not_after` (not at that instant), and `tokens_issued_after` cuts off every token issued
 * at or before its second. A live reload applies a rotation (new secret, previous secret, cut-off) as
 * one step. The wall clock is injected where instants matter.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { hashSecret } from '../../src/oauth/secret-hash.js';
import { getToken, request, tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, SECRET_A, SECRET_B, testConfig } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { expectBearerError, expectInvalidClient, expectToken, INVALID_TOKEN } from '../helpers/expect.js';
import { startMain } from '../helpers/in-process.js';
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

// A past instant (config validation refuses a tokens_issued_after in the future), a whole second.
const T0 = Date.UTC(2020, 0, 1);
const T0_TEXT = '2020-01-01T00:00:00Z';
const NEW_SECRET = 'n3w-secret';
const NEW_BASIC = `Basic ${Buffer.from(`svc-b:${NEW_SECRET}`).toString('base64')}`;

/** The fixture's svc-b ("b") with `b` keys added (and its secret now NEW_SECRET unless given). */
const rotated = (url: string, b: Record<string, unknown>) =>
  testConfig(url, {
    access_profiles: [
      { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
      { name: 'b', client_id: 'svc-b', client_secret: NEW_SECRET, collections: ['public'], ...b },
    ],
  });

interface Bench {
  sc: RunningSidecar;
  upstream: Upstream;
  /** sets the wall clock, ms after T0 */
  at(ms: number): void;
  token(authorization: string): Promise<Answer>;
  call(token: string): Promise<Answer>;
}

async function bench(t: Test, b: Record<string, unknown>, startMs = 0): Promise<Bench> {
  let now = T0 + startMs;
  const upstream = await startUpstream();
  const sc = await startSidecar(rotated(upstream.url, b), { wallClock: () => now });
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  return {
    sc,
    upstream,
    at: (ms) => (now = T0 + ms),
    token: (authorization) => tokenRequest(sc.port, 'grant_type=client_credentials', { authorization }),
    call: (token) => request(sc.port, 'GET', '/public/1', { authorization: `Bearer ${token}` }),
  };
}

const PREVIOUS_PLAIN = { previous_client_secret: SECRET_B, previous_not_after: '2020-01-02T00:00:00Z' };
const DAY = 86_400_000;

t.test('issue 4: during a rotation both the current and the previous secret get tokens', async (t) => {
  const b = await bench(t, PREVIOUS_PLAIN);
  expectToken(t, await b.token(NEW_BASIC));
  expectToken(t, await b.token(BASIC.b));
});

t.test('issue 4: the previous secret is accepted until the millisecond before previous_not_after', async (t) => {
  const b = await bench(t, PREVIOUS_PLAIN, DAY - 1);
  expectToken(t, await b.token(BASIC.b));
});

t.test('issue 4: at previous_not_after the previous secret is refused (401 invalid_client); the current one still works', async (t) => {
  const b = await bench(t, PREVIOUS_PLAIN, DAY);
  expectInvalidClient(t, await b.token(BASIC.b));
  expectToken(t, await b.token(NEW_BASIC));
  t.match(
    b.sc.logs.filter((l) => l.event === 'token_denied'),
    [{ client_id: 'svc-b', detail: 'wrong client_secret' }],
  );
});

t.test('issue 4: previous_client_secret_hash: a hashed previous secret is accepted too', async (t) => {
  const b = await bench(t, { previous_client_secret_hash: await hashSecret(SECRET_B, 25_000), previous_not_after: '2020-01-02' });
  expectToken(t, await b.token(BASIC.b));
  expectInvalidClient(t, await b.token(BASIC.bWrong));
});

t.test('issue 4: previous_client_secret_env: the previous secret is read from the environment', async (t) => {
  process.env.OAUTH2_SIDECAR_TEST_OLD_SECRET = SECRET_B;
  t.teardown(() => delete process.env.OAUTH2_SIDECAR_TEST_OLD_SECRET);
  const b = await bench(t, { previous_client_secret_env: 'OAUTH2_SIDECAR_TEST_OLD_SECRET', previous_not_after: '2020-01-02' });
  expectToken(t, await b.token(BASIC.b));
});

t.test('issue 4: a hashed current secret with a plain previous one: each is accepted', async (t) => {
  const b = await bench(t, { client_secret: undefined, client_secret_hash: await hashSecret(NEW_SECRET, 25_000), ...PREVIOUS_PLAIN });
  expectToken(t, await b.token(NEW_BASIC));
  expectToken(t, await b.token(BASIC.b));
});

t.test('issue 4: tokens_issued_after cuts off tokens of its second and older (401 invalid_token); later ones work', async (t) => {
  const b = await bench(t, {}, -1);
  const before = await getToken(b.sc.port, NEW_BASIC);
  b.at(999); // the cut-off's own second: issuedAt cannot tell it from one issued just before
  const sameSecond = await getToken(b.sc.port, NEW_BASIC);
  b.at(1000);
  const after = await getToken(b.sc.port, NEW_BASIC);
  for (const token of [before, sameSecond, after]) t.equal((await b.call(token)).status, 200);
  b.sc.sidecar.reload(rotated(b.upstream.url, { tokens_issued_after: T0_TEXT }));
  expectBearerError(t, await b.call(before), 401, 'invalid_token', INVALID_TOKEN, 'public');
  expectBearerError(t, await b.call(sameSecond), 401, 'invalid_token', INVALID_TOKEN, 'public');
  t.equal((await b.call(after)).status, 200);
});

t.test('issue 4: tokens_issued_after leaves other profiles alone', async (t) => {
  const b = await bench(t, { tokens_issued_after: T0_TEXT }, -1);
  const tokenA = await getToken(b.sc.port, BASIC.aForm);
  t.equal((await request(b.sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` })).status, 200);
});

t.test('issue 4: a live reload applies a whole rotation at once: new secret, previous secret, cut-off', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = t.testdir({ 'config.yaml': configText(upstream.url) });
  const sc = await startMain(t, join(dir, 'config.yaml'));
  const old = await getToken(sc.port, BASIC.b);
  const call = (token: string) => request(sc.port, 'GET', '/public/1', { authorization: `Bearer ${token}` });
  t.equal((await call(old)).status, 200);
  const b = { previous_client_secret: SECRET_B, previous_not_after: '2999-01-01T00:00:00Z', tokens_issued_after: new Date().toISOString() };
  const profiles = [
    { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
    { name: 'b', client_id: 'svc-b', client_secret: NEW_SECRET, collections: ['public'], ...b },
  ];
  writeFileSync(join(dir, 'config.yaml'), configText(upstream.url, { access_profiles: profiles }));
  t.ok(await eventually(async () => (await call(old)).status === 401), 'the old token is cut off');
  const token = (authorization: string) => tokenRequest(sc.port, 'grant_type=client_credentials', { authorization });
  expectToken(t, await token(NEW_BASIC));
  expectToken(t, await token(BASIC.b));
  expectInvalidClient(t, await token(BASIC.bWrong));
});

t.test('issue 4 + RFC 7662 §2.2: a token cut off by tokens_issued_after introspects as {"active":false}', async (t) => {
  const b = await bench(t, {}, -1);
  const before = await getToken(b.sc.port, NEW_BASIC);
  b.at(1000);
  const after = await getToken(b.sc.port, NEW_BASIC);
  b.sc.sidecar.reload(rotated(b.upstream.url, { tokens_issued_after: T0_TEXT }));
  const introspect = (token: string) =>
    request(
      b.sc.port,
      'POST',
      '/oauth2/introspect',
      { authorization: NEW_BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      `token=${token}`,
    );
  t.strictSame((await introspect(before)).json, { active: false });
  t.equal((await introspect(after)).json?.active, true);
});
