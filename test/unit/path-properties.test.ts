/**
 * Properties of normaliseTarget (B25, issue 6; RFC 3986 §5.2.4, §6.2.2) over generated targets:
 * it never throws, what it returns is idempotent and free of "..", "." and empty segments, and a
 * path it puts under a mount is under that mount for a WHATWG URL resolver too.
 */
import fc from 'fast-check';
import t from 'tap';
import { normaliseTarget } from '../../src/proxy/path.js';

const RUNS = { numRuns: 400 };

// Path-shaped pieces, the hostile ones weighted in: dots, their escapes, slashes, escapes of
// escapes, backslashes, NUL, ";" parameters, a query.
const PIECES = [
  'a',
  'b',
  '~',
  '.',
  '..',
  '/',
  '//',
  '%2e',
  '%2E',
  '%2e%2e',
  '%252e',
  '%2f',
  '%5c',
  '%00',
  '%zz',
  '%',
  ';',
  '..;',
  '?',
  '#',
  '\\',
  ' ',
  'é',
];
const piece = fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 3 }));
const target = fc.array(piece, { maxLength: 24 }).map((parts) => '/' + parts.join(''));
// Only what RFC 3986 allows in a path, so most targets are accepted and the invariants get exercised.
const validPiece = fc.constantFrom('a', 'B', '~', '.', '..', '/', '//', '%2e', '%2E', '%41', '%7e', '%252e', '%c0%ae', ';x', '=', '@', ':');
const validTarget = fc.array(validPiece, { maxLength: 24 }).map((parts) => '/' + parts.join(''));

t.test('never throws, and answers a path or an error for arbitrary strings', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), target), (input) => {
      const result = normaliseTarget(input);
      return typeof result.error === 'string' || typeof result.path === 'string';
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('RFC 3986 §5.2.4: a normalised path starts with "/" and has no "//", "." or ".." segment', async (t) => {
  fc.assert(
    fc.property(validTarget, (input) => {
      const result = normaliseTarget(input);
      if (result.error !== undefined) return true;
      const segments = result.path.split('/').slice(1);
      return (
        result.path.startsWith('/') &&
        !result.path.includes('//') &&
        segments.every((s) => s !== '.' && s !== '..') &&
        !/%2e/i.test(result.path.replace(/%25/g, ''))
      );
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('normalising is idempotent: a normalised target normalises to itself', async (t) => {
  fc.assert(
    fc.property(fc.oneof(validTarget, target), (input) => {
      const first = normaliseTarget(input);
      if (first.error !== undefined) return true;
      const again = normaliseTarget(first.path + first.query);
      return again.error === undefined && again.path === first.path && again.query === first.query;
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('the query is kept byte for byte', async (t) => {
  fc.assert(
    fc.property(validTarget, fc.string({ maxLength: 20 }), (input, query) => {
      const result = normaliseTarget(`${input}?${query}`);
      return result.error !== undefined || result.query === `?${query}`;
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('a path kept under /public stays under /public for a WHATWG URL resolver too (nothing climbs out unseen)', async (t) => {
  fc.assert(
    fc.property(validTarget, (suffix) => {
      const input = `/public${suffix}`;
      const result = normaliseTarget(input);
      if (result.error !== undefined) return true;
      const under = (path: string): boolean => path === '/public' || path.startsWith('/public/');
      return !under(result.path) || under(new URL(input, 'http://upstream.example').pathname);
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('every accepted path has only RFC 3986 path characters, and no escaped "/", "\\" or control character', async (t) => {
  fc.assert(
    fc.property(target, (input) => {
      const result = normaliseTarget(input);
      if (result.error !== undefined) return true;
      return /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(result.path) && !/%(2f|5c|[01][0-9a-f]|7f)/i.test(result.path);
    }),
    RUNS,
  );
  t.pass('held');
});
