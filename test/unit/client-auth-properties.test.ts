/**
 * Properties of Basic client credentials (src/oauth/client-auth.ts; RFC 6749 §2.3.1, RFC 7617 §2)
 * over generated ids and secrets: the form-urlencoded round trip, the raw reading, and that no input
 * makes the parsers throw anything but an OAuthError.
 */
import fc from 'fast-check';
import t from 'tap';
import { parseBasic, presentedCredentials } from '../../src/oauth/client-auth.js';
import { OAuthError } from '../../src/oauth/errors.js';

const RUNS = { numRuns: 300 };

// RFC 6749 Appendix A.1, A.2: client_id and client_secret are *VSCHAR (%x20-7E).
const vschar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const id = fc.string({ unit: vschar, minLength: 1, maxLength: 30 });
const secret = fc.string({ unit: vschar, maxLength: 40 });
// application/x-www-form-urlencoded serialisation (WHATWG URL §5.2), as RFC 6749 §2.3.1 asks.
const formEncode = (s: string): string => new URLSearchParams({ v: s }).toString().slice(2);
const basic = (text: string): string => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

/** Runs `fn`; true if it returned or threw an OAuthError, false for any other throw. */
function onlyOAuthErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    return err instanceof OAuthError;
  }
}

t.test('RFC 6749 §2.3.1: form-urlencoded id and secret of any VSCHARs decode to themselves (first reading)', async (t) => {
  fc.assert(
    fc.property(id, secret, (clientId, clientSecret) => {
      const presented = parseBasic(basic(`${formEncode(clientId)}:${formEncode(clientSecret)}`));
      return presented.method === 'client_secret_basic' && presented.ids[0] === clientId && presented.secrets[0] === clientSecret;
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('RFC 7617 §2: a raw id without ":" and a raw secret of any VSCHARs are among the readings', async (t) => {
  const rawId = fc.string({ unit: vschar.filter((c) => c !== ':'), minLength: 1, maxLength: 30 });
  fc.assert(
    fc.property(rawId, secret, (clientId, clientSecret) => {
      const presented = parseBasic(basic(`${clientId}:${clientSecret}`));
      return presented.ids.includes(clientId) && presented.secrets.includes(clientSecret) && presented.ids.length <= 2;
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('RFC 7617 §2: the user-id ends at the first colon, whatever the secret holds', async (t) => {
  fc.assert(
    fc.property(
      id.filter((s) => !s.includes(':')),
      secret,
      (clientId, clientSecret) => {
        const presented = parseBasic(basic(`${clientId}:${clientSecret}:${clientSecret}`));
        return presented.ids.at(-1) === clientId && presented.secrets.at(-1) === `${clientSecret}:${clientSecret}`;
      },
    ),
    RUNS,
  );
  t.pass('held');
});

t.test('parseBasic throws nothing but OAuthError invalid_client, for any string and any bytes', async (t) => {
  const anyBytes = fc.uint8Array({ maxLength: 40 }).map((bytes) => `Basic ${Buffer.from(bytes).toString('base64')}`);
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ maxLength: 60 }).map((s) => `Basic ${s}`),
  );
  fc.assert(
    fc.property(fc.oneof(anyBytes, anyText), (authorization) => {
      try {
        parseBasic(authorization);
        return true;
      } catch (err) {
        return err instanceof OAuthError && err.code === 'invalid_client' && err.status === 401;
      }
    }),
    RUNS,
  );
  t.pass('held');
});

t.test('RFC 4648 §3.5: a character dangling after complete base64 quanta is refused, not dropped', async (t) => {
  const whole = fc
    .tuple(
      id.filter((s) => !s.includes(':')),
      secret,
    )
    .map(([clientId, clientSecret]) => Buffer.from(`${clientId}:${clientSecret}`).toString('base64'))
    .filter((encoded) => !encoded.endsWith('='));
  fc.assert(
    fc.property(whole, fc.constantFrom('A', 'x', '0', '+', '/'), (encoded, extra) =>
      throwsOAuth(() => parseBasic(`Basic ${encoded}${extra}`)),
    ),
    RUNS,
  );
  t.pass('held');
});

t.test('presentedCredentials throws nothing but OAuthError, for any header and any body parameters', async (t) => {
  const header = fc.option(
    fc.oneof(
      fc.string({ maxLength: 40 }),
      id.map((s) => basic(`${s}:${s}`)),
    ),
    { nil: undefined },
  );
  const names = fc.constantFrom('client_id', 'client_secret', 'grant_type', '__proto__', 'constructor');
  const params = fc.dictionary(names, fc.string({ maxLength: 10 }), { noNullPrototype: true });
  fc.assert(
    fc.property(header, params, (authorization, body) =>
      onlyOAuthErrors(() => presentedCredentials(authorization, new Map(Object.entries(body)))),
    ),
    RUNS,
  );
  t.pass('held');
});

/** true if `fn` throws an OAuthError. */
function throwsOAuth(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return err instanceof OAuthError;
  }
}
