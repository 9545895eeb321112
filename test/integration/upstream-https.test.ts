/**
 * Collections whose upstream is https: forwarded over TLS with the certificate verified (RFC 9110
 * §4.3.4, RFC 6125): an upstream whose certificate no trusted CA vouches for gets no request at all.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import t from 'tap';
import { connect, getToken, request } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { spawnSidecar } from '../helpers/sidecar-process.js';
import { startSidecar } from '../helpers/sidecar.js';
import { UPSTREAM_CERT, UPSTREAM_KEY } from '../helpers/tls.js';

/**
 * An https upstream with the self-signed test certificate (localhost, 127.0.0.1): echoes method,
 * path, identity and the TLS server name (SNI) it was asked for.
 */
async function httpsUpstream(
  t: { teardown(fn: () => unknown): void },
  host: 'localhost' | '127.0.0.1',
): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = https.createServer({ cert: UPSTREAM_CERT, key: UPSTREAM_KEY }, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const sni = (req.socket as TLSSocket).servername || null;
    const body = JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, client_id: req.headers['x-client-id'], sni });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  // "localhost": wherever it resolves here, the sidecar resolves it the same way
  // A WebSocket handshake is answered 101 with the SNI it came with.
  server.on('upgrade', (req, socket) => {
    seen.push(`upgrade ${req.url}`);
    const sni = (req.socket as TLSSocket).servername || 'none';
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-SNI: ${sni}\r\n\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  server.unref();
  return { url: `https://${host}:${(server.address() as AddressInfo).port}`, seen };
}

t.test('RFC 6125: an https upstream whose certificate no trusted CA vouches for gets no request; the client 502', async (t) => {
  const upstream = await httpsUpstream(t, '127.0.0.1');
  const sc = await startSidecar(testConfig(upstream.url));
  t.teardown(() => sc.close());
  const token = await getToken(sc.port, BASIC.aForm);
  const answer = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${token}` });
  t.same([answer.status, answer.json], [502, { message: 'upstream unavailable' }]);
  t.same(upstream.seen, []);
  t.match(
    sc.logs.find((l) => l.event === 'upstream_error'),
    { status: 502, detail: 'DEPTH_ZERO_SELF_SIGNED_CERT', collection: 'orders' },
  );
});

t.test(
  'RFC 6125 / RFC 6066 §3: with its CA trusted (NODE_EXTRA_CA_CERTS) requests and WebSocket handshakes ask for, and check, the name in the upstream URL, not the client Host',
  async (t) => {
    const upstream = await httpsUpstream(t, 'localhost');
    const dir = t.testdir({ 'ca.pem': UPSTREAM_CERT });
    const sc = await spawnSidecar(t, join(dir, 'config.yaml'), configText(upstream.url), {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') },
    });
    const token = await getToken(sc.port, BASIC.aForm);
    const answer = await request(sc.port, 'GET', '/orders/1?x=1', { authorization: `Bearer ${token}` });
    t.same(
      [answer.status, answer.json],
      [200, { method: 'GET', url: '/orders/1?x=1', host: 'api.example.com', client_id: 'svc-a', sni: 'localhost' }],
    );
    const conn = await connect(sc.port);
    conn.socket.write(
      `GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await conn.closed;
    t.match(conn.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*x-sni: localhost\r\n/i, 'the WebSocket handshake too');
    t.same(upstream.seen, ['GET /orders/1?x=1', 'upgrade /orders/ws']);
  },
);
