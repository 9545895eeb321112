/**
 * B27: the in-memory token store stays bounded under a flood of token requests, drops expired
 * tokens without anyone presenting them, and evicts the least recently used token (true LRU),
 * which then answers invalid_token like a revoked one. The product rule when full: the access
 * profile holding the most tokens loses its least recently used token.
 */
import t, { type Test } from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectBearerError, INVALID_TOKEN } from '../helpers/expect.js';
import { fakeClock, startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';
import { MemoryTokenStore, type TokenGrant } from '../../src/oauth/tokens.js';

const grant = (profile: string): TokenGrant => ({ profile, client_id: `svc-${profile}`, scope: [profile], lifetime: 3600 });

/** A store of `maxActive` on a fake clock, closed at the end of the test. */
function storeFor(t: Test, maxActive: number) {
  const clock = fakeClock();
  const store = new MemoryTokenStore({ maxActive, now: clock.now });
  t.teardown(() => store.close());
  return { store, clock };
}

async function issueMany(store: MemoryTokenStore, profile: string, n: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) tokens.push((await store.issue(grant(profile))).access_token);
  return tokens;
}

async function liveCount(store: MemoryTokenStore, tokens: string[]): Promise<number> {
  let live = 0;
  for (const token of tokens) if (await store.lookup(token)) live++;
  return live;
}

t.test('B27(a) RFC 6749 §5.1 (operational): a flood of 10 x max_active tokens from svc-a never holds more than max_active', async (t) => {
  const { store } = storeFor(t, 100);
  let most = 0;
  for (let i = 0; i < 1000; i++) {
    await store.issue(grant('a'));
    most = Math.max(most, store.size);
  }
  t.equal(most, 100);
  t.equal(store.size, 100);
});

t.test("B27(a) RFC 6749 §5.1 (operational): svc-a flooding never evicts svc-b's 10 live tokens", async (t) => {
  const { store } = storeFor(t, 100);
  const b = await issueMany(store, 'b', 10);
  const a = await issueMany(store, 'a', 1000);
  t.equal(await liveCount(store, b), 10, 'every svc-b token is live');
  t.equal(await liveCount(store, a.slice(-90)), 90, 'svc-a keeps its 90 most recent');
  t.equal(store.size, 100);
});

t.test(
  'B27(a) RFC 6749 §5.1 (operational): on a tie for the most tokens the flooding profile loses its own (svc-b holds half)',
  async (t) => {
    const { store } = storeFor(t, 100);
    const b = await issueMany(store, 'b', 50);
    await issueMany(store, 'a', 1000);
    t.equal(await liveCount(store, b), 50, 'every svc-b token is live');
    t.equal(store.size, 100);
  },
);

t.test('B27(a) product rule: when full, the profile holding the most tokens loses its least recently used one', async (t) => {
  const { store } = storeFor(t, 10);
  const b = await issueMany(store, 'b', 7);
  const a = await issueMany(store, 'a', 3);
  await store.lookup(b[0]!); // b's oldest is now its most recently used
  await store.issue(grant('a'));
  t.equal(await store.lookup(b[1]!), undefined, 'svc-b (7 tokens) lost its least recently used token');
  t.equal(await liveCount(store, [b[0]!, ...b.slice(2)]), 6, "svc-b's other tokens are live");
  t.equal(await liveCount(store, a), 3, "svc-a's tokens are live");
});

t.test('B27(b) RFC 6749 §5.1: issue 10,000, advance 3601 s, issue one more, sweep() -> size 1', async (t) => {
  const { store, clock } = storeFor(t, 100_000);
  await issueMany(store, 'b', 10_000);
  t.equal(store.size, 10_000);
  clock.advance(3_601_000);
  const last = (await store.issue(grant('b'))).access_token;
  store.sweep();
  t.equal(store.size, 1);
  t.ok(await store.lookup(last), 'the fresh token survives the sweep');
});

t.test('B27(c) true LRU: fill to N, use #1, issue N/2 more -> #1 survives, #2 is evicted (lookup undefined)', async (t) => {
  const { store } = storeFor(t, 100);
  const tokens = await issueMany(store, 'b', 100);
  t.ok(await store.lookup(tokens[0]!), '#1 used');
  await issueMany(store, 'b', 50);
  t.ok(await store.lookup(tokens[0]!), '#1 survives: recently used');
  t.equal(await store.lookup(tokens[1]!), undefined, '#2 evicted: least recently used');
  t.equal(store.size, 100);
});

t.test('B27(c) RFC 6750 §3.1: on the wire an evicted token answers 401 invalid_token, a recently used one 200', async (t) => {
  const upstream = await startUpstream();
  const sc = await startSidecar(testConfig(upstream.url, { tokens: { expires_in: 3600, max_active: 4 } }));
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  const tokens: string[] = [];
  for (let i = 0; i < 4; i++) tokens.push(await getToken(sc.port, BASIC.aForm));
  const get = (token: string) => request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${token}` });
  t.equal((await get(tokens[0]!)).status, 200, '#1 used');
  for (let i = 0; i < 2; i++) await getToken(sc.port, BASIC.aForm);
  t.equal((await get(tokens[0]!)).status, 200, '#1 survives');
  expectBearerError(t, await get(tokens[1]!), 401, 'invalid_token', INVALID_TOKEN);
});
