/**
 * Request-target normalisation, done once so that the path authorised is the path forwarded (B25).
 */

/** A normalised origin-form target: `path` as checked and forwarded, `query` verbatim ("" or "?..."). */
export type NormalisedTarget = { path: string; query: string; error?: undefined } | { error: string };

// RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; plus "/" between segments.
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Normalises the request target of a protected request.
 * - origin-form only: absolute-form ("http://other/x") and asterisk-form are refused;
 * - characters outside RFC 3986 `pchar` ("\", NUL, spaces, raw non-ASCII) are refused;
 * - escapes of unreserved characters are decoded (§6.2.2.2, so "%2e" is "."); "%2F", "%5C" and
 *   escaped control characters are refused, since a decoded "/" or "\" would change the segments;
 *   other escapes are kept, hex upper-cased ("%252e" stays a literal "%2e" for the upstream);
 * - "." or ".." with ";" parameters ("..;x") is refused: servlet containers read it as a dot segment;
 * - dot segments are removed (§5.2.4) and empty segments ("//") collapsed;
 * - the query is kept byte for byte.
 * @param target the request target as received (`req.url`)
 */
export function normaliseTarget(target: string): NormalisedTarget {
  if (target[0] !== '/') return { error: 'the request target must be a path (origin-form)' };
  const q = target.indexOf('?');
  const raw = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  if (!PATH_CHARS.test(raw)) return { error: 'the path has a character that must be percent-encoded' };
  // Fast path: nothing to decode and no "." or empty segment to remove.
  if (!raw.includes('%') && !raw.includes('//') && !raw.includes('/.')) return { path: raw, query };
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== '%') {
      decoded += raw[i];
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { error: 'the path has a malformed percent-escape' };
    const code = parseInt(hex, 16);
    const ch = String.fromCharCode(code);
    if (code < 0x20 || code === 0x7f || ch === '/' || ch === '\\') {
      return { error: 'the path has an encoded slash, backslash or control character' };
    }
    decoded += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // "..;x" is no dot segment to RFC 3986, but servlet containers (Tomcat, Jetty) drop ";x" and then
  // resolve "..": one path checked here, another served upstream. Refused as ambiguous.
  if (DOT_PARAMETERS.test(decoded)) return { error: 'the path has a dot segment with ";" parameters' };
  return { path: removeDotSegments(decoded), query };
}

const DOT_PARAMETERS = /\/\.\.?;/;

/** RFC 3986 §5.2.4 on an absolute path, with empty segments dropped; a trailing "/" is kept. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '..') out.pop();
    else if (s !== '.' && s !== '') out.push(s);
    trailingSlash = last && (s === '' || s === '.' || s === '..');
  }
  const joined = '/' + out.join('/');
  return trailingSlash && out.length > 0 ? joined + '/' : joined;
}
