/**
 * B18: an upstream that is down, unresolvable, not HTTP or dying mid-response gets the client a
 * 502 JSON answer or a visibly truncated response, never a crash (RFC 9110 §15.6.3, RFC 9112 §8).
 */
import t from 'tap';
import { connect, raw, request, type Answer } from '../helpers/client.js';
import { fixtureCollections, testConfig } from '../helpers/config.js';
import { startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';
import { startRawUpstream, startUpstream, unusedPort } from '../helpers/upstream.js';

const BAD_GATEWAY = '{"message":"upstream unavailable"}';

/** The fixture with "orders" pointing at `ordersUpstream` and "public" at the live upstream. */
const ordersAt = (ordersUpstream: string) => (url: string) =>
  testConfig(url, { collections: [fixtureCollections(ordersUpstream)[0], fixtureCollections(url)[1]] });

/** Status, the headers that matter and the body of a 502/504 answer. */
const summary = (a: Answer): unknown => [
  a.status,
  a.headers['content-type'],
  a.headers['content-length'],
  a.headers['cache-control'],
  a.body,
];

t.test('B18(a) RFC 9110 §15.6.3: an upstream refusing connections gets 502 with a JSON message', async (t) => {
  const { sc, tokenA } = await startStack(t, { config: ordersAt(`http://127.0.0.1:${await unusedPort()}`) });
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.same(summary(answer), [502, 'application/json', String(BAD_GATEWAY.length), 'no-store', BAD_GATEWAY]);
});

t.test('B18(a) RFC 9110 §15.6.3: the 502 is logged as upstream_error with the cause, which the client never sees', async (t) => {
  const { sc, tokenA } = await startStack(t, { config: ordersAt(`http://127.0.0.1:${await unusedPort()}`) });
  await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.match(
    sc.logs.find((l) => l.event === 'upstream_error'),
    { level: 'warn', status: 502, detail: 'ECONNREFUSED', collection: 'orders', bytes: 0 },
  );
});

t.test('B18(b) RFC 9110 §15.6.3: an upstream host name that does not resolve gets 502', async (t) => {
  const { sc, tokenA } = await startStack(t, { config: ordersAt('http://upstream.invalid') });
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.same(summary(answer), [502, 'application/json', String(BAD_GATEWAY.length), 'no-store', BAD_GATEWAY]);
});

t.test('B18(c) RFC 9112 §8: an upstream reset mid-body truncates the client response short of Content-Length', async (t) => {
  const dying = await startRawUpstream((socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
      socket.write(Buffer.alloc(10 * 1024, 'a'), () => setTimeout(() => socket.resetAndDestroy(), 50));
    });
  });
  const { sc, tokenA } = await startStack(t, { upstream: dying });
  const answer = await raw(sc.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`, 3000);
  t.equal(answer.status, 200);
  t.equal(answer.headers['content-length'], '1000000');
  t.equal(answer.body, 'a'.repeat(10 * 1024), 'the connection ended after the bytes relayed, with nothing appended');
});

t.test('B18(c) RFC 9112 §8: the truncated response is logged as upstream_error with the status already sent', async (t) => {
  const dying = await startRawUpstream((socket) => {
    socket.once('data', () =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc', () => setTimeout(() => socket.resetAndDestroy(), 50)),
    );
  });
  const { sc, tokenA } = await startStack(t, { upstream: dying });
  await raw(sc.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`, 3000);
  t.match(
    sc.logs.find((l) => l.event === 'upstream_error'),
    { status: 200, upstream_status: 200, bytes: 3 },
  );
});

t.test(
  'B18(c) RFC 9112 §8: an upstream that closes cleanly mid-body also truncates the client response, logged as upstream_error',
  async (t) => {
    const closing = await startRawUpstream((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc'));
    });
    const { sc, tokenA } = await startStack(t, { upstream: closing });
    const answer = await raw(sc.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`, 3000);
    t.same([answer.status, answer.headers['content-length'], answer.body], [200, '1000000', 'abc']);
    t.ok(await eventually(() => sc.logs.some((l) => l.event === 'upstream_error')), 'logged once the response closed');
    t.match(
      sc.logs.find((l) => l.event === 'upstream_error'),
      { status: 200, upstream_status: 200, bytes: 3 },
    );
  },
);

t.test('B18(d) RFC 9110 §15.6.3: an upstream that does not speak HTTP gets 502', async (t) => {
  const hello = await startRawUpstream((socket) => socket.once('data', () => socket.end('HELLO\r\n\r\n')));
  const { sc, tokenA } = await startStack(t, { upstream: hello });
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.same(summary(answer), [502, 'application/json', String(BAD_GATEWAY.length), 'no-store', BAD_GATEWAY]);
});

t.test('B18 RFC 9110 §15.6.3: an upstream that closes the connection without answering gets 502', async (t) => {
  const closing = await startRawUpstream((socket) => socket.once('data', () => socket.resetAndDestroy()));
  const { sc, tokenA } = await startStack(t, { upstream: closing });
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.same(summary(answer), [502, 'application/json', String(BAD_GATEWAY.length), 'no-store', BAD_GATEWAY]);
});

t.test('B18(e) RFC 9110 §15.6.3: 200 back-to-back requests to a down upstream all get 502, and the next good request 200', async (t) => {
  const { sc, tokenA, tokenB } = await startStack(t, { config: ordersAt(`http://127.0.0.1:${await unusedPort()}`) });
  const statuses = new Set<number>();
  for (let i = 0; i < 200; i++) statuses.add((await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` })).status);
  t.same([...statuses], [502]);
  const good = await request(sc.port, 'GET', '/public/1', { authorization: `Bearer ${tokenB}` });
  t.equal(good.status, 200);
});

t.test('B18(f) RFC 6750 §3.1: an invalid token gets 401 even when the upstream is down (no connection first)', async (t) => {
  const { sc } = await startStack(t, { config: ordersAt(`http://127.0.0.1:${await unusedPort()}`) });
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${'0'.repeat(64)}` });
  t.equal(answer.status, 401);
  t.equal(answer.json.error, 'invalid_token');
});

t.test('B18 RFC 9110 §15.6.3: a WebSocket handshake to an upstream that is down gets 502', async (t) => {
  const { sc, tokenA } = await startStack(t, { config: ordersAt(`http://127.0.0.1:${await unusedPort()}`) });
  const conn = await connect(sc.port);
  conn.socket.write(
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await conn.closed;
  t.equal(
    conn.text(),
    `HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: ${BAD_GATEWAY.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${BAD_GATEWAY}`,
  );
});

t.test('B18 RFC 9112 §8: a WebSocket upstream that fails after the 101 closes the client connection', async (t) => {
  const upstream = await startUpstream(undefined, {
    upgrade: (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.once('data', () => socket.resetAndDestroy());
    },
  });
  const { sc, tokenA } = await startStack(t, { upstream });
  const conn = await connect(sc.port);
  conn.socket.write(
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await conn.until('\r\n\r\n');
  conn.socket.write('frame');
  await conn.closed;
  t.match(conn.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\n$/, 'nothing after the 101');
});
