/**
 * Issue 4 capability 5, token endpoint protection on the wire: failed client authentications are
 * counted per client_id and per source address (`token_endpoint`), and once either is used up the
 * next attempt gets `429` `temporarily_unavailable` with `Retry-After`, checked before any secret is
 * verified (so a throttled guess costs no PBKDF2 work and its timing tells nothing). The wall clock
 * is injected; the test client connects from 127.0.0.1.
 */
import t, { type Test } from 'tap';
import { SecretVerifier, hashSecret } from '../../src/oauth/secret-hash.js';
import type { SecretHash } from '../../src/config/secrets.js';
import { request, tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, SECRET_A, testConfig } from '../helpers/config.js';
import { expectInvalidClient, expectToken, expectTokenError } from '../helpers/expect.js';
import { valueOf } from '../helpers/metrics.js';
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js';

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0); // a multiple of 60 s
const GRANT = 'grant_type=client_credentials';
const THROTTLED = 'too many failed client authentications, retry later';

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** A SecretVerifier that counts the PBKDF2 verifications it is asked for. */
class CountingVerifier extends SecretVerifier {
  calls = 0;
  override verify(secret: string, stored: SecretHash, signal?: AbortSignal): Promise<boolean> {
    this.calls++;
    return super.verify(secret, stored, signal);
  }
}

interface Bench {
  sc: RunningSidecar;
  at(ms: number): void;
  token(authorization: string, headers?: Record<string, string>): Promise<Answer>;
}

/** A sidecar whose `token_endpoint` is `limits`, on a wall clock 20 s into a minute. */
async function bench(
  t: Test,
  limits: Record<string, number>,
  opts: { patch?: Record<string, unknown>; verifier?: SecretVerifier } = {},
): Promise<Bench> {
  let now = T0 + 20_000;
  const config = testConfig('http://127.0.0.1:9', { token_endpoint: limits, ...opts.patch });
  const sc = await startSidecar(config, { wallClock: () => now, verifier: opts.verifier });
  t.teardown(() => sc.close());
  return {
    sc,
    at: (ms) => (now = T0 + ms),
    token: (authorization, headers = {}) => tokenRequest(sc.port, GRANT, { authorization, ...headers }),
  };
}

const PER_CLIENT_3 = { max_failures_per_client: 3, max_failures_per_ip: 100, failure_window_s: 60 };
const PER_IP_3 = { max_failures_per_client: 100, max_failures_per_ip: 3, failure_window_s: 60 };

/** Asserts the throttle's answer: 429, temporarily_unavailable, Retry-After, no challenge. */
function expectThrottled(t: Test, answer: Answer, retryAfter: string): void {
  expectTokenError(t, answer, 429, 'temporarily_unavailable', THROTTLED, undefined);
  t.equal(answer.headers['retry-after'], retryAfter, `Retry-After: ${retryAfter}`);
}

t.test('issue 4: after max_failures_per_client failures the next attempt gets 429 temporarily_unavailable + Retry-After', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 3; i++) expectInvalidClient(t, await b.token(BASIC.bWrong));
  expectThrottled(t, await b.token(BASIC.bWrong), '40');
});

t.test('issue 4: while a client_id is throttled its right secret is refused too (checked before any secret)', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 3; i++) await b.token(BASIC.bWrong);
  expectThrottled(t, await b.token(BASIC.b), '40');
});

t.test("issue 4: one client_id's failures do not throttle another client_id", async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 3; i++) await b.token(BASIC.bWrong);
  expectToken(t, await b.token(BASIC.aForm));
});

t.test('issue 4 B08: an unknown client_id is throttled exactly like a known one (no existence oracle)', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 3; i++) expectInvalidClient(t, await b.token(BASIC.nobody));
  expectThrottled(t, await b.token(BASIC.nobody), '40');
});

t.test('issue 4: per source address: failures over many client_ids throttle every client from that address', async (t) => {
  const b = await bench(t, PER_IP_3);
  for (const id of ['nobody-1', 'nobody-2', 'nobody-3']) expectInvalidClient(t, await b.token(basic(id, 'x')));
  expectThrottled(t, await b.token(BASIC.b), '40');
});

t.test('issue 4: a successful authentication does not reset the failure count', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  await b.token(BASIC.bWrong);
  await b.token(BASIC.bWrong);
  expectToken(t, await b.token(BASIC.b));
  await b.token(BASIC.bWrong);
  expectThrottled(t, await b.token(BASIC.b), '40');
});

