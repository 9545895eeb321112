// Raw TCP relay: each client connection gets its own upstream connection and the bytes are copied both
// ways as they come, Nagle off, with no HTTP parsing and no header work at all: one more process in
// the path and nothing else. Not judged. Like any pipe(), it pauses reading while a write is buffered.
// Usage: node bench/relay.mjs UPSTREAM_URL. Prints {"event":"listening","port":N} on stdout.
import net from 'node:net';
import { serveForBench } from './lib/serve.mjs';

const upstream = new URL(process.argv[2]);
const server = net.createServer({ noDelay: true }, (client) => {
  const conn = net.connect({ host: upstream.hostname, port: Number(upstream.port), noDelay: true });
  client.pipe(conn).on('error', () => client.destroy()); // pipe() returns its destination
  conn.pipe(client).on('error', () => conn.destroy());
  client.on('close', () => conn.destroy());
  conn.on('close', () => client.destroy());
});
serveForBench(server);
