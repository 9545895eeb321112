/**
 * B11: the Bearer scheme is case-insensitive (RFC 9110 §11.1) and followed by 1*SP (§11.4); the
 * token itself is case-sensitive (RFC 6750 §2.1). Our decisions: two spaces -> 200; a TAB or a
 * missing token -> 400 invalid_request; `BearerX...` or another scheme is no bearer credentials
 * -> 401 with the bare challenge (RFC 6750 §3.1: no error code).
 */
import t, { type Test } from 'tap';
import { getToken, request, type Answer } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectBareBearerChallenge, expectBearerError, INVALID_TOKEN, MALFORMED_BEARER } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

const upstream = await startUpstream();
const sc = await startSidecar(testConfig(upstream.url));
t.teardown(async () => {
  await sc.close();
  await upstream.close();
});
const TOKEN_A = await getToken(sc.port, BASIC.aForm);

const get = (headers: Record<string, string> = {}): Promise<Answer> => request(sc.port, 'GET', '/orders/1', headers);

function expectForwarded(t: Test, answer: Answer): void {
  t.equal(answer.status, 200, `status 200 (body ${answer.body})`);
  t.equal(answer.json.url, '/orders/1', 'forwarded to the upstream');
  t.equal(answer.json.headers['x-client-id'], 'svc-a');
}

t.test('B11 RFC 6750 §2.1: "Bearer $TOKEN_A" -> 200 forwarded', async (t) => {
  expectForwarded(t, await get({ authorization: `Bearer ${TOKEN_A}` }));
});

t.test('B11 RFC 9110 §11.1: "bearer $TOKEN_A" and "BEARER $TOKEN_A" (scheme case-insensitive) -> 200', async (t) => {
  expectForwarded(t, await get({ authorization: `bearer ${TOKEN_A}` }));
  expectForwarded(t, await get({ authorization: `BEARER ${TOKEN_A}` }));
});

t.test('B11 RFC 9110 §11.4: "Bearer  $TOKEN_A" (two spaces, 1*SP) -> 200', async (t) => {
  expectForwarded(t, await get({ authorization: `Bearer  ${TOKEN_A}` }));
});

t.test('B11 RFC 9110 §5.5: "Bearer $TOKEN_A " (trailing space stripped) -> 200', async (t) => {
  expectForwarded(t, await get({ authorization: `Bearer ${TOKEN_A} ` }));
});

t.test('B11 RFC 9110 §11.4: "Bearer<TAB>$TOKEN_A" -> 400 invalid_request', async (t) => {
  expectBearerError(t, await get({ authorization: `Bearer\t${TOKEN_A}` }), 400, 'invalid_request', MALFORMED_BEARER);
});

t.test("B11 RFC 6750 §2.1: $TOKEN_A with one character's case flipped -> 401 invalid_token", async (t) => {
  const i = TOKEN_A.search(/[a-f]/);
  t.ok(i >= 0, 'the token has a letter to flip');
  const flipped = TOKEN_A.slice(0, i) + TOKEN_A[i]!.toUpperCase() + TOKEN_A.slice(i + 1);
  expectBearerError(t, await get({ authorization: `Bearer ${flipped}` }), 401, 'invalid_token', INVALID_TOKEN);
});

t.test('B11 RFC 6750 §3.1: "Bearer" without a token -> 400 invalid_request', async (t) => {
  expectBearerError(t, await get({ authorization: 'Bearer' }), 400, 'invalid_request', MALFORMED_BEARER);
});

t.test('B11 RFC 9110 §11.4: "BearerX$TOKEN_A" (no space: another scheme) -> 401 with the bare challenge', async (t) => {
  expectBareBearerChallenge(t, await get({ authorization: `BearerX${TOKEN_A}` }));
});

t.test('B11 RFC 6750 §3.1: "Basic c3ZjLWI6czNjcmV0" on a proxied route -> 401 with the bare Bearer challenge', async (t) => {
  expectBareBearerChallenge(t, await get({ authorization: BASIC.b }));
});

t.test('B11 RFC 6750 §3.1: no Authorization -> 401 with the bare Bearer challenge, no error attribute', async (t) => {
  expectBareBearerChallenge(t, await get());
});

// The whole kind: an Authorization field with an empty value used to crash the bearer check (500).
t.test('B11 RFC 9110 §11.4: an empty Authorization value -> 400 invalid_request, not 500', async (t) => {
  expectBearerError(t, await get({ authorization: '' }), 400, 'invalid_request', MALFORMED_BEARER);
});

t.test('B11 RFC 6749 §5.1: the token_type "bearer" the endpoint returns, echoed as the scheme -> 200', async (t) => {
  const issued = await request(
    sc.port,
    'POST',
    '/oauth2/token',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.aRaw },
    'grant_type=client_credentials',
  );
  expectForwarded(t, await get({ authorization: `${issued.json.token_type} ${issued.json.access_token}` }));
});
