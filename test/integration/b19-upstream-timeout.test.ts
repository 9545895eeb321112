/**
 * B19: an upstream silent for the collection's timeout_ms gets the client a 504, told apart from a
 * 502 (RFC 9110 §15.6.5; never 408, §15.5.9). Scaled down: timeout_ms 500 instead of 2 s, +30 %.
 */
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { connect, raw, request } from '../helpers/client.js';
import { fixtureCollections, testConfig } from '../helpers/config.js';
import { startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { SWEEP_MS } from '../../src/proxy/forward.js';

const TIMEOUT_MS = 500;
const GATEWAY_TIMEOUT = '{"message":"upstream timed out"}';
const config = (url: string) => testConfig(url, { collections: fixtureCollections(url, TIMEOUT_MS) });

/** An upstream that accepts requests and never answers them. */
const silentUpstream = (): Promise<Upstream> => startUpstream(() => {});

t.test('B19 RFC 9110 §15.6.5: an upstream that never answers gets 504 JSON after timeout_ms (+30 %)', async (t) => {
  const { sc, tokenA } = await startStack(t, { upstream: await silentUpstream(), config });
  const started = performance.now();
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  const elapsed = performance.now() - started;
  t.same(
    [answer.status, answer.headers['content-type'], answer.headers['cache-control'], answer.body],
    [504, 'application/json', 'no-store', GATEWAY_TIMEOUT],
  );
  // Checked every SWEEP_MS: never early, at most one sweep late (plus slack for a loaded machine).
  t.ok(elapsed >= TIMEOUT_MS && elapsed <= TIMEOUT_MS * 1.3 + SWEEP_MS, `504 after ${Math.round(elapsed)} ms`);
});

t.test('B19 RFC 9110 §15.6.5: after the 504 the upstream connection is closed', async (t) => {
  const upstream = await silentUpstream();
  const { sc, tokenA } = await startStack(t, { upstream, config });
  await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  // The connection that carried the request; undici may open a spare one after an abort (README).
  const carried = [...upstream.sockets];
  t.ok(await eventually(() => carried.length === 1 && carried[0]!.destroyed), 'the upstream socket was closed');
});

t.test('B19 RFC 9110 §15.6.5: an https upstream that never completes its TLS handshake gets 504 after timeout_ms', async (t) => {
  // Accepts the TCP connection and never answers the ClientHello: the request is never sent.
  const mute = net.createServer(() => {});
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const muteSockets = new Set<net.Socket>();
  mute.on('connection', (socket) => muteSockets.add(socket));
  t.teardown(() => {
    for (const socket of muteSockets) socket.destroy();
    mute.close();
  });
  const upstream = await silentUpstream();
  const httpsUrl = `https://127.0.0.1:${(mute.address() as net.AddressInfo).port}`;
  const { sc, tokenA } = await startStack(t, { upstream, config: () => config(httpsUrl) });
  const started = performance.now();
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  const elapsed = performance.now() - started;
  t.same([answer.status, answer.body], [504, GATEWAY_TIMEOUT]);
  t.ok(elapsed >= TIMEOUT_MS && elapsed <= TIMEOUT_MS * 1.3 + SWEEP_MS, `504 after ${Math.round(elapsed)} ms`);
});

t.test('B19 RFC 9110 §15.6.5: the 504 is logged as upstream_timeout, not upstream_error', async (t) => {
  const { sc, tokenA } = await startStack(t, { upstream: await silentUpstream(), config });
  await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.match(
    sc.logs.find((l) => l.event === 'upstream_timeout'),
    { level: 'warn', status: 504, detail: 'upstream timed out', collection: 'orders' },
  );
  t.notOk(sc.logs.some((l) => l.event === 'upstream_error'));
});

t.test('B19 RFC 9110 §15.6.5: headers relayed, then a stalled body: the client connection is cut mid-body', async (t) => {
  const stalling = await startUpstream((_req, res: ServerResponse) => {
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100' });
      res.write('partial');
    }, 200);
  });
  const { sc, tokenA } = await startStack(t, { upstream: stalling, config });
  const started = performance.now();
  const answer = await raw(sc.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`, 5000);
  const elapsed = performance.now() - started;
  t.equal(answer.status, 200);
  t.equal(answer.headers['content-length'], '100');
  t.equal(answer.body, 'partial', 'the connection ended short of Content-Length, nothing appended');
  t.ok(elapsed >= 200 + TIMEOUT_MS && elapsed <= (200 + TIMEOUT_MS) * 1.3 + SWEEP_MS, `cut after ${Math.round(elapsed)} ms`);
});

t.test('B19 RFC 9112 §8: a body stalled after the headers is logged as upstream_timeout with the status already sent', async (t) => {
  const stalling = await startUpstream((_req, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Length': '100' });
    res.write('partial');
  });
  const { sc, tokenA } = await startStack(t, { upstream: stalling, config });
  await raw(sc.port, `GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`, 5000);
  t.ok(await eventually(() => sc.logs.some((l) => l.event === 'upstream_timeout')));
  t.match(
    sc.logs.find((l) => l.event === 'upstream_timeout'),
    { status: 200, upstream_status: 200, bytes: 7 },
  );
});

t.test('B19 RFC 9110 §15.6.5: timeout_ms is an idle timeout: a slow response that keeps coming is not cut', async (t) => {
  const trickling = await startUpstream((_req, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    let sent = 0;
    const timer = setInterval(() => {
      res.write('.');
      if (++sent === 8) {
        clearInterval(timer);
        res.end();
      }
    }, TIMEOUT_MS / 2);
  });
  const { sc, tokenA } = await startStack(t, { upstream: trickling, config });
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
  t.same([answer.status, answer.body], [200, '........'], `lasted ${8 * (TIMEOUT_MS / 2)} ms, over ${TIMEOUT_MS} ms`);
});

t.test(
  'B19 RFC 9110 §15.6.5: a client too slow to read a large answer is not cut by timeout_ms (backpressure is not upstream silence)',
  async (t) => {
    const BODY = 32 * 1024 * 1024; // far more than the socket buffers between the three processes hold
    const large = await startUpstream((_req, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(BODY) });
      res.end(Buffer.alloc(BODY, 0x61));
    });
    const { sc, tokenA } = await startStack(t, { upstream: large, config });
    const conn = await connect(sc.port);
    t.teardown(() => conn.socket.destroy());
    conn.socket.pause(); // the client reads nothing for 3 x timeout_ms
    conn.socket.write(`GET /orders/big HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: close\r\n\r\n`);
    await sleep(TIMEOUT_MS * 3);
    conn.socket.resume();
    await conn.closed;
    const received = conn.text();
    t.match(received.slice(0, 64), /^HTTP\/1\.1 200 OK\r\n/);
    t.equal(received.length - (received.indexOf('\r\n\r\n') + 4), BODY, 'the whole body arrived');
    t.notOk(sc.logs.some((l) => l.event === 'upstream_timeout'));
  },
);

t.test('B19 RFC 9110 §15.6.5: a WebSocket handshake the upstream never answers gets 504', async (t) => {
  const upstream = await startUpstream(undefined, { upgrade: () => {} });
  const { sc, tokenA } = await startStack(t, { upstream, config });
  const conn = await connect(sc.port);
  const started = performance.now();
  conn.socket.write(
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await conn.closed;
  const elapsed = performance.now() - started;
  t.equal(
    conn.text(),
    `HTTP/1.1 504 Gateway Timeout\r\nContent-Type: application/json\r\nContent-Length: ${GATEWAY_TIMEOUT.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${GATEWAY_TIMEOUT}`,
  );
  // Checked every SWEEP_MS: never early, at most one sweep late (plus slack for a loaded machine).
  t.ok(elapsed >= TIMEOUT_MS && elapsed <= TIMEOUT_MS * 1.3 + SWEEP_MS, `504 after ${Math.round(elapsed)} ms`);
});

t.test('B19 RFC 6455 §4.1: an open WebSocket is not cut by timeout_ms while it is silent', async (t) => {
  const upstream = await startUpstream(undefined, {
    upgrade: (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (c: Buffer) => socket.write(c));
      socket.on('end', () => socket.end());
    },
  });
  const { sc, tokenA } = await startStack(t, { upstream, config });
  const conn = await connect(sc.port);
  conn.socket.write(
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await conn.until('\r\n\r\n');
  await sleep(TIMEOUT_MS * 2);
  conn.socket.write('still-here');
  await conn.until('still-here');
  t.match(conn.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\nstill-here$/);
  conn.socket.end();
  await conn.closed;
});
