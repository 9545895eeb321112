/**
 * Issue 6, hostile input: message faults refused before routing, on plain requests and WebSocket
 * handshakes alike (RFC 9112 §2.3, §3.2, §6.1), and client-sent address and path claims that only a
 * proxy may make (X-Real-IP, X-Original-URL, X-Rewrite-URL).
 */
import t from 'tap';
import {
  bearer,
  chunked,
  expectForwarded,
  expectJson,
  expectNothingForwarded,
  HOST,
  hostileBench,
  send,
  SMUGGLED,
  stillServing,
} from '../helpers/hostile.js';

const WS_HANDSHAKE =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

t.test('RFC 9112 §6.1: a transfer coding other than chunked ("gzip, chunked") is 501, nothing forwarded, connection closed', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: gzip, chunked\r\n\r\n${chunked(SMUGGLED)}`,
  );
  expectJson(t, answer, '501 Not Implemented', { message: 'only the chunked transfer coding is supported' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test(
  'RFC 9112 §6.1: a look-alike coding ("xchunked") is 501 and the connection closes: no second answer, not read as chunked',
  async (t) => {
    const bench = await hostileBench(t);
    const answer = await send(
      bench.port,
      `POST /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: xchunked\r\n\r\n${chunked(SMUGGLED)}`,
    );
    expectJson(t, answer, '501 Not Implemented', { message: 'only the chunked transfer coding is supported' }, { connection: 'close' });
    t.equal(answer.text.split('HTTP/1.1 ').length, 2, 'one status line only');
    expectNothingForwarded(t, bench);
    await stillServing(t, bench);
  },
);

t.test('RFC 9112 §6.1: "Transfer-Encoding: Chunked" in any case is understood and forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: Chunked\r\n\r\n${chunked('hello')}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['POST', '/public/x', 'hello']]);
});

t.test('RFC 9110 §15.6.6: a request line of HTTP/2.0 is 505, nothing forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/x HTTP/2.0\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
  expectJson(t, answer, '505 HTTP Version Not Supported', { message: 'only HTTP/1.0 and HTTP/1.1 are supported' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9112 §3.2: a WebSocket handshake without Host is 400, not routed', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/ws HTTP/1.1\r\n${bearer(bench.tokenB)}${WS_HANDSHAKE}\r\n`);
  expectJson(t, answer, '400 Bad Request', { message: 'the Host header is required' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9112 §3.2: a WebSocket handshake with two Host lines is 400', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/ws HTTP/1.1\r\n${HOST}Host: evil.example\r\n${bearer(bench.tokenB)}${WS_HANDSHAKE}\r\n`,
  );
  expectJson(t, answer, '400 Bad Request', { message: 'more than one Host header' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 7239 §8.1: a client-sent X-Real-IP is not forwarded (only X-Forwarded-For, set by the sidecar)', async (t) => {
  const bench = await hostileBench(t);
  await send(bench.port, `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X-Real-IP: 10.0.0.1\r\nX_Real_IP: 10.0.0.2\r\n\r\n`);
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  const headers = bench.upstream.requests[0]!.headers;
  t.same([headers['x-real-ip'], headers['x_real_ip'], headers['x-forwarded-for']], [undefined, undefined, '127.0.0.1']);
});

t.test('ARCHITECTURE §4: X-Original-URL and X-Rewrite-URL are not forwarded: the upstream serves the path authorised', async (t) => {
  const bench = await hostileBench(t);
  await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X-Original-URL: /orders/1\r\nX-Rewrite-URL: /orders/1\r\n\r\n`,
  );
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  const headers = bench.upstream.requests[0]!.headers;
  t.same([headers['x-original-url'], headers['x-rewrite-url']], [undefined, undefined]);
});
