/**
 * Assertions on the token endpoint's and the bearer check's answers: exact status, the headers
 * that matter and the whole JSON body.
 */
import type { Test } from 'tap';
import type { Answer } from './client.js';

/** The challenge of an `invalid_client` 401 at the token endpoint on the test config (realm "api"). */
export const BASIC_CHALLENGE = 'Basic realm="api"';
/** The description every failed client authentication carries (unknown id and wrong secret alike). */
export const CLIENT_AUTH_FAILED = 'client authentication failed';

/** Asserts JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1). */
export function expectJsonNoStore(t: Test, answer: Pick<Answer, 'headers'>): void {
  t.equal(answer.headers['content-type'], 'application/json', 'Content-Type: application/json');
  t.equal(answer.headers['cache-control'], 'no-store', 'Cache-Control: no-store');
  t.equal(answer.headers.pragma, 'no-cache', 'Pragma: no-cache');
}

/**
 * Asserts a successful token response (RFC 6749 §5.1): 200, no-store, and exactly
 * `{"access_token": <64 hex>, "token_type": "bearer", "expires_in": 3599}`.
 * @returns the access token
 */
export function expectToken(t: Test, answer: Answer): string {
  t.equal(answer.status, 200, `status 200 (body ${answer.body})`);
  expectJsonNoStore(t, answer);
  t.equal(answer.headers['www-authenticate'], undefined, 'no challenge');
  const token = String(answer.json?.access_token);
  t.match(token, /^[0-9a-f]{64}$/, 'access_token is 64 hex chars');
  t.strictSame(answer.json, { access_token: token, token_type: 'bearer', expires_in: 3599 });
  return token;
}

/**
 * Asserts a token-endpoint error (RFC 6749 §5.2): status, no-store JSON, the exact body, and the
 * `WWW-Authenticate` value (undefined: none).
 */
export function expectTokenError(
  t: Test,
  answer: Pick<Answer, 'status' | 'headers' | 'json'>,
  status: number,
  error: string,
  description: string,
  challenge: string | undefined,
): void {
  t.equal(answer.status, status, `status ${status}`);
  expectJsonNoStore(t, answer);
  t.equal(answer.headers['www-authenticate'], challenge, `WWW-Authenticate ${challenge ?? 'absent'}`);
  t.strictSame(answer.json, { error, error_description: description });
}

/** Asserts `invalid_client`: 401 with `WWW-Authenticate: Basic realm="api"` (RFC 6749 §5.2). */
export function expectInvalidClient(t: Test, answer: Pick<Answer, 'status' | 'headers' | 'json'>): void {
  expectTokenError(t, answer, 401, 'invalid_client', CLIENT_AUTH_FAILED, BASIC_CHALLENGE);
}

/** Asserts a 400 `invalid_request` without a challenge (RFC 6749 §5.2). */
export function expectInvalidRequest(t: Test, answer: Pick<Answer, 'status' | 'headers' | 'json'>, description: string): void {
  expectTokenError(t, answer, 400, 'invalid_request', description, undefined);
}

/**
 * The `resource_metadata` attribute of the challenges of a fixture collection on api.example.com
 * (RFC 9728 §5.1): the collection's protected resource metadata, at the well-known path + its path.
 */
export function resourceMetadataAttr(collection = 'orders'): string {
  return `resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/${collection}"`;
}

/**
 * The answer to a protected request without bearer credentials: 401 and a bare challenge (RFC 6750
 * §3.1) that names the collection's resource metadata (RFC 9728 §5.1).
 */
export function expectBareBearerChallenge(t: Test, answer: Answer, collection = 'orders'): void {
  t.equal(answer.status, 401, 'status 401');
  expectJsonNoStore(t, answer);
  t.equal(
    answer.headers['www-authenticate'],
    `Bearer realm="api", ${resourceMetadataAttr(collection)}`,
    'bare Bearer challenge, no error attribute',
  );
  t.strictSame(answer.json, { message: 'bearer token required' });
}

/**
 * A bearer-check error (RFC 6750 §3.1): status, the challenge with its error code and the
 * collection's resource metadata (RFC 9728 §5.1), and the JSON body.
 */
export function expectBearerError(
  t: Test,
  answer: Answer,
  status: number,
  error: string,
  description: string,
  collection = 'orders',
): void {
  t.equal(answer.status, status, `status ${status}`);
  expectJsonNoStore(t, answer);
  t.equal(
    answer.headers['www-authenticate'],
    `Bearer realm="api", error="${error}", error_description="${description}", ${resourceMetadataAttr(collection)}`,
  );
  t.strictSame(answer.json, { error, error_description: description });
}

/** RFC 6750 §3.1 descriptions the sidecar sends. */
export const INVALID_TOKEN = 'the access token is invalid or has expired';
export const MALFORMED_BEARER = 'malformed bearer credentials';
