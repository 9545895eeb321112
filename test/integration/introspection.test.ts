/**
 * Token introspection, POST /oauth2/introspect (RFC 7662), with the token endpoint's client
 * authentication. svc-a and svc-b see their own tokens; "rs" (introspection: true) sees every token.
 */
import t, { type Test } from 'tap';
import { getToken, raw, request, type Answer } from '../helpers/client.js';
import { BASIC, RS_BASIC, SECRET_B, testConfig, WITH_RESOURCE_SERVER } from '../helpers/config.js';
import { expectInvalidClient, expectInvalidRequest, expectJsonNoStore, expectTokenError } from '../helpers/expect.js';
import { failingStore, fakeClock, startSidecar } from '../helpers/sidecar.js';
import { MemoryTokenStore, type TokenStore } from '../../src/oauth/tokens.js';
import { startUpstream } from '../helpers/upstream.js';

const upstream = await startUpstream();
const profiles = WITH_RESOURCE_SERVER;
const config = testConfig(upstream.url, { access_profiles: profiles });
const clock = fakeClock();
const sc = await startSidecar(config, { now: clock.now });
t.teardown(async () => {
  await sc.close();
  await upstream.close();
});

const introspect = (body: string, headers: Record<string, string> = {}): Promise<Answer> =>
  request(sc.port, 'POST', '/oauth2/introspect', { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body);

function expectInactive(t: Test, answer: Answer): void {
  t.equal(answer.status, 200);
  expectJsonNoStore(t, answer);
  t.strictSame(answer.json, { active: false });
}

t.test('RFC 7662 §2.2: a client introspecting its own live token -> active with scope, client_id, exp, iat, sub, iss', async (t) => {
  const before = Math.floor(Date.now() / 1000);
  const token = await getToken(sc.port, BASIC.b);
  const answer = await introspect(`token=${token}`, { authorization: BASIC.b });
  const after = Math.floor(Date.now() / 1000);
  t.equal(answer.status, 200);
  expectJsonNoStore(t, answer);
  const iat = answer.json.iat as number;
  t.ok(iat >= before && iat <= after, 'iat is the wall-clock issue time, epoch seconds');
  t.strictSame(answer.json, {
    active: true,
    scope: 'public',
    client_id: 'svc-b',
    token_type: 'bearer',
    exp: iat + 3600,
    iat,
    sub: 'svc-b',
    iss: 'http://api.example.com',
  });
  t.match(sc.logs.at(-1), { event: 'token_introspected', client_id: 'svc-b', active: true, token_client_id: 'svc-b', status: 200 });
});

t.test('RFC 7662 §2.2: another client\'s token -> exactly {"active":false}', async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  expectInactive(t, await introspect(`token=${tokenA}`, { authorization: BASIC.b }));
  t.match(sc.logs.at(-1), { event: 'token_introspected', client_id: 'svc-b', active: false });
  t.notOk('token_client_id' in sc.logs.at(-1)!, 'the log does not tell whose token it was');
});

t.test("RFC 7662 §2.1: a profile with introspection: true (a resource server) sees any client's token", async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  const answer = await introspect(`token=${tokenA}`, { authorization: RS_BASIC });
  t.match(answer.json, { active: true, client_id: 'svc-a', scope: 'orders', sub: 'svc-a', token_type: 'bearer' });
});

t.test('RFC 7662 §2.2: unknown and malformed tokens -> {"active":false}', async (t) => {
  for (const token of ['0'.repeat(64), 'not a token at all', 'x'.repeat(2000)]) {
    expectInactive(t, await introspect(`token=${encodeURIComponent(token)}`, { authorization: RS_BASIC }));
  }
});

t.test('RFC 7662 §2.2: an expired token (at its expiry instant) -> {"active":false}', async (t) => {
  const clocked = await startSidecar(config, { now: clock.now });
  t.teardown(() => clocked.close());
  const token = await getToken(clocked.port, BASIC.b);
  clock.advance(3_600_000);
  const answer = await request(
    clocked.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    `token=${token}`,
  );
  expectInactive(t, answer);
});

t.test('RFC 7662 §2.2: a token of a profile disabled by a reload -> {"active":false}, even for a resource server', async (t) => {
  const reloaded = await startSidecar(config);
  t.teardown(() => reloaded.close());
  const tokenA = await getToken(reloaded.port, BASIC.aForm);
  reloaded.sidecar.reload(testConfig(upstream.url, { access_profiles: [{ ...profiles[0], enabled: false }, ...profiles.slice(1)] }));
  const answer = await request(
    reloaded.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: RS_BASIC },
    `token=${tokenA}`,
  );
  expectInactive(t, answer);
});

t.test('issue 3 capability 4: after a reload narrows the profile, the introspected scope narrows too', async (t) => {
  const wide = testConfig(upstream.url, { access_profiles: [{ ...profiles[0], collections: ['orders', 'public'] }, ...profiles.slice(1)] });
  const narrowing = await startSidecar(wide);
  t.teardown(() => narrowing.close());
  const tokenA = await getToken(narrowing.port, BASIC.aForm);
  narrowing.sidecar.reload(config);
  const answer = await request(
    narrowing.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.aForm },
    `token=${tokenA}`,
  );
  t.equal(answer.json.scope, 'orders');
});

t.test('RFC 7009 §2.1 (as RFC 7662 §2.1 allows): a wrong or unknown token_type_hint is ignored', async (t) => {
  const token = await getToken(sc.port, BASIC.b);
  for (const hint of ['refresh_token', 'access_token', 'something_else']) {
    t.equal((await introspect(`token=${token}&token_type_hint=${hint}`, { authorization: BASIC.b })).json.active, true, hint);
  }
});

