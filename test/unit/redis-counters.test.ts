/**
 * Rate-limit and quota counters in Redis (src/store/redis-counters.ts): three stores on three
 * connections stand for three replicas hitting one counter at once.
 */
import t, { type Test } from 'tap';
import { RedisCounterStore } from '../../src/store/redis-counters.js';
import { RedisConnection } from '../../src/store/redis.js';
import { freshPrefix, memoryLogger, REDIS_URL, requireRedis } from '../helpers/redis.js';

t.before(requireRedis);

async function replica(t: Test, prefix: string): Promise<RedisCounterStore> {
  const redis = new RedisConnection(REDIS_URL, memoryLogger().log);
  await redis.ready(2000);
  const store = new RedisCounterStore(redis, { prefix });
  t.teardown(() => store.close());
  return store;
}

// A year-long window: the test never straddles a window boundary.
const YEAR = 31_536_000;

t.test('scale-out: a limit of N over three replicas hit at once admits exactly N, and refused hits are not counted', async (t) => {
  const prefix = freshPrefix();
  const stores = await Promise.all([1, 2, 3].map(() => replica(t, prefix)));
  const hits = await Promise.all(Array.from({ length: 45 }, (_, i) => stores[i % 3]!.hit('profile:a', 10, YEAR)));
  const allowed = hits.filter((h) => h.allowed);
  t.equal(allowed.length, 10);
  t.same(
    allowed.map((h) => h.count).sort((x, y) => x - y),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  t.ok(
    hits.filter((h) => !h.allowed).every((h) => h.count === 10),
    'a refused hit leaves the count at the limit',
  );
  t.ok(
    hits.every((h) => h.resetS >= 1 && h.resetS <= YEAR),
    'resetS within the window',
  );
});

t.test('counters are per key, and a window key expires with its window', async (t) => {
  const prefix = freshPrefix();
  const store = await replica(t, prefix);
  t.match(await store.hit('a', 1, 60), { allowed: true, count: 1 });
  t.match(await store.hit('a', 1, 60), { allowed: false, count: 1 });
  t.match(await store.hit('b', 1, 60), { allowed: true, count: 1 });
  const redis = new RedisConnection(REDIS_URL, memoryLogger().log);
  t.teardown(() => redis.close());
  await redis.ready(2000);
  const keys = (await redis.command('KEYS', `${prefix}c:a:*`)) as string[];
  t.equal(keys.length, 1);
  t.match(keys[0], /:c:a:\d+$/, 'the window start in epoch seconds');
  const ttl = (await redis.command('TTL', keys[0]!)) as number;
  t.ok(ttl >= 1 && ttl <= 61, `TTL ${ttl} s`);
});

t.test('without a prefix, counters live under oauth2-sidecar:c:', async (t) => {
  const redis = new RedisConnection(REDIS_URL, memoryLogger().log);
  await redis.ready(2000);
  const store = new RedisCounterStore(redis);
  t.teardown(() => store.close());
  const key = `test-${process.pid}-${Date.now()}`;
  t.match(await store.hit(key, 5, 60), { allowed: true, count: 1 });
  t.equal(((await redis.command('KEYS', `oauth2-sidecar:c:${key}:*`)) as string[]).length, 1);
});
