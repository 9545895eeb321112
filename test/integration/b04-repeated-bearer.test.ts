/**
 * B04 row 6: a proxied request with two Authorization field lines is malformed whichever line is
 * valid: 400 invalid_request and nothing forwarded (RFC 6750 §3.1; RFC 6749 §5.2 "multiple
 * credentials"). Node keeps only the first line in req.headers, so the count comes from rawHeaders.
 */
import t from 'tap';
import { connect } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';

const INVALID_REQUEST_CHALLENGE =
  'WWW-Authenticate: Bearer realm="api", error="invalid_request", error_description="more than one Authorization header", ' +
  'resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/public"';
const INVALID_REQUEST_BODY = '{"error":"invalid_request","error_description":"more than one Authorization header"}';

/** Sends raw bytes and returns the whole answer once the sidecar closes or answers. */
async function send(port: number, bytes: string, until: RegExp | string): Promise<string> {
  const conn = await connect(port);
  conn.socket.write(bytes);
  const text = await conn.until(until);
  conn.socket.destroy();
  return text;
}

for (const order of ['valid first', 'garbage first'] as const) {
  t.test(`B04(6) RFC 6750 §3.1: GET /public/x with two Authorization: Bearer lines (${order}) is 400 invalid_request`, async (t) => {
    const { sc, upstream, tokenB } = await startStack(t);
    const lines = [`Authorization: Bearer ${tokenB}`, 'Authorization: Bearer garbage'];
    if (order === 'garbage first') lines.reverse();
    const text = await send(
      sc.port,
      `GET /public/x HTTP/1.1\r\nHost: api.example.com\r\n${lines.join('\r\n')}\r\n\r\n`,
      INVALID_REQUEST_BODY,
    );
    t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    t.ok(text.includes(`\r\n${INVALID_REQUEST_CHALLENGE}\r\n`), 'the challenge names invalid_request');
    t.ok(text.endsWith(`\r\n\r\n${INVALID_REQUEST_BODY}`));
    t.equal(upstream.raw(), '', 'nothing was forwarded');
  });
}

t.test('B04(6) RFC 6750 §3.1: two valid Authorization lines with different casing are still 400', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(
    sc.port,
    `GET /public/x HTTP/1.1\r\nHost: api.example.com\r\nauthorization: Bearer ${tokenB}\r\nAUTHORIZATION: Bearer ${tokenB}\r\n\r\n`,
    INVALID_REQUEST_BODY,
  );
  t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.equal(upstream.raw(), '');
});

t.test('B04(6) RFC 9110 §10.1.1: two Authorization lines with Expect: 100-continue get 400 and no 100 Continue', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(
    sc.port,
    `POST /public/x HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${tokenB}\r\nAuthorization: Bearer garbage\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`,
    INVALID_REQUEST_BODY,
  );
  t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.notMatch(text, /100 Continue/);
  t.equal(upstream.raw(), '');
});

t.test('B04(6) RFC 6750 §3.1: a WebSocket handshake with two Authorization lines is 400 and not forwarded', async (t) => {
  const { sc, upstream, tokenB } = await startStack(t);
  const text = await send(
    sc.port,
    `GET /public/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer garbage\r\nAuthorization: Bearer ${tokenB}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    INVALID_REQUEST_BODY,
  );
  t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.ok(text.includes(`\r\n${INVALID_REQUEST_CHALLENGE}\r\n`));
  t.equal(upstream.raw(), '');
});