t.test('RFC 7662 §2.1: client_secret_post and a JSON body work as at the token endpoint', async (t) => {
  const token = await getToken(sc.port, BASIC.b);
  t.equal((await introspect(`token=${token}&client_id=svc-b&client_secret=${SECRET_B}`)).json.active, true);
  const json = await request(
    sc.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/json' },
    JSON.stringify({ token, client_id: 'svc-b', client_secret: SECRET_B }),
  );
  t.equal(json.json.active, true);
});

t.test('RFC 7662 §2.1: the raw Basic encoding of a secret with reserved characters works too', async (t) => {
  const token = await getToken(sc.port, BASIC.aRaw);
  t.equal((await introspect(`token=${token}`, { authorization: BASIC.aRaw })).json.active, true);
});

t.test('RFC 7662 §2.1: a missing token parameter -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await introspect('', { authorization: BASIC.b }), 'the token parameter is required');
  expectInvalidRequest(t, await introspect('token=', { authorization: BASIC.b }), 'the token parameter is required');
  t.match(sc.logs.at(-1), { event: 'introspection_denied', client_id: 'svc-b', error: 'invalid_request', status: 400 });
});

t.test('RFC 7662 §2.3: wrong credentials -> 401 invalid_client with a Basic challenge, nothing introspected', async (t) => {
  const token = await getToken(sc.port, BASIC.b);
  expectInvalidClient(t, await introspect(`token=${token}`, { authorization: BASIC.bWrong }));
  expectInvalidClient(t, await introspect(`token=${token}`));
});

t.test('RFC 6749 §2.3.1: credentials in the request URI -> 400 invalid_request, as at the token endpoint', async (t) => {
  const answer = await request(
    sc.port,
    'POST',
    `/oauth2/introspect?client_secret=${SECRET_B}`,
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    'token=x',
  );
  expectInvalidRequest(t, answer, 'client credentials must not be sent in the request URI');
});

t.test('RFC 9110 §15.5.6: GET /oauth2/introspect -> 405 with Allow: POST', async (t) => {
  const answer = await request(sc.port, 'GET', '/oauth2/introspect');
  t.equal(answer.status, 405);
  t.equal(answer.headers.allow, 'POST');
  t.strictSame(answer.json, { message: 'the introspection endpoint accepts POST only' });
});

t.test('RFC 7662 §2.2: iss is left out when the Host names no host ("*" domain)', async (t) => {
  const star = await startSidecar(testConfig(upstream.url, { domains: [{ host: '*' }], access_profiles: profiles }));
  t.teardown(() => star.close());
  const token = await getToken(star.port, BASIC.b);
  const answer = await request(
    star.port,
    'POST',
    '/oauth2/introspect',
    { host: 'bad_host', 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    `token=${token}`,
  );
  t.equal(answer.json.active, true);
  t.notOk('iss' in answer.json);
});

t.test('ARCHITECTURE §1.3: a failing token store -> 500 server_error without internals, logged at error level', async (t) => {
  const broken = await startSidecar(config, { store: failingStore('lookup') });
  t.teardown(() => broken.close());
  const answer = await request(
    broken.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    'token=abc',
  );
  expectTokenError(t, answer, 500, 'server_error', 'internal error', undefined);
  t.match(broken.logs.at(-1), {
    level: 'error',
    event: 'introspection_denied',
    error: 'server_error',
    detail: 'Error: store down at 10.0.0.9',
  });
});

t.test('RFC 9110 §10.1.1: an introspection request with Expect: 100-continue gets 100 Continue, then its answer', async (t) => {
  const body = 'token=unknown';
  const answer = await raw(
    sc.port,
    `POST /oauth2/introspect HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  t.match(answer.text, /\r\n\r\n\{"active":false\}$/);
});

t.test(
  'issue 3 capability 4: a token whose profile was removed, disabled or re-identified is inactive even if the store still holds it',
  async (t) => {
    // A shared store may drop a profile's tokens later than the reload: introspection checks the profile itself.
    const inner = new MemoryTokenStore({ maxActive: 100 });
    const lagging: TokenStore = {
      issue: (grant) => inner.issue(grant),
      lookup: (token) => inner.lookup(token),
      revoke: (token) => inner.revoke(token),
      revokeProfile: async () => {},
      get size() {
        return inner.size;
      },
      close: () => inner.close(),
    };
    const lag = await startSidecar(config, { store: lagging });
    t.teardown(() => lag.close());
    const tokenA = await getToken(lag.port, BASIC.aForm);
    const active = async (): Promise<unknown> =>
      (
        await request(
          lag.port,
          'POST',
          '/oauth2/introspect',
          { 'content-type': 'application/x-www-form-urlencoded', authorization: RS_BASIC },
          `token=${tokenA}`,
        )
      ).json.active;
    t.equal(await active(), true);
    const [a, ...rest] = profiles;
    for (const [why, list] of [
      ['removed', rest],
      ['disabled', [{ ...a, enabled: false }, ...rest]],
      ['re-identified', [{ ...a, client_id: 'svc-a2' }, ...rest]],
    ] as const) {
      lag.sidecar.reload(testConfig(upstream.url, { access_profiles: list }));
      t.equal(await active(), false, why);
    }
    lag.sidecar.reload(config);
    t.equal(await active(), true, 'the store still held it: the same profile again makes it active');
  },
);
