/**
 * B17: a client that goes away tears its upstream request down, and nothing leaks (RFC 9112 §9.6;
 * http-proxy #1455, #1559, #1586). Scaled down from the case: 200 iterations instead of 2 000.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { TokenRecord, TokenStore } from '../../src/oauth/tokens.js';
import { MemoryTokenStore } from '../../src/oauth/tokens.js';
import { connect, request } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** How an upstream exchange ended: when it closed, and whether its request body was complete. */
interface Ended {
  at: number;
  url: string;
  complete: boolean;
  received: number;
  /** the upstream connection that carried the exchange */
  socket: Socket;
}

/**
 * The case's upstream: GET streams a chunk every 100 ms for up to 60 s; POST reads the body. Each
 * exchange reports when its connection closed.
 */
async function streamingUpstream(): Promise<{ upstream: Upstream; ended: Ended[]; received: () => number }> {
  const ended: Ended[] = [];
  let total = 0;
  const upstream = await startUpstream(
    (req: IncomingMessage, res: ServerResponse) => {
      let received = 0;
      req.on('data', (c: Buffer) => {
        received += c.length;
        total += c.length;
      });
      let timer: NodeJS.Timeout | undefined;
      res.once('close', () => {
        clearInterval(timer);
        ended.push({ at: performance.now(), url: req.url!, complete: req.complete, received, socket: req.socket });
      });
      if (req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        let ticks = 0;
        timer = setInterval(() => (++ticks > 600 ? res.end() : res.write('chunk\n')), 100);
      } else {
        req.on('end', () => res.end('imported'));
      }
    },
    { streaming: true },
  );
  return { upstream, ended, received: () => total };
}

