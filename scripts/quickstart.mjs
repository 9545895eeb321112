// `npm start`: the quick start. Runs the demo upstream on 127.0.0.1:3000 (what the shipped
// config.yaml forwards to) and the built sidecar on config.yaml, in one process; Ctrl-C stops both.
// In production run `node dist/main.js --config PATH` in front of your own API instead.
import http from 'node:http';
import { main } from '../dist/main.js';

const upstream = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    const body = { upstream: 'demo', method: req.method, url: req.url, headers: req.headers, body_bytes: bytes };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body, null, 2) + '\n');
  });
});
// A taken port is the one likely failure here: say so in a line, not with a stack trace.
const failure = await new Promise((resolve) => {
  upstream.once('error', resolve);
  upstream.listen(3000, '127.0.0.1', () => resolve(undefined));
});
if (failure) {
  console.error(
    `demo upstream: cannot listen on 127.0.0.1:3000 (${failure.code ?? failure.message}); config.yaml forwards there: free the port and run npm start again`,
  );
  process.exit(1);
}
console.error('demo upstream listening on http://127.0.0.1:3000');

const running = await main({
  argv: ['--config', process.env.CONFIG_FILE ?? 'config.yaml'],
  env: process.env,
  stderr: (l) => console.error(l),
});
if (typeof running === 'number') process.exit(running);
const stop = () =>
  running.stop(false).then((code) => {
    upstream.close();
    process.exit(code);
  });
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
process.on('SIGHUP', () => void running.watcher.check());
