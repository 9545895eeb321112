// Reload under load (issue 3 capability 2): how long a config change takes to show on the wire, and
// whether any request fails while it applies. Uses dist/ (run `npm run build` first).
//
//   node bench/reload.mjs [--reloads 100] [--connections 50] [--mode kubelet|rename|inplace|all]
//
// Starts an upstream and `node dist/main.js` on a temp config, drives bearer GETs at --connections
// concurrency over keep-alive, and meanwhile changes the config --reloads times, alternating the
// collection's upstream path between /v1 and /v2 (the upstream echoes the path it got, so every
// answer says which config served it). Each change is written as the mode says:
//   kubelet  a ConfigMap update: new timestamped dir, ..data_tmp symlink renamed over ..data
//   rename   a new file renamed over the config
//   inplace  the file truncated and rewritten
// Reload latency = from the write to the first answer from the new upstream path, seen by a probe
// that asks every 2 ms. Dropped = load requests answered non-2xx or failed at the socket.
// Prints a table, then one JSON line per mode; exits 1 if any request was dropped.
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killChildren, NODE_FLAGS_TEXT, SIDECAR_NODE_FLAGS, startChild } from './lib/common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const BASIC = 'Basic ' + Buffer.from('bench-client:bench-secret').toString('base64');
let serial = 0; // kubeletWrite's directory counter

if (process.argv[2] === '--upstream') {
  // The upstream role: answers every request with the path it received.
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ path: req.url });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ event: 'listening', port: server.address().port }) + '\n'));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  const opts = parseArgs(process.argv.slice(2));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'oauth2-sidecar-reload-'));
  process.on('exit', () => {
    killChildren();
    rmSync(tmp, { recursive: true, force: true });
  });
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) {
    console.error('bench/reload: dist/main.js is missing: run `npm run build` first');
    process.exit(2);
  }
  const results = [];
  for (const mode of opts.mode === 'all' ? ['kubelet', 'rename', 'inplace'] : [opts.mode]) {
    results.push(await run(mode, opts, tmp));
  }
  console.log(`\nnode ${process.version}, sidecar with ${NODE_FLAGS_TEXT}`);
  console.log('mode     reloads  applied  failed  latency p50 / p95 / max (ms)   requests   req/s   non-2xx  errors');
  for (const r of results) {
    console.log(
      `${r.mode.padEnd(8)} ${String(r.reloads).padStart(7)}  ${String(r.reloads_ok).padStart(7)}  ${String(r.reloads_failed).padStart(6)}  ` +
        `${`${r.latency_ms.p50} / ${r.latency_ms.p95} / ${r.latency_ms.max}`.padStart(29)}   ${String(r.requests).padStart(8)}  ${String(r.rps).padStart(6)}  ` +
        `${String(r.non_2xx).padStart(7)}  ${String(r.errors).padStart(6)}`,
    );
  }
  for (const r of results) console.log(JSON.stringify(r));
  process.exit(results.some((r) => r.non_2xx + r.errors > 0) ? 1 : 0);
}

