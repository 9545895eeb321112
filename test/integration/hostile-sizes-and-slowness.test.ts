/**
 * Issue 6, hostile input: 1 MB headers, tokens and targets (RFC 6585 §5: 431 at Node's 16 KiB) and
 * slowloris, headers and bodies trickled (RFC 9110 §15.5.9: 408). Short limits keep the tests fast:
 * `headersTimeoutMs` and `tokenBodyTimeoutMs` of 300 ms. server.test.ts pins field lines trickled on
 * a fresh connection; the shapes here are other ones.
 */
import t from 'tap';
import { connect } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { bearer, expectJson, expectNothingForwarded, HOST, hostileBench, rawRefusal, send, stillServing } from '../helpers/hostile.js';

const MB = 1024 * 1024;
const TOO_LARGE = rawRefusal('431 Request Header Fields Too Large', 'request headers too large');
const TIMED_OUT = rawRefusal('408 Request Timeout', 'request timed out');
const LIMITS = { headersTimeoutMs: 300, tokenBodyTimeoutMs: 300 };
const TOKEN_BODY = 'grant_type=client_credentials';

/** Asserts a 1 MB request head gets the exact JSON 431, nothing forwarded, still serving. */
function tooLarge(name: string, request: (token: string) => string): void {
  t.test(name, async (t) => {
    const bench = await hostileBench(t);
    t.equal((await send(bench.port, request(bench.tokenB))).text, TOO_LARGE);
    expectNothingForwarded(t, bench);
    await stillServing(t, bench);
  });
}

tooLarge(
  'RFC 6585 §5: a 1 MB header field is refused with 431 at 16 KiB, not buffered',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X-Big: ${'a'.repeat(MB)}\r\n\r\n`,
);

tooLarge(
  'RFC 6585 §5: a 1 MB bearer token is refused with 431 before any token lookup',
  () => `GET /public/x HTTP/1.1\r\n${HOST}Authorization: Bearer ${'a'.repeat(MB)}\r\n\r\n`,
);

tooLarge(
  'RFC 6585 §5: 1 MB of Basic credentials at the token endpoint is refused with 431, nothing hashed',
  () =>
    `POST /oauth2/token HTTP/1.1\r\n${HOST}Authorization: Basic ${'QUFB'.repeat(MB / 4)}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${TOKEN_BODY.length}\r\n\r\n${TOKEN_BODY}`,
);

tooLarge(
  'RFC 9112 §3: a 1 MB request target counts against the same 16 KiB limit: 431',
  (token) => `GET /public/${'a'.repeat(MB)} HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`,
);

tooLarge(
  'RFC 6585 §5: 20000 empty field lines are refused with 431',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}${'a:\r\n'.repeat(20_000)}\r\n`,
);

t.test('slowloris: a request line trickled a byte at a time gets a JSON 408 and the connection closes', async (t) => {
  const bench = await hostileBench(t, LIMITS);
  const conn = await connect(bench.port);
  const line = `GET /public/${'x'.repeat(200)} HTTP/1.1\r\n`;
  let i = 0;
  const trickle = setInterval(() => conn.socket.writable && i < line.length && conn.socket.write(line[i++]!), 20);
  await conn.closed;
  clearInterval(trickle);
  t.equal(conn.text(), TIMED_OUT);
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('slowloris: the second request on a kept-alive connection, trickled, gets a JSON 408 after the first was served', async (t) => {
  const bench = await hostileBench(t, LIMITS);
  const conn = await connect(bench.port);
  conn.socket.write(`GET /public/first HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
  await conn.until(/"body_bytes":0\}$/);
  const served = conn.text().length;
  conn.socket.write(`GET /public/second HTTP/1.1\r\n${HOST}`);
  const trickle = setInterval(() => conn.socket.writable && conn.socket.write('X-Slow: 1\r\n'), 50);
  await conn.closed;
  clearInterval(trickle);
  t.equal(conn.text().slice(served), TIMED_OUT);
  t.same(
    bench.upstream.requests.map((r) => r.url),
    ['/public/first'],
  );
  await stillServing(t, bench);
});

t.test('slowloris: 20 connections trickling headers at once are all cut with 408, and the sidecar still serves', async (t) => {
  const bench = await hostileBench(t, LIMITS);
  const conns = await Promise.all(Array.from({ length: 20 }, () => connect(bench.port)));
  for (const conn of conns) conn.socket.write(`GET /public/x HTTP/1.1\r\n${HOST}`);
  const trickle = setInterval(() => conns.forEach((c) => c.socket.writable && c.socket.write('X-Slow: 1\r\n')), 50);
  await Promise.all(conns.map((c) => c.closed));
  clearInterval(trickle);
  t.same(
    conns.map((c) => c.text()),
    conns.map(() => TIMED_OUT),
  );
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('slowloris: a token request body trickled past its time limit is 408 invalid_request and the connection closes', async (t) => {
  const bench = await hostileBench(t, LIMITS);
  const conn = await connect(bench.port);
  const body = `${TOKEN_BODY}&${'pad=x&'.repeat(40)}`;
  conn.socket.write(
    `POST /oauth2/token HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  let i = 0;
  const trickle = setInterval(() => conn.socket.writable && i < body.length && conn.socket.write(body[i++]!), 20);
  await conn.until(/\}$/);
  clearInterval(trickle);
  const text = conn.text();
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.match(text, /\r\nConnection: close\r\n/);
  t.ok(text.endsWith('\r\n\r\n{"error":"invalid_request","error_description":"request body not received in time"}'), text);
  await conn.closed;
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('slowloris: a token request that stops sending after 10 of 29 body bytes is 408 invalid_request', async (t) => {
  const bench = await hostileBench(t, LIMITS);
  const conn = await connect(bench.port);
  conn.socket.write(
    `POST /oauth2/token HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${TOKEN_BODY.length}\r\n\r\n${TOKEN_BODY.slice(0, 10)}`,
  );
  await conn.closed;
  t.match(conn.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.ok(conn.text().endsWith('{"error":"invalid_request","error_description":"request body not received in time"}'));
  t.notOk(conn.text().includes('access_token'));
  await stillServing(t, bench);
});

t.test('slowloris: a trickled upload without a token is answered 401 from its headers at once, and the connection closes', async (t) => {
  const bench = await hostileBench(t, LIMITS);
  const conn = await connect(bench.port);
  conn.socket.write(`POST /public/upload HTTP/1.1\r\n${HOST}Content-Length: 100000\r\n\r\n`);
  const trickle = setInterval(() => conn.socket.writable && conn.socket.write('x'), 20);
  await conn.closed;
  clearInterval(trickle);
  const text = conn.text();
  t.match(text, /^HTTP\/1\.1 401 Unauthorized\r\n/);
  t.match(text, /\r\nConnection: close\r\n/);
  t.ok(text.endsWith('\r\n\r\n{"message":"bearer token required"}'));
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9110 §15.5.14: a chunked 1 MB token request body (no Content-Length) is 413 and the connection closes', async (t) => {
  const bench = await hostileBench(t);
  const chunk = 'a'.repeat(64 * 1024);
  const body = Array.from({ length: 16 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n';
  const answer = await send(
    bench.port,
    `POST /oauth2/token HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
  );
  expectJson(
    t,
    answer,
    '413 Payload Too Large',
    { error: 'invalid_request', error_description: 'request body too large' },
    { connection: 'close' },
  );
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});
