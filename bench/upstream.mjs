// Bench upstream: answers every request with a small JSON body over keep-alive.
// Prints {"event":"listening","port":N} on stdout; exits when its parent's stdin pipe closes.
import http from 'node:http';

const body = JSON.stringify({ ok: true, service: 'bench-upstream', items: [1, 2, 3] });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
// Outlast every client's idle pool, so a pooled socket is never closed under a proxy mid-reuse.
server.keepAliveTimeout = 60_000;
// Connections accepted so far, on request (SIGUSR2): tells whether a proxy reuses its upstream sockets.
let connections = 0;
server.on('connection', () => connections++);
process.on('SIGUSR2', () => process.stdout.write(JSON.stringify({ event: 'stats', connections }) + '\n'));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'listening', port: server.address().port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