/** (a): reads the response head, closes TCP 300 ms later; returns when it closed. */
async function downloadAndLeave(port: number, token: string): Promise<number> {
  const conn = await connect(port);
  conn.socket.write(`GET /orders/export HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  await conn.until('\r\n\r\n');
  await sleep(300);
  conn.socket.destroy();
  return performance.now();
}

/** (b): declares 100 MiB, sends 1 MiB, then resets the connection once `flowing()` says bytes reach the upstream. */
async function uploadAndReset(port: number, token: string, flowing: () => boolean): Promise<void> {
  const conn = await connect(port);
  conn.socket.write(
    `POST /orders/import HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\nContent-Length: 104857600\r\n\r\n`,
  );
  conn.socket.write(Buffer.alloc(1024 * 1024, 'x'));
  await eventually(flowing);
  conn.socket.resetAndDestroy();
}

t.test('B17(a) RFC 9112 §9.6: the upstream sees its connection closed within 1 s of the client leaving mid-download', async (t) => {
  const { upstream, ended } = await streamingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  const left = await downloadAndLeave(sc.port, tokenA);
  t.ok(await eventually(() => ended.length === 1), 'the upstream exchange ended');
  t.ok(ended[0]!.at - left < 1000, `closed ${Math.round(ended[0]!.at - left)} ms after the client`);
  // That connection itself; undici may open a spare one after an abort (README "Design notes").
  t.ok(await eventually(() => ended[0]!.socket.destroyed), 'the upstream connection is closed, not kept');
});

t.test('B17(a) RFC 9112 §9.6: the access log records the download as client_closed with the status sent', async (t) => {
  const { upstream } = await streamingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  await downloadAndLeave(sc.port, tokenA);
  t.ok(await eventually(() => sc.logs.some((l) => l.event === 'client_closed')));
  t.match(
    sc.logs.find((l) => l.event === 'client_closed'),
    { status: 200, upstream_status: 200, collection: 'orders', client_id: 'svc-a' },
  );
});

t.test('B17(a) RFC 9112 §9.6: a client that leaves before the upstream answered tears the upstream request down', async (t) => {
  const closed: number[] = [];
  const silent = await startUpstream((_req, res) => res.once('close', () => closed.push(performance.now())));
  const { sc, tokenA } = await startStack(t, { upstream: silent });
  const conn = await connect(sc.port);
  conn.socket.write(`GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`);
  t.ok(await eventually(() => silent.requests.length === 1), 'the request reached the upstream');
  const left = performance.now();
  conn.socket.destroy();
  t.ok(await eventually(() => closed.length === 1), 'the upstream exchange ended');
  t.ok(closed[0]! - left < 1000, `closed ${Math.round(closed[0]! - left)} ms after the client`);
  t.ok(await eventually(() => sc.logs.some((l) => l.event === 'client_closed')));
  t.match(
    sc.logs.find((l) => l.event === 'client_closed'),
    { status: 0, bytes: 0 },
  );
});

t.test('B17(b) RFC 9112 §9.6: an upload reset after 1 MiB aborts the upstream request', async (t) => {
  const { upstream, ended, received } = await streamingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  await uploadAndReset(sc.port, tokenA, () => received() > 0);
  t.ok(await eventually(() => ended.length === 1), 'the upstream exchange ended');
  t.match(ended[0], { url: '/orders/import', complete: false });
  t.ok(ended[0]!.received < 104857600);
});

t.test('B17(b) RFC 9112 §9.6: after an upload reset the sidecar writes no response and logs client_closed with status 0', async (t) => {
  const { upstream, received } = await streamingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  await uploadAndReset(sc.port, tokenA, () => received() > 0);
  t.ok(await eventually(() => sc.logs.some((l) => l.event === 'client_closed')));
  t.match(
    sc.logs.find((l) => l.event === 'client_closed'),
    { status: 0, upstream_status: undefined, collection: 'orders' },
  );
  t.notOk(sc.logs.some((l) => l.event === 'internal_error' || l.event === 'upstream_error'));
});

t.test('B17(b) RFC 9112 §9.6: the sidecar keeps serving after an upload reset', async (t) => {
  const { upstream, received } = await streamingUpstream();
  const { sc, tokenA, tokenB } = await startStack(t, { upstream });
  await uploadAndReset(sc.port, tokenA, () => received() > 0);
  const answer = await request(sc.port, 'POST', '/public/import', { authorization: `Bearer ${tokenB}` }, 'small');
  t.equal(answer.status, 200);
  t.equal(answer.body, 'imported');
});

/** A token store whose lookups take `delayMs`, as a remote store's might. */
class SlowStore implements TokenStore {
  readonly #inner = new MemoryTokenStore({ maxActive: 100 });
  constructor(readonly delayMs: number) {}
  issue(grant: Parameters<TokenStore['issue']>[0]): ReturnType<TokenStore['issue']> {
    return this.#inner.issue(grant);
  }
  async lookup(access_token: string): Promise<TokenRecord | undefined> {
    await sleep(this.delayMs);
    return this.#inner.lookup(access_token);
  }
  get size(): number {
    return this.#inner.size;
  }
  revokeProfile(profile: string): Promise<void> {
    return this.#inner.revokeProfile(profile);
  }
  revoke(access_token: string): Promise<boolean> {
    return this.#inner.revoke(access_token);
  }
  close(): void {
    this.#inner.close();
  }
}

t.test('B17 RFC 9112 §9.6: a client that leaves while its token is being checked is not forwarded at all', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t, { store: new SlowStore(300) });
  const conn = await connect(sc.port);
  conn.socket.write(`GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`);
  await sleep(50);
  conn.socket.destroy();
  t.ok(await eventually(() => sc.logs.some((l) => l.event === 'client_closed')));
  t.match(
    sc.logs.find((l) => l.event === 'client_closed'),
    { status: 0, bytes: 0, collection: 'orders' },
  );
  t.equal(upstream.raw(), '', 'nothing reached the upstream');
});

t.test('B17(c) RFC 9112 §9.6: 200 aborted downloads and uploads, 50 at a time, leave no sockets, warnings or heap behind', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const { upstream, received } = await streamingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < 200) {
      next++;
      const before = received();
      await Promise.all([downloadAndLeave(sc.port, tokenA), uploadAndReset(sc.port, tokenA, () => received() > before)]);
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  t.ok(await eventually(() => upstream.sockets.size === 0, 5000), `upstream sockets back to 0 (${upstream.sockets.size})`);
  const connections = (): Promise<number> => new Promise((resolve) => sc.sidecar.server.getConnections((_e, n) => resolve(n)));
  t.ok(await eventually(async () => (await connections()) === 0), 'no client connection left open');
  gc();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  t.ok(growth < 16 * 1024 * 1024, `heap grew ${Math.round(growth / 1024)} KiB`);
  t.same(
    warnings.map((w) => w.name),
    [],
    'no MaxListenersExceededWarning or other warning',
  );
});

t.test('B17(c) RFC 9112 §9.3: 50 requests in a row over one kept-alive upstream connection add no listeners', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const { sc, upstream, tokenA } = await startStack(t);
  for (let i = 0; i < 50; i++) t.equal((await request(sc.port, 'GET', `/orders/${i}`, { authorization: `Bearer ${tokenA}` })).status, 200);
  t.equal(new Set(upstream.requests.map((r) => r.headers['x-forwarded-for'])).size, 1);
  t.equal(upstream.sockets.size, 1, 'one upstream connection served all 50');
  t.same(
    warnings.map((w) => w.name),
    [],
  );
});
