/**
 * OAuth answers: token-endpoint errors with their Basic challenge (RFC 6749 §5.2) and the Bearer
 * challenges of protected resources (RFC 6750 §3), as data the caller writes to a response or socket.
 */
import type { ServerResponse } from 'node:http';
import { sendJson } from '../respond.js';
import type { OAuthError } from './errors.js';

/** A whole answer: status, JSON body and extra headers. */
export interface Answer {
  status: number;
  body: Record<string, string>;
  headers: Record<string, string>;
}

/**
 * Answers a token-endpoint error (RFC 6749 §5.2): `{"error","error_description"}`; a 401 carries
 * `WWW-Authenticate: Basic realm="…"` because a 401 must carry a challenge (RFC 9110 §15.5.2), and
 * an error that says when to retry carries `Retry-After`.
 */
export function sendTokenError(res: ServerResponse, err: OAuthError, realm: string): void {
  const headers: Record<string, string> = err.status === 401 ? { 'WWW-Authenticate': `Basic realm="${realm}"` } : {};
  if (err.retryAfterS !== undefined) headers['Retry-After'] = String(err.retryAfterS);
  sendJson(res, err.status, { error: err.code, error_description: err.description }, headers);
}

/**
 * The answer to a protected request that failed the bearer check (RFC 6750 §3, §3.1). Without an
 * error (no bearer credentials at all) the challenge is bare, `Bearer realm="…"` (§3.1: no error code).
 * @param scope for insufficient_scope: the scope the resource needs (§3)
 * @param resourceMetadata the URL of the resource's protected resource metadata (RFC 9728 §5.1),
 *   where clients such as MCP's find the authorization server; left out when unknown
 */
export function bearerChallenge(realm: string, err?: OAuthError, scope?: string, resourceMetadata?: string): Answer {
  const metadata = resourceMetadata === undefined ? '' : `, resource_metadata="${resourceMetadata}"`;
  if (!err) {
    return {
      status: 401,
      body: { message: 'bearer token required' },
      headers: { 'WWW-Authenticate': `Bearer realm="${realm}"${metadata}` },
    };
  }
  let challenge = `Bearer realm="${realm}", error="${err.code}", error_description="${err.description}"`;
  if (scope) challenge += `, scope="${scope}"`;
  challenge += metadata;
  return { status: err.status, body: { error: err.code, error_description: err.description }, headers: { 'WWW-Authenticate': challenge } };
}
