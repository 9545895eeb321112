/**
 * Header hygiene (src/proxy/headers.ts) on real requests: each test sends raw bytes to a server on
 * port 0 and runs the function under test inside its request handler.
 */
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import t from 'tap';
import {
  closeDelimitedHeaders,
  isTrusted,
  peerAddress,
  prepareUpstreamHeaders,
  responseHeaderLines,
  trustedProxies,
} from '../../src/proxy/headers.js';

const ID = { client_id: 'svc-a', access_profile: 'a' };

/**
 * Sends `head` (request line and header lines, without the final blank line) and runs `fn` on the
 * parsed request in the server's handler.
 */
async function onRequest<T>(head: string, fn: (req: IncomingMessage) => T, opts: { listen?: string; connect?: string } = {}): Promise<T> {
  let result!: T;
  const server = http.createServer((req, res) => {
    result = fn(req);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, opts.listen ?? '127.0.0.1', resolve));
  const socket = net.connect((server.address() as AddressInfo).port, opts.connect ?? '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`${head}\r\n\r\n`);
  await new Promise<void>((resolve) => server.once('request', (_req, res: http.ServerResponse) => res.once('close', resolve)));
  socket.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return result;
}

/** The headers a request would be forwarded with. */
function prepared(head: string, trusted = false, upgrade = false): Promise<http.IncomingHttpHeaders> {
  return onRequest(head, (req) => {
    prepareUpstreamHeaders(req, ID, trusted, upgrade);
    return req.headers;
  });
}

t.test('RFC 9110 §7.6.1: hop-by-hop fields are removed', async (t) => {
  const headers = await prepared(
    'GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: x\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\nX-End: keep',
  );
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings']) {
    t.equal(headers[name], undefined, name);
  }
  t.equal(headers['x-end'], 'keep');
});

t.test('RFC 9110 §7.6.1: fields named in Connection are removed, names case-insensitive', async (t) => {
  const headers = await prepared('GET /x HTTP/1.1\r\nHost: h\r\nConnection:  X-Hop ,x-other,,\r\nX-Hop: 1\r\nX-Other: 2\r\nX-End: keep');
  t.equal(headers['x-hop'], undefined);
  t.equal(headers['x-other'], undefined);
  t.equal(headers['x-end'], 'keep');
});

t.test('B14/B16: Connection cannot remove Host or Content-Length', async (t) => {
  const headers = await prepared('POST /x HTTP/1.1\r\nHost: api.example.com\r\nConnection: host, content-length\r\nContent-Length: 0');
  t.equal(headers.host, 'api.example.com');
  t.equal(headers['content-length'], '0');
});

t.test('B14/B16: Connection cannot remove Transfer-Encoding', async (t) => {
  const headers = await prepared(
    'POST /x HTTP/1.1\r\nHost: api.example.com\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n0',
  );
  t.equal(headers['transfer-encoding'], 'chunked');
});

t.test('RFC 6750 §5.3, RFC 9110 §11.7.2: credentials and Expect are not forwarded', async (t) => {
  const headers = await prepared(
    'POST /orders HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer abc\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nExpect: 100-continue\r\nContent-Length: 0',
  );
  t.equal(headers.authorization, undefined);
  t.equal(headers['proxy-authorization'], undefined);
  t.equal(headers.expect, undefined);
});

t.test('ARCHITECTURE §4: X-Client-Id and X-Access-Profile come from the token, client copies dropped', async (t) => {
  const headers = await prepared(
    'GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Client-Id: svc-b\r\nX-Access-Profile: b\r\nConnection: x-client-id',
  );
  t.equal(headers['x-client-id'], 'svc-a');
  t.equal(headers['x-access-profile'], 'a');
});

t.test('RFC 7239 §8.1: a client Forwarded header is dropped', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com\r\nForwarded: for=6.6.6.6');
  t.equal(headers.forwarded, undefined);
});

t.test("B24: from an untrusted peer, X-Forwarded-* are the sidecar's own", async (t) => {
  const headers = await prepared(
    'GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1',
  );
  t.equal(headers['x-forwarded-for'], '127.0.0.1');
  t.equal(headers['x-forwarded-proto'], 'http');
  t.equal(headers['x-forwarded-host'], 'api.example.com');
  t.equal(headers['x-forwarded-port'], undefined);
});

