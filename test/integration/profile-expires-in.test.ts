/**
 * Issue 4 capability 5, per-profile `expires_in` on the wire: it overrides `tokens.expires_in` for
 * that access profile's tokens (the response says the whole seconds left, RFC 6749 §5.1), and the
 * token dies at exactly that lifetime on the store's clock (B12's boundary rule).
 */
import t, { type Test } from 'tap';
import { request, tokenRequest } from '../helpers/client.js';
import { BASIC, SECRET_A, SECRET_B, testConfig } from '../helpers/config.js';
import { expectBearerError, INVALID_TOKEN } from '../helpers/expect.js';
import { fakeClock, startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

/** The fixture config with svc-a's profile lifetime `expires_in` (none: undefined). */
const withLifetime = (url: string, expires_in: number | undefined) =>
  testConfig(url, {
    access_profiles: [
      { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'], expires_in },
      { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'] },
    ],
  });

async function bench(t: Test, expires_in: number | undefined) {
  const clock = fakeClock();
  const upstream = await startUpstream();
  const sc = await startSidecar(withLifetime(upstream.url, expires_in), { now: clock.now });
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  const issue = async (basic: string) => (await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic })).json;
  return { sc, upstream, clock, issue };
}

t.test('issue 4 RFC 6749 §5.1: a profile expires_in of 600 -> "expires_in": 599 for its tokens', async (t) => {
  const { issue } = await bench(t, 600);
  t.match(await issue(BASIC.aForm), { token_type: 'bearer', expires_in: 599 });
});

t.test('issue 4: a profile without expires_in keeps tokens.expires_in', async (t) => {
  const { issue } = await bench(t, 600);
  t.match(await issue(BASIC.b), { expires_in: 3599 });
});

t.test('issue 4 B12: a token of a 600-second profile works at 599.999 s and is dead at 600 s', async (t) => {
  const { sc, clock, issue } = await bench(t, 600);
  const { access_token } = await issue(BASIC.aForm);
  const call = () => request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${access_token}` });
  clock.advance(599_999);
  t.equal((await call()).status, 200);
  clock.advance(1);
  expectBearerError(t, await call(), 401, 'invalid_token', INVALID_TOKEN);
});

t.test('issue 4: a reload that changes the profile expires_in applies to the next token', async (t) => {
  const { sc, upstream, issue } = await bench(t, 600);
  sc.sidecar.reload(withLifetime(upstream.url, 60));
  t.match(await issue(BASIC.aForm), { expires_in: 59 });
});
