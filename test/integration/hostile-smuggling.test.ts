/**
 * Issue 6, hostile input: request smuggling shapes (RFC 9112 §2.2, §5.2, §6, §7). Each request is
 * refused or forwarded as exactly one request; a body that is itself a request (SMUGGLED) never
 * reaches the upstream as one, and the sidecar keeps serving.
 */
import t from 'tap';
import { BASIC } from '../helpers/config.js';
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
  refusedByParser,
} from '../helpers/hostile.js';

refusedByParser(
  t,
  'RFC 9112 §6.1: Content-Length with Transfer-Encoding (CL.TE) is refused with 400 before any routing',
  (token) =>
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
);

refusedByParser(
  t,
  'RFC 9112 §6.1: Transfer-Encoding then Content-Length (TE.CL) is refused with 400',
  (token) =>
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${SMUGGLED}`,
);

refusedByParser(
  t,
  'RFC 9112 §6.1: Content-Length with Transfer-Encoding at the token endpoint is refused with 400, no token issued',
  () =>
    `POST /oauth2/token HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('grant_type=client_credentials')}`,
);

refusedByParser(
  t,
  'RFC 9112 §6.1: chunked that is not the final coding ("chunked, gzip") is refused with 400',
  (token) => `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Transfer-Encoding: chunked, gzip\r\n\r\n${chunked(SMUGGLED)}`,
);

refusedByParser(
  t,
  'RFC 9112 §6.1: two Transfer-Encoding lines (chunked, then identity) are refused with 400',
  (token) =>
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n${chunked(SMUGGLED)}`,
);

refusedByParser(
  t,
  'RFC 9112 §5.1: whitespace between field name and colon ("Transfer-Encoding : chunked") is refused with 400',
  (token) => `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Transfer-Encoding : chunked\r\n\r\n${chunked(SMUGGLED)}`,
);

refusedByParser(
  t,
  'RFC 9112 §7.1: a chunk size beyond 64 bits is refused with 400, not wrapped around',
  (token) =>
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Transfer-Encoding: chunked\r\n\r\n100000000000000031\r\n${SMUGGLED}\r\n0\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §6.1: HTTP/1.0 with Content-Length and Transfer-Encoding is refused with 400',
  (token) => `POST /public/x HTTP/1.0\r\n${HOST}${bearer(token)}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §5.2: obs-fold (a field line continued on the next) is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X-Folded: a\r\n b\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §5.2: an Authorization value folded onto a second line is refused with 400, not joined into a token',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}Authorization: Bearer\r\n ${token}\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §2.2: bare LF line endings throughout are refused with 400',
  (token) => `GET /public/x HTTP/1.1\n${HOST.trimEnd()}\n${bearer(token).trimEnd()}\n\n`,
);

refusedByParser(
  t,
  'RFC 9112 §2.2: a bare LF inside the header block (a field hidden in another) is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X-A: 1\nTransfer-Encoding: chunked\r\n\r\n${chunked(SMUGGLED)}`,
);

refusedByParser(
  t,
  'RFC 9112 §2.2: a bare CR inside a field line is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X-A: 1\rContent-Length: 49\r\n\r\n${SMUGGLED}`,
);

refusedByParser(
  t,
  'RFC 9112 §6.3: two equal Content-Length lines are refused with 400',
  (token) => `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Content-Length: 2\r\nContent-Length: 2\r\n\r\nhi`,
);

refusedByParser(
  t,
  'RFC 9112 §6.3: two different Content-Length lines are refused with 400',
  (token) => `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Content-Length: 2\r\nContent-Length: 51\r\n\r\nhi${SMUGGLED}`,
);

refusedByParser(
  t,
  'RFC 9112 §6.3: a Content-Length list ("2, 2") is refused with 400',
  (token) => `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Content-Length: 2, 2\r\n\r\nhi`,
);

refusedByParser(
  t,
  'RFC 9110 §8.6: a signed Content-Length ("+2") is refused with 400',
  (token) => `POST /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Content-Length: +2\r\n\r\nhi`,
);

