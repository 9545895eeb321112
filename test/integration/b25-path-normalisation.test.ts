/**
 * B25: the path authorised is byte for byte the path forwarded. Dot segments (also as %2e) are
 * resolved before the check, "//" runs collapsed, ambiguous spellings (%2f, \, %00, bad escapes)
 * refused with 400, and the query left alone (RFC 3986 §2.2, §5.2.4, §6.2.2.2; RFC 6750 §3.1).
 * Client svc-b may call only /public; svc-a only /orders.
 */
import t from 'tap';
import { connect } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';

/** Sends one raw request line for `token` and returns the whole answer once complete. */
async function send(port: number, target: string, token: string): Promise<string> {
  const conn = await connect(port);
  conn.socket.write(`GET ${target} HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
  await conn.closed;
  return conn.text();
}

/** The exact 400 answer for a refused spelling. */
const badRequest = (message: string): string => {
  const body = JSON.stringify({ message });
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nPragma: no-cache\r\n`;
};
const ENCODED_SLASH = 'the path has an encoded slash, backslash or control character';
const BAD_CHARACTER = 'the path has a character that must be percent-encoded';
const BAD_ESCAPE = 'the path has a malformed percent-escape';
const INSUFFICIENT_SCOPE =
  'WWW-Authenticate: Bearer realm="api", error="insufficient_scope", error_description="the access token does not grant this API collection", scope="orders", ' +
  'resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/orders"';

/** The request line the upstream received (or undefined). */
const upstreamLine = (rawBytes: string): string | undefined => (rawBytes ? rawBytes.slice(0, rawBytes.indexOf('\r\n')) : undefined);

for (const target of ['/public/../orders/1', '/public/%2e%2e/orders/1', '/public/%2E%2e/orders/1', '/public/.%2E/orders/1']) {
  t.test(`B25 RFC 3986 §5.2.4, §6.2.2.2, RFC 6750 §3.1: svc-b on ${target} is checked as /orders/1: 403 insufficient_scope`, async (t) => {
    const { sc, upstream, tokenB } = await startStack(t);
    const text = await send(sc.port, target, tokenB);
    t.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/);
    t.ok(text.includes(`\r\n${INSUFFICIENT_SCOPE}\r\n`), 'challenge with error and scope');
    t.match(text, /\r\n\r\n\{"error":"insufficient_scope","error_description":"the access token does not grant this API collection"\}$/);
    t.equal(upstream.raw(), '', 'nothing reached the upstream');
  });
}

for (const [target, message] of [
  ['/public/%2E%2e%2forders/1', ENCODED_SLASH],
  ['/public/..%2forders/1', ENCODED_SLASH],
  ['/public/..%2Forders/1', ENCODED_SLASH],
  ['/public/..%5corders/1', ENCODED_SLASH],
  ['/public/%00', ENCODED_SLASH],
  ['/public\\..\\orders/1', BAD_CHARACTER],
  ['/public/%zz', BAD_ESCAPE],
  ['/public/%2', BAD_ESCAPE],
] as const) {
  t.test(`B25 RFC 3986 §2.2: ${target} is ambiguous and refused with 400`, async (t) => {
    const { sc, upstream, tokenB } = await startStack(t);
    const text = await send(sc.port, target, tokenB);
    t.ok(text.startsWith(badRequest(message)), text);
    t.ok(text.endsWith(`\r\n\r\n${JSON.stringify({ message })}`));
    t.equal(upstream.raw(), '', 'nothing reached the upstream');
  });
}

t.test(
  'B25 RFC 3986 §6.2.2.1: /public/%252e%252e/orders/1 is decoded once only and forwarded verbatim, never served from /orders',
  async (t) => {
    const { sc, upstream, tokenB } = await startStack(t);
    const text = await send(sc.port, '/public/%252e%252e/orders/1', tokenB);
    t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    t.equal(upstreamLine(upstream.raw()), 'GET /public/%252e%252e/orders/1 HTTP/1.1');
  },
);

t.test('B25 RFC 3986 §5.2.4: svc-a on //orders/1 is checked and forwarded as /orders/1', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const text = await send(sc.port, '//orders/1', tokenA);
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(upstreamLine(upstream.raw()), 'GET /orders/1 HTTP/1.1');
});

t.test('B25 RFC 6750 §3.1: svc-b on //orders/1 is checked as /orders/1: 403, nothing forwarded', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(sc.port, '//orders/1', tokenB);
  t.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/);
  t.ok(text.includes(`\r\n${INSUFFICIENT_SCOPE}\r\n`));
  t.equal(upstream.raw(), '');
});

t.test('B25 RFC 3986 §5.2.4: /public//docs is 200 and the upstream path equals the checked path', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(sc.port, '/public//docs', tokenB);
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(upstreamLine(upstream.raw()), 'GET /public/docs HTTP/1.1');
});

t.test('B25 RFC 3986 §3.4: /public/docs?next=//x/../y is 200 with the query untouched', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(sc.port, '/public/docs?next=//x/../y', tokenB);
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(upstreamLine(upstream.raw()), 'GET /public/docs?next=//x/../y HTTP/1.1');
});

t.test('B25 RFC 3986 §3.4: the query is untouched when the path is normalised', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  await send(sc.port, '/public/./a/../docs//?q=%2f..%2F&r=\\', tokenB);
  t.equal(upstreamLine(upstream.raw()), 'GET /public/docs/?q=%2f..%2F&r=\\ HTTP/1.1');
});

t.test('B25 RFC 3986 §6.2.2.2: escaped unreserved characters are decoded before the check and forwarded decoded', async (t) => {
  const { sc, upstream, tokenA } = await startStack(t);
  const text = await send(sc.port, '/%6Frders/%7Eitem', tokenA);
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(upstreamLine(upstream.raw()), 'GET /orders/~item HTTP/1.1');
});

t.test('B25 RFC 3986 §5.2.4: dot segments that leave every collection get 404', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(sc.port, '/public/..', tokenB);
  t.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
  t.ok(text.endsWith('\r\n\r\n{"message":"no API collection at this path"}'));
  t.equal(upstream.raw(), '');
});

t.test('B25 RFC 9112 §3.2.2: an absolute-form target is refused with 400', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(sc.port, 'http://internal.example/orders/1', tokenB);
  t.ok(text.startsWith(badRequest('the request target must be a path (origin-form)')), text);
  t.equal(upstream.raw(), '');
});
