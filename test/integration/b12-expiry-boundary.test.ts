/**
 * B12: an honest expires_in and an exact expiry instant. A 3600-second token reports
 * `expires_in: 3599` (whole seconds left, rounded down, never more than the time really left;
 * RFC 6749 §5.1) and is dead at, not after, its expiry instant (RFC 7519 §4.1.4 by analogy;
 * RFC 6750 §3.1 invalid_token). Time is the injected fake monotonic clock.
 */
import t, { type Test } from 'tap';
import { request, tokenRequest } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectBearerError, expectToken, INVALID_TOKEN } from '../helpers/expect.js';
import { fakeClock, startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

const upstream = await startUpstream();
t.teardown(() => upstream.close());

/** A sidecar on a fake clock, with svc-a's token (Basic, RFC form) issued at t0. */
async function issuedAtT0(t: Test) {
  const clock = fakeClock();
  const sc = await startSidecar(testConfig(upstream.url), { now: clock.now });
  t.teardown(() => sc.close());
  const issue = () => tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.aForm });
  const token = expectToken(t, await issue());
  return {
    clock,
    token,
    issue,
    get: (token_: string = token) => request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${token_}` }),
  };
}

t.test('B12 t0 RFC 6749 §5.1: a fresh 3600-second token reports expires_in 3599 (a JSON number)', async (t) => {
  const { token } = await issuedAtT0(t); // expectToken asserts the exact body, expires_in: 3599
  t.ok(token);
});

t.test('B12 t0+3599.999 s RFC 7519 §4.1.4: one millisecond before expiry the token is accepted -> 200', async (t) => {
  const { clock, get } = await issuedAtT0(t);
  clock.advance(3_599_999);
  const answer = await get();
  t.equal(answer.status, 200, answer.body);
  t.equal(answer.json.url, '/orders/1');
});

t.test('B12 t0+3600.000 s RFC 7519 §4.1.4 + RFC 6750 §3.1: at the expiry instant -> 401 invalid_token', async (t) => {
  const { clock, get } = await issuedAtT0(t);
  clock.advance(3_600_000);
  expectBearerError(t, await get(), 401, 'invalid_token', INVALID_TOKEN);
});

t.test('B12 t0+3601 s RFC 6750 §3.1: after expiry -> 401 invalid_token', async (t) => {
  const { clock, get } = await issuedAtT0(t);
  clock.advance(3_601_000);
  expectBearerError(t, await get(), 401, 'invalid_token', INVALID_TOKEN);
});

t.test('B12 t0+1800 s RFC 6749 §5.1: a second token request gets a new token with its own full expires_in 3599', async (t) => {
  const { clock, token, issue, get } = await issuedAtT0(t);
  clock.advance(1_800_000);
  const second = expectToken(t, await issue());
  t.not(second, token, 'tokens are never handed out again');
  clock.advance(1_800_000); // t0+3600: the first is dead, the second has 1800 s left
  expectBearerError(t, await get(), 401, 'invalid_token', INVALID_TOKEN);
  t.equal((await get(second)).status, 200);
});
