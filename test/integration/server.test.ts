/**
 * The composition root on the wire: what is answered before any area decides (unknown hosts and
 * paths, methods, malformed requests Node's parser refuses, CONNECT, upgrades) and internal errors.
 */
import t from 'tap';
import { createLogger } from '../../src/log.js';
import type { TokenStore } from '../../src/oauth/tokens.js';
import { Sidecar } from '../../src/server.js';
import { getToken, raw, request } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let sc: RunningSidecar;
t.before(async () => {
  upstream = await startUpstream();
  sc = await startSidecar(testConfig(upstream.url));
});
t.teardown(async () => {
  await sc.close();
  await upstream.close();
});

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };

t.test('ARCHITECTURE §4: an unknown host is 404 with a JSON message, also at /oauth2/token', async (t) => {
  for (const path of ['/public/x', '/oauth2/token']) {
    const answer = await request(sc.port, 'GET', path, { host: 'other.example' });
    t.equal(answer.status, 404, path);
    t.match(answer.headers, JSON_HEADERS);
    t.same(answer.json, { message: 'no such domain' });
  }
});

t.test('RFC 9112 §3.2: an HTTP/1.0 request without Host matches no domain (none is "*" here): 404', async (t) => {
  const answer = await raw(sc.port, 'GET /public/x HTTP/1.0\r\n\r\n');
  t.equal(answer.status, 404);
  t.same(JSON.parse(answer.body), { message: 'no such domain' });
  t.match(sc.logs.at(-1), { event: 'access_denied', host: '', path: '/public/x', status: 404 });
});

t.test('ARCHITECTURE §3: hosts match case-insensitively, with port and trailing dot ignored', async (t) => {
  const answer = await request(sc.port, 'GET', '/public/x', { host: 'API.Example.COM.:8080' });
  t.equal(answer.status, 401);
  t.equal(answer.headers['www-authenticate'], 'Bearer realm="api"');
});

t.test('ARCHITECTURE §4: no collection at the path is 404 before any bearer check', async (t) => {
  const answer = await request(sc.port, 'GET', '/nothing/here', { authorization: 'Bearer abc' });
  t.equal(answer.status, 404);
  t.same(answer.json, { message: 'no API collection at this path' });
});

t.test('ARCHITECTURE §3: mounts match on segment boundaries (/publicity is not /public)', async (t) => {
  const answer = await request(sc.port, 'GET', '/publicity');
  t.equal(answer.status, 404);
});

t.test('RFC 9110 §15.5.6: GET /oauth2/token is 405 with Allow: POST', async (t) => {
  const answer = await request(sc.port, 'GET', '/oauth2/token');
  t.equal(answer.status, 405);
  t.equal(answer.headers.allow, 'POST');
  t.same(answer.json, { message: 'the token endpoint accepts POST only' });
});

t.test('RFC 9112 §3.2: two Host header lines are refused with 400', async (t) => {
  const answer = await raw(sc.port, 'GET /public/x HTTP/1.1\r\nHost: api.example.com\r\nHost: evil.example\r\n\r\n');
  t.equal(answer.status, 400);
  t.equal(answer.headers['content-type'], 'application/json');
  t.same(JSON.parse(answer.body), { message: 'more than one Host header' });
  t.equal(upstream.requests.length, 0);
});

t.test('RFC 9112 §3.2: an absolute-form target naming another host is refused with 400', async (t) => {
  const answer = await raw(sc.port, 'GET http://evil.example/public/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n');
  t.equal(answer.status, 400);
  t.same(JSON.parse(answer.body), { message: 'the request target must be a path (origin-form)' });
});

t.test('a request Node cannot parse gets a JSON 400 and the connection closes', async (t) => {
  const answer = await raw(sc.port, 'GARBAGE\r\n\r\n');
  t.equal(answer.status, 400);
  t.equal(answer.headers['content-type'], 'application/json');
  t.equal(answer.headers.connection, 'close');
  t.same(JSON.parse(answer.body), { message: 'malformed request' });
});

t.test('RFC 6585 §5: headers over the limit get a JSON 431', async (t) => {
  const answer = await raw(sc.port, `GET /public/x HTTP/1.1\r\nHost: api.example.com\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.equal(answer.status, 431);
  t.same(JSON.parse(answer.body), { message: 'request headers too large' });
});

t.test('RFC 9110 §9.3.6: CONNECT is refused with a JSON 405', async (t) => {
  const answer = await raw(sc.port, 'CONNECT upstream.example:443 HTTP/1.1\r\nHost: upstream.example:443\r\n\r\n');
  t.equal(answer.status, 405);
  t.same(JSON.parse(answer.body), { message: 'CONNECT is not supported' });
});

t.test('RFC 9110 §7.8: an h2c upgrade without a body is ignored and answered in HTTP/1.1, then the connection closes', async (t) => {
  const before = upstream.requests.length;
  const token = await getToken(sc.port, BASIC.b);
  const answer = await raw(
    sc.port,
    `GET /public/x HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
  );
  t.equal(answer.status, 200);
  t.equal(answer.headers.connection, 'close');
  t.equal(JSON.parse(answer.body).url, '/public/x');
  t.equal(upstream.requests.length, before + 1);
  const forwarded = upstream.requests.at(-1)!.headers;
  t.equal(forwarded.upgrade, undefined);
  t.equal(forwarded['http2-settings'], undefined);
  t.equal(forwarded.authorization, undefined);
});

