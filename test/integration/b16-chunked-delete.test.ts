/**
 * B16: a request body reaches the upstream as that request's body, never as a second request. http-proxy's
 * DELETE/OPTIONS "length rewrite" and a client naming the framing fields in Connection both did that.
 */
import t from 'tap';
import { connect } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';

// The body is itself an HTTP request: if the upstream ever parses it as one, it shows in `requests`.
const SMUGGLED = 'GET /orders/admin HTTP/1.1\r\nHost: api.example.com\r\n\r\n';
const chunked = (body: string): string => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;

/** Sends one raw request and waits for the echo upstream's answer to it. */
async function send(port: number, head: string, body: string): Promise<string> {
  const conn = await connect(port);
  conn.socket.write(head + body);
  const text = await conn.until(/"body_bytes":\d+\}$/);
  conn.socket.destroy();
  return text;
}

for (const method of ['DELETE', 'OPTIONS']) {
  t.test(`B16 RFC 9112 §6.1: a chunked ${method} body is forwarded as its body, not as a second request`, async (t) => {
    const { sc, upstream, tokenA } = await startStack(t);
    const head = `${method} /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const text = await send(sc.port, head, chunked(SMUGGLED));
    t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    t.same(
      upstream.requests.map((r) => [r.method, r.url, r.body.toString()]),
      [[method, '/orders/1', SMUGGLED]],
    );
    // Framed once: re-chunked, or by its length when the whole body had arrived before forwarding.
    const { 'transfer-encoding': te, 'content-length': length } = upstream.requests[0]!.headers;
    t.ok(te === 'chunked' ? length === undefined : te === undefined && length === String(SMUGGLED.length), `framing ${te} ${length}`);
  });
}

t.test('B16 RFC 9112 §6.2: a DELETE with Content-Length keeps its body and length', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const head = `DELETE /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n`;
  await send(sc.port, head, SMUGGLED);
  t.same(
    upstream.requests.map((r) => [r.method, r.headers['content-length'], r.body.toString()]),
    [['DELETE', String(SMUGGLED.length), SMUGGLED]],
  );
});

t.test('B16 RFC 9112 §6.3: a DELETE without a body reaches the upstream without one', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  await send(sc.port, `DELETE /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`, '');
  t.same(
    upstream.requests.map((r) => [r.method, r.headers['content-length'], r.headers['transfer-encoding'], r.body.length]),
    [['DELETE', undefined, undefined, 0]],
  );
});

t.test('B16 RFC 9110 §7.6.1: "Connection: transfer-encoding" cannot turn a chunked body into a second request', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const head = `POST /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n`;
  await send(sc.port, head, chunked(SMUGGLED));
  t.same(
    upstream.requests.map((r) => [r.method, r.url, r.body.toString()]),
    [['POST', '/orders/1', SMUGGLED]],
  );
});

t.test('B16 RFC 9110 §7.6.1: "Connection: content-length" cannot turn a body into a second request', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const head = `POST /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n`;
  await send(sc.port, head, SMUGGLED);
  t.same(
    upstream.requests.map((r) => [r.method, r.url, r.headers['content-length'], r.body.toString()]),
    [['POST', '/orders/1', String(SMUGGLED.length), SMUGGLED]],
  );
});
