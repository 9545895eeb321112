/**
 * The bearer check (src/oauth/bearer.ts): RFC 6750 §2.1 extraction from the header, the §3.1
 * errors, and the token's access profile and scope as they are now.
 */
import t from 'tap';
import type { AccessProfile } from '../../src/config/schema.js';
import { checkBearer } from '../../src/oauth/bearer.js';
import { MemoryTokenStore } from '../../src/oauth/tokens.js';
import { testConfig } from '../helpers/config.js';

const config = testConfig('http://127.0.0.1:9');
const profiles = new Map(config.access_profiles.map((p) => [p.name, p]));
const store = new MemoryTokenStore({ maxActive: 100 });
t.teardown(() => store.close());
const { access_token: TOKEN_A } = await store.issue({ profile: 'a', client_id: 'svc-a', scope: ['orders'], lifetime: 3600 });

const check = (
  authorization: string | undefined,
  opts: { count?: number; collection?: string; profiles?: ReadonlyMap<string, AccessProfile> } = {},
) =>
  checkBearer(
    authorization,
    opts.count ?? (authorization === undefined ? 0 : 1),
    opts.collection ?? 'orders',
    store,
    opts.profiles ?? profiles,
  );
const withProfileA = (patch: Partial<AccessProfile>) => new Map(profiles).set('a', { ...profiles.get('a')!, ...patch });

const MALFORMED = { code: 'invalid_request', status: 400, description: 'malformed bearer credentials' };
const INVALID = { code: 'invalid_token', status: 401, description: 'the access token is invalid or has expired' };

t.test('RFC 6750 §2.1: a valid token for its collection -> ok with the record and the profile', async (t) => {
  const result = await check(`Bearer ${TOKEN_A}`);
  t.match(result, { ok: true, record: { profile: 'a', client_id: 'svc-a', scope: ['orders'] }, profile: { name: 'a' } });
});

t.test('RFC 9110 §11.1: the scheme is case-insensitive', async (t) => {
  for (const scheme of ['bearer', 'BEARER', 'bEaReR']) t.match(await check(`${scheme} ${TOKEN_A}`), { ok: true }, scheme);
});

t.test('RFC 9110 §11.4: several spaces after the scheme, and trailing spaces, are allowed', async (t) => {
  t.match(await check(`Bearer   ${TOKEN_A}   `), { ok: true });
});

t.test('RFC 6750 §3.1: no Authorization -> no error (a bare challenge)', async (t) => {
  t.strictSame(await check(undefined), { ok: false });
});

t.test('RFC 6750 §3.1: another scheme is no bearer credentials -> no error', async (t) => {
  t.strictSame(await check('Basic c3ZjLWI6czNjcmV0'), { ok: false });
  t.strictSame(await check(`BearerX${TOKEN_A}`), { ok: false });
});

t.test('RFC 6749 §5.2 / RFC 6750 §3.1: more than one Authorization field line -> invalid_request', async (t) => {
  t.match(await check(`Bearer ${TOKEN_A}`, { count: 2 }), {
    ok: false,
    error: { code: 'invalid_request', description: 'more than one Authorization header' },
  });
});

t.test('RFC 9110 §11.4: an empty Authorization value -> invalid_request', async (t) => {
  t.match(await check(''), { ok: false, error: MALFORMED });
});

t.test('RFC 9110 §11.4: a TAB after the scheme -> invalid_request', async (t) => {
  t.match(await check(`Bearer\t${TOKEN_A}`), { ok: false, error: MALFORMED });
  t.match(await check(`Bearer \t${TOKEN_A}`), { ok: false, error: MALFORMED });
});

t.test('RFC 6750 §2.1: "Bearer" without a token -> invalid_request', async (t) => {
  t.match(await check('Bearer'), { ok: false, error: MALFORMED });
});

t.test('RFC 6750 §2.1: a value that is not a b64token -> invalid_request', async (t) => {
  for (const value of [`Bearer ${TOKEN_A} x`, 'Bearer a=b', 'Bearer =', 'Bearer a\tb', 'Bearer "abc"'])
    t.match(await check(value), { ok: false, error: MALFORMED }, value);
});

t.test('RFC 6750 §2.1: the b64token alphabet with "=" padding is well-formed (here an unknown token)', async (t) => {
  t.match(await check('Bearer Az09-._~+/=='), { ok: false, error: INVALID });
});

t.test('RFC 6750 §3.1: an unknown token -> invalid_token', async (t) => {
  t.match(await check(`Bearer ${'0'.repeat(64)}`), { ok: false, error: INVALID });
});

t.test('RFC 6750 §2.1: the token is case-sensitive -> invalid_token', async (t) => {
  t.match(await check(`Bearer ${TOKEN_A.toUpperCase()}`), { ok: false, error: INVALID });
});

t.test('a token whose access profile was removed -> invalid_token', async (t) => {
  const without = new Map(profiles);
  without.delete('a');
  t.match(await check(`Bearer ${TOKEN_A}`, { profiles: without }), { ok: false, error: INVALID });
});

t.test('a token whose access profile is disabled -> invalid_token', async (t) => {
  t.match(await check(`Bearer ${TOKEN_A}`, { profiles: withProfileA({ enabled: false }) }), { ok: false, error: INVALID });
});

t.test('a token whose profile name now belongs to another client_id -> invalid_token', async (t) => {
  t.match(await check(`Bearer ${TOKEN_A}`, { profiles: withProfileA({ client_id: 'svc-new' }) }), { ok: false, error: INVALID });
});

t.test("RFC 6750 §3.1: a collection outside the token's scope -> insufficient_scope (403) naming the collection", async (t) => {
  t.match(await check(`Bearer ${TOKEN_A}`, { collection: 'public' }), {
    ok: false,
    error: { code: 'insufficient_scope', status: 403, description: 'the access token does not grant this API collection' },
    scope: 'public',
  });
});

t.test('RFC 6750 §3.1: a collection removed from the profile since issue -> insufficient_scope', async (t) => {
  t.match(await check(`Bearer ${TOKEN_A}`, { profiles: withProfileA({ collections: [] }) }), {
    ok: false,
    error: { code: 'insufficient_scope' },
    scope: 'orders',
  });
});

t.test("a collection added to the profile after issue is not in the token's scope -> insufficient_scope", async (t) => {
  t.match(await check(`Bearer ${TOKEN_A}`, { collection: 'public', profiles: withProfileA({ collections: ['orders', 'public'] }) }), {
    ok: false,
    error: { code: 'insufficient_scope' },
  });
});
