/**
 * Issue 4 capability 5, per-profile `allowed_ips` on the wire, judged on the TCP peer (127.0.0.1
 * here) or, from a peer in `trusted_proxies`, on the X-Forwarded-For client address. At the token
 * endpoint a refused address gets `401 invalid_client` exactly like a wrong secret (RFC 6749 §5.2:
 * client authentication failed; nothing tells a prober that the client_id exists); an API call gets
 * `403 {"message"}` and is not forwarded.
 */
import t, { type Test } from 'tap';
import { getToken, raw, request, tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, SECRET_A, SECRET_B, testConfig } from '../helpers/config.js';
import { expectInvalidClient, expectJsonNoStore, expectToken } from '../helpers/expect.js';
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const NOT_ALLOWED = { message: 'source address not allowed for this access profile' };

/** The fixture config with svc-b ("b") restricted to `allowed_ips`. */
const restricted = (url: string, allowed_ips: string[], patch: Record<string, unknown> = {}) =>
  testConfig(url, {
    access_profiles: [
      { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
      { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'], allowed_ips },
    ],
    ...patch,
  });

interface Bench {
  sc: RunningSidecar;
  upstream: Upstream;
  token(headers?: Record<string, string>): Promise<Answer>;
  call(token: string, headers?: Record<string, string>): Promise<Answer>;
}

async function bench(t: Test, allowed: string[], patch: Record<string, unknown> = {}): Promise<Bench> {
  const upstream = await startUpstream();
  const sc = await startSidecar(restricted(upstream.url, allowed, patch));
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  return {
    sc,
    upstream,
    token: (headers = {}) => tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.b, ...headers }),
    call: (token, headers = {}) => request(sc.port, 'GET', '/public/1', { authorization: `Bearer ${token}`, ...headers }),
  };
}

t.test('issue 4 RFC 6749 §5.2: a token request from outside allowed_ips -> 401 invalid_client, like a wrong secret', async (t) => {
  const b = await bench(t, ['192.0.2.0/24']);
  expectInvalidClient(t, await b.token());
  t.match(
    b.sc.logs.filter((l) => l.event === 'token_denied'),
    [{ client_id: 'svc-b', status: 401, error: 'invalid_client', detail: 'source address not allowed' }],
  );
});

t.test('issue 4: a token request from inside allowed_ips (an address or a block) -> a token', async (t) => {
  expectToken(t, await (await bench(t, ['192.0.2.7', '127.0.0.0/8'])).token());
});

t.test('issue 4: profiles without allowed_ips are not restricted', async (t) => {
  const b = await bench(t, ['192.0.2.0/24']);
  expectToken(t, await tokenRequest(b.sc.port, 'grant_type=client_credentials', { authorization: BASIC.aForm }));
});

t.test('issue 4: an API call from outside allowed_ips -> 403 {"message"}, not forwarded (a reload applies to live tokens)', async (t) => {
  const b = await bench(t, ['127.0.0.1']);
  const token = await getToken(b.sc.port, BASIC.b);
  t.equal((await b.call(token)).status, 200);
  b.sc.sidecar.reload(restricted(b.upstream.url, ['192.0.2.0/24']));
  const answer = await b.call(token);
  t.equal(answer.status, 403);
  expectJsonNoStore(t, answer);
  t.equal(answer.headers['www-authenticate'], undefined);
  t.strictSame(answer.json, NOT_ALLOWED);
  t.equal(b.upstream.requests.length, 1);
  t.match(
    b.sc.logs.filter((l) => l.event === 'access_denied'),
    [{ status: 403, error: 'address_not_allowed', collection: 'public' }],
  );
});