t.test('issue 4: the end of the failure window lifts the throttle', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 3; i++) await b.token(BASIC.bWrong);
  b.at(59_999);
  expectThrottled(t, await b.token(BASIC.b), '1');
  b.at(60_000);
  expectToken(t, await b.token(BASIC.b));
});

t.test('issue 4: a throttled attempt on a hashed secret runs no PBKDF2 verification', async (t) => {
  const verifier = new CountingVerifier();
  const hashed = {
    access_profiles: [{ name: 'h', client_id: 'svc-h', client_secret_hash: await hashSecret('h-secret', 25_000), collections: ['orders'] }],
  };
  const b = await bench(t, PER_CLIENT_3, { patch: hashed, verifier });
  for (let i = 0; i < 3; i++) expectInvalidClient(t, await b.token(basic('svc-h', 'wrong')));
  t.equal(verifier.calls, 3);
  expectThrottled(t, await b.token(basic('svc-h', 'h-secret')), '40');
  t.equal(verifier.calls, 3, 'no verification for the throttled attempt');
});

t.test('issue 4: behind a trusted proxy, failures are counted per X-Forwarded-For client address', async (t) => {
  const b = await bench(t, PER_IP_3, { patch: { trusted_proxies: ['127.0.0.0/8'] } });
  const from = (address: string) => ({ 'x-forwarded-for': address });
  for (const id of ['nobody-1', 'nobody-2', 'nobody-3']) await b.token(basic(id, 'x'), from('203.0.113.7'));
  expectThrottled(t, await b.token(BASIC.b, from('203.0.113.7')), '40');
  expectToken(t, await b.token(BASIC.b, from('203.0.113.8')));
});

t.test('issue 4: from an untrusted peer, X-Forwarded-For does not change the counted address', async (t) => {
  const b = await bench(t, PER_IP_3);
  for (const [i, id] of ['nobody-1', 'nobody-2', 'nobody-3'].entries())
    await b.token(basic(id, 'x'), { 'x-forwarded-for': `203.0.113.${i}` });
  expectThrottled(t, await b.token(BASIC.b, { 'x-forwarded-for': '203.0.113.9' }), '40');
});

t.test('issue 4: a reload that raises the limit applies at once', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 3; i++) await b.token(BASIC.bWrong);
  b.sc.sidecar.reload(testConfig('http://127.0.0.1:9', { token_endpoint: { ...PER_CLIENT_3, max_failures_per_client: 4 } }));
  expectToken(t, await b.token(BASIC.b));
});

t.test('issue 4: client_secret_post is throttled like Basic', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  const post = (secret: string) => tokenRequest(b.sc.port, `${GRANT}&client_id=svc-a&client_secret=${encodeURIComponent(secret)}`);
  for (let i = 0; i < 3; i++) expectInvalidClient(t, await post('wrong'));
  expectThrottled(t, await post(SECRET_A), '40');
});

t.test('issue 4 metrics: throttled attempts count in client_auth_throttled_total and tokens_denied_total', async (t) => {
  const b = await bench(t, PER_CLIENT_3);
  for (let i = 0; i < 4; i++) await b.token(BASIC.bWrong);
  const text = (await b.sc.sidecar.metrics.render()).body;
  t.equal(valueOf(text, 'oauth2_sidecar_client_auth_throttled_total', { by: 'client_id' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_tokens_denied_total', { error: 'temporarily_unavailable' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_tokens_denied_total', { error: 'invalid_client' }), 3);
});

t.test('issue 4: a throttled attempt is logged as token_denied, 429, with the reason as detail', async (t) => {
  const b = await bench(t, PER_IP_3);
  for (let i = 0; i < 4; i++) await b.token(BASIC.bWrong);
  t.match(
    b.sc.logs.filter((l) => l.event === 'token_denied' && l.status === 429),
    [{ client_id: 'svc-b', error: 'temporarily_unavailable', detail: 'too many failures from this address' }],
  );
});

t.test(
  'issue 4: failed authentications at /oauth2/introspect and /oauth2/revoke count and are throttled like the token endpoint',
  async (t) => {
    const b = await bench(t, PER_CLIENT_3);
    const wrong = basic('svc-b', 'wrong-secret');
    const post = (path: string): Promise<Answer> =>
      request(b.sc.port, 'POST', path, { authorization: wrong, 'content-type': 'application/x-www-form-urlencoded' }, 'token=x');
    expectInvalidClient(t, await post('/oauth2/introspect'));
    expectInvalidClient(t, await post('/oauth2/revoke'));
    expectInvalidClient(t, await b.token(wrong));
    expectThrottled(t, await post('/oauth2/introspect'), '40');
    expectThrottled(t, await post('/oauth2/revoke'), '40');
  },
);
