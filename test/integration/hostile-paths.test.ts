/**
 * Issue 6, hostile input: encoded and double-encoded path traversal (RFC 3986 §2.1, §5.2.4). The
 * path checked is the path forwarded, and no spelling climbs out of the collection it was checked
 * against. svc-b may call only /public; B25 pins the single-encoded shapes.
 */
import t from 'tap';
import { BASIC } from '../helpers/config.js';
import { bearer, expectForwarded, expectJson, expectNothingForwarded, HOST, hostileBench, send, stillServing } from '../helpers/hostile.js';

/** svc-b's GET of `target`, forwarded as `forwarded` (still under /public) to the upstream. */
function forwardedAs(name: string, target: string, forwarded: string): void {
  t.test(name, async (t) => {
    const bench = await hostileBench(t);
    const answer = await send(bench.port, `GET ${target} HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
    t.match(answer.text, /^HTTP\/1\.1 200 OK\r\n/);
    expectForwarded(t, bench, [['GET', forwarded, '']]);
    await stillServing(t, bench);
  });
}

/** svc-b's GET of `target` is refused with 400 and `message`. */
function refused(name: string, target: string, message: string): void {
  t.test(name, async (t) => {
    const bench = await hostileBench(t);
    const answer = await send(bench.port, `GET ${target} HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
    expectJson(t, answer, '400 Bad Request', { message });
    expectNothingForwarded(t, bench);
    await stillServing(t, bench);
  });
}

forwardedAs(
  'RFC 3986 §2.4: double-encoded dots (%252e%252e) are data, forwarded still encoded under /public',
  '/public/%252e%252e/orders/1',
  '/public/%252e%252e/orders/1',
);

forwardedAs(
  'RFC 3986 §2.4: a double-encoded slash (%252f) is data, forwarded still encoded under /public',
  '/public/..%252forders/1',
  '/public/..%252forders/1',
);

forwardedAs(
  'RFC 3629 §3: overlong UTF-8 dots (%c0%ae) are not dots: kept escaped (hex upper-cased) under /public',
  '/public/%c0%ae%c0%ae/orders/1',
  '/public/%C0%AE%C0%AE/orders/1',
);

forwardedAs('RFC 3986 §6.2.2.1: escapes that are not UTF-8 (%ff%fe) are kept, upper-cased', '/public/%ff%fe', '/public/%FF%FE');

refused(
  'IIS %u escapes (%u002e) are malformed percent-escapes: 400',
  '/public/%u002e%u002e/orders/1',
  'the path has a malformed percent-escape',
);

refused(
  'Servlet path parameters: "..;" is read as ".." by Tomcat and Jetty: 400 (it was forwarded)',
  '/public/..;/orders/1',
  'the path has a dot segment with ";" parameters',
);

refused(
  'Servlet path parameters: an encoded "%2e%2e;x" is refused the same way',
  '/public/%2e%2e;x=1/orders/1',
  'the path has a dot segment with ";" parameters',
);

t.test('RFC 3986 §5.2.4: a flood of 4000 "../" segments is resolved, checked as /orders/1: 403, nothing forwarded', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `GET /public/${'../'.repeat(4000)}orders/1 HTTP/1.1\r\n${HOST}${bearer(bench.tokenB)}\r\n`);
  t.match(answer.text, /^HTTP\/1\.1 403 Forbidden\r\n/);
  t.equal(answer.body, '{"error":"insufficient_scope","error_description":"the access token does not grant this API collection"}');
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 3986 §5.2.4: /public/../oauth2/token does not reach the token endpoint: 404, no token', async (t) => {
  const bench = await hostileBench(t);
  const body = 'grant_type=client_credentials';
  const answer = await send(
    bench.port,
    `POST /public/../oauth2/token HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  expectJson(t, answer, '404 Not Found', { message: 'no API collection at this path' }, { connection: 'close' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 3986 §6.2.2.2: /oauth2/%74oken is not the token endpoint: 404, no token', async (t) => {
  const bench = await hostileBench(t);
  const answer = await send(bench.port, `POST /oauth2/%74oken HTTP/1.1\r\n${HOST}Authorization: ${BASIC.b}\r\nContent-Length: 0\r\n\r\n`);
  expectJson(t, answer, '404 Not Found', { message: 'no API collection at this path' });
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});
