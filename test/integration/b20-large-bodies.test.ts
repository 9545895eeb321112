/**
 * B20: large and slow bodies stream through unchanged, Expect: 100-continue is answered from the
 * headers (RFC 9110 §10.1.1), and no whole-request timeout cuts a progressing upload.
 * Scaled down from the case: 20 MiB instead of 200 MiB. "RSS grows far less than the body" cannot be
 * measured in a process that also holds the client and the upstream; instead a test shows the body
 * is streamed, not buffered. B20(d)'s 8-minute upload is a nightly job;
 * here a few seconds of steady upload stand in for it. The documented limit: the only timer on a
 * forwarded request is the collection's timeout_ms, an idle timeout on the upstream connection, so
 * an upload may last any time as long as no pause exceeds timeout_ms; a longer pause gets 504 and
 * the upstream sees its request aborted, never a silently short body.
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { connect } from '../helpers/client.js';
import { fixtureCollections, testConfig } from '../helpers/config.js';
import { startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const MiB = 1024 * 1024;
const BODY = Array.from({ length: 20 }, () => randomBytes(MiB));
const BODY_SHA256 = BODY.reduce((h, chunk) => h.update(chunk), createHash('sha256')).digest('hex');

/** What the hashing upstream saw of one request. */
interface Seen {
  bytes: number;
  sha256?: string;
  aborted: boolean;
}

/** An upstream that hashes each body as it streams in and answers `{"sha256","bytes"}`. */
async function hashingUpstream(): Promise<{ upstream: Upstream; seen: Seen[] }> {
  const seen: Seen[] = [];
  const upstream = await startUpstream(
    (req: IncomingMessage, res: ServerResponse) => {
      const entry: Seen = { bytes: 0, aborted: false };
      seen.push(entry);
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => {
        entry.bytes += c.length;
        hash.update(c);
      });
      req.on('aborted', () => (entry.aborted = true));
      req.on('end', () => {
        entry.sha256 = hash.digest('hex');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ sha256: entry.sha256, bytes: entry.bytes }));
      });
    },
    { streaming: true },
  );
  return { upstream, seen };
}

/**
 * POSTs `chunks` to /orders/import, writing each after `before(i)` resolves.
 * @returns the status and body of the answer
 */
function upload(
  port: number,
  token: string,
  headers: Record<string, string>,
  chunks: Buffer[],
  before: (i: number) => Promise<unknown> = async () => {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/orders/import',
        agent: false,
        headers: { host: 'api.example.com', authorization: `Bearer ${token}`, ...headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    const send = async (): Promise<void> => {
      for (const [i, chunk] of chunks.entries()) {
        await before(i);
        if (!req.write(chunk)) await new Promise((drained) => req.once('drain', drained));
      }
      req.end();
    };
    if (headers.expect) req.once('continue', () => void send());
    else void send();
  });
}

const expected = JSON.stringify({ sha256: BODY_SHA256, bytes: 20 * MiB });

t.test('B20(a) RFC 9112 §7.1: a 20 MiB chunked upload reaches the upstream byte-identical (SHA-256)', async (t) => {
  const { upstream, seen } = await hashingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  const answer = await upload(sc.port, tokenA, {}, BODY);
  t.same(answer, { status: 200, body: expected });
  t.equal(upstream.requests[0]!.headers['transfer-encoding'], 'chunked');
  t.equal(seen[0]!.sha256, BODY_SHA256);
});

t.test('B20(b) RFC 9112 §6.2: a 20 MiB upload with Content-Length reaches the upstream byte-identical (SHA-256)', async (t) => {
  const { upstream, seen } = await hashingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  const answer = await upload(sc.port, tokenA, { 'content-length': String(20 * MiB) }, BODY);
  t.same(answer, { status: 200, body: expected });
  t.equal(upstream.requests[0]!.headers['content-length'], String(20 * MiB));
  t.equal(seen[0]!.sha256, BODY_SHA256);
});

t.test('B20(c) RFC 9110 §10.1.1: a 20 MiB chunked upload after Expect: 100-continue reaches the upstream byte-identical', async (t) => {
  const { upstream, seen } = await hashingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  const answer = await upload(sc.port, tokenA, { expect: '100-continue' }, BODY);
  t.same(answer, { status: 200, body: expected });
  t.equal(upstream.requests[0]!.headers.expect, undefined, 'the sidecar answered the expectation itself');
  t.equal(seen[0]!.sha256, BODY_SHA256);
});

t.test('B20 RFC 9110 §7.6: the body is streamed: the upstream has the first bytes before the client sends the rest', async (t) => {
  const { upstream, seen } = await hashingUpstream();
  const { sc, tokenA } = await startStack(t, { upstream });
  let early = false;
  const answer = await upload(sc.port, tokenA, { 'content-length': String(20 * MiB) }, BODY, async (i) => {
    if (i === 1) early = await eventually(() => (seen[0]?.bytes ?? 0) > 0);
  });
  t.equal(early, true, 'bytes of the first MiB reached the upstream while 19 MiB were still unsent');
  t.same(answer, { status: 200, body: expected });
});

