/**
 * The in-memory token store (src/oauth/tokens.ts) on a fake monotonic clock: issue, look up,
 * expire at the instant (RFC 7519 §4.1.4 by analogy), sweep, evict. B27 has the load cases.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { MemoryTokenStore, newAccessToken, tokenKey, type TokenGrant } from '../../src/oauth/tokens.js';

/** A fake monotonic clock in ms, starting well above 0 (as test/helpers/sidecar.ts fakeClock, without the server). */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const grant = (profile = 'b', lifetime = 3600): TokenGrant => ({ profile, client_id: `svc-${profile}`, scope: ['public'], lifetime });

function storeFor(t: Test, opts: { maxActive?: number; sweepIntervalMs?: number } = {}) {
  const clock = fakeClock();
  const store = new MemoryTokenStore({ maxActive: opts.maxActive ?? 100, now: clock.now, sweepIntervalMs: opts.sweepIntervalMs });
  t.teardown(() => store.close());
  return { store, clock };
}

t.test('tokenKey: the first 128 bits of SHA-256, one latin1 character per byte (16 characters)', async (t) => {
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a396177a9cb410ff61f20015ad (FIPS 180-2 B.1)
  t.equal(tokenKey('abc'), Buffer.from('ba7816bf8f01cfea414140de5dae2223', 'hex').toString('latin1'));
});

t.test('RFC 6749 §5.1: issue -> a 64-hex-char token and expires_in = whole seconds left (3599 of 3600)', async (t) => {
  const { store } = storeFor(t);
  const issued = await store.issue(grant());
  t.match(issued.access_token, /^[0-9a-f]{64}$/);
  t.equal(issued.expires_in, 3599);
  t.equal((await store.issue(grant('b', 60))).expires_in, 59);
});

t.test('every token is new (256 random bits)', async (t) => {
  const { store } = storeFor(t);
  const a = await store.issue(grant());
  const b = await store.issue(grant());
  t.not(a.access_token, b.access_token);
});

t.test('RFC 6750 §5.2: tokens from the CSPRNG pool are 64 hex characters and all differ, across pool refills', async (t) => {
  const tokens = Array.from({ length: 300 }, () => newAccessToken()); // the pool holds 128
  t.ok(tokens.every((token) => /^[0-9a-f]{64}$/.test(token)));
  t.equal(new Set(tokens).size, 300);
  t.equal(new Set(tokens.map((token) => token.slice(0, 16))).size, 300, 'no two share even their first 64 bits');
});

t.test('lookup -> the record: profile, client_id, scope, the expiry on the store clock and the wall-clock issue time', async (t) => {
  const { store } = storeFor(t);
  const before = Math.floor(Date.now() / 1000);
  const { access_token } = await store.issue(grant());
  const record = await store.lookup(access_token);
  t.ok(
    record && record.issuedAt >= before && record.issuedAt <= Math.floor(Date.now() / 1000),
    'issuedAt is the wall-clock second of issue',
  );
  t.strictSame(record, {
    profile: 'b',
    client_id: 'svc-b',
    scope: ['public'],
    expiresAt: 1_000_000 + 3_600_000,
    issuedAt: record!.issuedAt,
    lifetime: 3600,
  });
});

t.test('an unknown token -> undefined', async (t) => {
  const { store } = storeFor(t);
  t.equal(await store.lookup('0'.repeat(64)), undefined);
});

t.test('RFC 7519 §4.1.4: live 1 ms before expiry, dead at the expiry instant and removed', async (t) => {
  const { store, clock } = storeFor(t);
  const { access_token } = await store.issue(grant('b', 10));
  clock.advance(9_999);
  t.ok(await store.lookup(access_token));
  clock.advance(1);
  t.equal(await store.lookup(access_token), undefined);
  t.equal(store.size, 0, 'a dead token presented is dropped at once');
});

t.test('sweep() drops expired tokens only', async (t) => {
  const { store, clock } = storeFor(t);
  await store.issue(grant('a', 10));
  await store.issue(grant('b', 10));
  clock.advance(5_000);
  const { access_token } = await store.issue(grant('b', 10));
  clock.advance(5_000);
  store.sweep();
  t.equal(store.size, 1);
  t.ok(await store.lookup(access_token));
});

