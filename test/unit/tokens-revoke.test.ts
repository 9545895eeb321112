/**
 * RFC 7009 §2.1: TokenStore.revoke on the in-memory store.
 */
import t from 'tap';
import { MemoryTokenStore } from '../../src/oauth/tokens.js';

const grant = { profile: 'a', client_id: 'svc-a', scope: ['orders'], lifetime: 3600 };

t.test('RFC 7009 §2.1: a revoked token is gone at once; the store says it held it', async (t) => {
  const store = new MemoryTokenStore({ maxActive: 10 });
  t.teardown(() => store.close());
  const { access_token } = await store.issue(grant);
  const other = await store.issue(grant);
  t.equal(await store.revoke(access_token), true);
  t.equal(await store.lookup(access_token), undefined);
  t.equal(store.size, 1, 'dropped from the index too');
  t.ok(await store.lookup(other.access_token), 'the profile keeps its other tokens');
});

t.test('RFC 7009 §2.2: revoking an unknown or already revoked token is no error; the store says it held none', async (t) => {
  const store = new MemoryTokenStore({ maxActive: 10 });
  t.teardown(() => store.close());
  const { access_token } = await store.issue(grant);
  await store.revoke(access_token);
  t.equal(await store.revoke(access_token), false);
  t.equal(await store.revoke('0'.repeat(64)), false);
});

t.test('RFC 7662 §2.2: a record keeps its lifetime, so exp = iat + lifetime', async (t) => {
  const store = new MemoryTokenStore({ maxActive: 10 });
  t.teardown(() => store.close());
  const { access_token } = await store.issue({ ...grant, lifetime: 600 });
  t.match(await store.lookup(access_token), { lifetime: 600, issuedAt: Number });
});
