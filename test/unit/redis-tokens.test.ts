/**
 * The Redis token store (src/store/redis-tokens.ts) against the real Redis: two stores on two
 * connections stand for two replicas. Each test uses its own key prefix.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { StoreUnavailableError } from '../../src/oauth/errors.js';
import { tokenKey, type TokenGrant } from '../../src/oauth/tokens.js';
import { RedisConnection } from '../../src/store/redis.js';
import { RedisTokenStore } from '../../src/store/redis-tokens.js';
import { freePort, freshPrefix, memoryLogger, privateRedis, REDIS_URL, requireRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/wait.js';

const grant = (profile = 'b', lifetime = 3600): TokenGrant => ({ profile, client_id: `svc-${profile}`, scope: ['public'], lifetime });

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

t.before(requireRedis);

/** A connection closed at the test's end. */
async function connect(t: Test, url = REDIS_URL, opts: { commandTimeoutMs?: number } = {}) {
  const { log, lines } = memoryLogger();
  const redis = new RedisConnection(url, log, opts);
  t.teardown(() => redis.close());
  await redis.ready(2000);
  return { redis, lines };
}

/** Two replicas' stores on one prefix; `b` has a fake clock and the given read-cache options. */
async function replicas(t: Test, b: { cacheTtlMs?: number; maxCached?: number } = {}) {
  const prefix = freshPrefix();
  const clock = fakeClock();
  const a = new RedisTokenStore((await connect(t)).redis, { prefix, maxCached: 100 });
  const other = new RedisTokenStore((await connect(t)).redis, {
    prefix,
    maxCached: b.maxCached ?? 100,
    cacheTtlMs: b.cacheTtlMs,
    now: clock.now,
  });
  return { a, b: other, clock, prefix };
}

t.test('scale-out: a token issued by one replica is live on another, with its record and the TTL as expiry', async (t) => {
  const { a, b, clock } = await replicas(t);
  const issued = await a.issue(grant('b', 3600));
  t.match(issued.access_token, /^[0-9a-f]{64}$/);
  t.equal(issued.expires_in, 3599);
  const record = await b.lookup(issued.access_token);
  t.match(record, { profile: 'b', client_id: 'svc-b', scope: ['public'] });
  t.ok(record!.expiresAt > clock.now() + 3_590_000 && record!.expiresAt <= clock.now() + 3_600_000, 'expiry from the PTTL');
  t.ok(Math.abs(record!.issuedAt - Date.now() / 1000) < 5, 'issuedAt in epoch seconds');
  t.equal(await b.lookup('f'.repeat(64)), undefined, 'an unknown token');
});

t.test('scale-out: Redis holds the SHA-256 of the token as key, never the token', async (t) => {
  const { a, prefix } = await replicas(t);
  const { redis } = await connect(t);
  const issued = await a.issue(grant());
  t.equal(await redis.command('EXISTS', `${prefix}t:${tokenKey(issued.access_token)}`), 1);
  t.equal(await redis.command('EXISTS', `${prefix}t:${issued.access_token}`), 0);
  const ttl = (await redis.command('PTTL', `${prefix}t:${tokenKey(issued.access_token)}`)) as number;
  t.ok(ttl > 3_590_000 && ttl <= 3_600_000, `TTL ${ttl} ms`);
});

t.test('RFC 7009: revoking on one replica ends the token on another once its read cache entry ages out', async (t) => {
  const { a, b, clock } = await replicas(t, { cacheTtlMs: 2000 });
  const { access_token } = await a.issue(grant());
  t.ok(await b.lookup(access_token), 'looked up, now cached on b');
  t.equal(b.size, 1);
  t.equal(await a.revoke(access_token), true, 'a live token was revoked');
  t.equal(await a.revoke(access_token), false, 'nothing left to revoke');
  clock.advance(1999);
  t.ok(await b.lookup(access_token), 'still trusted from the read cache within cache_ttl_ms');
  clock.advance(1);
  t.equal(await b.lookup(access_token), undefined, 'gone at cache_ttl_ms');
  t.equal(await a.lookup(access_token), undefined, 'gone on the revoking replica at once');
});

t.test('revokeProfile on one replica ends every token of that profile on every replica, and only those', async (t) => {
  const { a, b } = await replicas(t, { cacheTtlMs: 0 });
  const one = await a.issue(grant('b'));
  const two = await b.issue(grant('b'));
  const other = await a.issue(grant('c'));
  t.ok(await a.lookup(one.access_token), 'cached on a');
  await a.revokeProfile('b');
  t.equal(await a.lookup(one.access_token), undefined);
  t.equal(await b.lookup(two.access_token), undefined);
  t.equal(await a.revoke(two.access_token), false, 'a revoked token is not live');
  t.ok(await b.lookup(other.access_token), 'another profile keeps its tokens');
  const fresh = await b.issue(grant('b'));
  t.ok(await a.lookup(fresh.access_token), 'a token issued after the revocation works');
  t.equal(b.size, 0, 'cache_ttl_ms 0: nothing cached');
});

