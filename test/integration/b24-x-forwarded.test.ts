/**
 * B24: X-Forwarded-For/-Proto/-Host are the sidecar's: appended to only from a trusted proxy
 * (config trusted_proxies), derived from the real Host, sent as one clean line each (RFC 7239 §4,
 * §8.1; RFC 9110 §5.3). The test client connects from 127.0.0.1.
 */
import t from 'tap';
import { raw } from '../helpers/client.js';
import { testConfig } from '../helpers/config.js';
import { startStack } from '../helpers/stack.js';
import { startUpstream } from '../helpers/upstream.js';

const trustLoopback = (url: string) => testConfig(url, { trusted_proxies: ['127.0.0.0/8'] });

/** The case's request, from an ingress that already added its X-Forwarded-* lines. */
const b24Request = (token: string): string =>
  'GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\n' +
  `Authorization: Bearer ${token}\r\n` +
  'X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-For: 198.51.100.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n\r\n';

/** Every X-Forwarded-* line of the upstream's raw request, as sent. */
const forwardedLines = (rawRequest: string): string[] => rawRequest.split('\r\n').filter((line) => /^x-forwarded-/i.test(line));

t.test('B24 RFC 9110 §5.3: from a trusted peer, X-Forwarded-For is one line: inbound lines in order, then the peer', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { config: trustLoopback });
  t.equal((await raw(sc.port, b24Request(tokenA))).status, 200);
  t.same(
    forwardedLines(upstream.raw()).filter((l) => /^x-forwarded-for:/i.test(l)),
    ['x-forwarded-for: 203.0.113.7, 10.0.0.1, 198.51.100.9, 127.0.0.1'],
  );
});

t.test('B24 RFC 7239 §8.1: from a trusted peer, X-Forwarded-Proto is kept once (https, not "https,http")', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { config: trustLoopback });
  await raw(sc.port, b24Request(tokenA));
  t.same(
    forwardedLines(upstream.raw()).filter((l) => /^x-forwarded-proto:/i.test(l)),
    ['x-forwarded-proto: https'],
  );
});

t.test("B24 RFC 7239 §8.1: from a trusted peer, X-Forwarded-Host is derived from Host, not the client's claim", async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { config: trustLoopback });
  await raw(sc.port, b24Request(tokenA));
  t.same(
    forwardedLines(upstream.raw()).filter((l) => /^x-forwarded-host:/i.test(l)),
    ['x-forwarded-host: api.example.com'],
  );
});

t.test("B24 RFC 7239 §8.1: from an untrusted peer, client X-Forwarded-* are replaced by the sidecar's own", async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  t.equal((await raw(sc.port, b24Request(tokenA))).status, 200);
  t.same(forwardedLines(upstream.raw()).sort(), [
    'x-forwarded-for: 127.0.0.1',
    'x-forwarded-host: api.example.com',
    'x-forwarded-proto: http',
  ]);
  t.notMatch(upstream.raw(), /203\.0\.113\.7|198\.51\.100\.9|evil\.example|https/);
});

t.test('B24 RFC 7239 §8.1: a peer outside trusted_proxies is untrusted', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { config: (url) => testConfig(url, { trusted_proxies: ['10.0.0.0/8', '::1'] }) });
  await raw(sc.port, b24Request(tokenA));
  t.equal(upstream.requests[0]!.headers['x-forwarded-for'], '127.0.0.1');
  t.equal(upstream.requests[0]!.headers['x-forwarded-proto'], 'http');
});

t.test('B24 RFC 7239 §8.1: other X-Forwarded-* and Forwarded from the client are dropped, trusted or not', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { config: trustLoopback });
  await raw(
    sc.port,
    `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nX-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /admin\r\nForwarded: for=6.6.6.6\r\n\r\n`,
  );
  t.same(forwardedLines(upstream.raw()).sort(), [
    'x-forwarded-for: 127.0.0.1',
    'x-forwarded-host: api.example.com',
    'x-forwarded-proto: http',
  ]);
  t.equal(upstream.requests[0]!.headers.forwarded, undefined);
});

t.test('B24 RFC 6455 §4.1: a WebSocket handshake gets the same X-Forwarded-* treatment', async (t) => {
  const upstream = await startUpstream(undefined, {
    upgrade: (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
  });
  const { sc, tokenA } = await startStack(t, { upstream, config: trustLoopback });
  await raw(
    sc.port,
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n\r\n',
  );
  t.same(forwardedLines(upstream.raw()).sort(), [
    'x-forwarded-for: 203.0.113.7, 127.0.0.1',
    'x-forwarded-host: api.example.com',
    'x-forwarded-proto: https',
  ]);
});
