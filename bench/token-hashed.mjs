// Token-endpoint throughput with a hashed client secret (issue 3, capability 4). After `npm run build`:
//   node bench/token-hashed.mjs [--duration 5] [--connections 50] [--rounds 2]
// POST /oauth2/token (client credentials, HTTP Basic) is driven by autocannon for `--duration` s per
// case: a plain client_secret; a client_secret_hash (PBKDF2-SHA256, 100000 iterations) with the right
// secret, which the verifier hashes once and then answers from memory; and the same hash with a wrong
// secret, which is hashed every time (what a misconfigured client or a guesser costs). During each
// burst the sidecar measures its own event-loop delay with perf_hooks.monitorEventLoopDelay.
// The sidecar is built from dist/server.js in a child process forked from this file, so autocannon
// does not share its event loop. Progress on stderr; a table, then one JSON line, on stdout.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SECRET = 'bench-s3cret';
const ITERATIONS = 100_000;
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

if (process.argv[2] === '--sidecar') await sidecar();
else await bench(parseArgs(process.argv.slice(2)));

/** The child: a sidecar from dist/, answering "start"/"stop" with its event-loop delay and CPU. */
async function sidecar() {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { Sidecar } = await import('../dist/server.js');
  const { validate } = await import('../dist/config/schema.js');
  const { createLogger } = await import('../dist/log.js');
  const { hashSecret } = await import('../dist/oauth/secret-hash.js');
  const result = validate(
    {
      listen: '127.0.0.1:0',
      domains: [{ host: '*' }],
      collections: [{ name: 'api', path: '/api', upstream: 'http://127.0.0.1:9/v1' }],
      access_profiles: [
        { name: 'plain', client_id: 'plain-client', client_secret: SECRET, collections: ['api'] },
        { name: 'hashed', client_id: 'hashed-client', client_secret_hash: await hashSecret(SECRET, ITERATIONS), collections: ['api'] },
      ],
    },
    {},
  );
  if (result.issues) throw new Error(JSON.stringify(result.issues));
  const server = new Sidecar({ config: result.config, log: createLogger({ level: 'warn' }) });
  const { port } = await server.listen();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let cpu;
  process.on('message', async (m) => {
    if (m === 'start') {
      delay.reset();
      delay.enable();
      cpu = process.cpuUsage();
      process.send({ started: true });
    } else if (m === 'stop') {
      delay.disable();
      const used = process.cpuUsage(cpu);
      const ms = (ns) => Math.round(ns / 1e4) / 100;
      process.send({
        loop_delay_ms: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
        cpu_s: (used.user + used.system) / 1e6,
      });
    } else if (m === 'exit') {
      await server.close(1000);
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ port });
}

async function bench({ duration, connections, rounds }) {
  const { default: autocannon } = await import('autocannon');
  // The sidecar child runs with the Node flags README advises for this Node (BENCH_NODE_FLAGS replaces
  // them); imported here, not at the top, so the child does not load the bench's modules.
  const { SIDECAR_NODE_FLAGS } = await import('./lib/common.mjs');
  const child = fork(fileURLToPath(import.meta.url), ['--sidecar'], {
    execArgv: [...process.execArgv, ...SIDECAR_NODE_FLAGS],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let finished = false;
  child.on('exit', (code) => {
    if (finished) return;
    console.error(`token-hashed: the sidecar exited ${code}`);
    process.exit(1);
  });
  const next = async () => (await once(child, 'message'))[0];
  const { port } = await next();
  const url = `http://127.0.0.1:${port}/oauth2/token`;
  const cases = [
    { name: 'plain client_secret', authorization: basic('plain-client', SECRET), expect: 200, warmup: 3 },
    { name: `client_secret_hash (i=${ITERATIONS})`, authorization: basic('hashed-client', SECRET), expect: 200, warmup: 3 },
    { name: 'client_secret_hash, wrong secret', authorization: basic('hashed-client', 'wrong'), expect: 401, warmup: 1 },
  ];
  const job = (c) => ({ url, method: 'POST', headers: headers(c), body: 'grant_type=client_credentials', connections, timeout: 30 });
  // Warm every path up first: whichever case ran first would otherwise pay for V8's warm-up.
  for (const c of cases) {
    const check = await fetch(url, { method: 'POST', headers: headers(c), body: 'grant_type=client_credentials' });
    if (check.status !== c.expect) throw new Error(`${c.name}: ${check.status} ${await check.text()}, expected ${c.expect}`);
    await autocannon({ ...job(c), duration: c.warmup });
    await settle(url, c);
  }
  const results = [];
  for (let round = 0; round < rounds; round++) {
    // The order rotates each round, so a busy spell on the machine does not always hit the same case.
    for (const c of [...cases.slice(round % cases.length), ...cases.slice(0, round % cases.length)]) {
      child.send('start');
      await next();
      const r = await autocannon({ ...job(c), duration });
      child.send('stop');
      const inside = await next();
      const result = {
        case: c.name,
        round: round + 1,
        rps: Math.round(r.requests.total / r.duration),
        latency_ms: { p50: r.latency.p50, p99: r.latency.p99 },
        statuses: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
        errors: r.errors,
        timeouts: r.timeouts,
        cpu_us_per_req: Math.round((inside.cpu_s / Math.max(1, r.requests.total)) * 1e6),
        loop_delay_ms: inside.loop_delay_ms,
      };
      console.error(`token-hashed: ${JSON.stringify(result)}`);
      results.push(result);
      await settle(url, c);
    }
  }
  finished = true;
  child.send('exit');
  console.log(
    `${connections} connections, ${duration} s per run, ${rounds} rounds, PBKDF2-SHA256 i=${ITERATIONS}, node ${process.version}`,
  );
  console.log(
    `${'case'.padEnd(36)}${'round'.padStart(6)}${'req/s'.padStart(8)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'us/req'.padStart(8)}` +
      '  loop delay p50/p99/max ms  statuses',
  );
  for (const c of cases) {
    for (const r of results.filter((x) => x.case === c.name)) {
      const d = r.loop_delay_ms;
      console.log(
        `${r.case.padEnd(36)}${String(r.round).padStart(6)}${String(r.rps).padStart(8)}${String(r.latency_ms.p50).padStart(8)}` +
          `${String(r.latency_ms.p99).padStart(8)}${String(r.cpu_us_per_req).padStart(8)}  ${`${d.p50}/${d.p99}/${d.max}`.padEnd(26)}` +
          JSON.stringify(r.statuses),
      );
    }
  }
  console.log(JSON.stringify({ connections, duration, rounds, iterations: ITERATIONS, results }));
}

/**
 * Waits until verifications queued by a finished burst are done. Requests of closed connections
 * still hold their place in the verifier's queue and are still hashed; a burst started before they
 * are would find the queue full and measure 503s. A probe queues behind them: once it is answered
 * with something other than 503, the queue has drained.
 */
async function settle(url, c) {
  for (;;) {
    const probe = await fetch(url, { method: 'POST', headers: headers(c), body: 'grant_type=client_credentials' });
    await probe.arrayBuffer();
    if (probe.status !== 503) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function headers(c) {
  return { authorization: c.authorization, 'content-type': 'application/x-www-form-urlencoded' };
}

function parseArgs(args) {
  const opts = { duration: 5, connections: 50, rounds: 2 };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i]?.replace(/^--/, '');
    if (!(key in opts) || !/^\d+$/.test(args[i + 1] ?? ''))
      throw new Error(`usage: node bench/token-hashed.mjs [--duration S] [--connections N] [--rounds N]`);
    opts[key] = Number(args[i + 1]);
  }
  return opts;
}
