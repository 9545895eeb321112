/**
 * B13: the sidecar's bearer token never reaches the upstream, on any path (RFC 6750 §5.3, RFC 9700
 * §2.3). Every test asserts on the raw bytes the upstream received.
 */
import type { Socket } from 'node:net';
import t from 'tap';
import { connect, request } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';
import { startUpstream } from '../helpers/upstream.js';

/** What of a credential reached the upstream: an Authorization-like field name, or a secret itself. */
function leaks(raw: string, secrets: string[]): string[] {
  const found = raw.match(/[a-z-]*authorization/gi) ?? [];
  return [...found, ...secrets.filter((secret) => raw.includes(secret))];
}

t.test('B13(a) RFC 6750 §5.3: a GET reaches the upstream without Authorization or the token', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.equal(answer.status, 200);
  t.match(upstream.raw(), /^GET \/orders\/1 HTTP\/1\.1\r\n/);
  t.same(leaks(upstream.raw(), [tokenA]), [], 'no credential reached the upstream');
});

t.test('B13(b) RFC 9110 §10.1.1: a POST with Expect: 100-continue gets 100, then the upstream answer, and no token leaks', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const body = `{"items":"${'x'.repeat(2048 - 12)}"}`;
  t.equal(body.length, 2048);
  const conn = await connect(sc.port);
  conn.socket.write(
    `POST /orders HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nContent-Type: application/json\r\nContent-Length: 2048\r\nExpect: 100-continue\r\n\r\n`,
  );
  await conn.until('HTTP/1.1 100 Continue\r\n\r\n');
  conn.socket.write(body);
  const text = await conn.until(/"body_bytes":2048\}$/);
  t.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  t.equal(upstream.requests[0]!.body.toString(), body);
  t.notMatch(upstream.raw(), /expect/i, 'the sidecar answered the expectation itself');
  t.same(leaks(upstream.raw(), [tokenA]), [], 'no credential reached the upstream');
  conn.socket.destroy();
});

t.test('B13(c) RFC 9110 §11.7.2: Proxy-Authorization is not forwarded', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const answer = await request(sc.port, 'GET', '/orders/1', {
    authorization: `Bearer ${tokenA}`,
    'proxy-authorization': 'Basic Zm9vOmJhcg==',
  });
  t.equal(answer.status, 200);
  t.equal(upstream.requests.length, 1);
  t.same(leaks(upstream.raw(), [tokenA, 'Zm9vOmJhcg==']), [], 'no credential reached the upstream');
});

/** A WebSocket upstream: answers 101, then echoes every byte back until the peer closes. */
function webSocketUpstream(): ReturnType<typeof startUpstream> {
  return startUpstream(undefined, {
    upgrade: (_req, socket: Socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      );
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    },
  });
}

const handshake = (authorization: string): string =>
  `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\n${authorization}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

t.test('B13(d) RFC 6750 §5.3, RFC 6455 §4.1: a WebSocket handshake reaches the upstream without the token', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { upstream: await webSocketUpstream() });
  const conn = await connect(sc.port);
  conn.socket.write(handshake(`Authorization: Bearer ${tokenA}\r\n`));
  await conn.until('\r\n\r\n');
  t.match(conn.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  conn.socket.write('frame-bytes');
  await conn.until('frame-bytes');
  t.match(upstream.raw(), /^GET \/orders\/ws HTTP\/1\.1\r\n/);
  t.match(upstream.raw(), /\r\nupgrade: websocket\r\n/i);
  t.same(leaks(upstream.raw(), [tokenA]), [], 'no credential reached the upstream');
  conn.socket.end();
  await conn.closed;
});

t.test('B13(d) RFC 6750 §3.1: a WebSocket handshake without a token gets 401 and nothing reaches the upstream', async (t) => {
  const { sc, upstream } = await startStack(t, { upstream: await webSocketUpstream() });
  const conn = await connect(sc.port);
  conn.socket.write(handshake(''));
  await conn.closed;
  t.equal(
    conn.text(),
    'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 35\r\nCache-Control: no-store\r\nConnection: close\r\n' +
      `WWW-Authenticate: Bearer realm="api", resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/orders"\r\n\r\n{"message":"bearer token required"}`,
  );
  t.equal(upstream.raw(), '');
});

t.test('B13(e) RFC 9112 §7.1.2: a chunked body reaches the upstream, and an Authorization trailer does not', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const conn = await connect(sc.port);
  conn.socket.write(
    `POST /orders HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nTransfer-Encoding: chunked\r\nTrailer: Authorization\r\n\r\n` +
      `5\r\nhello\r\n6\r\n world\r\n0\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`,
  );
  await conn.until(/"body_bytes":11\}$/);
  t.match(conn.text(), /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(upstream.requests[0]!.body.toString(), 'hello world');
  t.same(leaks(upstream.raw(), [tokenA]), [], 'no credential reached the upstream');
  conn.socket.destroy();
});

t.test('B13(e) RFC 9110 §10.1.1: a chunked body after Expect: 100-continue carries no token upstream', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const conn = await connect(sc.port);
  conn.socket.write(
    `POST /orders HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n`,
  );
  await conn.until('HTTP/1.1 100 Continue\r\n\r\n');
  conn.socket.write('5\r\nhello\r\n0\r\n\r\n');
  await conn.until(/"body_bytes":5\}$/);
  t.equal(upstream.requests[0]!.body.toString(), 'hello');
  t.same(leaks(upstream.raw(), [tokenA]), [], 'no credential reached the upstream');
  conn.socket.destroy();
});

t.test('B13 RFC 9112 §9.3.2: two pipelined requests on one connection both lose their token', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const conn = await connect(sc.port);
  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`;
  conn.socket.write(get('/orders/1') + get('/orders/2'));
  await conn.until(/"url":"\/orders\/2"/);
  t.same(
    upstream.requests.map((r) => r.url),
    ['/orders/1', '/orders/2'],
  );
  t.same(leaks(upstream.raw(), [tokenA]), [], 'no credential reached the upstream');
  conn.socket.destroy();
});

t.test('B13 RFC 6750 §2: a token also sent as ?access_token= is refused with 400, so the query cannot carry it upstream', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  for (const query of [`?access_token=${tokenB}`, `?a=1&access_token=${tokenB}`, `?access%5Ftoken=${tokenB}`]) {
    const answer = await request(sc.port, 'GET', `/public/x${query}`, { authorization: `Bearer ${tokenB}` });
    t.equal(answer.status, 400, query);
    t.equal(
      answer.headers['www-authenticate'],
      'Bearer realm="api", error="invalid_request", error_description="send the access token in the Authorization header only", ' +
        'resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/public"',
    );
  }
  const plain = await request(sc.port, 'GET', '/public/x?tokens=2', { authorization: `Bearer ${tokenB}` });
  t.equal(plain.status, 200, 'a parameter merely containing "token" is fine');
  t.equal(upstream.requests.length, 1);
  t.same(leaks(upstream.raw(), [tokenB]), []);
});
