// Bare http-proxy 1.18.1 pass-through: no auth, no header hygiene, keep-alive agent to the upstream,
// as the http-proxy README suggests. The baseline the sidecar's cost is measured against.
// Usage: node bench/passthrough.mjs UPSTREAM_URL. Prints {"event":"listening","port":N} on stdout.
import http from 'node:http';
import { serveForBench } from './lib/serve.mjs';
import httpProxy from 'http-proxy';

const target = process.argv[2];
const agent = new http.Agent({ keepAlive: true });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (err, _req, res) => {
  if (res && typeof res.writeHead === 'function' && !res.headersSent) {
    res.writeHead(502, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: String(err.code ?? err.message) }));
  } else res?.destroy?.();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 65_000;
serveForBench(server);