t.test('RFC 9110 §7.8: an h2c upgrade with a body cannot be answered on the detached socket: 400, nothing forwarded', async (t) => {
  const before = upstream.requests.length;
  const answer = await raw(
    sc.port,
    'POST /public/x HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nhi',
  );
  t.equal(answer.status, 400);
  t.same(JSON.parse(answer.body), { message: 'only WebSocket upgrades are supported' });
  t.equal(upstream.requests.length, before);
});

t.test('RFC 6750 §3.1: an h2c upgrade without a token is answered 401 like any request', async (t) => {
  const answer = await raw(sc.port, 'GET /public/x HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  t.equal(answer.status, 401);
  t.equal(answer.headers['www-authenticate'], 'Bearer realm="api"');
});

t.test('RFC 9110 §10.1.1: a token request with Expect: 100-continue gets 100 Continue, then its token', async (t) => {
  const body = 'grant_type=client_credentials';
  const answer = await raw(
    sc.port,
    `POST /oauth2/token HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body}`,
  );
  t.match(answer.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  t.match(answer.text, /"token_type":"bearer","expires_in":3599}$/);
});

t.test('RFC 9112 §3.2: a WebSocket handshake with two Host lines is refused with 400, nothing forwarded', async (t) => {
  const before = upstream.requests.length;
  const answer = await raw(
    sc.port,
    'GET /public/ws HTTP/1.1\r\nHost: api.example.com\r\nHost: evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.equal(answer.status, 400);
  t.same(JSON.parse(answer.body), { message: 'more than one Host header' });
  t.equal(upstream.requests.length, before);
});

t.test('logs below the configured level are not built: a forwarded request at level warn writes no line', async (t) => {
  const lines: string[] = [];
  const { Writable } = await import('node:stream');
  const log = createLogger({
    level: 'warn',
    destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
  });
  const config = testConfig(upstream.url);
  const quiet = new Sidecar({ config: { ...config, listen: { host: '127.0.0.1', port: 0 } }, log });
  const { port } = await quiet.listen();
  t.teardown(() => quiet.close());
  const token = await getToken(port, BASIC.b);
  t.equal((await request(port, 'GET', '/public/x', { authorization: `Bearer ${token}` })).status, 200);
  t.equal((await request(port, 'GET', '/public/x')).status, 401);
  t.same(lines, []);
});

t.test('slowloris: headers trickled past the headers timeout get a JSON 408 and the connection closes', async (t) => {
  const { connect } = await import('node:net');
  const config = testConfig(upstream.url);
  const strict = new Sidecar({
    config: { ...config, listen: { host: '127.0.0.1', port: 0 } },
    log: createLogger({ level: 'silent' }),
    headersTimeoutMs: 300,
  });
  const { port } = await strict.listen();
  t.teardown(() => strict.close());
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.write('GET /public/x HTTP/1.1\r\nHost: api.example.com\r\n');
  const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
  const started = Date.now();
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(trickle);
  t.ok(Date.now() - started < 3000, 'cut within seconds, not after the trickle ends');
  t.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.match(text, /\r\n\r\n\{"message":"request timed out"\}$/);
});

t.test('a failing token store is a 500 JSON without internals, logged as internal_error', async (t) => {
  const lines: string[] = [];
  const { Writable } = await import('node:stream');
  const log = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  const store: TokenStore = {
    issue: () => Promise.reject(new Error('store down at 10.0.0.9')),
    lookup: () => Promise.reject(new Error('store down at 10.0.0.9')),
    revokeProfile: () => Promise.reject(new Error('store down at 10.0.0.9')),
    revoke: () => Promise.reject(new Error('store down at 10.0.0.9')),
    size: 0,
    close: () => {},
  };
  const config = testConfig(upstream.url);
  const broken = new Sidecar({ config: { ...config, listen: { host: '127.0.0.1', port: 0 } }, log, store });
  const { port } = await broken.listen();
  t.teardown(() => broken.close());

  const bearer = await request(port, 'GET', '/public/x', { authorization: 'Bearer abc' });
  t.equal(bearer.status, 500);
  t.same(bearer.json, { message: 'internal error' });

  const token = await request(
    port,
    'POST',
    '/oauth2/token',
    { authorization: BASIC.b, 'content-type': 'application/x-www-form-urlencoded' },
    'grant_type=client_credentials',
  );
  t.equal(token.status, 500);
  t.same(token.json, { error: 'server_error', error_description: 'internal error' });

  const ws = await raw(
    port,
    'GET /public/x HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer abc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  t.equal(ws.status, 500);
  t.same(JSON.parse(ws.body), { message: 'internal error' });
  for (const answer of [bearer, token]) t.notMatch(answer.body, /10\.0\.0\.9|Error|at /);
  t.match(lines.join(''), /"event":"internal_error"/);

  // A reload that removes a profile revokes its tokens; a store that cannot is logged, not fatal.
  broken.reload({ ...config, access_profiles: config.access_profiles.filter((p) => p.name !== 'b') });
  await new Promise((resolve) => setImmediate(resolve));
  t.match(lines.join(''), /"event":"revoke_failed","access_profile":"b"/);
});
