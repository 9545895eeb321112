/**
 * The one error type that crosses the HTTP boundary (ARCHITECTURE.md §1.3). Its status follows from
 * its RFC code; `detail` is for the log only and never sent.
 */

/** Error codes of RFC 6749 §5.2 (token endpoint) and RFC 6750 §3.1 (protected resources). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400, // RFC 6749 §5.2, RFC 6750 §3.1
  invalid_client: 401, // RFC 6749 §5.2: 401 with a challenge when the client used a header
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_token: 401, // RFC 6750 §3.1
  insufficient_scope: 403, // RFC 6750 §3.1
  server_error: 500,
  temporarily_unavailable: 503, // RFC 6749 §4.1.2.1's code, used here for an overloaded token endpoint
};

/** An OAuth error: `code` and `description` go on the wire, `detail` only to the log. */
export class OAuthError extends Error {
  readonly status: number;
  readonly detail: string | undefined;
  /** seconds a client should wait before retrying, sent as `Retry-After` (RFC 9110 §10.2.3) */
  readonly retryAfterS: number | undefined;

  /**
   * @param code RFC 6749 §5.2 / RFC 6750 §3.1 error code; decides the status
   * @param description public `error_description` (RFC 6749 §5.2: printable ASCII, no `"` or `\`)
   * @param opts.detail private detail for the log; opts.status overrides the status (e.g. 413);
   *   opts.retryAfterS seconds for `Retry-After` (e.g. with a 429)
   */
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    opts: { detail?: string; status?: number; retryAfterS?: number } = {},
  ) {
    super(`${code}: ${description}`);
    this.name = 'OAuthError';
    this.status = opts.status ?? STATUS[code];
    this.detail = opts.detail;
    this.retryAfterS = opts.retryAfterS;
  }
}

/**
 * Thrown by a shared token store (Redis) that cannot be reached or did not answer in time. The
 * bearer check answers 503 and the token endpoint `temporarily_unavailable` (503): fail closed,
 * never a 500, since the process itself is healthy and recovers when the store returns.
 */
export class StoreUnavailableError extends Error {
  constructor(detail: string) {
    super(`token store unavailable: ${detail}`);
    this.name = 'StoreUnavailableError';
  }
}
