/**
 * Issue 4 capability 4: checkPolicy (src/policy/limits.ts) on a real MemoryCounterStore: which
 * RateLimit-* fields an allowed request carries, what a 429 carries, the rate limit counted before
 * the quota, and counter keys that make a reloaded limit apply at once.
 */
import t from 'tap';
import { MemoryCounterStore } from '../../src/policy/counters.js';
import { checkPolicy, type Policy } from '../../src/policy/limits.js';

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0); // a multiple of 60 s and of 3600 s
const both: Policy = { name: 'standard', rate_limit: { requests: 3, window_s: 60 }, quota: { requests: 5, window_s: 3600 } };

function store(t: { teardown(fn: () => void): void }, now = () => T0): MemoryCounterStore {
  const s = new MemoryCounterStore({ now });
  t.teardown(() => s.close());
  return s;
}

t.test('draft-ietf-httpapi-ratelimit-headers: an allowed request carries Limit, Remaining and Reset of its only limit', async (t) => {
  const verdict = await checkPolicy(store(t), 'a', { name: 'q', quota: { requests: 10, window_s: 3600 } });
  t.strictSame(verdict, { allowed: true, headers: { 'RateLimit-Limit': '10', 'RateLimit-Remaining': '9', 'RateLimit-Reset': '3600' } });
});

t.test('with rate_limit and quota, the fields are those of the tightest limit (fewest remaining)', async (t) => {
  const s = store(t);
  t.strictSame((await checkPolicy(s, 'a', both)).headers, { 'RateLimit-Limit': '3', 'RateLimit-Remaining': '2', 'RateLimit-Reset': '60' });
});

t.test('on a tie in remaining requests, the fields are those of the limit that resets later', async (t) => {
  const tie: Policy = { name: 'tie', rate_limit: { requests: 2, window_s: 60 }, quota: { requests: 2, window_s: 3600 } };
  t.strictSame((await checkPolicy(store(t), 'a', tie)).headers, {
    'RateLimit-Limit': '2',
    'RateLimit-Remaining': '1',
    'RateLimit-Reset': '3600',
  });
});

t.test('the quota becomes the tightest once fewer of its requests remain', async (t) => {
  let now = T0;
  const s = store(t, () => now);
  for (let i = 0; i < 3; i++) await checkPolicy(s, 'a', both);
  now += 60_000; // a new rate-limit window; quota: 3 of 5 used
  t.strictSame((await checkPolicy(s, 'a', both)).headers, {
    'RateLimit-Limit': '5',
    'RateLimit-Remaining': '1',
    'RateLimit-Reset': '3540',
  });
});

t.test('over the rate limit: refused with Retry-After and the rate limit fields, Remaining 0', async (t) => {
  const s = store(t, () => T0 + 15_000);
  for (let i = 0; i < 3; i++) t.equal((await checkPolicy(s, 'a', both)).allowed, true);
  t.strictSame(await checkPolicy(s, 'a', both), {
    allowed: false,
    limit: 'rate_limit',
    message: 'rate limit exceeded: 3 requests per 60 s',
    headers: { 'Retry-After': '45', 'RateLimit-Limit': '3', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '45' },
  });
});

t.test('requests refused by the rate limit do not spend the quota', async (t) => {
  let now = T0;
  const s = store(t, () => now);
  for (let i = 0; i < 10; i++) await checkPolicy(s, 'a', both); // 3 allowed, 7 refused
  now += 60_000;
  t.equal((await checkPolicy(s, 'a', both)).headers['RateLimit-Remaining'], '1', 'quota: 4 of 5 used, not 5');
});

t.test('over the quota: refused with the quota fields', async (t) => {
  let now = T0;
  const s = store(t, () => now);
  for (let i = 0; i < 5; i++) {
    now = T0 + i * 60_000; // one request per rate-limit window
    await checkPolicy(s, 'a', both);
  }
  now = T0 + 5 * 60_000;
  t.strictSame(await checkPolicy(s, 'a', both), {
    allowed: false,
    limit: 'quota',
    message: 'quota exceeded: 5 requests per 3600 s',
    headers: { 'Retry-After': '3300', 'RateLimit-Limit': '5', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '3300' },
  });
});

t.test('counted per access profile: another profile under the same policy has its own count', async (t) => {
  const s = store(t);
  for (let i = 0; i < 3; i++) await checkPolicy(s, 'a', both);
  t.equal((await checkPolicy(s, 'a', both)).allowed, false);
  t.equal((await checkPolicy(s, 'b', both)).allowed, true);
});

t.test('reload: a lowered requests value applies at once to the count so far', async (t) => {
  const s = store(t);
  const lenient: Policy = { name: 'p', rate_limit: { requests: 10, window_s: 60 } };
  for (let i = 0; i < 3; i++) await checkPolicy(s, 'a', lenient);
  t.equal((await checkPolicy(s, 'a', { name: 'p', rate_limit: { requests: 3, window_s: 60 } })).allowed, false);
});

t.test('reload: a changed window_s, or another policy, starts a new count', async (t) => {
  const s = store(t);
  const strict: Policy = { name: 'p', rate_limit: { requests: 1, window_s: 60 } };
  await checkPolicy(s, 'a', strict);
  t.equal((await checkPolicy(s, 'a', strict)).allowed, false);
  t.equal((await checkPolicy(s, 'a', { name: 'p', rate_limit: { requests: 1, window_s: 120 } })).allowed, true);
  t.equal((await checkPolicy(s, 'a', { name: 'other', rate_limit: { requests: 1, window_s: 60 } })).allowed, true);
});
