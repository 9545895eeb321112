/**
 * Issue 4 capability 4, access policies on the wire: over its policy's rate limit or quota an access
 * profile's request gets `429` with `Retry-After`, `RateLimit-Limit/-Remaining/-Reset`
 * (draft-ietf-httpapi-ratelimit-headers) and a JSON `{"message"}`, and nothing is forwarded; allowed
 * requests carry the fields of the tightest limit. Counted per access profile, after the bearer
 * check; token requests do not count. The wall clock is injected (windows are epoch-aligned).
 */
import t, { type Test } from 'tap';
import type { Config } from '../../src/config/schema.js';
import { getToken, raw, request, type Answer } from '../helpers/client.js';
import { BASIC, SECRET_A, SECRET_B, testConfig } from '../helpers/config.js';
import { expectJsonNoStore } from '../helpers/expect.js';
import { valueOf } from '../helpers/metrics.js';
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// 2026-11-30T10:00:00Z, a multiple of 60 s and of 3600 s; the clock starts 20 s into a minute.
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);

/** The fixture config where svc-a ("a") and, if `bToo`, svc-b ("b") have `policy`. */
function policyConfig(url: string, policy: Record<string, unknown>, bToo = false): Config {
  return testConfig(url, {
    policies: [{ name: 'standard', ...policy }],
    access_profiles: [
      { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders', 'public'], policy: 'standard' },
      { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'], ...(bToo ? { policy: 'standard' } : {}) },
    ],
  });
}

interface Bench {
  sc: RunningSidecar;
  upstream: Upstream;
  tokenA: string;
  /** sets the wall clock, ms after T0 */
  at(ms: number): void;
  get(token: string, path?: string): Promise<Answer>;
}

async function bench(t: Test, policy: Record<string, unknown>, bToo = false): Promise<Bench> {
  let now = T0 + 20_000;
  const upstream = await startUpstream();
  const sc = await startSidecar(policyConfig(upstream.url, policy, bToo), { wallClock: () => now });
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  return {
    sc,
    upstream,
    tokenA: await getToken(sc.port, BASIC.aForm),
    at: (ms) => (now = T0 + ms),
    get: (token, path = '/orders/1') => request(sc.port, 'GET', path, { authorization: `Bearer ${token}` }),
  };
}

const TWO_PER_MINUTE = { rate_limit: { requests: 2, window_s: 60 } };

/** The RateLimit-* fields (and Retry-After) of an answer. */
const fields = (a: Answer) => ({
  limit: a.headers['ratelimit-limit'],
  remaining: a.headers['ratelimit-remaining'],
  reset: a.headers['ratelimit-reset'],
  retryAfter: a.headers['retry-after'],
});

t.test('issue 4: over the rate limit -> 429, Retry-After, RateLimit-* fields and a JSON message; nothing forwarded', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  t.equal((await b.get(b.tokenA)).status, 200);
  t.equal((await b.get(b.tokenA)).status, 200);
  const answer = await b.get(b.tokenA);
  t.equal(answer.status, 429);
  expectJsonNoStore(t, answer);
  t.strictSame(fields(answer), { limit: '2', remaining: '0', reset: '40', retryAfter: '40' });
  t.strictSame(answer.json, { message: 'rate limit exceeded: 2 requests per 60 s' });
  t.equal(answer.headers['www-authenticate'], undefined);
  t.equal(b.upstream.requests.length, 2, 'the refused request never reached the upstream');
});

t.test('issue 4: an allowed request carries the RateLimit-* fields (no Retry-After)', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  const answer = await b.get(b.tokenA);
  t.equal(answer.status, 200);
  t.strictSame(fields(answer), { limit: '2', remaining: '1', reset: '40', retryAfter: undefined });
});

t.test('issue 4: with rate_limit and quota, an allowed request carries the fields of the tightest limit', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 10, window_s: 60 }, quota: { requests: 3, window_s: 3600 } });
  t.strictSame(fields(await b.get(b.tokenA)), { limit: '3', remaining: '2', reset: '3580', retryAfter: undefined });
});

t.test('issue 4: over the quota -> 429 with the quota fields', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 10, window_s: 60 }, quota: { requests: 1, window_s: 3600 } });
  t.equal((await b.get(b.tokenA)).status, 200);
  const answer = await b.get(b.tokenA);
  t.equal(answer.status, 429);
  t.strictSame(fields(answer), { limit: '1', remaining: '0', reset: '3580', retryAfter: '3580' });
  t.strictSame(answer.json, { message: 'quota exceeded: 1 requests per 3600 s' });
});

