/**
 * normaliseTarget, rule by rule as its TSDoc lists them (B25; RFC 3986 §2.2, §3.3, §5.2.4, §6.2.2).
 */
import t from 'tap';
import { normaliseTarget } from '../../src/proxy/path.js';

const ORIGIN_FORM = 'the request target must be a path (origin-form)';
const BAD_CHARACTER = 'the path has a character that must be percent-encoded';
const BAD_ESCAPE = 'the path has a malformed percent-escape';
const AMBIGUOUS_ESCAPE = 'the path has an encoded slash, backslash or control character';

t.test('RFC 9112 §3.2.2: absolute-form targets are refused', async (t) => {
  t.same(normaliseTarget('http://other.example/orders/1'), { error: ORIGIN_FORM });
});

t.test('RFC 9112 §3.2.4: the asterisk-form target is refused', async (t) => {
  t.same(normaliseTarget('*'), { error: ORIGIN_FORM });
});

t.test('RFC 9112 §3.2: an empty target is refused', async (t) => {
  t.same(normaliseTarget(''), { error: ORIGIN_FORM });
});

t.test('RFC 3986 §3.3: a plain path is returned unchanged (fast path)', async (t) => {
  t.same(normaliseTarget("/orders/1-a_b.c~d!$&'()*+,;=:@"), { path: "/orders/1-a_b.c~d!$&'()*+,;=:@", query: '' });
});

t.test('RFC 3986 §3.3: a backslash is not a pchar and is refused, not turned into "/"', async (t) => {
  t.same(normaliseTarget('/public\\..\\orders/1'), { error: BAD_CHARACTER });
});

t.test('RFC 3986 §3.3: NUL, space and other characters outside pchar are refused', async (t) => {
  for (const target of [
    '/public/\u0000',
    '/public/a b',
    '/public/"x"',
    '/public/<x>',
    '/public/{x}',
    '/public/a|b',
    '/public/a^b',
    '/public/a`b',
    '/public/a#b',
  ]) {
    t.same(normaliseTarget(target), { error: BAD_CHARACTER }, JSON.stringify(target));
  }
});

t.test('RFC 3986 §3.3: raw non-ASCII is refused (it must arrive percent-encoded)', async (t) => {
  t.same(normaliseTarget('/public/caf\u00e9'), { error: BAD_CHARACTER });
});

t.test('RFC 3986 §6.2.2.2: escapes of unreserved characters are decoded', async (t) => {
  t.same(normaliseTarget('/%6Frders/%41%7a%30%2D%2e%5F%7E'), { path: '/orders/Az0-._~', query: '' });
});

t.test('RFC 3986 §6.2.2.2: "%2e%2e" is "..", and is resolved like it', async (t) => {
  t.same(normaliseTarget('/public/%2e%2E/orders/1'), { path: '/orders/1', query: '' });
});

t.test('RFC 3986 §2.2: "%2F" is not "/" and is refused (either case)', async (t) => {
  t.same(normaliseTarget('/public/..%2forders/1'), { error: AMBIGUOUS_ESCAPE });
  t.same(normaliseTarget('/public/..%2Forders/1'), { error: AMBIGUOUS_ESCAPE });
});

t.test('RFC 3986 §2.2: "%5C" (an encoded backslash) is refused (either case)', async (t) => {
  t.same(normaliseTarget('/public/..%5corders'), { error: AMBIGUOUS_ESCAPE });
  t.same(normaliseTarget('/public/..%5Corders'), { error: AMBIGUOUS_ESCAPE });
});

t.test('B25: escaped control characters (%00-%1F, %7F) are refused', async (t) => {
  for (const escape of ['%00', '%0a', '%1F', '%7f']) {
    t.same(normaliseTarget(`/public/${escape}`), { error: AMBIGUOUS_ESCAPE }, escape);
  }
});

t.test('RFC 3986 §2.1: a "%" not followed by two hex digits is refused', async (t) => {
  for (const target of ['/public/%', '/public/%2', '/public/%zz', '/public/%g0', '/public/%%41']) {
    t.same(normaliseTarget(target), { error: BAD_ESCAPE }, target);
  }
});

t.test('RFC 3986 §6.2.2.1: other escapes are kept, their hex digits upper-cased', async (t) => {
  t.same(normaliseTarget('/public/%3a%c3%a9%20%3F%23'), { path: '/public/%3A%C3%A9%20%3F%23', query: '' });
});

t.test('B25: "%252e" is decoded once only: it stays a literal "%2e" for the upstream', async (t) => {
  t.same(normaliseTarget('/public/%252e%252e/orders/1'), { path: '/public/%252e%252e/orders/1', query: '' });
});

t.test('RFC 3986 §5.2.4: "." segments are removed', async (t) => {
  t.same(normaliseTarget('/public/./docs/.'), { path: '/public/docs/', query: '' });
});

t.test('RFC 3986 §5.2.4: ".." removes the segment before it', async (t) => {
  t.same(normaliseTarget('/public/../orders/1'), { path: '/orders/1', query: '' });
});

t.test('RFC 3986 §5.2.4: ".." cannot climb above the root', async (t) => {
  t.same(normaliseTarget('/../../orders/1'), { path: '/orders/1', query: '' });
  t.same(normaliseTarget('/orders/..'), { path: '/', query: '' });
});

t.test('RFC 3986 §5.2.4: a final ".." leaves a trailing "/"', async (t) => {
  t.same(normaliseTarget('/public/docs/x/..'), { path: '/public/docs/', query: '' });
});

t.test('RFC 3986 §5.2.4: segments that merely contain dots are kept', async (t) => {
  t.same(normaliseTarget('/public/.well-known/a..b/.../%2e%2e%2e'), { path: '/public/.well-known/a..b/.../...', query: '' });
});

t.test('B25: empty segments ("//") are collapsed', async (t) => {
  t.same(normaliseTarget('//orders//1'), { path: '/orders/1', query: '' });
  t.same(normaliseTarget('///'), { path: '/', query: '' });
});

t.test('B25: a trailing "/" is kept, also after collapsing', async (t) => {
  t.same(normaliseTarget('/public/docs/'), { path: '/public/docs/', query: '' });
  t.same(normaliseTarget('/public//docs//'), { path: '/public/docs/', query: '' });
});

t.test('B25: the query is kept byte for byte, whatever it holds', async (t) => {
  t.same(normaliseTarget('/public/docs?next=//x/../y&a=%2f%zz\\'), { path: '/public/docs', query: '?next=//x/../y&a=%2f%zz\\' });
});

t.test('B25: the query is kept when the path is normalised', async (t) => {
  t.same(normaliseTarget('/public//./docs?q=1'), { path: '/public/docs', query: '?q=1' });
});

t.test('B25: an empty query ("?") is kept', async (t) => {
  t.same(normaliseTarget('/?'), { path: '/', query: '?' });
});
