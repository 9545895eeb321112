/**
 * Issue 3, capability 3: graceful drain on SIGTERM, in a real child process with real signals.
 * `/readyz` turns 503 at once; new requests are served for `shutdown_delay_ms`; then the listener
 * stops accepting, in-flight requests finish, keep-alive connections close after their current
 * response, and the process exits 0; whatever is still open at `shutdown_timeout_ms` is cut, exit 1.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { connect, getToken, request, type Answer } from '../helpers/client.js';
import { spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

const SLOW_MS = 2000;
const BASIC = `Basic ${Buffer.from('svc-a:s3cret').toString('base64')}`;

/**
 * The upstream of these tests, on /orders:
 * - `/slow?n=N` answers `answer N` after SLOW_MS; `/fast` at once;
 * - `/hang` never answers; `/stream` sends `chunk 0\n` … `chunk 14\n`, one every 100 ms;
 * - `POST /upload` answers the number of body bytes once the body is read;
 * - a WebSocket upgrade is accepted and echoes what it receives.
 */
function drainUpstream(): Promise<Upstream> {
  return startUpstream(
    (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url!, 'http://upstream');
      const answer = (text: string): void => {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (url.pathname === '/orders/slow') setTimeout(() => answer(`answer ${url.searchParams.get('n')}`), SLOW_MS);
      else if (url.pathname === '/orders/fast') answer('fast');
      else if (url.pathname === '/orders/stream') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        let i = 0;
        const timer = setInterval(() => {
          res.write(`chunk ${i++}\n`);
          if (i === 15) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
        res.once('close', () => clearInterval(timer));
      } else if (url.pathname === '/orders/upload') {
        let bytes = 0;
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('end', () => answer(`received ${bytes}`));
      } // /orders/hang: no answer
    },
    {
      streaming: true,
      upgrade: (_req, socket: Socket) => {
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
        );
        socket.on('data', (chunk: Buffer) => socket.write(chunk));
        socket.on('error', () => socket.destroy());
      },
    },
  );
}

function configFor(upstream: Upstream, delayMs: number, timeoutMs: number): string {
  return `listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
shutdown_delay_ms: ${delayMs}
shutdown_timeout_ms: ${timeoutMs}
domains: [{ host: api.example.com }]
collections:
  - { name: orders, path: /orders, upstream: "${upstream.url}/orders", timeout_ms: 30000 }
access_profiles:
  - { name: a, client_id: svc-a, client_secret: s3cret, collections: [orders] }
`;
}

/** An upstream and a sidecar process in front of it, with a token of svc-a. */
async function startDrainStack(
  t: Pick<Test, 'teardown' | 'testdir'>,
  delayMs: number,
  timeoutMs: number,
): Promise<{ upstream: Upstream; sc: SidecarProcess; token: string }> {
  const upstream = await drainUpstream();
  t.teardown(() => upstream.close());
  const sc = await spawnSidecar(t, join(t.testdir({}), 'config.yaml'), configFor(upstream, delayMs, timeoutMs));
  return { upstream, sc, token: await getToken(sc.port, BASIC) };
}

/** A GET through a given agent; resolves with the answer, or with the error that ended it. */
function get(port: number, path: string, token: string, agent: http.Agent): Promise<Answer | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, agent, headers: { host: 'api.example.com', authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, json: undefined }));
        res.on('error', resolve);
      },
    );
    req.on('error', resolve);
  });
}

/** Resolves with the error code of a fresh TCP connection attempt, or "connected" (then closed at once). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const ms = (since: number): number => Math.round(performance.now() - since);

// The test: SIGTERM while 200 requests are in flight against a slow upstream, with a
// streamed download and an upload running too, and a SIGINT during the delay. It runs once, observed
// from every side; the tests below assert one behaviour each.
const DELAY_MS = 700;

interface Observed {
  /** the first /readyz answer after SIGTERM that is not 200, and when it came */
  readyz: Answer;
  readyzAt: number;
  /** a request on a new keep-alive connection during the delay: raw answer, and when the server closed it */
  fresh: string;
  freshAt: number;
  freshClosedAt: number;
  /** the first connection attempt that failed after SIGTERM: its error code, and when */
  refused: string;
  refusedAt: number;
  /** /readyz after the listener stopped, while requests are still in flight */
  readyzLater: Answer;
  /** the raw answer to a request begun before SIGTERM whose headers were completed after the listener stopped */
  late: string;
  answers: (Answer | NodeJS.ErrnoException)[];
  completedAt: number;
  download: { answer: Answer; closed: boolean };
  upload: Answer;
  /** when the last in-flight exchange (slow requests, download, upload) ended */
  lastEndedAt: number;
  code: number | null;
  exitedAt: number;
  logs: Record<string, unknown>[];
}

