/**
 * Issue 6, hostile input: request targets and request lines (RFC 9112 §3), CONNECT and upgrades.
 * Only origin-form reaches routing; the shapes server.test.ts and B25 already pin (absolute-form
 * naming another host on GET, plain CONNECT, h2c with and without a body) are not repeated here.
 */
import t from 'tap';
import { BASIC } from '../helpers/config.js';
import {
  bearer,
  expectJson,
  expectNothingForwarded,
  HOST,
  hostileBench,
  rawRefusal,
  send,
  stillServing,
  refusedByParser,
} from '../helpers/hostile.js';

const ORIGIN_FORM = { message: 'the request target must be a path (origin-form)' };
const TOKEN_BODY = 'grant_type=client_credentials';

t.test('RFC 9112 §3.2.2: an absolute-form target at the token endpoint is 400 and the connection closes, no token', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `POST http://evil.example/oauth2/token HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${TOKEN_BODY.length}\r\n\r\n${TOKEN_BODY}`,
  );
  expectJson(t, answer, '400 Bad Request', ORIGIN_FORM, { connection: 'close' });
  t.notOk(answer.text.includes('access_token'));
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9112 §3.2.2: an absolute-form target naming the upstream itself is 400, its own Host notwithstanding', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET ${bench.upstream.url}/public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
  expectJson(t, answer, '400 Bad Request', ORIGIN_FORM);
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 9112 §3.2.4: asterisk-form (OPTIONS *) is refused with 400', async (t) => {
  const bench = await hostileBench(t);
  expectJson(t, await send(bench.port, `OPTIONS * HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`), '400 Bad Request', ORIGIN_FORM);
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

refusedByParser(
  t,
  'RFC 9112 §3.2.3: authority-form on a GET is refused with 400',
  (token) => `GET api.example.com:80 HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`,
);

t.test("RFC 9110 §9.3.6: CONNECT to the upstream's own address with a valid token is 405; the upstream sees no connection", async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `CONNECT 127.0.0.1:${bench.upstream.port} HTTP/1.1\r\nHost: 127.0.0.1:${bench.upstream.port}\r\n${bearer(bench.tokenB)}\r\nGET /orders/1 HTTP/1.1\r\n${HOST}\r\n`,
  );
  t.equal(answer.text, rawRefusal('405 Method Not Allowed', 'CONNECT is not supported'));
  expectNothingForwarded(t, bench);
  t.equal(bench.upstream.sockets.size, 0, 'no connection to the upstream');
  await stillServing(t, bench);
});

t.test('RFC 9110 §7.8: Upgrade: h2c with a second request pipelined behind it is 400, neither forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(
    bench.port,
    `GET /public/x HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}Connection: Upgrade\r\nUpgrade: h2c\r\n\r\nGET /orders/1 HTTP/1.1\r\n${HOST}\r\n`,
  );
  t.equal(answer.text, rawRefusal('400 Bad Request', 'only WebSocket upgrades are supported'));
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

refusedByParser(
  t,
  'RFC 9113 §3.4: the HTTP/2 connection preface (prior knowledge) on the HTTP/1.1 port is refused with 400',
  () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
);

refusedByParser(
  t,
  'RFC 9110 §9.1: methods are case-sensitive: "get" is refused with 400',
  (token) => `get /public/x HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §2.3: an unknown HTTP version (HTTP/1.2) is refused with 400',
  (token) => `GET /public/x HTTP/1.2\r\n${HOST}${bearer(token)}\r\n`,
);

refusedByParser(
  t,
  'RFC 9112 §3: NUL in the request target is refused with 400',
  (token) => `GET /public/x\x00/../../orders/1 HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`,
);

refusedByParser(t, 'RFC 3986 §2.1: raw UTF-8 bytes in the path are refused with 400', (token) =>
  Buffer.from(`GET /public/caf\xc3\xa9 HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`, 'latin1'),
);

refusedByParser(t, 'RFC 3986 §2.1: a raw non-UTF-8 byte in the path is refused with 400', (token) =>
  Buffer.from(`GET /public/caf\xe9 HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`, 'latin1'),
);

refusedByParser(
  t,
  'RFC 9112 §3: a space inside the target (a fourth request-line part) is refused with 400',
  (token) => `GET /public/x /orders/1 HTTP/1.1\r\n${HOST}${bearer(token)}\r\n`,
);

t.test('RFC 9112 §3.2: a fragment in the target is refused with 400', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/x#/../../orders/1 HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
  expectJson(t, answer, '400 Bad Request', { message: 'the path has a character that must be percent-encoded' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});
