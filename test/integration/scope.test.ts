/**
 * Scoped token requests (RFC 6749 §3.3, §5.1): a client may ask for a subset of its access
 * profile's collections; its token calls only those (RFC 6750 §3.1 insufficient_scope).
 * "both" (client "svc-both") may call orders and public.
 */
import t, { type Test } from 'tap';
import { request, tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, SECRET_A, SECRET_B, testConfig } from '../helpers/config.js';
import { expectJsonNoStore, expectToken, expectTokenError } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

const BOTH = `Basic ${Buffer.from('svc-both:both-secret').toString('base64')}`;
const GRANT = 'grant_type=client_credentials';
const INSUFFICIENT =
  'Bearer realm="api", error="insufficient_scope", error_description="the access token does not grant this API collection", scope="public", ' +
  'resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/public"';

const upstream = await startUpstream();
const sc = await startSidecar(
  testConfig(upstream.url, {
    access_profiles: [
      { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
      { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'] },
      { name: 'both', client_id: 'svc-both', client_secret: 'both-secret', collections: ['orders', 'public'] },
    ],
  }),
);
t.teardown(async () => {
  await sc.close();
  await upstream.close();
});

const scoped = (scope: string, authorization = BOTH): Promise<Answer> =>
  tokenRequest(sc.port, `${GRANT}&scope=${encodeURIComponent(scope)}`, { authorization });
const call = (path: string, token: string): Promise<Answer> => request(sc.port, 'GET', path, { authorization: `Bearer ${token}` });

/** RFC 6749 §5.1: a token answer that carries the granted scope. */
function expectScopedToken(t: Test, answer: Answer, scope: string): string {
  t.equal(answer.status, 200, answer.body);
  expectJsonNoStore(t, answer);
  const token = String(answer.json?.access_token);
  t.match(token, /^[0-9a-f]{64}$/);
  t.strictSame(answer.json, { access_token: token, token_type: 'bearer', expires_in: 3599, scope });
  return token;
}

t.test('RFC 6749 §3.3: scope=orders from a profile with orders and public -> a token for orders only', async (t) => {
  const token = expectScopedToken(t, await scoped('orders'), 'orders');
  t.equal((await call('/orders/1', token)).status, 200);
  const refused = await call('/public/1', token);
  t.equal(refused.status, 403);
  t.equal(refused.headers['www-authenticate'], INSUFFICIENT);
  t.match(
    sc.logs.find((l) => l.event === 'token_issued' && l.scope === 'orders'),
    { client_id: 'svc-both', access_profile: 'both' },
  );
});

t.test("RFC 6749 §3.3: without scope the token gets all the profile's collections and the answer has no scope", async (t) => {
  const token = expectToken(t, await tokenRequest(sc.port, GRANT, { authorization: BOTH }));
  t.equal((await call('/orders/1', token)).status, 200);
  t.equal((await call('/public/1', token)).status, 200);
  t.match(sc.logs.at(-3), { event: 'token_issued', scope: 'orders public' });
});

t.test('RFC 6749 §5.1: the whole set requested -> scope echoed in the order requested', async (t) => {
  const token = expectScopedToken(t, await scoped('public orders'), 'public orders');
  t.equal((await call('/orders/1', token)).status, 200);
  t.equal((await call('/public/1', token)).status, 200);
});

t.test('our decision: extra spaces and repeated values are tolerated; the answer carries the normalised scope', async (t) => {
  expectScopedToken(t, await scoped('  orders   public '), 'orders public');
  expectScopedToken(t, await scoped('orders orders'), 'orders');
});

t.test('RFC 6749 §5.2: an unknown scope value -> 400 invalid_scope, no token', async (t) => {
  expectTokenError(t, await scoped('orders admin'), 400, 'invalid_scope', 'scope admin is not available to this client', undefined);
  t.match(sc.logs.at(-1), { event: 'token_denied', client_id: 'svc-both', error: 'invalid_scope', status: 400 });
});

t.test("RFC 6749 §5.2: another profile's collection -> the same 400 invalid_scope as an unknown one", async (t) => {
  expectTokenError(t, await scoped('public', BASIC.aForm), 400, 'invalid_scope', 'scope public is not available to this client', undefined);
});

t.test('RFC 6749 §3.3: a TAB or another non-SP separator -> 400 invalid_scope', async (t) => {
  expectTokenError(t, await scoped('orders\tpublic'), 400, 'invalid_scope', 'the scope parameter is malformed', undefined);
});

t.test('our decision: a scope of spaces only -> 400 invalid_scope; an empty scope= counts as absent (RFC 6749 §3.1)', async (t) => {
  expectTokenError(t, await scoped('   '), 400, 'invalid_scope', 'the scope parameter names no scope value', undefined);
  expectToken(t, await tokenRequest(sc.port, `${GRANT}&scope=`, { authorization: BOTH }));
});

t.test('RFC 6749 §3.2: a repeated scope parameter -> 400 invalid_request', async (t) => {
  const answer = await tokenRequest(sc.port, `${GRANT}&scope=orders&scope=public`, { authorization: BOTH });
  expectTokenError(t, answer, 400, 'invalid_request', 'parameter scope included more than once', undefined);
});

t.test('RFC 6749 §4.4.2: scope in a JSON body and with client_secret_post works the same', async (t) => {
  const answer = await request(
    sc.port,
    'POST',
    '/oauth2/token',
    { 'content-type': 'application/json' },
    JSON.stringify({ grant_type: 'client_credentials', client_id: 'svc-both', client_secret: 'both-secret', scope: 'public' }),
  );
  const token = expectScopedToken(t, answer, 'public');
  t.equal((await call('/orders/1', token)).status, 403);
});

t.test('RFC 6749 §4.4: grant_type is checked before scope', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=password&scope=admin', { authorization: BOTH });
  t.equal(answer.json.error, 'unsupported_grant_type');
});

t.test('RFC 7662 §2.2: a scope-narrowed token introspects with its narrowed scope', async (t) => {
  const token = expectScopedToken(t, await scoped('public'), 'public');
  const answer = await request(
    sc.port,
    'POST',
    '/oauth2/introspect',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BOTH },
    `token=${token}`,
  );
  t.match(answer.json, { active: true, scope: 'public', client_id: 'svc-both' });
});
