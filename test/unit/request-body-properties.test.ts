/**
 * Properties of the token-request body parsers (src/oauth/request-body.ts; RFC 6749 §3.2,
 * Appendix B; RFC 8259) over generated bodies: form and JSON round trips, repeated names refused,
 * `__proto__` and `constructor` kept as plain names, and nothing thrown but an OAuthError. JSON goes
 * through readTokenRequestBody on a real IncomingMessage fed the body.
 */
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { OAuthError } from '../../src/oauth/errors.js';
import { parseForm, readTokenRequestBody, type Params } from '../../src/oauth/request-body.js';

const RUNS = { numRuns: 200 };

/** An IncomingMessage of `type` whose body is `body`, already complete. */
function message(type: string, body: string | Buffer): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  const bytes = Buffer.from(body);
  req.headers = { 'content-type': type, 'content-length': String(bytes.length) };
  req.push(bytes);
  req.push(null);
  return req;
}

const readJson = (body: string | Buffer): Promise<Params> => readTokenRequestBody(message('application/json', body));

// Names a parser keyed by plain objects would trip on, and ordinary ones.
const name = fc.oneof(
  fc.constantFrom(
    'grant_type',
    'client_id',
    'client_secret',
    'scope',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
  ),
  fc.string({ minLength: 1, maxLength: 8 }),
);
const value = fc.string({ maxLength: 12 });
const entries = fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, maxLength: 8 });
const expected = (pairs: [string, string][]): [string, string][] => pairs.filter(([, v]) => v !== '');

t.test('RFC 6749 Appendix B: any parameters, form-urlencoded, parse back to themselves (empty values dropped)', async (t) => {
  fc.assert(
    fc.property(entries, (pairs) => {
      const body = new URLSearchParams(pairs).toString();
      return JSON.stringify([...parseForm(body)]) === JSON.stringify(expected(pairs));
    }),
    { numRuns: 300 },
  );
  t.pass('held');
});

t.test('RFC 6749 §3.2: a form with any name twice is refused with invalid_request', async (t) => {
  fc.assert(
    fc.property(entries, name, value, value, (pairs, repeated, v1, v2) => {
      const body = new URLSearchParams([...pairs, [repeated, v1], [repeated, v2]]).toString();
      try {
        parseForm(body);
        return false;
      } catch (err) {
        return err instanceof OAuthError && err.code === 'invalid_request' && err.description.endsWith('included more than once');
      }
    }),
    { numRuns: 300 },
  );
  t.pass('held');
});

t.test('parseForm throws nothing but OAuthError invalid_request, for any string', async (t) => {
  const hostile = fc
    .array(fc.constantFrom('%', '%zz', '%ff', '%c3', '+', '=', '&', '__proto__', 'a', '%e2%82'), { maxLength: 12 })
    .map((p) => p.join(''));
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), hostile), (body) => {
      try {
        parseForm(body);
        return true;
      } catch (err) {
        return err instanceof OAuthError && err.code === 'invalid_request' && err.status === 400;
      }
    }),
    { numRuns: 300 },
  );
  t.pass('held');
});

t.test('RFC 8259: any JSON object of string members reads back as its members, __proto__ included, nothing polluted', async (t) => {
  await fc.assert(
    fc.asyncProperty(entries, async (pairs) => {
      // Built as text: JSON.stringify of an object would lose "__proto__" to the prototype setter.
      const body = `{${pairs.map(([n, v]) => `${JSON.stringify(n)}:${JSON.stringify(v)}`).join(',')}}`;
      const params = await readJson(body);
      const probe: Record<string, unknown> = {};
      // Member order is not kept (integer-like names come first in a JS object): compare as sets.
      const sorted = (list: [string, string][]): string => JSON.stringify(list.sort(([a], [b]) => (a < b ? -1 : 1)));
      return sorted([...params]) === sorted(expected(pairs)) && probe.grant_type === undefined;
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('RFC 8259 §4: a JSON object with any name twice is refused with invalid_request', async (t) => {
  await fc.assert(
    fc.asyncProperty(entries, name, value, async (pairs, repeated, v) => {
      const members = [...pairs, [repeated, v], [repeated, v]].map(([n, x]) => `${JSON.stringify(n)}:${JSON.stringify(x)}`);
      try {
        await readJson(`{${members.join(',')}}`);
        return false;
      } catch (err) {
        return err instanceof OAuthError && err.code === 'invalid_request';
      }
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('the JSON reader rejects with nothing but OAuthError, for any JSON value and any bytes', async (t) => {
  const body = fc.oneof(
    fc.json({ maxDepth: 4 }),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  await fc.assert(
    fc.asyncProperty(body, async (text) => {
      try {
        await readJson(text);
        return true;
      } catch (err) {
        return err instanceof OAuthError && err.status === 400;
      }
    }),
    RUNS,
  );
  t.pass('held');
});