async function run(mode, opts, tmp) {
  const dir = path.join(tmp, mode);
  mkdirSync(dir);
  const upstream = startChild('upstream', [path.join(HERE, 'reload.mjs'), '--upstream']);
  const upPort = (await upstream.waitForLine((e) => e.event === 'listening', 10_000)).port;
  const config = (version) =>
    [
      'listen: 127.0.0.1:0',
      'admin_listen: 127.0.0.1:0',
      'domains: [{ host: "*" }]',
      `collections: [{ name: api, path: /api, upstream: "http://127.0.0.1:${upPort}/${version}" }]`,
      'access_profiles: [{ name: bench, client_id: bench-client, client_secret: bench-secret, collections: [api] }]',
      '',
    ].join('\n');
  const file = path.join(dir, 'config.yaml');
  const write = {
    kubelet: (text) => kubeletWrite(dir, 'config.yaml', text),
    rename: (text) => {
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
    },
    inplace: (text) => writeFileSync(file, text),
  }[mode];
  write(config('v1'));
  // The Node flags README advises for this Node, as in the other benches (BENCH_NODE_FLAGS replaces them).
  const sidecar = startChild('sidecar', [...SIDECAR_NODE_FLAGS, path.join(ROOT, 'dist/main.js'), '--config', file], { LOG_LEVEL: 'warn' });
  const port = (await sidecar.waitForLine((e) => e.event === 'listening', 10_000)).port;
  const adminPort = (await sidecar.waitForLine((e) => e.event === 'admin_listening', 10_000)).port;

  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const token = JSON.parse(
    (
      await send(
        port,
        'POST',
        '/oauth2/token',
        { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
        'grant_type=client_credentials',
      )
    ).body,
  ).access_token;
  const bearer = { authorization: `Bearer ${token}` };

  // The load: --connections clients in closed loops over keep-alive.
  const stats = { requests: 0, non2xx: 0, errors: 0, statuses: {}, errorCodes: {} };
  let loading = true;
  const client = async () => {
    while (loading) {
      try {
        const answer = await send(port, 'GET', '/api/items?id=1', bearer, undefined, agent);
        stats.requests++;
        if (answer.status < 200 || answer.status > 299) {
          stats.non2xx++;
          stats.statuses[answer.status] = (stats.statuses[answer.status] ?? 0) + 1;
        }
      } catch (err) {
        stats.errors++;
        stats.errorCodes[err.code ?? err.message] = (stats.errorCodes[err.code ?? err.message] ?? 0) + 1;
      }
    }
  };
  const started = performance.now();
  const clients = Array.from({ length: opts.connections }, client);
  await sleep(500); // load running before the first change

  const latencies = [];
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 1; i <= opts.reloads; i++) {
    const version = i % 2 ? 'v2' : 'v1';
    const at = performance.now();
    write(config(version));
    for (;;) {
      const answer = await send(port, 'GET', '/api/probe', bearer, undefined, probeAgent).catch(() => undefined);
      if (answer?.status === 200 && JSON.parse(answer.body).path === `/${version}/probe`) break;
      if (performance.now() - at > 15_000) throw new Error(`reload ${i} (${mode}) not applied within 15 s`);
      await sleep(2);
    }
    latencies.push(performance.now() - at);
    await sleep(20 + Math.random() * 80); // let the load run on the new config a little
    process.stderr.write(`\r${mode}: reload ${i}/${opts.reloads}`);
  }
  process.stderr.write('\n');
  loading = false;
  await Promise.all(clients);
  const seconds = (performance.now() - started) / 1000;
  const metrics = (await send(adminPort, 'GET', '/metrics')).body;
  const counter = (result) =>
    Number(new RegExp(`^oauth2_sidecar_config_reloads_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  agent.destroy();
  probeAgent.destroy();
  await Promise.all([sidecar.stop(), upstream.stop()]);
  latencies.sort((a, b) => a - b);
  const pick = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return {
    mode,
    reloads: opts.reloads,
    reloads_ok: counter('ok'),
    reloads_failed: counter('failed'),
    latency_ms: { p50: pick(0.5), p95: pick(0.95), max: Math.round(latencies.at(-1)) },
    connections: opts.connections,
    requests: stats.requests,
    rps: Math.round(stats.requests / seconds),
    non_2xx: stats.non2xx,
    errors: stats.errors,
    statuses: stats.statuses,
    error_codes: stats.errorCodes,
    node: process.version,
    sidecar_node_flags: SIDECAR_NODE_FLAGS,
  };
}

/** The kubelet's ConfigMap update (pkg/volume/util/atomic_writer.go), as in test/helpers/kubelet.ts. */
function kubeletWrite(dir, key, text) {
  const dataLink = path.join(dir, '..data');
  const old = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
  const stamp = new Date().toISOString().replace(/[-T:]/g, '_').slice(0, 19);
  const version = `..${stamp}.${process.pid}${String(++serial).padStart(6, '0')}`;
  mkdirSync(path.join(dir, version));
  writeFileSync(path.join(dir, version, key), text);
  symlinkSync(version, path.join(dir, '..data_tmp'));
  renameSync(path.join(dir, '..data_tmp'), dataLink);
  if (!existsSync(path.join(dir, key))) symlinkSync(path.join('..data', key), path.join(dir, key));
  if (old) rmSync(path.join(dir, old), { recursive: true, force: true });
}

function send(port, method, target, headers = {}, body, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: target, headers: { host: 'bench.local', ...headers }, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function parseArgs(argv) {
  const opts = { reloads: 100, connections: 50, mode: 'kubelet' };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (name === '--reloads') opts.reloads = Number(value);
    else if (name === '--connections') opts.connections = Number(value);
    else if (name === '--mode' && ['kubelet', 'rename', 'inplace', 'all'].includes(value)) opts.mode = value;
    else {
      console.error(`usage: node bench/reload.mjs [--reloads 100] [--connections 50] [--mode kubelet|rename|inplace|all]`);
      process.exit(2);
    }
  }
  return opts;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
