/**
 * Issue 6, hostile input: header fields (RFC 9110 §5, §7.2; RFC 9112 §3.2, §5): missing, empty and
 * repeated Host and Authorization, NUL and non-UTF-8 bytes, malformed field lines. Each is refused
 * with its exact answer or forwarded without credentials, and the sidecar keeps serving.
 */
import t from 'tap';
import { resourceMetadataAttr } from '../helpers/expect.js';
import {
  bearer,
  expectForwarded,
  expectJson,
  expectNothingForwarded,
  HOST,
  hostileBench,
  send,
  stillServing,
  refusedByParser,
} from '../helpers/hostile.js';

const NO_DOMAIN = { message: 'no such domain' };
// Node's default cap on field lines; lines past it used to be invisible to the sidecar.
const FILLER = Array.from({ length: 2000 }, (_, i) => `a${i % 10}:1\r\n`).join('');

t.test('RFC 9112 §3.2: an HTTP/1.1 request without Host is a JSON 400 and the connection closes (it was a bare 400)', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/x HTTP/1.1\r\n${bearer(bench.tokenB)}\r\n`);
  expectJson(t, answer, '400 Bad Request', { message: 'the Host header is required' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9112 §3.2: a second Host line after 2000 field lines is still counted: 400', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}${FILLER}Host: evil.example\r\n\r\n`);
  expectJson(t, answer, '400 Bad Request', { message: 'more than one Host header' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 6750 §3.1: a second Authorization line after 2000 field lines is still counted: 400 invalid_request', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /orders/1 HTTP/1.1\r\n${HOST}${bearer(bench.tokenA)}${FILLER}${bearer(bench.tokenB)}\r\n`);
  const error = { error: 'invalid_request', error_description: 'more than one Authorization header' };
  expectJson(t, answer, '400 Bad Request', error, {
    'www-authenticate': `Bearer realm="api", error="invalid_request", error_description="more than one Authorization header", ${resourceMetadataAttr('orders')}`,
  });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9110 §7.2: an empty Host matches no domain: 404', async (t) => {
  const bench = await hostileBench(t);
  expectJson(t, await send(bench.port, `GET /public/x HTTP/1.1\r\nHost:\r\n${bearer(bench.tokenB)}\r\n`), '404 Not Found', NO_DOMAIN);
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9110 §7.2: a Host with userinfo ("evil@api.example.com") matches no domain: 404', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/x HTTP/1.1\r\nHost: evil@api.example.com\r\n${bearer(bench.tokenB)}\r\n`);
  expectJson(t, answer, '404 Not Found', NO_DOMAIN);
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9110 §7.2: a non-UTF-8 byte in Host matches no domain: 404', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    Buffer.from(`GET /public/x HTTP/1.1\r\nHost: api.example.com\xff\r\n${bearer(bench.tokenB)}\r\n`, 'latin1'),
  );
  expectJson(t, answer, '404 Not Found', NO_DOMAIN);
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

refusedByParser(
  t,
  'RFC 9110 §5.5: NUL in a field value is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X-N: a\x00b\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9110 §5.1: NUL in a field name is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X\x00N: a\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9110 §5.5: NUL inside the bearer token is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}Authorization: Bearer ${token}\x00\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9110 §5.1: a space inside a field name is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}X Y: 1\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §5: a field line without a colon is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n${HOST}${bearer(token)}Xnocolon\r\n\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §2.2: whitespace before the first field line is refused with 400',
  (token) => `GET /public/x HTTP/1.1\r\n ${HOST}${bearer(token)}\r\n`,
);

t.test('RFC 9110 §5.5: a non-UTF-8 (obs-text) byte in a field value is forwarded byte for byte, credentials stripped', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    Buffer.from(`GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}X-Latin: caf\xe9\r\n\r\n`, 'latin1'),
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  t.ok(bench.upstream.raw().includes('x-latin: caf\xe9\r\n'), 'the byte 0xE9 arrived as it was sent');
  await stillServing(t, bench);
});

t.test('RFC 6750 §2.1: a non-ASCII byte appended to a valid token is 400 invalid_request, nothing forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    Buffer.from(`GET /public/x HTTP/1.1\r\n${HOST}Authorization: Bearer ${bench.tokenB}\xe9\r\n\r\n`, 'latin1'),
  );
  expectJson(
    t,
    answer,
    '400 Bad Request',
    { error: 'invalid_request', error_description: 'malformed bearer credentials' },
    {
      'www-authenticate': `Bearer realm="api", error="invalid_request", error_description="malformed bearer credentials", ${resourceMetadataAttr('public')}`,
    },
  );
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 6750 §2.1: a token with a UTF-8 look-alike character is 400 invalid_request, not normalised to a valid one', async (t) => {
  const bench = await hostileBench(t);
  // U+FF41 FULLWIDTH "a" in place of the token's first hex digit, sent as its UTF-8 bytes.
  const lookAlike = Buffer.concat([
    Buffer.from(`GET /public/x HTTP/1.1\r\n${HOST}Authorization: Bearer `),
    Buffer.from('\uff41'),
    Buffer.from(`${bench.tokenB.slice(1)}\r\n\r\n`),
  ]);
  const answer = await send(bench.port, lookAlike);
  t.match(answer.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.equal(answer.body, '{"error":"invalid_request","error_description":"malformed bearer credentials"}');
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 6455 §4.1: Upgrade: websocket without Connection: upgrade is an ordinary request, forwarded without Upgrade', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Upgrade: websocket\r\n\r\n`);
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  expectForwarded(t, bench, [['GET', '/public/x', '']]);
  t.equal(bench.upstream.requests[0]!.headers.upgrade, undefined);
  await stillServing(t, bench);
});

t.test('RFC 9110 §5.3: repeated Set-Cookie lines in a request reach the upstream as the same separate lines', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n`,
  );
  t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
  const raw = bench.upstream.requests[0]!.rawHeaders;
  t.same(
    raw.flatMap((name, i) => (i % 2 === 0 && name.toLowerCase() === 'set-cookie' ? [raw[i + 1]] : [])),
    ['a=1', 'b=2'],
  );
});