t.test('RFC 7519 §4.1.4 by analogy: a cached token is dead at its expiry instant', async (t) => {
  const { a, b, clock } = await replicas(t, { cacheTtlMs: 60_000 });
  const { access_token } = await a.issue(grant('b', 10));
  const record = await b.lookup(access_token);
  await a.revoke(access_token); // so that the lookup below cannot be answered by Redis
  clock.advance(record!.expiresAt - clock.now() - 1);
  t.ok(await b.lookup(access_token), 'one ms before expiry: from the cache');
  clock.advance(1);
  t.equal(await b.lookup(access_token), undefined, 'at expiry');
});

t.test('a token Redis has expired is unknown', async (t) => {
  const { a, b, prefix } = await replicas(t);
  const { redis } = await connect(t);
  const { access_token } = await a.issue(grant());
  await redis.command('PEXPIRE', `${prefix}t:${tokenKey(access_token)}`, 1);
  await sleep(5);
  t.equal(await b.lookup(access_token), undefined);
});

t.test('the read cache holds at most max_active tokens, oldest out first', async (t) => {
  const { a, b } = await replicas(t, { maxCached: 2 });
  const tokens = await Promise.all([1, 2, 3].map(() => a.issue(grant())));
  for (const { access_token } of tokens) t.ok(await b.lookup(access_token));
  t.equal(b.size, 2);
});

t.test(
  'scale-out §3: Redis down -> uncached lookups and issue fail with StoreUnavailableError, cached tokens still work; back -> recovery without restart',
  async (t) => {
    const server = await privateRedis(t);
    const { redis, lines } = await connect(t, server.url);
    const store = new RedisTokenStore(redis, { maxCached: 100, cacheTtlMs: 60_000 });
    const cached = await store.issue(grant());
    const uncached = await store.issue(grant());
    t.ok(await store.lookup(cached.access_token));
    t.equal(store.notReadyBecause(), undefined, 'ready');
    await server.stop();
    t.ok(await eventually(() => store.notReadyBecause() === 'redis unavailable'), 'not ready');
    await t.rejects(store.lookup(uncached.access_token), StoreUnavailableError);
    await t.rejects(store.issue(grant()), StoreUnavailableError);
    await t.rejects(store.revokeProfile('c'), StoreUnavailableError);
    t.ok(await store.lookup(cached.access_token), 'a cached token still works');
    t.equal(lines().filter((l) => l.event === 'store_unavailable').length, 1, 'one log line per outage');
    t.match(lines()[0], { level: 'error', event: 'store_unavailable', store: 'redis' });
    await server.start();
    t.ok(await eventually(() => store.notReadyBecause() === undefined, 5000), 'ready again');
    const fresh = await store.issue(grant());
    t.ok(await store.lookup(fresh.access_token), 'issue and lookup work again');
    t.match(lines().at(-1), { level: 'warn', event: 'store_recovered', store: 'redis' });
  },
);

t.test(
  'RedisConnection: a command that outlives commandTimeoutMs is StoreUnavailableError, and the next answer is a recovery',
  async (t) => {
    const { redis, lines } = await connect(t, REDIS_URL, { commandTimeoutMs: 50 });
    await t.rejects(redis.command('BLPOP', `${freshPrefix()}never`, '0.2'), StoreUnavailableError);
    t.equal(redis.notReadyBecause(), 'redis unavailable');
    await sleep(300); // the connection answers in order: the BLPOP's own answer comes first
    t.equal(await redis.command('PING'), 'PONG', 'answered once the blocking command ends');
    t.equal(redis.notReadyBecause(), undefined);
    t.same(
      lines().map((l) => l.event),
      ['store_unavailable', 'store_recovered'],
    );
  },
);

t.test('RedisConnection: an error reply is a bug, passed on as is (500), not an outage', async (t) => {
  const { redis } = await connect(t);
  const key = `${freshPrefix()}text`;
  await redis.command('SET', key, 'not a number', 'PX', 10_000);
  await t.rejects(redis.command('INCR', key), { name: 'ReplyError' });
  await t.rejects(redis.script('return redis.call("INCR", KEYS[1])', [key], []), { name: 'ReplyError' });
  t.equal(redis.notReadyBecause(), undefined);
});

t.test('RedisConnection.ready: false after the wait when nothing listens, true at once when connected', async (t) => {
  const { log } = memoryLogger();
  const absent = new RedisConnection(`redis://127.0.0.1:${await freePort()}`, log);
  t.teardown(() => absent.close());
  t.equal(await absent.ready(100), false);
  const { redis } = await connect(t);
  t.equal(await redis.ready(1), true);
});
