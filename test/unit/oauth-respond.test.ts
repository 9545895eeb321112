/**
 * OAuth answers (src/oauth/respond.ts): token-endpoint errors with the Basic challenge on 401
 * (RFC 6749 §5.2, RFC 9110 §15.5.2), and the Bearer challenges of RFC 6750 §3.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { OAuthError } from '../../src/oauth/errors.js';
import { bearerChallenge, sendTokenError } from '../../src/oauth/respond.js';
import { request } from '../helpers/client.js';

/** A server that answers every request with `sendTokenError(err, "api")`. */
async function answering(t: Test, err: OAuthError) {
  const server = http.createServer((_req, res) => sendTokenError(res, err, 'api'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return request((server.address() as AddressInfo).port, 'POST', '/oauth2/token');
}

t.test('RFC 6749 §5.2: a 401 token error carries WWW-Authenticate: Basic realm and the JSON error', async (t) => {
  const answer = await answering(t, new OAuthError('invalid_client', 'client authentication failed', { detail: 'secret detail' }));
  t.equal(answer.status, 401);
  t.equal(answer.headers['www-authenticate'], 'Basic realm="api"');
  t.equal(answer.headers['content-type'], 'application/json');
  t.equal(answer.headers['cache-control'], 'no-store');
  t.equal(answer.headers.pragma, 'no-cache');
  t.equal(answer.body, '{"error":"invalid_client","error_description":"client authentication failed"}', 'the detail is never sent');
});

t.test('RFC 6749 §5.2: a 400 token error carries no challenge', async (t) => {
  const answer = await answering(t, new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported'));
  t.equal(answer.status, 400);
  t.equal(answer.headers['www-authenticate'], undefined);
  t.strictSame(answer.json, { error: 'unsupported_grant_type', error_description: 'only grant_type=client_credentials is supported' });
});

t.test('RFC 6750 §3.1: no credentials -> 401 with a bare Bearer challenge and no error code', async (t) => {
  t.strictSame(bearerChallenge('api'), {
    status: 401,
    body: { message: 'bearer token required' },
    headers: { 'WWW-Authenticate': 'Bearer realm="api"' },
  });
});

t.test('RFC 6750 §3: invalid_token -> 401 with error and error_description in the challenge and the body', async (t) => {
  t.strictSame(bearerChallenge('api', new OAuthError('invalid_token', 'expired')), {
    status: 401,
    body: { error: 'invalid_token', error_description: 'expired' },
    headers: { 'WWW-Authenticate': 'Bearer realm="api", error="invalid_token", error_description="expired"' },
  });
});

t.test('RFC 6750 §3: insufficient_scope -> 403 with the scope the resource needs', async (t) => {
  t.strictSame(bearerChallenge('my realm', new OAuthError('insufficient_scope', 'no'), 'orders'), {
    status: 403,
    body: { error: 'insufficient_scope', error_description: 'no' },
    headers: { 'WWW-Authenticate': 'Bearer realm="my realm", error="insufficient_scope", error_description="no", scope="orders"' },
  });
});