t.test('issue 4: a new window allows requests again', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  for (let i = 0; i < 3; i++) await b.get(b.tokenA);
  b.at(60_000);
  const answer = await b.get(b.tokenA);
  t.equal(answer.status, 200);
  t.strictSame(fields(answer), { limit: '2', remaining: '1', reset: '60', retryAfter: undefined });
});

t.test('issue 4: token requests do not count against the policy', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  for (let i = 0; i < 5; i++) await getToken(b.sc.port, BASIC.aForm);
  t.equal((await b.get(b.tokenA)).headers['ratelimit-remaining'], '1');
});

t.test('issue 4: requests refused by the bearer check do not count', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  t.equal((await request(b.sc.port, 'GET', '/orders/1')).status, 401);
  t.equal((await b.get('0'.repeat(64))).status, 401);
  t.equal((await b.get(b.tokenA)).headers['ratelimit-remaining'], '1');
});

t.test('issue 4: counted per access profile: every token of the profile, every collection, share one count', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  const second = await getToken(b.sc.port, BASIC.aRaw);
  t.equal((await b.get(b.tokenA, '/orders/1')).status, 200);
  t.equal((await b.get(second, '/public/1')).status, 200);
  t.equal((await b.get(b.tokenA, '/public/1')).status, 429);
});

t.test('issue 4: another access profile under the same policy has its own count', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE, true);
  for (let i = 0; i < 3; i++) await b.get(b.tokenA);
  const tokenB = await getToken(b.sc.port, BASIC.b);
  const answer = await b.get(tokenB, '/public/1');
  t.equal(answer.status, 200);
  t.equal(answer.headers['ratelimit-remaining'], '1');
});

t.test('issue 4: a profile without a policy gets no RateLimit-* fields', async (t) => {
  const b = await bench(t, TWO_PER_MINUTE);
  const answer = await b.get(await getToken(b.sc.port, BASIC.b), '/public/1');
  t.equal(answer.status, 200);
  t.strictSame(fields(answer), { limit: undefined, remaining: undefined, reset: undefined, retryAfter: undefined });
});

t.test('issue 4: a WebSocket upgrade is counted and refused like any request: 429 on the socket, nothing forwarded', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 1, window_s: 60 } });
  t.equal((await b.get(b.tokenA)).status, 200);
  const answer = await raw(
    b.sc.port,
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${b.tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.equal(answer.status, 429);
  t.equal(answer.headers['retry-after'], '40');
  t.equal(answer.headers['ratelimit-remaining'], '0');
  t.strictSame(JSON.parse(answer.body), { message: 'rate limit exceeded: 1 requests per 60 s' });
  t.equal(b.upstream.requests.length, 1);
});

t.test('issue 4: a reload that lowers the limit applies at once to the count so far', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 10, window_s: 60 } });
  t.equal((await b.get(b.tokenA)).status, 200);
  b.sc.sidecar.reload(policyConfig(b.upstream.url, { rate_limit: { requests: 1, window_s: 60 } }));
  const answer = await b.get(b.tokenA);
  t.equal(answer.status, 429);
  t.equal(answer.headers['ratelimit-limit'], '1');
});

t.test('issue 4: a reload that removes the policy from the profile lifts the limit at once', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 1, window_s: 60 } });
  await b.get(b.tokenA);
  t.equal((await b.get(b.tokenA)).status, 429);
  b.sc.sidecar.reload(testConfig(b.upstream.url));
  t.equal((await b.get(b.tokenA)).status, 200);
});

t.test('issue 4 metrics: a 429 counts in requests_total as 4xx and in requests_limited_total{policy,limit}', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 1, window_s: 60 } });
  await b.get(b.tokenA);
  await b.get(b.tokenA);
  const text = (await b.sc.sidecar.metrics.render()).body;
  t.equal(valueOf(text, 'oauth2_sidecar_requests_limited_total', { policy: 'standard', limit: 'rate_limit' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_requests_total', { collection: 'orders', status_class: '4xx' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_requests_total', { collection: 'orders', status_class: '2xx' }), 1);
});

t.test('issue 4: a 429 is logged as access_denied with error rate_limit_exceeded', async (t) => {
  const b = await bench(t, { rate_limit: { requests: 1, window_s: 60 } });
  await b.get(b.tokenA);
  await b.get(b.tokenA);
  t.match(
    b.sc.logs.filter((l) => l.event === 'access_denied'),
    [{ status: 429, error: 'rate_limit_exceeded', collection: 'orders' }],
  );
});
