/**
 * DEP0060: http-proxy 1.18.1 keeps the `util._extend` it finds when it loads and calls it on every
 * WebSocket upgrade. Node 22 and later deprecate that function and print a plain-text warning at its
 * first call, which in the image (Node 24) landed in the JSON log. src/proxy/forward.ts loads
 * http-proxy with `Object.assign` in its place. Node 20 (CI) does not warn, so this file stands in a
 * counting `util._extend` for Node's own before the sidecar's modules load: had http-proxy kept it, the
 * upgrade below would call it.
 */
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import t from 'tap';

const util = createRequire(import.meta.url)('node:util') as { _extend: unknown };
let calls = 0;
const counting = (target: object, source: object): object => {
  calls++;
  return Object.assign(target, source);
};
util._extend = counting;
// Only now the modules that load http-proxy (through src/proxy/forward.ts).
const { startStack } = await import('../helpers/stack.js');
const { connect } = await import('../helpers/client.js');
const { startUpstream } = await import('../helpers/upstream.js');

t.test('DEP0060: util._extend is put back once http-proxy has loaded', async (t) => {
  await import('../../src/proxy/forward.js');
  t.equal(util._extend, counting);
});

t.test('DEP0060: a WebSocket upgrade is forwarded without calling the deprecated util._extend', async (t) => {
  const upstream = await startUpstream(undefined, {
    upgrade: (_req, socket: Socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
  });
  const { sc, tokenA } = await startStack(t, { upstream });
  const conn = await connect(sc.port);
  conn.socket.write(
    'GET /orders/ws HTTP/1.1\r\nHost: api.example.com\r\n' +
      `Authorization: Bearer ${tokenA}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
  );
  await conn.until('\r\n\r\n');
  t.match(conn.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.equal(calls, 0, 'http-proxy copied its options and headers with Object.assign');
});
