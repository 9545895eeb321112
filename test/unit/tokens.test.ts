/**
 * The in-memory token store (src/oauth/tokens.ts) on a fake monotonic clock: issue, look up,
 * expire at the instant (RFC 7519 §4.1.4 by analogy), sweep, evict. B27 has the load cases.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { MemoryTokenStore, tokenKey, type TokenGrant } from '../../src/oauth/tokens.js';

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

t.test('tokenKey: SHA-256 of the token, base64url, 43 characters', async (t) => {
  t.equal(tokenKey('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
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