/** Starts a streamed download; resolves once its first chunk arrived, with the whole answer to come. */
function startDownload(port: number, token: string, agent: http.Agent): Promise<{ done: Promise<{ answer: Answer; closed: boolean }> }> {
  return new Promise((started, failed) => {
    const headers = { host: 'api.example.com', authorization: `Bearer ${token}` };
    http
      .get({ host: '127.0.0.1', port, path: '/orders/stream', agent, headers }, (res) => {
        const closed = new Promise<void>((resolve) => res.socket.once('close', () => resolve()));
        let body = '';
        res.setEncoding('utf8');
        const ended = new Promise<{ answer: Answer; closed: boolean }>((resolve) =>
          res.on('end', () => {
            const answer = { status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, json: undefined };
            // The connection must be closed by the sidecar soon after the last chunk.
            void Promise.race([closed.then(() => true), sleep(1000).then(() => false)]).then((c) => resolve({ answer, closed: c }));
          }),
        );
        res.on('data', (c: string) => {
          if (body === '') started({ done: ended });
          body += c;
        });
      })
      .on('error', failed);
  });
}

/** Starts a chunked upload of 10 x 64 KiB, one chunk every 100 ms; resolves once the first is sent. */
function startUpload(port: number, token: string, agent: http.Agent): Promise<{ done: Promise<Answer> }> {
  return new Promise((started, failed) => {
    const headers = { host: 'api.example.com', authorization: `Bearer ${token}` };
    const answer = new Promise<Answer>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/orders/upload', agent, headers }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, json: undefined }));
      });
      req.on('error', failed);
      let sent = 0;
      const timer = setInterval(() => {
        req.write(Buffer.alloc(64 * 1024, 'x'));
        if (++sent === 1) started({ done: answer });
        if (sent === 10) {
          clearInterval(timer);
          req.end();
        }
      }, 100);
    });
  });
}

