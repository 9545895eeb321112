/**
 * The bearer check of protected requests: RFC 6750 §2.1 extraction (header only) and the §3.1
 * errors, then the token's access profile and scope.
 */
import type { AccessProfile } from '../config/schema.js';
import { OAuthError } from './errors.js';
import type { TokenRecord, TokenStore } from './tokens.js';

/** The outcome of a bearer check: the caller answers failures with `sendBearerChallenge`. */
export type BearerResult = { ok: true; record: TokenRecord; profile: AccessProfile } | { ok: false; error?: OAuthError; scope?: string };

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const malformed = (): BearerResult => ({ ok: false, error: new OAuthError('invalid_request', 'malformed bearer credentials') });

/**
 * Checks `Authorization: Bearer` for a request to `collection` (RFC 6750 §2.1, §3.1).
 * @param authorization the Authorization value; `count` the number of Authorization field lines
 * @param profiles the current access profiles by name: removed or disabled ones end their tokens
 * @returns ok with the token record and profile; or the error to answer (none: no credentials)
 */
export async function checkBearer(
  authorization: string | undefined,
  count: number,
  collection: string,
  store: TokenStore,
  profiles: ReadonlyMap<string, AccessProfile>,
): Promise<BearerResult> {
  if (count > 1) return { ok: false, error: new OAuthError('invalid_request', 'more than one Authorization header') };
  if (authorization === undefined) return { ok: false };
  // What every client sends, "Bearer <b64token>", is taken without a regex match or a copy to trim.
  let token = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
  if (!B64TOKEN.test(token)) {
    // RFC 9110 §11.4: credentials = auth-scheme [ 1*SP token ]; an empty value has no scheme at all.
    const match = /^([^ \t]+)([ \t]*)(.*)$/s.exec(authorization);
    if (!match) return malformed();
    // RFC 9110 §11.1: the scheme is case-insensitive. Another scheme is no bearer credentials at all.
    if (match[1]!.toLowerCase() !== 'bearer') return { ok: false };
    // A tab after the scheme, or an empty or non-b64token value, is malformed (RFC 6750 §2.1).
    token = match[3]!.replace(/ +$/, '');
    if (match[2]!.includes('\t') || !B64TOKEN.test(token)) return malformed();
  }
  const record = await store.lookup(token);
  const profile = record && profiles.get(record.profile);
  if (!record || !profile || !profile.enabled || profile.client_id !== record.client_id || cutOff(record, profile)) {
    return { ok: false, error: new OAuthError('invalid_token', 'the access token is invalid or has expired') };
  }
  // A reload narrows a live token's scope to its profile's current collections.
  if (!record.scope.includes(collection) || !profile.collections.includes(collection)) {
    return {
      ok: false,
      error: new OAuthError('insufficient_scope', 'the access token does not grant this API collection'),
      scope: collection,
    };
  }
  return { ok: true, record, profile };
}

/**
 * Whether the profile's `tokens_issued_after` cuts the token off. Issue times are whole seconds, so a
 * token issued in the cut-off's own second cannot be told apart from one issued just before it: it
 * is cut off too (the safe side; its client simply gets a new token).
 * @returns true when the token was issued at or before the cut-off's second
 */
export function cutOff(record: TokenRecord, profile: AccessProfile): boolean {
  const after = profile.tokens_issued_after;
  return after !== undefined && record.issuedAt <= Math.floor(after / 1000);
}

/**
 * RFC 6750 §2: a client must not send the token by more than one method, and this sidecar accepts
 * only the header (§2.1). A request carrying `access_token` in its query is refused, since the query
 * is forwarded untouched and would hand the token to the upstream (B13).
 * @param query the request's query, "" or starting with "?"
 * @returns the error to answer, or undefined
 */
export function queryTokenError(query: string): OAuthError | undefined {
  if (query === '' || !query.includes('token')) return undefined; // the hot path: no parse
  for (const name of new URLSearchParams(query).keys()) {
    if (name === 'access_token') return new OAuthError('invalid_request', 'send the access token in the Authorization header only');
  }
  return undefined;
}
