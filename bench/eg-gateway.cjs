// Express Gateway beside the sidecar, for bench/run.mjs's optional `eg` scenario (BENCH_EG_DIR).
// Usage: node bench/eg-gateway.cjs EG_DIR UPSTREAM_URL
// EG_DIR is a directory OUTSIDE this repository where `npm install express-gateway` was run
// (express-gateway is not a dependency of oauth2-sidecar). This writes a config to a temp dir: one API
// endpoint, the `oauth2` policy (bearer validation, client credentials at POST /oauth2/token) and the
// `proxy` policy to UPSTREAM_URL; the in-memory Redis emulation (`emulate: true`); admin API on
// loopback. It then creates a user, an app and oauth2 credentials through the admin API, and prints
// {"event":"listening","port":N,"client_id":...,"client_secret":...} on stdout. Exits when stdin closes.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const [egDir, upstream] = process.argv.slice(2);
if (!egDir || !upstream) {
  console.error('usage: node bench/eg-gateway.cjs EG_DIR UPSTREAM_URL');
  process.exit(2);
}

main().catch((err) => {
  console.error(`eg-gateway: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});

async function main() {
  const pkgDir = path.join(path.resolve(egDir), 'node_modules', 'express-gateway');
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-bench-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(pkgDir, 'lib', 'config', 'models'), path.join(dir, 'models'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'gateway.config.yml'),
    `http:
  port: ${port}
admin:
  port: ${adminPort}
  host: 127.0.0.1
apiEndpoints:
  api:
    host: '*'
    paths: ['/api/*']
serviceEndpoints:
  backend:
    url: '${upstream}'
policies: [oauth2, proxy]
pipelines:
  bench:
    apiEndpoints: [api]
    policies:
      - oauth2:
      - proxy:
          - action:
              serviceEndpoint: backend
              changeOrigin: true
              stripPath: true
`,
  );
  fs.writeFileSync(
    path.join(dir, 'system.config.yml'),
    `db:
  redis:
    emulate: true
    namespace: EG
crypto:
  cipherKey: benchCipherKey
  algorithm: aes256
  saltRounds: 10
session:
  secret: bench
  resave: false
  saveUninitialized: false
accessTokens:
  timeToExpiry: 7200000
refreshTokens:
  timeToExpiry: 7200000
authorizationCodes:
  timeToExpiry: 300000
`,
  );
  process.env.EG_CONFIG_DIR = dir;
  // EG logs every request at info through winston; keep the bench's pipes quiet.
  process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'warn';
  await require(pkgDir)().load(dir).run();

  const admin = `http://127.0.0.1:${adminPort}`;
  const post = async (p, body) => {
    const res = await fetch(admin + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`admin POST ${p}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const user = await post('/users', { username: 'bench', firstname: 'bench', lastname: 'bench' });
  const app = await post('/apps', { userId: user.id, name: 'bench-app', redirectUri: 'http://127.0.0.1/cb' });
  const cred = await post('/credentials', { consumerId: app.id, type: 'oauth2', credential: { scopes: [] } });
  process.stdout.write(
    JSON.stringify({
      event: 'listening',
      port,
      client_id: cred.id,
      client_secret: cred.secret,
      version: require(pkgDir + '/package.json').version,
    }) + '\n',
  );
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
