/**
 * The bench of the hostile-input suite (test/integration/hostile-*.test.ts): a sidecar in front of a
 * recording upstream, raw bytes in, and the checks every case ends with: the exact answer, what the
 * upstream received (nothing, or the expected request without credentials) and that a normal
 * authorised request on a fresh connection still succeeds.
 */
import type { Test } from 'tap';
import type { Config } from '../../src/config/schema.js';
import net from 'node:net';
import { getToken, request } from './client.js';
import { BASIC, testConfig } from './config.js';
import { startSidecar, type RunningSidecar } from './sidecar.js';
import { startUpstream, type Upstream } from './upstream.js';

export interface Bench {
  sc: RunningSidecar;
  port: number;
  upstream: Upstream;
  /** a live token of svc-a (collection "orders") */
  tokenA: string;
  /** a live token of svc-b (collection "public") */
  tokenB: string;
}

/**
 * Starts a sidecar (test config) before an echo upstream, and registers their teardown.
 * @param opts.headersTimeoutMs, opts.tokenBodyTimeoutMs slowloris limits in ms (default the sidecar's)
 * @param opts.config builds the config from the upstream URL (default `testConfig`)
 */
export async function hostileBench(
  t: Test,
  opts: { headersTimeoutMs?: number; tokenBodyTimeoutMs?: number; config?: (url: string) => Config } = {},
): Promise<Bench> {
  const upstream = await startUpstream();
  const sc = await startSidecar((opts.config ?? testConfig)(upstream.url), {
    headersTimeoutMs: opts.headersTimeoutMs,
    tokenBodyTimeoutMs: opts.tokenBodyTimeoutMs,
  });
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  return { sc, port: sc.port, upstream, tokenA: await getToken(sc.port, BASIC.aForm), tokenB: await getToken(sc.port, BASIC.b) };
}

/** Request lines' usual fields: the test domain, and svc-b's bearer token. */
export const HOST = 'Host: api.example.com\r\n';
export const bearer = (token: string): string => `Authorization: Bearer ${token}\r\n`;

/** An HTTP request inside a body: if the upstream ever parses it as a request, it shows in `requests`. */
export const SMUGGLED = 'GET /orders/1 HTTP/1.1\r\nHost: api.example.com\r\n\r\n';
/** One chunk and the last chunk (RFC 9112 §7.1). */
export const chunked = (body: string): string => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;

/** A raw answer: all bytes as latin1 text, and the first response's status, headers and body. */
export interface RawAnswer {
  text: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends raw bytes on a fresh connection and collects the answer until the server closes, or 300 ms
 * pass without a byte once the first arrived (a loaded machine may take long for the first byte).
 * @throws Error when nothing at all arrives within 10 s
 */
export function send(port: number, bytes: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseAnswer(Buffer.concat(chunks).toString('latin1')));
    };
    socket.on('connect', () => {
      socket.write(bytes);
      timer = setTimeout(() => (socket.destroy(), reject(new Error('no answer within 10 s'))), 10_000);
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(timer);
      timer = setTimeout(finish, 300);
    });
    socket.on('close', finish);
    socket.on('error', () => {}); // a reset after the answer: 'close' follows
  });
}

function parseAnswer(text: string): RawAnswer {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { text, status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') };
}

/** The exact bytes of a refusal written on the raw socket (Node parse errors, CONNECT, refused upgrades). */
export function rawRefusal(status: string, message: string): string {
  const body = JSON.stringify({ message });
  return `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`;
}

/** What Node's parser refusals get: 400 `{"message":"malformed request"}`, and the connection closes. */
export const MALFORMED = rawRefusal('400 Bad Request', 'malformed request');

/**
 * Asserts a JSON answer sent through a response: the status line, the JSON body byte for byte and
 * the named headers (`undefined`: absent).
 */
export function expectJson(
  t: Test,
  answer: { text: string; headers: Record<string, string>; body: string },
  statusLine: string,
  body: unknown,
  headers: Record<string, string | undefined> = {},
): void {
  t.equal(answer.text.slice(0, answer.text.indexOf('\r\n')), `HTTP/1.1 ${statusLine}`, 'status line');
  t.equal(answer.headers['content-type'], 'application/json');
  t.equal(answer.headers['cache-control'], 'no-store');
  for (const [name, value] of Object.entries(headers)) t.equal(answer.headers[name], value, name);
  t.equal(answer.body, JSON.stringify(body), 'body');
}

/** Asserts that no byte reached the upstream. */
export function expectNothingForwarded(t: Test, bench: Bench): void {
  t.equal(bench.upstream.raw(), '', 'nothing reached the upstream');
}

/**
 * Asserts that the upstream received exactly these requests ([method, url, body]) and no credential:
 * no Authorization field and neither token anywhere in its bytes.
 */
export function expectForwarded(t: Test, bench: Bench, expected: [string, string, string][]): void {
  t.same(
    bench.upstream.requests.map((r) => [r.method, r.url, r.body.toString('latin1')]),
    expected,
    'the upstream received exactly the expected requests',
  );
  const bytes = bench.upstream.raw();
  t.notOk(/\r\nauthorization:/i.test(bytes), 'no Authorization reached the upstream');
  t.notOk(bytes.includes(bench.tokenA) || bytes.includes(bench.tokenB), 'no token reached the upstream');
}

/**
 * The process keeps serving: svc-b's GET /public/alive on a fresh connection is 200 from the
 * upstream, as one more request there.
 */
export async function stillServing(t: Test, bench: Bench): Promise<void> {
  const before = bench.upstream.requests.length;
  const answer = await request(bench.port, 'GET', '/public/alive', { authorization: `Bearer ${bench.tokenB}` });
  t.equal(answer.status, 200, 'still serving');
  t.equal(answer.json?.url, '/public/alive');
  t.equal(bench.upstream.requests.length, before + 1, 'one more request upstream');
}

/**
 * Registers a case that Node's parser refuses: the exact JSON 400 `MALFORMED`, nothing upstream,
 * still serving afterwards.
 * @param request the raw request, given svc-b's live token
 */
export function refusedByParser(t: Test, name: string, request: (token: string) => string | Buffer): void {
  t.test(name, async (t) => {
    const bench = await hostileBench(t);
    t.equal((await send(bench.port, request(bench.tokenB))).text, MALFORMED);
    expectNothingForwarded(t, bench);
    await stillServing(t, bench);
  });
}