t.test('issue 4: a refused WebSocket upgrade from outside allowed_ips -> 403 on the socket', async (t) => {
  const b = await bench(t, ['127.0.0.1']);
  const token = await getToken(b.sc.port, BASIC.b);
  b.sc.sidecar.reload(restricted(b.upstream.url, ['192.0.2.0/24']));
  const answer = await raw(
    b.sc.port,
    `GET /public/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.equal(answer.status, 403);
  t.strictSame(JSON.parse(answer.body), NOT_ALLOWED);
  t.equal(b.upstream.requests.length, 0);
});

t.test('issue 4: behind a trusted proxy the X-Forwarded-For client address is judged', async (t) => {
  const b = await bench(t, ['203.0.113.0/24'], { trusted_proxies: ['127.0.0.0/8'] });
  const token = expectToken(t, await b.token({ 'x-forwarded-for': '203.0.113.7' }));
  t.equal((await b.call(token, { 'x-forwarded-for': '203.0.113.7' })).status, 200);
  expectInvalidClient(t, await b.token({ 'x-forwarded-for': '198.51.100.1' }));
  t.equal((await b.call(token, { 'x-forwarded-for': '198.51.100.1' })).status, 403);
});

t.test(
  'issue 4: X-Forwarded-For is read from the right, past trusted proxies; entries a client wrote on the left are ignored',
  async (t) => {
    const b = await bench(t, ['203.0.113.0/24'], { trusted_proxies: ['127.0.0.0/8', '10.0.0.0/8'] });
    expectToken(t, await b.token({ 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.0.0.1' }));
    expectInvalidClient(t, await b.token({ 'x-forwarded-for': '203.0.113.7, 198.51.100.1, 10.0.0.1' }));
  },
);

t.test('issue 4: an X-Forwarded-For entry that is not an IP address matches no allowed_ips', async (t) => {
  const b = await bench(t, ['203.0.113.0/24'], { trusted_proxies: ['127.0.0.0/8'] });
  expectInvalidClient(t, await b.token({ 'x-forwarded-for': '203.0.113.7:4711' }));
});

t.test('issue 4: when every X-Forwarded-For entry is a trusted proxy, the leftmost is the client', async (t) => {
  const b = await bench(t, ['10.0.0.1'], { trusted_proxies: ['127.0.0.0/8', '10.0.0.0/8'] });
  expectToken(t, await b.token({ 'x-forwarded-for': '10.0.0.1, 10.0.0.2' }));
});

t.test('issue 4: a trusted peer that sends no X-Forwarded-For is judged by its own address', async (t) => {
  const b = await bench(t, ['127.0.0.1'], { trusted_proxies: ['127.0.0.0/8'] });
  expectToken(t, await b.token());
});

t.test('issue 4: from an untrusted peer, X-Forwarded-For is ignored: the peer address is judged', async (t) => {
  const b = await bench(t, ['203.0.113.0/24']);
  expectInvalidClient(t, await b.token({ 'x-forwarded-for': '203.0.113.7' }));
});

t.test('issue 4: refusals by address count against the address only: strangers cannot lock a client out', async (t) => {
  const limits = { max_failures_per_client: 2, max_failures_per_ip: 3, failure_window_s: 60 };
  const b = await bench(t, ['203.0.113.0/24'], { trusted_proxies: ['127.0.0.0/8'], token_endpoint: limits });
  const stranger = { 'x-forwarded-for': '198.51.100.1' };
  for (let i = 0; i < 3; i++) expectInvalidClient(t, await b.token(stranger));
  t.equal((await b.token(stranger)).status, 429, 'the stranger is throttled');
  expectToken(t, await b.token({ 'x-forwarded-for': '203.0.113.7' }));
});

t.test('issue 4: calls refused for their address do not count against the access policy', async (t) => {
  const b = await bench(t, ['127.0.0.1'], { policies: [{ name: 'one', rate_limit: { requests: 1, window_s: 3600 } }] });
  const token = await getToken(b.sc.port, BASIC.b);
  const withPolicy = (allowed: string[]) => {
    const config = restricted(b.upstream.url, allowed, { policies: [{ name: 'one', rate_limit: { requests: 1, window_s: 3600 } }] });
    return { ...config, access_profiles: config.access_profiles.map((p) => (p.name === 'b' ? { ...p, policy: 'one' } : p)) };
  };
  b.sc.sidecar.reload(withPolicy(['192.0.2.0/24']));
  t.equal((await b.call(token)).status, 403);
  b.sc.sidecar.reload(withPolicy(['127.0.0.1']));
  const answer = await b.call(token);
  t.equal(answer.status, 200);
  t.equal(answer.headers['ratelimit-remaining'], '0', 'the allowed call is the first counted');
});
