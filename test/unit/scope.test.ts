/**
 * RFC 6749 §3.3: the scope of a token request, granted from the access profile's collections.
 */
import t from 'tap';
import { OAuthError } from '../../src/oauth/errors.js';
import { grantScope, scopeString } from '../../src/oauth/scope.js';

const ALLOWED = ['orders', 'public'];

function refusal(requested: string): OAuthError {
  try {
    grantScope(requested, ALLOWED);
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(requested)} to be refused`);
}

t.test("RFC 6749 §3.3: no scope parameter -> the pre-defined default, all the profile's collections", async (t) => {
  t.strictSame(grantScope(undefined, ALLOWED), ALLOWED);
});

t.test('RFC 6749 §3.3: a subset is granted in the order requested', async (t) => {
  t.strictSame(grantScope('public', ALLOWED), ['public']);
  t.strictSame(grantScope('public orders', ALLOWED), ['public', 'orders']);
});

t.test('our decision: repeated, leading and trailing spaces are tolerated; a repeated value is granted once', async (t) => {
  t.strictSame(grantScope('  orders   public ', ALLOWED), ['orders', 'public']);
  t.strictSame(grantScope('orders orders', ALLOWED), ['orders']);
});

t.test('RFC 6749 §5.2: a value the profile lacks -> invalid_scope naming it', async (t) => {
  const err = refusal('orders admin');
  t.equal(err.code, 'invalid_scope');
  t.equal(err.status, 400);
  t.equal(err.description, 'scope admin is not available to this client');
});

t.test('RFC 6749 §3.3: only SP separates; TAB, LF, " and \\ make a malformed scope-token -> invalid_scope', async (t) => {
  for (const requested of ['orders\tpublic', 'orders\npublic', 'a"b', 'a\\b', 'caf\u00e9']) {
    t.equal(refusal(requested).description, 'the scope parameter is malformed', JSON.stringify(requested));
  }
});

t.test('our decision: a scope of spaces only names no value -> invalid_scope', async (t) => {
  t.equal(refusal('   ').description, 'the scope parameter names no scope value');
});

t.test('RFC 6749 §3.3: the wire form is space-delimited', async (t) => {
  t.equal(scopeString(['orders', 'public']), 'orders public');
  t.equal(scopeString([]), '');
});
