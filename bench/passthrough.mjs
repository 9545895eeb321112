// Bare http-proxy 1.18.1 pass-through: no auth, no header hygiene, keep-alive agent to the upstream,
// as the http-proxy README suggests. The baseline the sidecar's cost is measured against. With HP3_DIR
// (the proxy scenario's optional row, BENCH_HP3_DIR), the same with http-proxy-3, the maintained rewrite
// of http-proxy, installed in that directory OUTSIDE this repository (not a dependency; not judged).
// Usage: node bench/passthrough.mjs UPSTREAM_URL [HP3_DIR]. Prints {"event":"listening","port":N} on stdout.
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { serveForBench } from './lib/serve.mjs';

const [target, hp3Dir] = process.argv.slice(2);
// Only the library measured is loaded into the process.
const { createProxyServer } = hp3Dir
  ? createRequire(path.join(path.resolve(hp3Dir), 'package.json'))('http-proxy-3')
  : (await import('http-proxy')).default;
const agent = new http.Agent({ keepAlive: true });
const proxy = createProxyServer({ target, agent });
proxy.on('error', (err, _req, res) => {
  if (res && typeof res.writeHead === 'function' && !res.headersSent) {
    res.writeHead(502, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: String(err.code ?? err.message) }));
  } else res?.destroy?.();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 65_000;
serveForBench(server);