t.test('B24: from a trusted peer, X-Forwarded-For lines are combined in order, then the peer', async (t) => {
  const headers = await prepared(
    'GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-For: 203.0.113.7,10.0.0.1,\r\nX-Forwarded-For: 198.51.100.9',
    true,
  );
  t.equal(headers['x-forwarded-for'], '203.0.113.7, 10.0.0.1, 198.51.100.9, 127.0.0.1');
});

t.test('B24: from a trusted peer, an empty X-Forwarded-For is just the peer', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-For: ', true);
  t.equal(headers['x-forwarded-for'], '127.0.0.1');
});

t.test('B24: from a trusted peer, the first X-Forwarded-Proto is kept, lower-cased', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Proto: HTTPS, http', true);
  t.equal(headers['x-forwarded-proto'], 'https');
});

t.test('B24: from a trusted peer, an X-Forwarded-Proto other than http/https becomes http', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Proto: javascript', true);
  t.equal(headers['x-forwarded-proto'], 'http');
});

t.test('B24: from a trusted peer, X-Forwarded-Host still comes from Host', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-Host: evil.example', true);
  t.equal(headers['x-forwarded-host'], 'api.example.com');
});

t.test('B24: an HTTP/1.0 request without Host gets no X-Forwarded-Host', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.0\r\nX-Forwarded-Host: evil.example');
  t.equal(headers['x-forwarded-host'], undefined);
});

t.test('B14: a client cannot delete a header the sidecar sets by naming it in Connection', async (t) => {
  const headers = await prepared(
    'GET /orders HTTP/1.1\r\nHost: api.example.com\r\nConnection: X-Forwarded-For, X-Client-Id, X-Forwarded-Proto',
  );
  t.equal(headers['x-forwarded-for'], '127.0.0.1');
  t.equal(headers['x-client-id'], 'svc-a');
  t.equal(headers['x-forwarded-proto'], 'http');
});

t.test('RFC 9112 §6.3: bodiless requests get no framing field added (undici frames them)', async (t) => {
  for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'POST', 'PURGE']) {
    const headers = await prepared(`${method} /orders HTTP/1.1\r\nHost: api.example.com`);
    t.equal(headers['content-length'], undefined, method);
    t.equal(headers['transfer-encoding'], undefined, method);
  }
});

t.test('B16: a chunked DELETE keeps Transfer-Encoding, and no Content-Length is added', async (t) => {
  const headers = await prepared('DELETE /orders HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked');
  t.equal(headers['transfer-encoding'], 'chunked');
  t.equal(headers['content-length'], undefined);
});

t.test('RFC 9112 §6.2: a Content-Length is kept as sent', async (t) => {
  const headers = await prepared('PUT /orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 12');
  t.equal(headers['content-length'], '12');
});

t.test('RFC 6455 §4.1: a WebSocket handshake keeps Connection: upgrade and Upgrade', async (t) => {
  const headers = await prepared(
    'GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket',
    false,
    true,
  );
  t.equal(headers.connection, 'upgrade');
  t.equal(headers.upgrade, 'websocket');
});

t.test('RFC 9110 §7.8: outside a WebSocket handshake Upgrade is removed', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com\r\nUpgrade: h2c');
  t.equal(headers.connection, undefined);
  t.equal(headers.upgrade, undefined);
});

t.test('RFC 6455 §4.1: an upgrade without an Upgrade header adds no Connection: upgrade', async (t) => {
  const headers = await prepared('GET /orders HTTP/1.1\r\nHost: api.example.com', false, true);
  t.equal(headers.connection, undefined);
  t.equal(headers.upgrade, undefined);
});

