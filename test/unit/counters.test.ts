/**
 * Issue 4 capability 4: MemoryCounterStore (src/policy/counters.ts), the in-process CounterStore of
 * access policies and the failure throttle: fixed windows aligned to the epoch (so replicas agree),
 * hits over the limit not counted, bounded memory. The wall clock is injected.
 */
import t from 'tap';
import { MemoryCounterStore } from '../../src/policy/counters.js';

/** A fake wall clock at `start` epoch ms. */
function wallClock(start: number): { now: () => number; set: (ms: number) => void } {
  let ms = start;
  return { now: () => ms, set: (v) => (ms = v) };
}

// 2026-11-30T10:00:00Z: a multiple of 60 s, 3600 s and 86400 s since the epoch.
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);

t.test('hits up to the limit are allowed and counted; the count is returned after the hit', async (t) => {
  const store = new MemoryCounterStore({ now: () => T0 });
  t.teardown(() => store.close());
  t.strictSame(await store.hit('k', 2, 60), { allowed: true, count: 1, resetS: 60 });
  t.strictSame(await store.hit('k', 2, 60), { allowed: true, count: 2, resetS: 60 });
});

t.test('a hit over the limit is refused and not counted', async (t) => {
  const store = new MemoryCounterStore({ now: () => T0 });
  t.teardown(() => store.close());
  await store.hit('k', 1, 60);
  t.strictSame(await store.hit('k', 1, 60), { allowed: false, count: 1, resetS: 60 });
  t.strictSame(await store.hit('k', 1, 60), { allowed: false, count: 1, resetS: 60 });
  t.strictSame(await store.hit('k', 2, 60), { allowed: true, count: 2, resetS: 60 }, 'a raised limit applies to the same count');
});

t.test('limit 0 reads the count without counting', async (t) => {
  const store = new MemoryCounterStore({ now: () => T0 });
  t.teardown(() => store.close());
  t.strictSame(await store.hit('k', 0, 60), { allowed: false, count: 0, resetS: 60 });
  await store.hit('k', 5, 60);
  t.strictSame(await store.hit('k', 0, 60), { allowed: false, count: 1, resetS: 60 });
});

t.test('windows are aligned to the epoch: resetS counts down to the next multiple of window_s, rounded up', async (t) => {
  const clock = wallClock(T0 + 59_001);
  const store = new MemoryCounterStore({ now: clock.now });
  t.teardown(() => store.close());
  t.equal((await store.hit('k', 10, 60)).resetS, 1, '0.999 s left -> 1');
  clock.set(T0 + 30_000);
  t.equal((await store.hit('other', 10, 3600)).resetS, 3570);
});

t.test('a new window starts a new count at its first millisecond', async (t) => {
  const clock = wallClock(T0 + 59_999);
  const store = new MemoryCounterStore({ now: clock.now });
  t.teardown(() => store.close());
  await store.hit('k', 1, 60);
  t.equal((await store.hit('k', 1, 60)).allowed, false);
  clock.set(T0 + 60_000);
  t.strictSame(await store.hit('k', 1, 60), { allowed: true, count: 1, resetS: 60 });
});

t.test('two stores on the same clock agree on the window (replicas share boundaries)', async (t) => {
  const clock = wallClock(T0 + 12_345);
  const a = new MemoryCounterStore({ now: clock.now });
  const b = new MemoryCounterStore({ now: clock.now });
  t.teardown(() => (a.close(), b.close()));
  t.equal((await a.hit('k', 5, 60)).resetS, (await b.hit('k', 5, 60)).resetS);
});

t.test('bounded memory: when full, ended windows go first', async (t) => {
  const clock = wallClock(T0);
  const store = new MemoryCounterStore({ now: clock.now, maxKeys: 2 });
  t.teardown(() => store.close());
  await store.hit('short', 5, 1);
  await store.hit('long', 5, 3600);
  clock.set(T0 + 1000); // "short" has ended, "long" has not
  await store.hit('new', 5, 60);
  t.equal(store.size, 2);
  t.equal((await store.hit('long', 0, 3600)).count, 1, 'the live window was kept');
});

t.test('bounded memory: when full of live windows, the oldest key goes', async (t) => {
  const store = new MemoryCounterStore({ now: () => T0, maxKeys: 2 });
  t.teardown(() => store.close());
  await store.hit('first', 5, 60);
  await store.hit('second', 5, 60);
  await store.hit('third', 5, 60);
  t.equal(store.size, 2);
  t.equal((await store.hit('second', 0, 60)).count, 1, 'second kept');
  t.equal((await store.hit('first', 0, 60)).count, 0, 'first forgotten (its count starts again)');
});

t.test('sweep drops ended windows; the timer runs it', async (t) => {
  const clock = wallClock(T0);
  const store = new MemoryCounterStore({ now: clock.now, sweepIntervalMs: 5 });
  t.teardown(() => store.close());
  await store.hit('k', 5, 1);
  t.equal(store.size, 1);
  clock.set(T0 + 1000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(store.size, 0);
});

t.test('the default clock is Date.now', async (t) => {
  const store = new MemoryCounterStore();
  t.teardown(() => store.close());
  const { resetS } = await store.hit('k', 1, 86_400);
  const expected = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
  t.ok(Math.abs(resetS - expected) <= 1, `resetS ${resetS} ~ ${expected}`);
});
