/**
 * Issue 4 capabilities 5 and 6 in authenticateClient (src/oauth/client-auth.ts), the one path every
 * endpoint that authenticates clients takes: with a ClientGuard, the failure throttle, `allowed_ips`
 * and the previous secret's deadline on the guard's wall clock; without one (no address known), a
 * profile with `allowed_ips` fails closed.
 */
import t from 'tap';
import { authenticateClient, buildClientRegistry, type ClientGuard, type PresentedCredentials } from '../../src/oauth/client-auth.js';
import { FailureThrottle } from '../../src/oauth/client-throttle.js';
import { SecretVerifier } from '../../src/oauth/secret-hash.js';
import { MemoryCounterStore } from '../../src/policy/counters.js';
import { testConfig } from '../helpers/config.js';

const NOT_AFTER = Date.UTC(2999, 0, 1);
const config = testConfig('http://127.0.0.1:9', {
  access_profiles: [
    {
      name: 'r',
      client_id: 'svc-r',
      client_secret: 'new-secret',
      collections: [],
      previous_client_secret: 'old-secret',
      previous_not_after: '2999-01-01',
    },
    { name: 'ip', client_id: 'svc-ip', client_secret: 'ip-secret', collections: [], allowed_ips: ['192.0.2.0/24'] },
  ],
});
const registry = buildClientRegistry(config);
const verifier = new SecretVerifier();
const post = (id: string, secret: string): PresentedCredentials => ({ method: 'client_secret_post', ids: [id], secrets: [secret] });
const failed = (detail: string) => ({ code: 'invalid_client', status: 401, detail });

/** A guard at `address` on a wall clock at `now`, with its own counters; `throttled` records refusals. */
function guard(
  t: { teardown(fn: () => void): void },
  address: string,
  now: number,
  limits = { max_failures_per_client: 2, max_failures_per_ip: 5, failure_window_s: 60 },
) {
  const store = new MemoryCounterStore({ now: () => now });
  t.teardown(() => store.close());
  const throttled: string[] = [];
  const g: ClientGuard = {
    address,
    now: () => now,
    throttle: new FailureThrottle(
      store,
      () => limits,
      (by) => throttled.push(by),
    ),
  };
  return { guard: g, throttled };
}

t.test('issue 4: without a guard the previous secret is judged on Date.now', async (t) => {
  t.equal((await authenticateClient(post('svc-r', 'old-secret'), registry, verifier)).name, 'r');
});

t.test('issue 4: with a guard the previous secret is judged on its clock: refused at previous_not_after', async (t) => {
  const before = guard(t, '192.0.2.1', NOT_AFTER - 1).guard;
  t.equal((await authenticateClient(post('svc-r', 'old-secret'), registry, verifier, undefined, before)).name, 'r');
  const at = guard(t, '192.0.2.1', NOT_AFTER).guard;
  await t.rejects(authenticateClient(post('svc-r', 'old-secret'), registry, verifier, undefined, at), failed('wrong client_secret'));
  t.equal((await authenticateClient(post('svc-r', 'new-secret'), registry, verifier, undefined, at)).name, 'r');
});

t.test('issue 4: allowed_ips without a guard fails closed (no address to judge)', async (t) => {
  await t.rejects(
    authenticateClient(post('svc-ip', 'ip-secret'), registry, verifier),
    failed('source address not allowed: no address to judge allowed_ips by'),
  );
});

t.test('issue 4: allowed_ips with a guard: inside -> the profile; outside -> invalid_client', async (t) => {
  const inside = guard(t, '192.0.2.9', 0).guard;
  t.equal((await authenticateClient(post('svc-ip', 'ip-secret'), registry, verifier, undefined, inside)).name, 'ip');
  const outside = guard(t, '198.51.100.1', 0).guard;
  await t.rejects(
    authenticateClient(post('svc-ip', 'ip-secret'), registry, verifier, undefined, outside),
    failed('source address not allowed'),
  );
});

t.test('issue 4: the guard counts invalid_client failures only (not a throttled refusal, not other errors)', async (t) => {
  const { guard: g, throttled } = guard(t, '192.0.2.1', 0);
  await t.rejects(authenticateClient(post('svc-r', 'x'), registry, verifier, undefined, g), failed('wrong client_secret'));
  await t.rejects(authenticateClient(post('svc-r', 'x'), registry, verifier, undefined, g), failed('wrong client_secret'));
  for (let i = 0; i < 2; i++) {
    await t.rejects(authenticateClient(post('svc-r', 'new-secret'), registry, verifier, undefined, g), {
      code: 'temporarily_unavailable',
      status: 429,
      retryAfterS: 60,
      detail: 'too many failures for this client_id',
    });
  }
  t.strictSame(throttled, ['client_id', 'client_id']);
});

t.test('issue 4: FailureThrottle names the client_id when both are over, else the address; Retry-After is the window end', async (t) => {
  const store = new MemoryCounterStore({ now: () => 30_000 });
  t.teardown(() => store.close());
  const limits = { max_failures_per_client: 1, max_failures_per_ip: 1, failure_window_s: 60 };
  const throttled: string[] = [];
  const throttle = new FailureThrottle(
    store,
    () => limits,
    (by) => throttled.push(by),
  );
  await throttle.failed('svc-r', '192.0.2.1');
  const refused = { code: 'temporarily_unavailable', status: 429, retryAfterS: 30 };
  await t.rejects(throttle.check('svc-r', '192.0.2.1'), { ...refused, detail: 'too many failures for this client_id' });
  await t.rejects(throttle.check('svc-other', '192.0.2.1'), { ...refused, detail: 'too many failures from this address' });
  await t.resolves(throttle.check('svc-other', '192.0.2.2'));
  t.strictSame(throttled, ['client_id', 'ip']);
});
