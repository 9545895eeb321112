// Scenario "stores": bearer-validated requests/s of the sidecar with each token store, interleaved:
// in-memory (the default), Redis with its read cache (store.cache_ttl_ms 2000, the default), Redis
// asked on every request (cache_ttl_ms 0), and JWT tokens (EdDSA, verification cached). 50
// connections, 60-byte responses. Redis: REDIS_URL (default redis://127.0.0.1:6379); without one the
// Redis rows are skipped and listed as a problem. See bench/README.md.
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { cpuSeconds, fmt, load, log, machineCpu, median, otherCpu, startSidecar, startUpstream } from '../lib/common.mjs';
import { benchConfig } from '../lib/config.mjs';
import { basic, fetchToken } from '../lib/oauth.mjs';

const CONNECTIONS = 50;
const WARMUP_S = 3;
const NOISE_LIMIT = 0.15;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const LABEL = {
  memory: 'memory',
  redis: 'redis (read cache 2 s)',
  redis_nocache: 'redis (no read cache)',
  jwt: 'jwt (EdDSA)',
};

/** @param opts.duration s per measured run, opts.rounds interleaved rounds */
export async function storesScenario(opts, { tmpDir }) {
  const problems = [];
  const upstream = await startUpstream();
  const redisUp = await pings(REDIS_URL);
  if (!redisUp) problems.push(`no Redis at ${REDIS_URL}: the redis rows are skipped`);
  const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const env = { BENCH_REDIS_URL: REDIS_URL, BENCH_SIGNING_KEY: key };
  const prefix = `oauth2-sidecar-bench:${process.pid}:`;
  const variants = {
    memory: '',
    ...(redisUp && {
      redis: `store: { type: redis, url_env: BENCH_REDIS_URL, key_prefix: "${prefix}", cache_ttl_ms: 2000 }\n`,
      redis_nocache: `store: { type: redis, url_env: BENCH_REDIS_URL, key_prefix: "${prefix}", cache_ttl_ms: 0 }\n`,
    }),
    jwt: '',
  };
  const order = Object.keys(variants);
  const sidecars = {};
  for (const name of order) {
    const file = path.join(tmpDir, `stores-${name}.yaml`);
    writeFileSync(
      file,
      benchConfig({
        source: 'bench/scenarios/stores.mjs',
        upstreamPort: upstream.port,
        timeoutMs: 30_000,
        top: variants[name],
        tokens: name === 'jwt' ? '  format: jwt\n  signing_keys:\n    - { kid: bench, private_key_env: BENCH_SIGNING_KEY }' : '',
      }),
    );
    sidecars[name] = await startSidecar(`sidecar-${name}`, file, env);
  }
  const auth = basic('bench-client', 'bench-secret');
  const job = async (name) => {
    const port = sidecars[name].port;
    const token = await fetchToken(`http://127.0.0.1:${port}/oauth2/token`, auth);
    return { url: `http://127.0.0.1:${port}/api/items?id=1`, headers: { authorization: `Bearer ${token}` } };
  };
  log(`\n== stores: ${WARMUP_S} s warm-up each, ${opts.rounds} round(s) x ${opts.duration} s, ${CONNECTIONS} connections`);
  for (const name of order) await load(await job(name), CONNECTIONS, WARMUP_S);
  const runs = Object.fromEntries(order.map((n) => [n, []]));
  for (let round = 0; round < opts.rounds; round++) {
    for (const name of order.map((_, i) => order[(i + round) % order.length])) {
      const pid = sidecars[name].proc.pid;
      const before = { server: cpuSeconds(pid), machine: machineCpu() };
      const r = await load(await job(name), CONNECTIONS, opts.duration);
      const ok = r.requests.total - r.non2xx;
      if (r.non2xx || r.errors) problems.push(`${name}, round ${round + 1}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      runs[name].push({
        rps: Math.round(ok / r.duration),
        cpu_us_per_req: ok ? Math.round(((cpuSeconds(pid) - before.server) / ok) * 1e6) : undefined,
        other_cpu: otherCpu(before.machine, machineCpu(), r.duration),
      });
    }
  }
  const result = {};
  for (const name of order) {
    const quiet = runs[name].filter((r) => r.other_cpu !== undefined && r.other_cpu <= NOISE_LIMIT);
    const used = quiet.length ? quiet : runs[name];
    result[name] = {
      rps: Math.round(median(used.map((r) => r.rps))),
      cpu_us_per_req: Math.round(median(used.map((r) => r.cpu_us_per_req ?? NaN))),
      noisy: quiet.length === 0,
      runs: runs[name],
    };
  }
  const base = result.memory.rps;
  const lines = [
    `${'store'.padEnd(24)} ${'req/s'.padStart(8)} ${'vs memory'.padStart(10)} ${'cpu us/req'.padStart(11)}`,
    ...order.map(
      (n) =>
        `${LABEL[n].padEnd(24)} ${String(result[n].rps).padStart(8)} ${fmt(result[n].rps / base, 2).padStart(10)} ${String(result[n].cpu_us_per_req).padStart(11)}` +
        (result[n].noisy ? '  (noisy: other load > 15% of a core in every run)' : ''),
    ),
  ];
  return { lines, checks: [], problems, json: result };
}

/** Whether a Redis answers PING at `url` within 1 s. */
function pings(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
    socket.write('PING\r\n');
  });
}
