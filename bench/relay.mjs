// Raw TCP relay: each client connection gets its own upstream connection and the bytes are copied both
// ways as they come, Nagle off, with no HTTP parsing and no header work at all: one more process in
// the path and nothing else. Not judged. Like the sidecar, it stops reading a socket only when more
// than one chunk waits to be written to the other: pipe(), which stops whenever a write is left
// buffered, cost about twice the CPU per 64 KiB answer at 50 connections (66-103 against 144-205 us in
// one machine's interleaved runs) and made a poor floor there.
// Usage: node bench/relay.mjs UPSTREAM_URL. Prints {"event":"listening","port":N} on stdout.
import net from 'node:net';
import { serveForBench } from './lib/serve.mjs';

/** bytes waiting in a socket's write buffer beyond which the other socket stops being read */
const BACKLOG = 64 * 1024;

function copy(from, to) {
  from.on('data', (chunk) => {
    if (!to.write(chunk) && to.writableLength > BACKLOG) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
}

const upstream = new URL(process.argv[2]);
const server = net.createServer({ noDelay: true }, (client) => {
  const conn = net.connect({ host: upstream.hostname, port: Number(upstream.port), noDelay: true });
  copy(client, conn);
  copy(conn, client);
  client.on('close', () => conn.destroy());
  conn.on('close', () => client.destroy());
});
serveForBench(server);