t.test('B20 RFC 9110 §7.6: a client that stops reading a large answer stops the upstream, and reading again resumes it', async (t) => {
  const SIZE = 1024 * MiB; // never sent whole: the test ends once the upstream is writing again
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0; // bytes the upstream's socket has accepted
  const upstream = await startUpstream(
    (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(SIZE) });
      const pump = (): void => {
        while (written < SIZE && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    },
    { streaming: true },
  );
  const { sc, tokenA } = await startStack(t, { upstream });
  const conn = await connect(sc.port);
  t.teardown(() => conn.socket.destroy());
  conn.socket.pause(); // reads nothing: the socket buffers between the three fill, then the sidecar's
  conn.socket.write(`GET /orders/big HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\n\r\n`);
  let last = -1;
  const stalled = await eventually(async () => {
    const before = written;
    await sleep(300);
    last = written;
    return before > 0 && written === before;
  }, 20_000);
  t.ok(stalled && last < 64 * MiB, `the upstream stopped after ${Math.round(last / MiB)} MiB (kernel socket buffers and the sidecar's)`);
  conn.socket.resume();
  t.ok(await eventually(() => written > last + 64 * MiB, 20_000), 'once the client reads, the upstream writes again');
});

t.test('B20(d) RFC 9110 §15.5.9: a slow upload that keeps making progress for 4 s (timeout_ms 1 s) is not cut', async (t) => {
  const { upstream, seen } = await hashingUpstream();
  const config = (url: string) => testConfig(url, { collections: fixtureCollections(url, 1000) });
  const { sc, tokenA } = await startStack(t, { upstream, config });
  const chunks = Array.from({ length: 40 }, () => randomBytes(16 * 1024));
  const sha256 = chunks.reduce((h, c) => h.update(c), createHash('sha256')).digest('hex');
  const started = performance.now();
  const answer = await upload(sc.port, tokenA, { 'content-length': String(40 * 16 * 1024) }, chunks, (i) => sleep(i === 0 ? 0 : 100));
  t.ok(performance.now() - started >= 3900, 'the upload lasted about 4 s');
  t.same(answer, { status: 200, body: JSON.stringify({ sha256, bytes: 40 * 16 * 1024 }) });
  t.equal(seen[0]!.sha256, sha256);
});

t.test("B20(d) RFC 9110 §15.5.9: the data plane sets no whole-request timeout (Node's 300 s requestTimeout is off)", async (t) => {
  const { sc } = await startStack(t);
  t.equal(sc.sidecar.server.requestTimeout, 0);
  t.equal(sc.sidecar.server.timeout, 0, 'no socket idle timeout on client connections either');
});

t.test(
  'B20(d) RFC 9110 §15.6.5, documented limit: an upload paused longer than timeout_ms gets 504, and the upstream sees it aborted',
  async (t) => {
    const { upstream, seen } = await hashingUpstream();
    const config = (url: string) => testConfig(url, { collections: fixtureCollections(url, 500) });
    const { sc, tokenA } = await startStack(t, { upstream, config });
    const conn = await connect(sc.port);
    conn.socket.write(
      `POST /orders/import HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenA}\r\nContent-Length: 1048576\r\n\r\n`,
    );
    conn.socket.write(Buffer.alloc(64 * 1024, 'x'));
    await conn.until(/\r\n\r\n\{"message":"upstream timed out"\}$/);
    t.match(conn.text(), /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    t.ok(await eventually(() => seen[0]?.aborted === true), 'the upstream request was aborted');
    t.equal(seen[0]!.sha256, undefined, 'the upstream never saw the body end');
    conn.socket.destroy();
  },
);

t.test('B20(e) RFC 9110 §10.1.1: Expect: 100-continue with an invalid token gets 401 without 100 Continue', async (t) => {
  const { sc, upstream } = await startStack(t);
  const conn = await connect(sc.port);
  conn.socket.write(
    `POST /orders/import HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${'0'.repeat(64)}\r\nContent-Length: 10485760\r\nExpect: 100-continue\r\n\r\n`,
  );
  const text = await conn.until(/\r\n\r\n\{.*\}$/);
  t.match(text, /^HTTP\/1\.1 401 Unauthorized\r\n/);
  t.match(text, /\r\nConnection: close\r\n/i, 'the unread body is not drained: the connection closes');
  t.match(text, /\r\nWWW-Authenticate: Bearer realm="api", error="invalid_token"/);
  t.notMatch(text, /100 Continue/);
  t.equal(upstream.raw(), '', 'nothing was forwarded');
  conn.socket.destroy();
});

t.test('B20(e) RFC 9110 §10.1.1: Expect: 100-continue without credentials gets 401 without 100 Continue', async (t) => {
  const { sc, upstream } = await startStack(t);
  const conn = await connect(sc.port);
  conn.socket.write('POST /orders/import HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 10485760\r\nExpect: 100-continue\r\n\r\n');
  const text = await conn.until(/\r\n\r\n\{.*\}$/);
  t.match(text, /^HTTP\/1\.1 401 Unauthorized\r\n/);
  t.match(
    text,
    /\r\nWWW-Authenticate: Bearer realm="api", resource_metadata="http:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource\/orders"\r\n/,
  );
  t.notMatch(text, /100 Continue/);
  t.equal(upstream.raw(), '');
  conn.socket.destroy();
});