t.test('the sweep also runs on its timer', async (t) => {
  const { store, clock } = storeFor(t, { sweepIntervalMs: 5 });
  await store.issue(grant('b', 1));
  clock.advance(1_000);
  for (let i = 0; i < 100 && store.size > 0; i++) await sleep(5);
  t.equal(store.size, 0);
});

t.test('close() stops the sweep timer', async (t) => {
  const { store, clock } = storeFor(t, { sweepIntervalMs: 5 });
  await store.issue(grant('b', 1));
  store.close();
  clock.advance(1_000);
  await sleep(30);
  t.equal(store.size, 1, 'nothing swept after close');
});

t.test('without an injected clock the store runs on performance.now()', async (t) => {
  const store = new MemoryTokenStore({ maxActive: 10 });
  t.teardown(() => store.close());
  const { access_token } = await store.issue(grant());
  t.match(await store.lookup(access_token), { profile: 'b' });
});

t.test("when full, a new profile's first token evicts from the profile holding the most", async (t) => {
  const { store } = storeFor(t, { maxActive: 3 });
  const a = (await store.issue(grant('a'))).access_token;
  const b1 = (await store.issue(grant('b'))).access_token;
  await store.issue(grant('b'));
  const c = (await store.issue(grant('c'))).access_token;
  t.equal(store.size, 3);
  t.equal(await store.lookup(b1), undefined, "svc-b's least recently used token");
  t.ok(await store.lookup(a));
  t.ok(await store.lookup(c));
});

t.test('max_active 1: each new token replaces the last', async (t) => {
  const { store } = storeFor(t, { maxActive: 1 });
  const first = (await store.issue(grant('a'))).access_token;
  const second = (await store.issue(grant('b'))).access_token;
  t.equal(store.size, 1);
  t.equal(await store.lookup(first), undefined);
  t.ok(await store.lookup(second));
});

t.test('a lookup makes a token the most recently used of its profile: the eviction takes the next oldest', async (t) => {
  const { store } = storeFor(t, { maxActive: 3 });
  const [a1, a2, a3] = [await store.issue(grant('a')), await store.issue(grant('a')), await store.issue(grant('a'))];
  t.ok(await store.lookup(a1.access_token), 'a1: from least to most recently used');
  t.ok(await store.lookup(a3.access_token), 'a3: already the most recently used');
  await store.issue(grant('a'));
  t.equal(await store.lookup(a2.access_token), undefined, 'a2 was the least recently used');
  t.ok(await store.lookup(a1.access_token));
  t.ok(await store.lookup(a3.access_token));
  t.equal(store.size, 3);
});

t.test('B27: on a tie for the most tokens the issuing profile loses its own least recently used token', async (t) => {
  const { store } = storeFor(t, { maxActive: 4 });
  const a = [await store.issue(grant('a')), await store.issue(grant('a'))];
  const b = [await store.issue(grant('b')), await store.issue(grant('b'))];
  await store.issue(grant('b'));
  t.equal(await store.lookup(b[0]!.access_token), undefined, "b's oldest");
  for (const token of [...a, b[1]!]) t.ok(await store.lookup(token.access_token));
});

t.test('B27: a flood from one profile when full never evicts a profile holding fewer tokens', async (t) => {
  const { store } = storeFor(t, { maxActive: 4 });
  const quiet = [await store.issue(grant('quiet')), await store.issue(grant('quiet'))];
  for (let i = 0; i < 50; i++) await store.issue(grant('flood'));
  t.equal(store.size, 4);
  for (const token of quiet) t.match(await store.lookup(token.access_token), { profile: 'quiet', client_id: 'svc-quiet' });
});

t.test('RFC 7009 §2.2: revoke() ends a live token at once and says so; then, or for an unknown token, false', async (t) => {
  const { store } = storeFor(t);
  const kept = await store.issue(grant('a'));
  const { access_token } = await store.issue(grant('a'));
  t.equal(await store.revoke(access_token), true);
  t.equal(await store.lookup(access_token), undefined);
  t.equal(store.size, 1);
  t.equal(await store.revoke(access_token), false, 'already revoked');
  t.equal(await store.revoke('0'.repeat(64)), false, 'never issued');
  t.ok(await store.lookup(kept.access_token), 'the other token of the profile lives');
});

