// Bare undici pass-through: no auth, no header work beyond what undici refuses to be handed (the
// hop-by-hop Connection, Keep-Alive and Transfer-Encoding; it frames the body itself), a keep-alive
// undici Pool to the upstream. How the sidecar forwards plain requests (src/proxy/forward.ts), minus
// its checks: the sidecar's own cost is the difference. Not judged.
// Usage: node bench/passthrough-undici.mjs UPSTREAM_URL. Prints {"event":"listening","port":N} on stdout.
import http from 'node:http';
import { Pool } from 'undici';
import { serveForBench } from './lib/serve.mjs';

const pool = new Pool(new URL(process.argv[2]).origin);
const REFUSED = new Set(['connection', 'keep-alive', 'transfer-encoding']);

class Relay {
  constructor(res) {
    this.res = res;
  }
  onConnect() {}
  onHeaders(status, rawHeaders, resume, statusText) {
    if (status < 200) return true;
    const lines = rawHeaders.map((b) => b.toString('latin1'));
    const out = [];
    for (let i = 0; i < lines.length; i += 2) if (!REFUSED.has(lines[i].toLowerCase())) out.push(lines[i], lines[i + 1]);
    this.res.writeHead(status, statusText, out);
    this.res.on('drain', resume);
    return true;
  }
  onData(chunk) {
    return this.res.write(chunk);
  }
  onComplete() {
    this.res.end();
  }
  onError(err) {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.writeHead(502, { 'Content-Type': 'application/json' });
      this.res.end(JSON.stringify({ message: String(err.code ?? err.message) }));
    }
  }
}

const server = http.createServer((req, res) => {
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!REFUSED.has(req.rawHeaders[i].toLowerCase())) headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const body = req.complete && req.readableLength === 0 ? null : req;
  pool.dispatch({ path: req.url, method: req.method, headers, body }, new Relay(res));
});
server.keepAliveTimeout = 65_000;
serveForBench(server);
