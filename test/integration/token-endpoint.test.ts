/**
 * The token endpoint end to end (src/oauth/token-endpoint.ts), RFC 6749 §4.4: the steps the B-cases
 * do not pin (grant_type, methods, limits, a failing store) and what each answer logs.
 */
import t from 'tap';
import { request, tokenRequest } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectInvalidRequest, expectJsonNoStore, expectToken, expectTokenError } from '../helpers/expect.js';
import { failingStore, startSidecar } from '../helpers/sidecar.js';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

t.test('RFC 6749 §4.4.2: a Basic client and grant_type=client_credentials -> 200 token', async (t) => {
  expectToken(t, await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.b }));
});

t.test('RFC 6749 §4.4.2: no grant_type -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await tokenRequest(sc.port, 'scope=public', { authorization: BASIC.b }), 'grant_type is required');
});

t.test('RFC 6749 §3.1: an empty grant_type counts as omitted -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await tokenRequest(sc.port, 'grant_type=', { authorization: BASIC.b }), 'grant_type is required');
});

t.test('RFC 6749 §5.2: another grant_type -> 400 unsupported_grant_type', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=password&username=u&password=p', { authorization: BASIC.b });
  expectTokenError(t, answer, 400, 'unsupported_grant_type', 'only grant_type=client_credentials is supported', undefined);
});

t.test('RFC 6749 §5.2: client authentication comes before the grant_type check (invalid_client wins)', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=password', { authorization: BASIC.bWrong });
  t.equal(answer.status, 401);
  t.equal(answer.json.error, 'invalid_client');
});

t.test('RFC 9110 §15.5.6: PUT /oauth2/token -> 405 with Allow: POST', async (t) => {
  const answer = await request(sc.port, 'PUT', '/oauth2/token', { authorization: BASIC.b }, 'grant_type=client_credentials');
  t.equal(answer.status, 405);
  t.equal(answer.headers.allow, 'POST');
  expectJsonNoStore(t, answer);
  t.strictSame(answer.json, { message: 'the token endpoint accepts POST only' });
});

t.test('RFC 9110 §15.5.14: a body over 16 KiB -> 413 invalid_request and the connection closes', async (t) => {
  const answer = await tokenRequest(sc.port, `grant_type=client_credentials&pad=${'x'.repeat(16 * 1024)}`, { authorization: BASIC.b });
  expectTokenError(t, answer, 413, 'invalid_request', 'request body too large', undefined);
  t.equal(answer.headers.connection, 'close');
});

t.test('a 400 leaves the connection open (the body was read)', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=password', { authorization: BASIC.b, connection: 'keep-alive' });
  t.equal(answer.status, 400);
  t.equal(answer.headers.connection, 'keep-alive');
});

t.test('a success is logged as token_issued with client_id and access profile, never the token or secret', async (t) => {
  const token = expectToken(t, await tokenRequest(sc.port, 'grant_type=client_credentials&client_id=svc-b&client_secret=s3cret'));
  t.match(sc.logs.at(-1), {
    event: 'token_issued',
    host: 'api.example.com',
    client_id: 'svc-b',
    access_profile: 'b',
    status: 200,
    duration_ms: Number,
  });
  t.notMatch(sc.logText(), token);
  t.notMatch(sc.logText(), 's3cret');
});

t.test('a refusal is logged as token_denied with the presented client_id, the code and the private detail', async (t) => {
  await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.nobody });
  t.match(sc.logs.at(-1), {
    level: 'info',
    event: 'token_denied',
    client_id: 'nobody',
    status: 401,
    error: 'invalid_client',
    detail: 'unknown client_id',
  });
});

t.test('a refusal without a private detail logs its description', async (t) => {
  await tokenRequest(sc.port, 'grant_type=password', { authorization: BASIC.b });
  t.match(sc.logs.at(-1), {
    event: 'token_denied',
    client_id: 'svc-b',
    error: 'unsupported_grant_type',
    detail: 'only grant_type=client_credentials is supported',
  });
});

t.test('ARCHITECTURE §1.3: a failing token store -> 500 server_error without internals, logged at error level', async (t) => {
  const broken = await startSidecar(testConfig('http://127.0.0.1:9'), { store: failingStore('issue') });
  t.teardown(() => broken.close());
  const answer = await tokenRequest(broken.port, 'grant_type=client_credentials', { authorization: BASIC.b });
  expectTokenError(t, answer, 500, 'server_error', 'internal error', undefined);
  t.notMatch(answer.body, '10.0.0.9');
  t.match(broken.logs.at(-1), {
    level: 'error',
    event: 'token_denied',
    status: 500,
    error: 'server_error',
    detail: 'Error: store down at 10.0.0.9',
  });
});