async function drainWithRequestsInFlight(): Promise<Observed> {
  const { upstream, sc, token } = await startDrainStack(t, DELAY_MS, 10_000);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const inFlight = Array.from({ length: 200 }, (_, n) => get(sc.port, `/orders/slow?n=${n}`, token, agent));
  if (!(await eventually(() => upstream.requests.length === 200, 5000)))
    throw new Error(`only ${upstream.requests.length} requests reached the upstream`);
  const [download, upload] = await Promise.all([startDownload(sc.port, token, agent), startUpload(sc.port, token, agent)]);
  // A slow client: its request has begun, its headers are not complete yet.
  const slow = await connect(sc.port);
  slow.socket.write('GET /orders/fast HTTP/1.1\r\nHost: api.example.com\r\n');

  const sigterm = performance.now();
  sc.child.kill('SIGTERM');
  let readyz = await request(sc.adminPort, 'GET', '/readyz');
  while (readyz.status === 200 && ms(sigterm) < DELAY_MS) readyz = await request(sc.adminPort, 'GET', '/readyz');
  const readyzAt = ms(sigterm);
  sc.child.kill('SIGINT'); // alone it would skip the delay

  const conn = await connect(sc.port);
  conn.socket.write(`GET /orders/fast HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  const fresh = await conn.until(/\r\n\r\nfast$/);
  const freshAt = ms(sigterm);
  const freshClosed = conn.closed.then(() => ms(sigterm));

  let refused = await tryConnect(sc.port);
  while (refused === 'connected') {
    await sleep(10);
    refused = await tryConnect(sc.port);
  }
  const refusedAt = ms(sigterm);
  const readyzLater = await request(sc.adminPort, 'GET', '/readyz');
  slow.socket.write(`Authorization: Bearer ${token}\r\n\r\n`);
  await slow.closed;
  const late = slow.text();

  const answers = await Promise.all(inFlight);
  const completedAt = ms(sigterm);
  const ended = await Promise.all([download.done, upload.done]);
  const lastEndedAt = ms(sigterm);
  const { code, at } = await sc.exited;
  const observed: Observed = {
    ...{ readyz, readyzAt, fresh, freshAt, freshClosedAt: await freshClosed, refused, refusedAt, readyzLater, late, answers, completedAt },
    ...{ download: ended[0], upload: ended[1], lastEndedAt, code, exitedAt: Math.round(at - sigterm), logs: sc.logs() },
  };
  const ok = answers.filter((a) => !(a instanceof Error) && a.status === 200).length;
  const times = {
    readyzAt,
    freshAt,
    freshClosedAt: observed.freshClosedAt,
    refusedAt,
    completedAt,
    lastEndedAt,
    exitedAt: observed.exitedAt,
  };
  t.comment(`measured drain: ${ok}/200 completed, exit ${code}; ms after SIGTERM: ${JSON.stringify(times)}`);
  return observed;
}

let scenario: Promise<Observed> | undefined;
const observe = (): Promise<Observed> => (scenario ??= drainWithRequestsInFlight());

t.test("SIGTERM: all 200 in-flight requests complete with the upstream's answer", async (t) => {
  const { answers } = await observe();
  t.strictSame(
    answers.map((a) => (a instanceof Error ? a.code : `${a.status} ${a.body}`)),
    answers.map((_, n) => `200 answer ${n}`),
  );
});

t.test('SIGTERM: /readyz answers 503 "draining" at once, well before shutdown_delay_ms ends', async (t) => {
  const { readyz, readyzAt } = await observe();
  t.equal(readyz.status, 503);
  t.equal(readyz.headers['content-type'], 'application/json');
  t.strictSame(readyz.json, { status: 'not_ready', reason: 'draining' });
  t.ok(readyzAt < DELAY_MS / 2, `503 within ${readyzAt} ms of SIGTERM`);
});

t.test('SIGTERM: a new connection during shutdown_delay_ms is served', async (t) => {
  const { fresh, freshAt } = await observe();
  t.match(fresh, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(fresh, /\r\nConnection: keep-alive\r\n/);
  t.ok(freshAt < DELAY_MS, `answered ${freshAt} ms after SIGTERM`);
});

t.test('SIGTERM: after shutdown_delay_ms new connections are refused (ECONNREFUSED) while requests are still in flight', async (t) => {
  const { refused, refusedAt, completedAt } = await observe();
  t.equal(refused, 'ECONNREFUSED');
  t.ok(refusedAt >= DELAY_MS, `refused from ${refusedAt} ms after SIGTERM, not before the ${DELAY_MS} ms delay`);
  t.ok(refusedAt < completedAt, `before the in-flight requests completed (${completedAt} ms)`);
});

t.test('SIGTERM: /readyz stays reachable (503) after the data-plane listener stopped', async (t) => {
  const { readyzLater } = await observe();
  t.equal(readyzLater.status, 503);
  t.strictSame(readyzLater.json, { status: 'not_ready', reason: 'draining' });
});

t.test('SIGTERM: keep-alive connections get Connection: close on the response that was in flight', async (t) => {
  const { answers } = await observe();
  t.strictSame(new Set(answers.map((a) => (a instanceof Error ? a.code : a.headers.connection))), new Set(['close']));
});

t.test('SIGTERM: an idle keep-alive connection is closed by the sidecar when the listener stops', async (t) => {
  const { freshClosedAt, refusedAt } = await observe();
  t.ok(freshClosedAt >= DELAY_MS, `closed ${freshClosedAt} ms after SIGTERM, after the delay`);
  t.ok(freshClosedAt <= refusedAt + 250, `closed with the listener (refused from ${refusedAt} ms)`);
});

t.test('SIGTERM: a request whose headers complete after the listener stopped is served with Connection: close', async (t) => {
  const { late } = await observe();
  t.match(late, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(late, /\r\nConnection: close\r\n/);
  t.match(late, /\r\n\r\nfast$/, 'then the connection closed');
});

t.test('SIGTERM: a streamed download in flight finishes, then its keep-alive connection is closed', async (t) => {
  const { download } = await observe();
  t.equal(download.answer.status, 200);
  t.equal(download.answer.headers.connection, 'keep-alive', 'its headers were sent before the listener stopped');
  t.equal(download.answer.body, Array.from({ length: 15 }, (_, i) => `chunk ${i}\n`).join(''));
  t.ok(download.closed, 'the sidecar closed the connection after the last chunk');
});

t.test('SIGTERM: an upload in flight finishes and gets its answer with Connection: close', async (t) => {
  const { upload } = await observe();
  t.equal(upload.status, 200);
  t.equal(upload.headers.connection, 'close');
  t.equal(upload.body, `received ${10 * 64 * 1024}`);
});

t.test('SIGTERM: a SIGINT during the drain is ignored: the delay still runs', async (t) => {
  const { refusedAt, code } = await observe();
  t.ok(refusedAt >= DELAY_MS, `listener stopped ${refusedAt} ms after SIGTERM`);
  t.equal(code, 0);
});

t.test('SIGTERM: the process exits 0 once the last request completed, logging drain_finished', async (t) => {
  const { code, exitedAt, lastEndedAt, logs } = await observe();
  t.equal(code, 0);
  t.ok(exitedAt < lastEndedAt + 2000, `exited ${exitedAt} ms after SIGTERM (last exchange ended at ${lastEndedAt} ms)`);
  t.strictSame(
    logs.filter((l) => String(l.event).startsWith('drain_') || l.event === 'listener_closed').map((l) => l.event),
    ['drain_started', 'listener_closed', 'drain_finished'],
  );
});

// At shutdown_timeout_ms: a request that never gets its answer and an open WebSocket, in one run.
interface Cut {
  hung: Answer | NodeJS.ErrnoException;
  hungAt: number;
  echo: string;
  wsClosedAt: number;
  code: number | null;
  logs: Record<string, unknown>[];
}

const TIMEOUT_MS = 800;
async function drainPastTheTimeout(): Promise<Cut> {
  const { upstream, sc, token } = await startDrainStack(t, 0, TIMEOUT_MS);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const hang = get(sc.port, '/orders/hang', token, agent);
  const ws = await connect(sc.port);
  ws.socket.write(
    `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await ws.until(/^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\n$/);
  if (!(await eventually(() => upstream.requests.length === 2))) throw new Error('the upstream did not get both requests');
  const sigterm = performance.now();
  sc.child.kill('SIGTERM');
  const hungAt = hang.then(() => ms(sigterm));
  await sleep(200);
  ws.socket.write('ping');
  const echo = await ws.until(/\r\n\r\nping$/);
  await ws.closed;
  const wsClosedAt = ms(sigterm);
  return { hung: await hang, hungAt: await hungAt, echo, wsClosedAt, code: (await sc.exited).code, logs: sc.logs() };
}

let cut: Promise<Cut> | undefined;
const observeCut = (): Promise<Cut> => (cut ??= drainPastTheTimeout());

t.test('shutdown_timeout_ms: a request still running then is cut', async (t) => {
  const { hung, hungAt } = await observeCut();
  t.equal(hung instanceof Error ? hung.code : hung.status, 'ECONNRESET');
  t.ok(hungAt >= TIMEOUT_MS, `cut ${hungAt} ms after SIGTERM, not before shutdown_timeout_ms`);
});

t.test('shutdown_timeout_ms: an open WebSocket keeps working until then, and is closed then', async (t) => {
  const { echo, wsClosedAt } = await observeCut();
  t.match(echo, /\r\n\r\nping$/, 'echoed during the drain');
  t.ok(wsClosedAt >= TIMEOUT_MS && wsClosedAt < TIMEOUT_MS + 2000, `closed ${wsClosedAt} ms after SIGTERM`);
});

t.test('shutdown_timeout_ms: connections had to be cut, so the exit code is 1 and drain_forced is logged', async (t) => {
  const { code, logs } = await observeCut();
  t.equal(code, 1);
  t.strictSame(
    logs.filter((l) => String(l.event).startsWith('drain_')).map((l) => l.event),
    ['drain_started', 'drain_forced'],
  );
});

t.test('SIGINT stops without the readiness delay: exit 0 long before shutdown_delay_ms', async (t) => {
  const { sc } = await startDrainStack(t, 5000, 10_000);
  const sigint = performance.now();
  sc.child.kill('SIGINT');
  const { code, at } = await sc.exited;
  t.equal(code, 0);
  t.ok(at - sigint < 2000, `exited ${Math.round(at - sigint)} ms after SIGINT`);
});
