/**
 * Token revocation, POST /oauth2/revoke (RFC 7009), with the token endpoint's client
 * authentication. A client revokes its own tokens only; "rs" (introspection: true) may read any
 * token but revoke none but its own.
 */
import t, { type Test } from 'tap';
import { getToken, request, type Answer } from '../helpers/client.js';
import { BASIC, RS_BASIC, SECRET_B, testConfig, WITH_RESOURCE_SERVER } from '../helpers/config.js';
import { expectBearerError, expectInvalidClient, expectInvalidRequest, expectTokenError, INVALID_TOKEN } from '../helpers/expect.js';
import { failingStore, startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

const upstream = await startUpstream();
const config = testConfig(upstream.url, { access_profiles: WITH_RESOURCE_SERVER });
const sc = await startSidecar(config);
t.teardown(async () => {
  await sc.close();
  await upstream.close();
});

const revoke = (body: string, headers: Record<string, string> = {}): Promise<Answer> =>
  request(sc.port, 'POST', '/oauth2/revoke', { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body);
const callOrders = (token: string): Promise<Answer> => request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${token}` });

/** RFC 7009 §2.2: 200, an empty body, not cached. */
function expectRevocationAnswer(t: Test, answer: Answer): void {
  t.equal(answer.status, 200);
  t.equal(answer.body, '');
  t.equal(answer.headers['content-length'], '0');
  t.equal(answer.headers['cache-control'], 'no-store');
  t.equal(answer.headers['content-type'], undefined);
}

t.test('RFC 7009 §2.2: a client revoking its own token -> 200 with an empty body; the token stops working at once', async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  t.equal((await callOrders(tokenA)).status, 200);
  expectRevocationAnswer(t, await revoke(`token=${tokenA}`, { authorization: BASIC.aForm }));
  expectBearerError(t, await callOrders(tokenA), 401, 'invalid_token', INVALID_TOKEN);
  t.match(
    sc.logs.find((l) => l.event === 'token_revoked'),
    { client_id: 'svc-a', access_profile: 'a', revoked: true, status: 200 },
  );
});

t.test('RFC 7662 §2.2: a revoked token introspects as {"active":false}', async (t) => {
  const tokenB = await getToken(sc.port, BASIC.b);
  await revoke(`token=${tokenB}`, { authorization: BASIC.b });
  const answer = await request(
    sc.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    `token=${tokenB}`,
  );
  t.strictSame(answer.json, { active: false });
});

t.test("RFC 7009 §2.1: another client's token is left alone, and the answer is the same 200", async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  expectRevocationAnswer(t, await revoke(`token=${tokenA}`, { authorization: BASIC.b }));
  t.equal((await callOrders(tokenA)).status, 200, 'still works');
  t.match(sc.logs.at(-2), { event: 'token_revoked', client_id: 'svc-b', revoked: false });
});

t.test('our decision: introspection: true lets a resource server read tokens, not revoke them', async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  expectRevocationAnswer(t, await revoke(`token=${tokenA}`, { authorization: RS_BASIC }));
  t.equal((await callOrders(tokenA)).status, 200, 'still works');
});

t.test('RFC 7009 §2.2: an unknown, malformed or already revoked token -> the same 200', async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  await revoke(`token=${tokenA}`, { authorization: BASIC.aForm });
  for (const token of [tokenA, '0'.repeat(64), 'not a token']) {
    expectRevocationAnswer(t, await revoke(`token=${encodeURIComponent(token)}`, { authorization: BASIC.aForm }));
  }
});

t.test('RFC 7009 §2.1: a wrong token_type_hint is ignored: the token is still found and revoked', async (t) => {
  const tokenB = await getToken(sc.port, BASIC.b);
  expectRevocationAnswer(t, await revoke(`token=${tokenB}&token_type_hint=refresh_token`, { authorization: BASIC.b }));
  const answer = await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${tokenB}` });
  t.equal(answer.status, 401);
});

t.test('RFC 7009 §2.1: client_secret_post works as at the token endpoint', async (t) => {
  const tokenB = await getToken(sc.port, BASIC.b);
  expectRevocationAnswer(t, await revoke(`token=${tokenB}&client_id=svc-b&client_secret=${SECRET_B}`));
  t.equal((await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${tokenB}` })).status, 401);
});

t.test('RFC 7009 §2.1: a missing token parameter -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await revoke('token_type_hint=access_token', { authorization: BASIC.b }), 'the token parameter is required');
  t.match(sc.logs.at(-1), { event: 'revocation_denied', client_id: 'svc-b', error: 'invalid_request', status: 400 });
});

t.test('RFC 7009 §2.2.1, RFC 6749 §5.2: wrong credentials -> 401 invalid_client; the token survives', async (t) => {
  const tokenA = await getToken(sc.port, BASIC.aForm);
  expectInvalidClient(t, await revoke(`token=${tokenA}`, { authorization: 'Basic c3ZjLWE6d3Jvbmc=' }));
  t.equal((await callOrders(tokenA)).status, 200);
});

t.test('RFC 9110 §15.5.6: GET /oauth2/revoke -> 405 with Allow: POST', async (t) => {
  const answer = await request(sc.port, 'GET', '/oauth2/revoke');
  t.equal(answer.status, 405);
  t.equal(answer.headers.allow, 'POST');
  t.strictSame(answer.json, { message: 'the revocation endpoint accepts POST only' });
});

t.test('ARCHITECTURE §1.3: a failing token store -> 500 server_error without internals, logged at error level', async (t) => {
  const broken = await startSidecar(config, { store: failingStore('lookup') });
  t.teardown(() => broken.close());
  const answer = await request(
    broken.port,
    'POST',
    '/oauth2/revoke',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    'token=abc',
  );
  expectTokenError(t, answer, 500, 'server_error', 'internal error', undefined);
  t.notMatch(answer.body, '10.0.0.9');
  t.match(broken.logs.at(-1), { level: 'error', event: 'revocation_denied', error: 'server_error' });
});
