/**
 * Issue 6, hostile input: spoofed X-Forwarded-* and identity headers (RFC 7239 §8.1). Only the
 * sidecar sets X-Client-Id, X-Access-Profile and X-Forwarded-*, whatever the spelling the client
 * tries; the shapes B14 and B24 already pin are not repeated here.
 */
import t from 'tap';
import { testConfig } from '../helpers/config.js';
import { bearer, expectForwarded, HOST, hostileBench, send, stillServing } from '../helpers/hostile.js';

/** The sidecar's own identity and forwarding fields for svc-b over 127.0.0.1. */
const OWN = {
  'x-client-id': 'svc-b',
  'x-access-profile': 'b',
  'x-forwarded-for': '127.0.0.1',
  'x-forwarded-proto': 'http',
  'x-forwarded-host': 'api.example.com',
};

t.test('CGI aliasing: X_Client_Id, X_Access_Profile and X_Forwarded_For are dropped (HTTP_X_CLIENT_ID upstream)', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X_Client_Id: svc-a\r\nX_Access_Profile: a\r\nX_Forwarded_For: 10.0.0.1\r\nX_Forwarded_Host: evil.example\r\nProxy_Authorization: Basic eDp5\r\nX_Request_Id: keep-me\r\n\r\n`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  const headers = bench.upstream.requests[0]!.headers;
  t.match(headers, OWN);
  t.same(
    Object.keys(headers).filter((name) => name.includes('_')),
    ['x_request_id'],
    'only the underscore field that aliases nothing of ours is forwarded',
  );
  await stillServing(t, bench);
});

t.test('RFC 9110 §5.3: identity headers repeated in mixed case are replaced by one value of the sidecar', async (t) => {
  const bench = await hostileBench(t);
  await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X-CLIENT-ID: svc-a\r\nx-client-id: admin\r\nX-Access-PROFILE: a\r\nX-Forwarded-FOR: 10.9.9.9\r\n\r\n`,
  );
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  const rawHeaders = bench.upstream.requests[0]!.rawHeaders;
  const lines = (name: string): string[] => rawHeaders.filter((_, i) => i % 2 === 1 && rawHeaders[i - 1]!.toLowerCase() === name);
  t.same(lines('x-client-id'), ['svc-b']);
  t.same(lines('x-access-profile'), ['b']);
  t.same(lines('x-forwarded-for'), ['127.0.0.1']);
  await stillServing(t, bench);
});

t.test('RFC 7239 §8.1: from a trusted peer, X-Forwarded-Proto other than http or https becomes http', async (t) => {
  const bench = await hostileBench(t, { config: (url) => testConfig(url, { trusted_proxies: ['127.0.0.1'] }) });
  await send(bench.port, `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X-Forwarded-Proto: javascript\r\n\r\n`);
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  t.equal(bench.upstream.requests[0]!.headers['x-forwarded-proto'], 'http');
  await stillServing(t, bench);
});

t.test('RFC 7239 §8.1: from an untrusted peer, a long spoofed X-Forwarded-For chain is replaced by the peer alone', async (t) => {
  const bench = await hostileBench(t);
  const chain = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ');
  await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X-Forwarded-For: ${chain}\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n`,
  );
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  t.equal(bench.upstream.requests[0]!.headers['x-forwarded-for'], '127.0.0.1');
  await stillServing(t, bench);
});

t.test('RFC 7239 §8.1: spoofed X-Forwarded-Host and X-Forwarded-Prefix on a WebSocket-less h2c request are replaced', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Connection: Upgrade\r\nUpgrade: h2c\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Prefix: /admin\r\n\r\n`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  const headers = bench.upstream.requests[0]!.headers;
  t.match(headers, OWN);
  t.equal(headers['x-forwarded-prefix'], undefined);
  await stillServing(t, bench);
});
