// The loopback round trip between two Node processes: one byte there and back, one at a time, over a
// TCP connection with Nagle off. What a forwarder's extra hop costs at 1 connection before any HTTP
// work: mostly waking the other process, which on a VM whose idle vCPUs halt costs far more across
// CPUs than on one (run it under `taskset -c 0` to see).
// Prints {"p50_us","p99_us","round_trips"} on stdout.
// Usage: node bench/round-trip.mjs [ROUND_TRIPS] (default 20000; the first tenth is warm-up)
import net from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === 'echo') {
  const server = net.createServer((c) => {
    c.setNoDelay(true);
    c.on('data', (d) => c.write(d));
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
} else {
  const n = Number(process.argv[2] ?? 20_000);
  const echo = fork(fileURLToPath(import.meta.url), ['echo']);
  const port = await new Promise((resolve) => echo.once('message', resolve));
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await new Promise((resolve) => {
      socket.once('data', resolve);
      socket.write('x');
    });
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const kept = times.slice(Math.floor(n / 10)).sort((a, b) => a - b);
  const at = (p) => Math.round(kept[Math.min(kept.length - 1, Math.floor(kept.length * p))] * 10) / 10;
  process.stdout.write(JSON.stringify({ p50_us: at(0.5), p99_us: at(0.99), round_trips: kept.length }) + '\n');
  socket.destroy();
  echo.disconnect();
}