t.test('RFC 9110 §7.6.1: response hop-by-hop fields and Transfer-Encoding are dropped', async (t) => {
  t.same(
    responseHeaderLines([
      'Keep-Alive',
      'timeout=60',
      'Transfer-Encoding',
      'chunked',
      'Connection',
      'keep-alive',
      'TE',
      'x',
      'Trailer',
      'y',
      'Upgrade',
      'z',
      'Proxy-Connection',
      'k',
      'X-End',
      'keep',
    ]),
    ['X-End', 'keep'],
  );
});

t.test('RFC 9110 §7.6.1: response fields named in any Connection line are dropped', async (t) => {
  t.same(
    responseHeaderLines(['X-Up-Hop', 'secret', 'Connection', 'X-Up-Hop , x-other', 'x-other', '1', 'connection', '', 'X-End', 'keep']),
    ['X-End', 'keep'],
  );
});

t.test('RFC 6265 §3: repeated response lines keep their order and spelling', async (t) => {
  t.same(responseHeaderLines(['Set-Cookie', 'a=1', 'content-type', 'text/plain', 'Set-Cookie', 'b=2']), [
    'Set-Cookie',
    'a=1',
    'content-type',
    'text/plain',
    'Set-Cookie',
    'b=2',
  ]);
});

t.test("RFC 9112 §6.3: a refused handshake's headers lose hop-by-hop fields and framing, and say close", async (t) => {
  const headers = {
    'content-type': 'text/plain',
    'transfer-encoding': 'chunked',
    connection: 'keep-alive, X-Up-Hop',
    'x-up-hop': 's',
    'keep-alive': 't',
    'set-cookie': ['a=1', 'b=2'],
  };
  closeDelimitedHeaders(headers);
  t.same(headers, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], connection: 'close' });
});

t.test('RFC 9112 §6.3: a refused handshake with Content-Length keeps it', async (t) => {
  const headers: http.IncomingHttpHeaders = { 'content-length': '6' };
  closeDelimitedHeaders(headers);
  t.same(headers, { 'content-length': '6', connection: 'close' });
});

t.test('B24: an IPv4 peer is shown as IPv4', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', peerAddress), '127.0.0.1');
});

t.test('B24: an IPv4-mapped IPv6 peer is shown without "::ffff:"', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', peerAddress, { listen: '::', connect: '127.0.0.1' }), '127.0.0.1');
});

t.test('B24: an IPv6 peer is shown as IPv6', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', peerAddress, { listen: '::1', connect: '::1' }), '::1');
});

t.test('B24: a peer whose socket is already gone has no address', async (t) => {
  const address = await onRequest('GET / HTTP/1.0', (req) => {
    req.socket.destroy();
    return peerAddress(req);
  });
  t.equal(address, '');
});

t.test('RFC 7239 §8.1: a peer inside a trusted IPv4 CIDR block is trusted', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['10.0.0.0/8', '127.0.0.0/8']))), true);
});

t.test('RFC 7239 §8.1: a trusted single address is trusted', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['127.0.0.1']))), true);
});

t.test('RFC 7239 §8.1: a peer outside every trusted block is not trusted', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['10.0.0.0/8', '127.0.0.2', '::1']))), false);
});

t.test('RFC 7239 §8.1: with no trusted proxies no peer is trusted', async (t) => {
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies([]))), false);
});

t.test('RFC 7239 §8.1: an IPv4-mapped peer is matched against IPv4 blocks', async (t) => {
  const trusted = await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['127.0.0.0/8'])), {
    listen: '::',
    connect: '127.0.0.1',
  });
  t.equal(trusted, true);
});

t.test('RFC 7239 §8.1: an IPv6 peer is matched against IPv6 blocks and addresses', async (t) => {
  const v6 = { listen: '::1', connect: '::1' };
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['::1'])), v6), true);
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['::/64'])), v6), true);
  t.equal(await onRequest('GET / HTTP/1.0', (req) => isTrusted(req, trustedProxies(['2001:db8::/32'])), v6), false);
});

t.test('RFC 7239 §8.1: a peer whose address is unknown is never trusted', async (t) => {
  const trusted = await onRequest('GET / HTTP/1.0', (req) => {
    req.socket.destroy();
    return isTrusted(req, trustedProxies(['0.0.0.0/0', '::/0']));
  });
  t.equal(trusted, false);
});
