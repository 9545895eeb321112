/**
 * OAuthError (src/oauth/errors.ts): the status follows from the RFC code; the detail is private.
 */
import t from 'tap';
import { OAuthError, type OAuthErrorCode } from '../../src/oauth/errors.js';

t.test('RFC 6749 §5.2 / RFC 6750 §3.1: each code has its status', async (t) => {
  const expected: Record<OAuthErrorCode, number> = {
    invalid_request: 400,
    invalid_client: 401,
    invalid_grant: 400,
    unauthorized_client: 400,
    unsupported_grant_type: 400,
    invalid_scope: 400,
    invalid_token: 401,
    insufficient_scope: 403,
    server_error: 500,
    temporarily_unavailable: 503,
  };
  for (const [code, status] of Object.entries(expected)) t.equal(new OAuthError(code as OAuthErrorCode, 'x').status, status, code);
});

t.test("an explicit status overrides the code's (413, 408)", async (t) => {
  t.equal(new OAuthError('invalid_request', 'request body too large', { status: 413 }).status, 413);
});

t.test('code, description and detail are kept apart; the message names code and description only', async (t) => {
  const err = new OAuthError('invalid_client', 'client authentication failed', { detail: 'unknown client_id' });
  t.ok(err instanceof Error);
  t.match(err, { name: 'OAuthError', code: 'invalid_client', description: 'client authentication failed', detail: 'unknown client_id' });
  t.equal(err.message, 'invalid_client: client authentication failed');
});

t.test('without options there is no detail', async (t) => {
  t.equal(new OAuthError('invalid_request', 'x').detail, undefined);
});
