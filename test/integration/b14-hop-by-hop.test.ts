/**
 * B14: hop-by-hop fields and the fields named in Connection are removed both ways (RFC 9110 §7.6.1),
 * and a client cannot delete a field the sidecar sets or one that frames or targets the message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import t from 'tap';
import { connect, raw, request } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';
import { echo, startUpstream } from '../helpers/upstream.js';

/** The B14 request, as raw bytes. */
const b14Request = (token: string): string =>
  'GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\n' +
  `Authorization: Bearer ${token}\r\n` +
  'Connection: keep-alive, X-Hop, X-Forwarded-For\r\nX-Hop: must-not-forward\r\nX-End: keep\r\nKeep-Alive: timeout=30\r\nTE: trailers\r\n' +
  'Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nUpgrade: h2c\r\n\r\n';

/** The upstream of B14: 200 with its own hop-by-hop fields. */
function hopUpstream(): ReturnType<typeof startUpstream> {
  return startUpstream((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, [
      ['Content-Type', 'text/plain'],
      ['Connection', 'X-Up-Hop'],
      ['X-Up-Hop', 'secret'],
      ['Keep-Alive', 'timeout=60'],
      ['X-Up-End', 'keep'],
      ['Content-Length', '2'],
    ]);
    res.end('ok');
  });
}

t.test('B14 RFC 9110 §7.6.1: the upstream gets X-End but no hop-by-hop or Connection-named field', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const answer = await raw(sc.port, b14Request(tokenA));
  t.equal(answer.status, 200);
  const seen = upstream.requests[0]!.headers;
  t.equal(seen['x-end'], 'keep');
  for (const name of ['x-hop', 'keep-alive', 'te', 'proxy-connection', 'upgrade', 'proxy-authorization']) {
    t.equal(seen[name], undefined, `${name} not forwarded`);
  }
  t.notMatch(upstream.raw(), /must-not-forward|timeout=30|trailers|h2c|Zm9vOmJhcg==/);
});

t.test("B14 RFC 9110 §7.6.1: the Connection field upstream is the sidecar's own, not the client's", async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  await raw(sc.port, b14Request(tokenA));
  t.equal(upstream.requests[0]!.headers.connection, 'keep-alive');
  t.notMatch(upstream.raw(), /X-Hop/i);
});

t.test("B14 RFC 9110 §7.6.1: naming X-Forwarded-For in Connection does not remove the sidecar's X-Forwarded-For", async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  await raw(sc.port, b14Request(tokenA));
  t.equal(upstream.requests[0]!.headers['x-forwarded-for'], '127.0.0.1');
});

t.test('B14 RFC 9110 §7.6.1: naming X-Client-Id or X-Access-Profile in Connection does not remove them', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const answer = await request(sc.port, 'GET', '/orders/1', {
    authorization: `Bearer ${tokenA}`,
    connection: 'x-client-id, x-access-profile',
  });
  t.equal(answer.status, 200);
  t.equal(upstream.requests[0]!.headers['x-client-id'], 'svc-a');
  t.equal(upstream.requests[0]!.headers['x-access-profile'], 'a');
});

t.test('B14 RFC 9110 §7.2: naming Host in Connection does not remove the Host the request was routed by', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}`, connection: 'host' });
  t.equal(answer.status, 200);
  t.equal(upstream.requests[0]!.headers.host, 'api.example.com');
  t.equal(upstream.requests[0]!.headers['x-forwarded-host'], 'api.example.com');
});

t.test("B14 RFC 9110 §7.6.1: the client's response has no X-Up-Hop and not the upstream's Keep-Alive", async (t) => {
  const { sc, tokenA } = await startStack(t, { upstream: await hopUpstream() });
  const answer = await raw(sc.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`);
  t.equal(answer.status, 200);
  t.equal(answer.body, 'ok');
  t.equal(answer.headers['x-up-end'], 'keep');
  t.equal(answer.headers['x-up-hop'], undefined);
  t.equal(answer.headers.connection, 'keep-alive', "the sidecar's own connection management");
  t.equal(answer.headers['keep-alive'], 'timeout=65', "the sidecar's own keep-alive, not timeout=60");
  t.notMatch(answer.text, /X-Up-Hop|timeout=60/i);
});

t.test('B14 RFC 9112 §7: a chunked upstream response is re-framed for the client', async (t) => {
  const chunked = await startUpstream((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('ab');
    res.end('cd');
  });
  const { sc, tokenA } = await startStack(t, { upstream: chunked });
  const answer = await raw(
    sc.port,
    `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: close\r\n\r\n`,
  );
  t.equal(answer.headers['transfer-encoding'], 'chunked');
  t.match(answer.text, /\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n$/);
});

t.test('B14 RFC 9110 §7.6.1: the echo upstream confirms only end-to-end fields arrive', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { upstream: await startUpstream(echo) });
  await raw(sc.port, b14Request(tokenA));
  t.same(Object.keys(upstream.requests[0]!.headers).sort(), [
    'connection',
    'host',
    'x-access-profile',
    'x-client-id',
    'x-end',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
  ]);
});

t.test(
  'B14 RFC 9110 §7.6.1, RFC 9112 §6.3: a refused WebSocket handshake is relayed without hop-by-hop fields, ended by close',
  async (t) => {
    const refusing = await startUpstream(undefined, {
      upgrade: (_req, socket) =>
        socket.end(
          'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Up-Hop\r\n' +
            'X-Up-Hop: secret\r\nKeep-Alive: timeout=60\r\n\r\n6\r\ndenied\r\n0\r\n\r\n',
        ),
    });
    const { sc, tokenA } = await startStack(t, { upstream: refusing });
    const conn = await connect(sc.port);
    conn.socket.write(
      `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    );
    await conn.closed;
    t.equal(conn.text(), 'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\ndenied');
  },
);
