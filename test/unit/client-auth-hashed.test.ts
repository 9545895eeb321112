/**
 * Client authentication against a `client_secret_hash` (src/oauth/client-auth.ts; issue 3 capability
 * 4): the same answers as for plain secrets (RFC 6749 §2.3.1, §5.2), every reading of a Basic secret
 * tried, and an overloaded verifier turned into `temporarily_unavailable` (503).
 */
import t from 'tap';
import type { SecretHash } from '../../src/config/secrets.js';
import { authenticateClient, buildClientRegistry, type ClientRegistry } from '../../src/oauth/client-auth.js';
import { hashSecret, SecretVerifier } from '../../src/oauth/secret-hash.js';
import { testConfig } from '../helpers/config.js';

const ITERATIONS = 25_000;
// Holds a verifier's only slot while a test looks, on microtasks only (about 40 ms of hashing).
const SLOW = 250_000;
const config = testConfig('http://127.0.0.1:9', {
  access_profiles: [
    { name: 'h', client_id: 'svc-h', client_secret_hash: await hashSecret('a+b', ITERATIONS), collections: ['orders'] },
    { name: 'off', client_id: 'svc-off', client_secret_hash: await hashSecret('off-secret', ITERATIONS), collections: [], enabled: false },
    { name: 'slow', client_id: 'svc-slow', client_secret_hash: await hashSecret('slow-secret', SLOW), collections: [] },
  ],
});
const registry = buildClientRegistry(config);
const post = (id: string, secret: string) => ({ method: 'client_secret_post' as const, ids: [id], secrets: [secret] });
const failed = (detail: string) => ({ code: 'invalid_client', description: 'client authentication failed', status: 401, detail });

t.test('buildClientRegistry: a hashed profile carries its parsed hash and no digest', async (t) => {
  const entry = registry.get('svc-h');
  t.equal(entry?.digest, undefined);
  t.equal(entry?.profile.client_secret_hash?.iterations, ITERATIONS);
});

t.test('issue 3 capability 4, RFC 6749 §2.3.1: the secret matching the hash -> the access profile', async (t) => {
  t.equal((await authenticateClient(post('svc-h', 'a+b'), registry, new SecretVerifier())).name, 'h');
});

t.test('issue 3 capability 4, RFC 6749 §5.2: a secret not matching the hash -> invalid_client', async (t) => {
  await t.rejects(authenticateClient(post('svc-h', 'a b'), registry, new SecretVerifier()), failed('wrong client_secret'));
});

t.test('issue 3 capability 4, RFC 6749 §2.3.1: either Basic reading may match the hash (the raw "+" here)', async (t) => {
  const presented = { method: 'client_secret_basic' as const, ids: ['svc-h'], secrets: ['a b', 'a+b'] };
  t.equal((await authenticateClient(presented, registry, new SecretVerifier())).name, 'h');
});

t.test('issue 3 capability 4: once a reading matches, the others are not hashed', async (t) => {
  // One slot, no queue, the slot held: a second hash would be refused as busy.
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 0 });
  await authenticateClient(post('svc-h', 'a+b'), registry, verifier); // remembered
  const held = authenticateClient(post('svc-slow', 'slow-secret'), registry, verifier);
  const presented = { method: 'client_secret_basic' as const, ids: ['svc-h'], secrets: ['a+b', 'a b'] };
  t.equal((await authenticateClient(presented, registry, verifier)).name, 'h');
  t.equal((await held).name, 'slow');
});

t.test('issue 3 capability 4: a disabled hashed profile -> invalid_client, also with the right secret', async (t) => {
  await t.rejects(authenticateClient(post('svc-off', 'off-secret'), registry, new SecretVerifier()), failed('access profile disabled'));
});

t.test('issue 3 capability 4: too many verifications waiting -> temporarily_unavailable (503)', async (t) => {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 0 });
  const held = authenticateClient(post('svc-slow', 'slow-secret'), registry, verifier);
  await t.rejects(authenticateClient(post('svc-h', 'a+b'), registry, verifier), {
    name: 'OAuthError',
    code: 'temporarily_unavailable',
    description: 'the server is busy, retry shortly',
    status: 503,
    detail: 'too many secret verifications waiting',
  });
  t.equal((await held).name, 'slow');
});

t.test('a verifier failure other than busy is not disguised as busy: it propagates (server_error upstream)', async (t) => {
  const broken: SecretHash = { ...config.access_profiles[0]!.client_secret_hash!, text: 'broken', iterations: -1 };
  const profile = { ...config.access_profiles[0]!, client_secret_hash: broken };
  const brokenRegistry: ClientRegistry = new Map([['svc-h', { profile, digest: undefined }]]);
  await t.rejects(authenticateClient(post('svc-h', 'a+b'), brokenRegistry, new SecretVerifier()), { code: 'ERR_OUT_OF_RANGE' });
});

t.test('issue 3 capability 4: an unknown client_id is refused without hashing, so it never waits for or fills a slot', async (t) => {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 0 });
  const held = authenticateClient(post('svc-slow', 'slow-secret'), registry, verifier);
  await t.rejects(authenticateClient(post('nobody', 'a+b'), registry, verifier), failed('unknown client_id'));
  await held;
});
