// Bench upstream: answers every request with a small JSON body (60 bytes) over keep-alive; a path
// ending in /big gets a 64 KiB JSON body instead; a query with delay=<ms> answers after that delay
// (the soak's client aborts). Usage: node bench/upstream.mjs [PORT] (default 0: any free port).
// Prints {"event":"listening","port":N} on stdout; exits when its parent's stdin pipe closes.
import http from 'node:http';
import { serveForBench } from './lib/serve.mjs';

const small = Buffer.from(JSON.stringify({ ok: true, service: 'bench-upstream', items: [1, 2, 3] }));
const BIG_SIZE = 64 * 1024;
const bigPrefix = '{"ok":true,"service":"bench-upstream","pad":"';
const big = Buffer.from(bigPrefix + 'x'.repeat(BIG_SIZE - bigPrefix.length - 2) + '"}');
const headers = (body) => ({ 'Content-Type': 'application/json', 'Content-Length': body.length });

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const q = req.url.indexOf('?');
    const pathname = q < 0 ? req.url : req.url.slice(0, q);
    const body = pathname.endsWith('/big') ? big : small;
    const delay = q >= 0 && req.url.includes('delay=') ? Number(new URLSearchParams(req.url.slice(q + 1)).get('delay')) : 0;
    const send = () => {
      res.writeHead(200, headers(body));
      res.end(body);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  });
});
// Outlast every client's idle pool, so a pooled socket is never closed under a proxy mid-reuse.
server.keepAliveTimeout = 60_000;
// Connections accepted so far, on request (SIGUSR2): tells whether a proxy reuses its upstream sockets.
let connections = 0;
server.on('connection', () => connections++);
process.on('SIGUSR2', () => process.stdout.write(JSON.stringify({ event: 'stats', connections }) + '\n'));
serveForBench(server, Number(process.argv[2] ?? 0));