t.test('revoke() of a token at its expiry instant: false (not live), and it is dropped', async (t) => {
  const { store, clock } = storeFor(t);
  const { access_token } = await store.issue(grant('a', 10));
  clock.advance(10_000);
  t.equal(await store.revoke(access_token), false);
  t.equal(store.size, 0);
});

t.test('revokeProfile() ends every token of that profile only; the profile can be issued tokens again', async (t) => {
  const { store } = storeFor(t);
  const a = [await store.issue(grant('a')), await store.issue(grant('a')), await store.issue(grant('a'))];
  const b = await store.issue(grant('b'));
  await store.revokeProfile('a');
  for (const token of a) t.equal(await store.lookup(token.access_token), undefined);
  t.equal(store.size, 1);
  t.match(await store.lookup(b.access_token), { profile: 'b' });
  await store.revokeProfile('nobody');
  t.equal(store.size, 1, 'an access profile without tokens: nothing happens');
  const again = await store.issue(grant('a'));
  t.match(await store.lookup(again.access_token), { profile: 'a', client_id: 'svc-a', scope: ['public'] });
});

t.test('tokens of one profile with different scopes or client_ids each keep their own record', async (t) => {
  const { store } = storeFor(t);
  const grants: TokenGrant[] = [
    { profile: 'a', client_id: 'svc-a', scope: ['x'], lifetime: 60 },
    { profile: 'a', client_id: 'svc-a', scope: ['x', 'y'], lifetime: 60 },
    { profile: 'a', client_id: 'svc-a', scope: ['y'], lifetime: 60 },
    { profile: 'a', client_id: 'svc-a2', scope: ['x'], lifetime: 60 },
    { profile: 'a', client_id: 'svc-a', scope: ['x'], lifetime: 60 },
  ];
  const tokens = [];
  for (const g of grants) tokens.push((await store.issue(g)).access_token);
  for (const [i, g] of grants.entries()) t.match(await store.lookup(tokens[i]!), { profile: 'a', client_id: g.client_id, scope: g.scope });
});

t.test("the record's scope is the scope at issue, not a later change to the caller's array", async (t) => {
  const { store } = storeFor(t);
  const scope = ['x'];
  const { access_token } = await store.issue({ profile: 'a', client_id: 'svc-a', scope, lifetime: 60 });
  scope.push('y');
  t.strictSame((await store.lookup(access_token))?.scope, ['x']);
});

t.test('freed slots and grants are reused: records stay right through turnover', async (t) => {
  const { store, clock } = storeFor(t, { maxActive: 4 });
  for (let round = 0; round < 20; round++) {
    const scope = [`s${round % 3}`];
    const issued = [];
    for (let i = 0; i < 4; i++)
      issued.push((await store.issue({ profile: `p${i % 2}`, client_id: `svc-p${i % 2}`, scope, lifetime: 1 })).access_token);
    for (const [i, token] of issued.entries()) {
      t.strictSame(await store.lookup(token), {
        profile: `p${i % 2}`,
        client_id: `svc-p${i % 2}`,
        scope,
        expiresAt: clock.now() + 1000,
        issuedAt: (await store.lookup(token))!.issuedAt,
        lifetime: 1,
      });
    }
    if (round % 2) await store.revoke(issued[1]!);
    clock.advance(1000);
    if (round % 4 === 1) store.sweep();
  }
  t.equal(store.size, 3, 'the last round: 4 issued, 1 revoked, 3 expired waiting for the sweep');
});

t.test('sweep() passes over freed slots and drops only the expired', async (t) => {
  const { store, clock } = storeFor(t);
  const first = await store.issue(grant('a', 10));
  const second = await store.issue(grant('a', 20));
  await store.revoke(first.access_token);
  clock.advance(10_000);
  store.sweep();
  t.equal(store.size, 1);
  t.ok(await store.lookup(second.access_token));
});

t.test(
  'RFC 7662 §2.2 exp: tokens of one profile issued with different lifetimes (a reload changed expires_in) keep their own',
  async (t) => {
    const { store } = storeFor(t);
    const short = await store.issue({ profile: 'b', client_id: 'svc-b', scope: ['public'], lifetime: 600 });
    const long = await store.issue({ profile: 'b', client_id: 'svc-b', scope: ['public'], lifetime: 3600 });
    t.same([(await store.lookup(short.access_token))?.lifetime, (await store.lookup(long.access_token))?.lifetime], [600, 3600]);
  },
);
