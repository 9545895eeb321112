/**
 * The `scope` of a token request (RFC 6749 §3.3): a client may ask for a subset of its access
 * profile's API collections; without `scope` it gets all of them (the pre-defined default, §3.3).
 */
import { OAuthError } from './errors.js';

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Grants the scope of a token request (RFC 6749 §3.3).
 * The value is split on spaces; repeated, leading and trailing spaces are tolerated (clients that
 * join lists carelessly) and a value named twice is granted once. Any other whitespace (TAB, LF)
 * is not a separator, so it makes a malformed scope-token.
 * @param requested the `scope` parameter, undefined when the request has none
 * @param allowed the access profile's collections, in config order
 * @returns the granted collection names: all of `allowed` when nothing was requested, else the
 *   requested values in the order first named
 * @throws OAuthError invalid_scope for a malformed value, an empty list, or a value the profile does
 *   not include (unknown collections and other profiles' collections answer alike)
 */
export function grantScope(requested: string | undefined, allowed: readonly string[]): readonly string[] {
  if (requested === undefined) return allowed;
  const values = [...new Set(requested.split(' ').filter((v) => v !== ''))];
  if (values.length === 0) throw new OAuthError('invalid_scope', 'the scope parameter names no scope value');
  for (const value of values) {
    if (!SCOPE_TOKEN.test(value)) throw new OAuthError('invalid_scope', 'the scope parameter is malformed');
    if (!allowed.includes(value)) {
      // RFC 6749 §5.2 limits error_description to %x20-21 / %x23-5B / %x5D-7E: a scope-token fits.
      throw new OAuthError('invalid_scope', `scope ${value} is not available to this client`);
    }
  }
  return values;
}

/** A granted scope as the wire carries it (RFC 6749 §3.3): space-delimited. */
export function scopeString(scope: readonly string[]): string {
  return scope.join(' ');
}
