// Bare http-proxy-3 pass-through, for the proxy scenario's optional row (BENCH_HP3_DIR): the same as
// bench/passthrough.mjs (no auth, no header work, keep-alive http.Agent) with http-proxy-3, the
// maintained rewrite of http-proxy, in place of http-proxy 1.18.1. Not a dependency of this
// repository: HP3_DIR is a directory OUTSIDE it where `npm install http-proxy-3` was run. Not judged.
// Usage: node bench/passthrough-hp3.mjs HP3_DIR UPSTREAM_URL. Prints {"event":"listening","port":N} on stdout.
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { serveForBench } from './lib/serve.mjs';

const [dir, target] = process.argv.slice(2);
const { createProxyServer } = createRequire(path.join(path.resolve(dir), 'package.json'))('http-proxy-3');
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
