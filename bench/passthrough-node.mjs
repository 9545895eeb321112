// Bare node:http pass-through: no auth, no header work, a keep-alive http.Agent to the upstream, the
// request and the response piped as they are. What forwarding costs in Node without a proxy library;
// the sidecar forwards plain requests this way (src/proxy/forward.ts), plus its checks.
// Usage: node bench/passthrough-node.mjs UPSTREAM_URL. Prints {"event":"listening","port":N} on stdout.
import http from 'node:http';
import { serveForBench } from './lib/serve.mjs';

const target = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const proxyReq = http.request({
    agent,
    hostname: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: req.headers,
  });
  proxyReq.on('response', (proxyRes) => {
    res.writeHead(proxyRes.statusCode, proxyRes.statusMessage, proxyRes.rawHeaders);
    proxyRes.pipe(res);
  });
  proxyReq.on('error', (err) => {
    if (res.headersSent) res.destroy();
    else {
      res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: String(err.code ?? err.message) }));
    }
  });
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy();
  });
  req.pipe(proxyReq);
});
server.keepAliveTimeout = 65_000;
serveForBench(server);