t.test('RFC 9112 §6.1: HTTP/1.0 with Transfer-Encoding is faulty framing: 400 and the connection closes, nothing forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `POST /public/x HTTP/1.0\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: chunked\r\n\r\n${chunked(SMUGGLED)}`,
  );
  expectJson(t, answer, '400 Bad Request', { message: 'Transfer-Encoding is not allowed in HTTP/1.0' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9112 §6.1: HTTP/1.0 with Transfer-Encoding at the token endpoint is 400, no token issued', async (t) => {
  const bench = await hostileBench(t);
  const issued = (): number => bench.sc.logs.filter((l) => l.event === 'token_issued').length;
  const before = issued();
  const answer = await send(
    bench.port,
    `POST /oauth2/token HTTP/1.0\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('grant_type=client_credentials')}`,
  );
  expectJson(t, answer, '400 Bad Request', { message: 'Transfer-Encoding is not allowed in HTTP/1.0' }, { connection: 'close' });
  t.equal(issued(), before, 'no token issued');
  await stillServing(t, bench);
});

t.test('RFC 9112 §6.1: a chunked GET body is forwarded as the body of that GET, never as a second request', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: chunked\r\n\r\n${chunked(SMUGGLED)}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', SMUGGLED]]);
  // Framed once: re-chunked, or by its length when the whole body had arrived before forwarding.
  const { 'transfer-encoding': te, 'content-length': length } = bench.upstream.requests[0]!.headers;
  t.ok(te === 'chunked' ? length === undefined : te === undefined && length === String(SMUGGLED.length), `framing ${te} ${length}`);
  await stillServing(t, bench);
});

t.test('RFC 9112 §6.1: a chunked HEAD body is forwarded as the body of that HEAD, never as a second request', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `HEAD /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: chunked\r\n\r\n${chunked(SMUGGLED)}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(answer.text, /\r\n\r\n$/, 'no body in the answer to HEAD');
  expectForwarded(t, bench, [['HEAD', '/public/x', SMUGGLED]]);
  await stillServing(t, bench);
});

t.test('RFC 9112 §6.2: a GET with Content-Length forwards exactly that body with its length', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', SMUGGLED]]);
  t.equal(bench.upstream.requests[0]!.headers['content-length'], String(SMUGGLED.length));
  await stillServing(t, bench);
});

t.test('RFC 9112 §7.1.2: trailer fields, an Authorization among them, are not forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nAuthorization: Bearer ${bench.tokenA}\r\nX-Trailer: 1\r\n\r\n`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['POST', '/public/x', 'hi']]);
  t.notOk(bench.upstream.raw().toLowerCase().includes('x-trailer'), 'no trailer upstream');
  await stillServing(t, bench);
});

t.test(
  'RFC 9112 §9.3.2: a pipelined request without a token after an authorised one gets 401 and never reaches the upstream',
  async (t) => {
    const bench = await hostileBench(t);
    const answer = await send(
      bench.port,
      `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\nGET /public/y HTTP/1.1\r\n${HOST}\r\n`,
    );
    const statuses = [...answer.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    t.same(statuses, ['200', '401']);
    t.ok(answer.text.endsWith('\r\n\r\n{"message":"bearer token required"}'));
    expectForwarded(t, bench, [['GET', '/public/x', '']]);
    await stillServing(t, bench);
  },
);

// 2000 field lines of "aN:1": Node's default cap, past which it kept framing by fields it hid.
const FILLER = Array.from({ length: 2000 }, (_, i) => `a${i % 10}:1\r\n`).join('');

t.test(
  'Node header cap: a Content-Length after 2000 field lines frames the forwarded body (it was smuggled as a second request)',
  async (t) => {
    const bench = await hostileBench(t);
    const answer = await send(
      bench.port,
      `POST /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}${FILLER}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    );
    t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
    expectForwarded(t, bench, [['POST', '/public/x', SMUGGLED]]);
    await stillServing(t, bench);
  },
);

t.test('Node header cap: Transfer-Encoding after 2000 field lines on a GET frames the forwarded body', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}${FILLER}Transfer-Encoding: chunked\r\n\r\n${chunked(SMUGGLED)}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', SMUGGLED]]);
  await stillServing(t, bench);
});

t.test('RFC 9110 §10.1.1: an expectation other than 100-continue is a JSON 417, nothing forwarded (it was a bare 417)', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `POST /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Expect: 200-ok\r\nContent-Length: 2\r\n\r\nhi`,
  );
  expectJson(t, answer, '417 Expectation Failed', { message: 'only Expect: 100-continue is supported' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});
