// `npm run bench`: throughput and latency of the sidecar against a bare http-proxy pass-through and the
// upstream itself. Each server runs in its own child process; autocannon drives them from this one.
// Flags: --connections 1,50  --duration 5 (s per run)  --rounds 3  --warmup 12 (most s per target)
// See bench/README.md for what the figures mean.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-secret';
const BASIC = 'Basic ' + Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
const TOKEN_BODY = 'grant_type=client_credentials';
const MAX_ACTIVE = 100_000;
const LISTEN_WAIT_MS = 3000;
/** A run is "noisy" when other processes used more than this share of a core during it. */
const NOISE_LIMIT = 0.15;
/** Extra rounds, at most, while some target has no quiet run yet. */
const MAX_EXTRA_ROUNDS = 1;
const WARMUP_CHUNK_S = 2;
const ORDER = ['upstream', 'passthrough', 'sidecar', 'token'];
const LABEL = { upstream: 'upstream (direct)', passthrough: 'bare http-proxy', sidecar: 'sidecar (bearer)', token: 'POST /oauth2/token' };

const opts = parseArgs(process.argv.slice(2));
const children = new Set();
const problems = [];
let tmpDir;

// ---- cleanup: every child dies with us, whatever way we leave ----
process.on('exit', () => {
  for (const child of children) if (!child.exited) child.proc.kill('SIGKILL');
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping children`);
    process.exit(130);
  });
}

try {
  await run();
} catch (err) {
  console.error(`bench: FAILED: ${err instanceof Error ? err.message : err}`);
  for (const child of children) {
    const tail = child.stderr.slice(-10).join('\n');
    if (tail) console.error(`--- ${child.name} stderr (tail) ---\n${tail}`);
  }
  process.exitCode = 1;
}
process.exit();

async function run() {
  const started = Date.now();
  const upstream = startChild('upstream', [path.join(HERE, 'upstream.mjs')]);
  const upPort = (await upstream.waitForLine((e) => e.event === 'listening', 10_000)).port;
  const passthrough = startChild('passthrough', [path.join(HERE, 'passthrough.mjs'), `http://127.0.0.1:${upPort}`]);
  const ptPort = (await passthrough.waitForLine((e) => e.event === 'listening', 10_000)).port;
  const sidecar = await startSidecar(upPort);

  const url = {
    upstream: `http://127.0.0.1:${upPort}/v1/items?id=1`,
    passthrough: `http://127.0.0.1:${ptPort}/v1/items?id=1`,
    sidecar: `http://127.0.0.1:${sidecar.port}/api/items?id=1`,
    token: `http://127.0.0.1:${sidecar.port}/oauth2/token`,
  };
  await sanityCheck(url, await fetchToken(url.token));
  const memory = [await sidecarMemory(sidecar, 'start')];
  const upstreamConnections = async () => {
    const from = upstream.lines.length;
    upstream.proc.kill('SIGUSR2');
    return (await upstream.waitForLine((e) => e.event === 'stats', 5000, from)).connections;
  };
  let tokensIssued = 1;

  // The sidecar's bearer is fetched afresh before each of its runs: token runs fill tokens.max_active
  // and evict least recently used tokens, ours included (by design).
  const job = async (name) => {
    if (name === 'upstream' || name === 'passthrough') return { url: url[name] };
    if (name === 'sidecar') {
      tokensIssued++;
      return { url: url.sidecar, headers: { authorization: `Bearer ${await fetchToken(url.token)}` } };
    }
    return {
      url: url.token,
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      body: TOKEN_BODY,
    };
  };
  const procOf = { upstream: upstream.proc, passthrough: passthrough.proc, sidecar: sidecar.proc, token: sidecar.proc };
  const results = [];

  for (const connections of opts.connections) {
    log(
      `\n== ${connections} connection(s): warm-up (up to ${opts.warmup} s per target), then ${opts.rounds} round(s) x ${opts.duration} s`,
    );
    // JIT warm-up: 2-second chunks until the server's CPU per request settles (within 15% of the
    // previous chunk), at least 2 chunks, at most --warmup seconds. The sidecar needs the longest.
    for (const name of ORDER) {
      const steps = [];
      for (let t = 0; t < opts.warmup; t += WARMUP_CHUNK_S) {
        const spec = await job(name);
        const before = cpuSeconds(procOf[name].pid);
        const r = await load(spec, connections, Math.min(WARMUP_CHUNK_S, opts.warmup - t));
        if (name === 'token') tokensIssued += r['2xx'];
        steps.push(Math.round(((cpuSeconds(procOf[name].pid) - before) / Math.max(1, r.requests.total)) * 1e6));
        const [prev, last] = steps.slice(-2);
        if (steps.length >= 2 && Math.abs(last - prev) <= 0.15 * prev) break;
      }
      log(`  warm-up ${name.padEnd(11)} cpu us/req per ${WARMUP_CHUNK_S} s: ${steps.join(' -> ')}`);
    }
    memory.push(await sidecarMemory(sidecar, `c${connections} after warm-up`));
    const runs = Object.fromEntries(ORDER.map((n) => [n, []]));
    const quiet = (name) => runs[name].filter((r) => r.other_cpu !== undefined && r.other_cpu <= NOISE_LIMIT).length;
    for (let round = 0; ; round++) {
      const extra = round >= opts.rounds;
      // One more round only if some targets had quiet runs and others none: when every run was noisy,
      // the machine is busy throughout and another round would not change that.
      const lacking = ORDER.filter((n) => quiet(n) === 0);
      if (extra && (round >= opts.rounds + MAX_EXTRA_ROUNDS || lacking.length === 0 || lacking.length === ORDER.length)) break;
      if (extra) log(`  extra round: no quiet run yet for ${lacking.join(', ')}`);
      // rotate the order each round so no target always follows the same one
      for (const name of ORDER.map((_, i) => ORDER[(i + round) % ORDER.length])) {
        const pid = procOf[name].pid;
        const spec = await job(name);
        const conns = await upstreamConnections();
        const before = { server: cpuSeconds(pid), machine: machineCpu() };
        const r = await load(spec, connections, opts.duration);
        const serverCpu = cpuSeconds(pid);
        const s = summarise(r, serverCpu - before.server, otherCpu(before.machine, machineCpu(), r.duration));
        s.round = round + 1;
        s.upstream_connections_opened = (await upstreamConnections()) - conns;
        // A proxy that reuses its upstream sockets opens at most one per client connection per run.
        if ((name === 'passthrough' || name === 'sidecar') && s.upstream_connections_opened > 2 * connections) {
          problems.push(
            `${name}, ${connections} conn, round ${round + 1}: ${s.upstream_connections_opened} upstream connections opened for ${s.requests} requests (keep-alive not reused)`,
          );
        }
        runs[name].push(s);
        if (name === 'token') tokensIssued += r['2xx'];
        const failed = s.non2xx || s.errors || s.timeouts;
        log(
          `  round ${round + 1} ${name.padEnd(11)} ${fmt(s.rps, 0).padStart(7)} req/s  p50 ${fmt(s.p50, 2)} ms  p99 ${fmt(s.p99, 2)} ms` +
            `  server cpu ${pct(s.cpu)} ${fmt(s.cpu_us_per_req, 0)} us/req  other procs ${pct(s.other_cpu)}${s.other_cpu > NOISE_LIMIT ? ' (noisy)' : ''}` +
            (name === 'token' ? '' : `  upstream conns +${s.upstream_connections_opened}`) +
            (failed ? `  non2xx ${s.non2xx} errors ${s.errors} timeouts ${s.timeouts}` : ''),
        );
        if (failed) {
          problems.push(
            `${name}, ${connections} conn, round ${round + 1}: non2xx ${s.non2xx}, errors ${s.errors}, timeouts ${s.timeouts}` +
              ` (status codes ${JSON.stringify(s.status_codes)})`,
          );
        }
        if (name === 'sidecar' || name === 'token')
          memory.push(await sidecarMemory(sidecar, `c${connections} r${round + 1} after ${name}`));
        assertAlive();
      }
    }
    const targets = Object.fromEntries(ORDER.map((n) => [n, aggregate(runs[n])]));
    const noisy = ORDER.filter((n) => targets[n].basis === 'all runs');
    if (noisy.length)
      problems.push(`${connections} conn: no run free of other CPU load for ${noisy.join(', ')}; their figures come from noisy runs`);
    results.push({
      connections,
      targets,
      ratio_sidecar_vs_passthrough: {
        rps: round3(targets.sidecar.rps / targets.passthrough.rps),
        p50: round3(targets.sidecar.p50 / targets.passthrough.p50),
        p99: round3(targets.sidecar.p99 / targets.passthrough.p99),
        cpu_per_request: round3(targets.sidecar.cpu_us_per_req / targets.passthrough.cpu_us_per_req),
      },
      ratio_passthrough_vs_upstream: { rps: round3(targets.passthrough.rps / targets.upstream.rps) },
      runs,
    });
  }

  // Leak check: live heap (after a full GC) before and after GET-only load. The token store is full or
  // steady by now, so growth here is per-request state the sidecar keeps.
  const leakConnections = Math.max(...opts.connections);
  const heapBefore = await sidecarMemory(sidecar, 'leak check start, after GC', true);
  const leakRun = await load(await job('sidecar'), leakConnections, opts.duration * 2);
  const heapAfter = await sidecarMemory(sidecar, 'leak check end, after GC', true);
  memory.push(heapBefore, heapAfter);
  const leak = {
    requests: leakRun.requests.total,
    non2xx: leakRun.non2xx,
    heap_mb_before: heapBefore.heap_mb,
    heap_mb_after: heapAfter.heap_mb,
    bytes_per_request: round3(((heapAfter.heap_mb - heapBefore.heap_mb) * 1024 * 1024) / leakRun.requests.total),
  };
  if (leakRun.non2xx || leakRun.errors) problems.push(`leak-check GET run: non2xx ${leakRun.non2xx}, errors ${leakRun.errors}`);
  if (leak.bytes_per_request > 50 && heapAfter.heap_mb - heapBefore.heap_mb > 2)
    problems.push(`sidecar live heap grew ${fmt(leak.bytes_per_request, 0)} bytes per GET request (leak?)`);

  const sidecarEvents = await stopSidecar(sidecar);
  for (const [event, count] of Object.entries(sidecarEvents)) problems.push(`sidecar logged ${count} x "${event}" at warn or above`);

  const report = {
    bench: 'oauth2-sidecar',
    node: process.version,
    cpus: os.cpus().length,
    duration_s: opts.duration,
    rounds: opts.rounds,
    warmup_s: opts.warmup,
    wall_s: Math.round((Date.now() - started) / 1000),
    sidecar_port_from_log: sidecar.fromLog,
    results,
    tokens_issued: tokensIssued,
    tokens_max_active: MAX_ACTIVE,
    sidecar_memory_mb: memory,
    leak_check: leak,
    sidecar_log_events: sidecarEvents,
    problems,
  };
  printTable(report);
  console.log(JSON.stringify(report));
}

// ---- children ----

function startChild(name, args, env = {}) {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const child = { name, proc, lines: [], stderr: [], waiters: new Set(), exited: undefined, expectedExit: false };
  children.add(child);
  const onLine = (line, isStderr) => {
    if (isStderr) child.stderr.push(line);
    if (!line.startsWith('{')) return;
    try {
      child.lines.push(JSON.parse(line));
    } catch {
      return;
    }
    for (const w of child.waiters) w();
  };
  readline.createInterface({ input: proc.stdout }).on('line', (line) => onLine(line, false));
  readline.createInterface({ input: proc.stderr }).on('line', (line) => onLine(line, true));
  proc.on('exit', (code, signal) => {
    child.exited = { code, signal };
    for (const w of child.waiters) w();
  });
  /** Resolves with the first JSON line (stdout or stderr) from index `from` on that matches. */
  child.waitForLine = (match, timeoutMs, from = 0) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => settle(() => reject(Object.assign(new Error(`${name}: expected line not seen within ${timeoutMs} ms`), { timeout: true }))),
        timeoutMs,
      );
      const check = () => {
        const hit = child.lines.slice(from).find(match);
        if (hit) settle(() => resolve(hit));
        else if (child.exited) settle(() => reject(new Error(`${name} exited (${JSON.stringify(child.exited)}) before the expected line`)));
      };
      const settle = (fn) => {
        clearTimeout(timer);
        child.waiters.delete(check);
        fn();
      };
      child.waiters.add(check);
      check();
    });
  return child;
}

function assertAlive() {
  for (const child of children) {
    if (child.exited && !child.expectedExit) throw new Error(`${child.name} exited during the run: ${JSON.stringify(child.exited)}`);
  }
}

/**
 * Starts the sidecar on port 0 and reads the bound port from its "listening" log line. If that line
 * never reaches stdout (it is info level, dropped at LOG_LEVEL=warn), falls back to a free port picked
 * here and polls until the sidecar answers; the fallback is reported as a problem.
 */
async function startSidecar(upPort) {
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'oauth2-sidecar-bench-'));
  const configPath = path.join(tmpDir, 'config.yaml');
  const args = ['--expose-gc', '-r', path.join(HERE, 'sidecar-preload.cjs'), path.join(ROOT, 'dist/main.js'), '--config', configPath];
  const env = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  writeFileSync(configPath, sidecarConfig(0, upPort));
  let child = startChild('sidecar', args, env);
  try {
    const line = await child.waitForLine((e) => e.event === 'listening', LISTEN_WAIT_MS);
    return Object.assign(child, { port: line.port, fromLog: true });
  } catch (err) {
    if (!err.timeout) throw err;
    problems.push(
      `sidecar: with listen port 0 and LOG_LEVEL=${env.LOG_LEVEL}, no {"event":"listening"} line within ${LISTEN_WAIT_MS} ms ` +
        '(it is logged at info level, so LOG_LEVEL=warn drops the only report of the bound port); the bench picked a port instead',
    );
    child.expectedExit = true;
    child.proc.kill('SIGTERM');
    await new Promise((resolve) => (child.exited ? resolve() : child.proc.once('exit', resolve)));
    children.delete(child);
  }
  const port = await freePort();
  writeFileSync(configPath, sidecarConfig(port, upPort));
  child = startChild('sidecar', args, env);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exited) throw new Error(`sidecar exited at start: ${JSON.stringify(child.exited)}`);
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer();
      return Object.assign(child, { port, fromLog: false });
    } catch {
      if (Date.now() > deadline) throw new Error('sidecar did not answer within 15 s');
      await sleep(50);
    }
  }
}

/**
 * RSS and heap of the sidecar, through the stdin hook of sidecar-preload.cjs.
 * @param gc full GC first (live heap); only around the leak check, since it slows the next runs
 */
async function sidecarMemory(sidecar, at, gc = false) {
  const from = sidecar.lines.length;
  sidecar.proc.stdin.write(gc ? 'gc\n' : 'mem\n');
  const { bench_mem: m } = await sidecar.waitForLine((e) => e.bench_mem, 5000, from);
  return { at, rss_mb: round1(m.rss / 2 ** 20), heap_mb: round1(m.heapUsed / 2 ** 20) };
}

/** SIGTERM (the sidecar drains and flushes its log), then counts its log events at warn and above. */
async function stopSidecar(sidecar) {
  sidecar.expectedExit = true;
  const exited = new Promise((resolve) => (sidecar.exited ? resolve() : sidecar.proc.once('exit', resolve)));
  sidecar.proc.kill('SIGTERM');
  if ((await Promise.race([exited, sleep(15_000).then(() => 'timeout')])) === 'timeout') {
    problems.push('sidecar did not exit within 15 s of SIGTERM');
    sidecar.proc.kill('SIGKILL');
  } else if (sidecar.exited.code !== 0) {
    problems.push(`sidecar exited with ${JSON.stringify(sidecar.exited)} after SIGTERM`);
  }
  await sleep(100); // let readline deliver the last lines
  const counts = {};
  for (const e of sidecar.lines) {
    if (e.bench_mem || e.level === 'info' || e.level === 'debug' || e.level === 'trace') continue;
    const key = e.event ?? e.msg ?? 'unknown';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function sidecarConfig(port, upPort) {
  return `# generated by bench/run.mjs
listen: 127.0.0.1:${port}
realm: bench
domains:
  - host: "*"
tokens:
  expires_in: 3600
  max_active: ${MAX_ACTIVE}
collections:
  - name: bench
    path: /api
    upstream: http://127.0.0.1:${upPort}/v1
    timeout_ms: 30000
access_profiles:
  - name: bench
    client_id: ${CLIENT_ID}
    client_secret: ${CLIENT_SECRET}
    collections: [bench]
    enabled: true
`;
}

// ---- HTTP ----

async function fetchToken(tokenUrl) {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    body: TOKEN_BODY,
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200 || typeof body.access_token !== 'string')
    throw new Error(`token endpoint answered ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Each target answers the upstream's body; the sidecar refuses a request without a bearer. */
async function sanityCheck(url, token) {
  const get = async (u, headers = {}) => {
    const res = await fetch(u, { headers });
    return { status: res.status, body: await res.text() };
  };
  const direct = await get(url.upstream);
  const viaProxy = await get(url.passthrough);
  const viaSidecar = await get(url.sidecar, { authorization: `Bearer ${token}` });
  const anonymous = await get(url.sidecar);
  if (direct.status !== 200) throw new Error(`upstream answered ${direct.status}`);
  if (viaProxy.status !== 200 || viaProxy.body !== direct.body)
    throw new Error(`pass-through answered ${viaProxy.status} ${viaProxy.body}`);
  if (viaSidecar.status !== 200 || viaSidecar.body !== direct.body)
    throw new Error(`sidecar answered ${viaSidecar.status} ${viaSidecar.body}`);
  if (anonymous.status !== 401) throw new Error(`sidecar without a bearer answered ${anonymous.status}, expected 401`);
}

/**
 * One autocannon run. Its histogram keeps whole milliseconds, too coarse on loopback, so every
 * response time (ms, float) is also collected here; `r.latencies` holds them sorted.
 */
async function load(job, connections, seconds) {
  const latencies = [];
  const instance = autocannon({ ...job, connections, duration: seconds, pipelining: 1, timeout: 10 });
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const r = await instance;
  r.latencies = latencies.sort((a, b) => a - b);
  return r;
}

/** @param cpuSecs CPU seconds the server under test used during the run */
function summarise(r, cpuSecs, otherCpuShare) {
  const cpu = cpuSecs / r.duration;
  return {
    rps: Math.round(r.requests.total / r.duration),
    p50: round3(percentile(r.latencies, 50)),
    p99: round3(percentile(r.latencies, 99)),
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    status_codes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
    cpu: Number.isNaN(cpu) ? undefined : round3(cpu),
    cpu_us_per_req: Number.isNaN(cpu) || !r.requests.total ? undefined : Math.round((cpuSecs / r.requests.total) * 1e6),
    other_cpu: otherCpuShare,
  };
}

/** Medians over the quiet runs (other CPU load <= NOISE_LIMIT); over all runs if none was quiet. */
function aggregate(runs) {
  const quiet = runs.filter((r) => r.other_cpu !== undefined && r.other_cpu <= NOISE_LIMIT);
  const used = quiet.length ? quiet : runs;
  return {
    rps: Math.round(median(used.map((r) => r.rps))),
    p50: round3(median(used.map((r) => r.p50))),
    p99: round3(median(used.map((r) => r.p99))),
    cpu: used.every((r) => r.cpu !== undefined) ? round3(median(used.map((r) => r.cpu))) : undefined,
    cpu_us_per_req: used.every((r) => r.cpu_us_per_req !== undefined) ? Math.round(median(used.map((r) => r.cpu_us_per_req))) : undefined,
    basis: quiet.length ? `${quiet.length}/${runs.length} quiet runs` : 'all runs',
    rps_all_runs: runs.map((r) => r.rps),
    non2xx: sum(runs.map((r) => r.non2xx)),
    errors: sum(runs.map((r) => r.errors + r.timeouts)),
  };
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}

// ---- output ----

function printTable(report) {
  const lines = [];
  for (const r of report.results) {
    lines.push(
      '',
      `${r.connections} connection(s), ${report.duration_s} s runs, median of quiet runs (node ${report.node}, ${report.cpus} cpus)`,
    );
    lines.push(
      `${'target'.padEnd(20)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'cpu'.padStart(6)}${'us/req'.padStart(8)}${'non2xx'.padStart(8)}${'errors'.padStart(8)}  basis`,
    );
    for (const [name, t] of Object.entries(r.targets)) {
      lines.push(
        `${LABEL[name].padEnd(20)}${String(t.rps).padStart(8)}${fmt(t.p50, 2).padStart(9)}${fmt(t.p99, 2).padStart(9)}${pct(t.cpu).padStart(6)}` +
          `${fmt(t.cpu_us_per_req, 0).padStart(8)}${String(t.non2xx).padStart(8)}${String(t.errors).padStart(8)}  ${t.basis}`,
      );
    }
    const q = r.ratio_sidecar_vs_passthrough;
    lines.push(
      `sidecar / bare http-proxy: req/s x${fmt(q.rps, 2)}, p50 x${fmt(q.p50, 2)}, p99 x${fmt(q.p99, 2)}, cpu/request x${fmt(q.cpu_per_request, 2)}` +
        `   (bare http-proxy / upstream req/s x${fmt(r.ratio_passthrough_vs_upstream.rps, 2)})`,
    );
  }
  const m = report.sidecar_memory_mb;
  lines.push(
    '',
    `sidecar memory MB (rss/live heap): ${m.map((s) => `${s.at} ${s.rss_mb}/${s.heap_mb}`).join(', ')}`,
    `tokens issued ${report.tokens_issued} (max_active ${report.tokens_max_active}); leak check: ${report.leak_check.requests} GETs, ` +
      `live heap ${report.leak_check.heap_mb_before} -> ${report.leak_check.heap_mb_after} MB (${fmt(report.leak_check.bytes_per_request, 1)} B/request)`,
    problems.length ? `problems:\n${problems.map((p) => `  - ${p}`).join('\n')}` : 'problems: none',
  );
  console.log(lines.join('\n'));
}

// ---- small utilities ----

function parseArgs(argv) {
  const o = { connections: [50], duration: 5, rounds: 3, warmup: 12 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--help' || flag === '-h') usage('', 0);
    const value = inline ?? argv[++i];
    const num = Number(value);
    if (flag === '--connections') o.connections = String(value).split(',').map(Number);
    else if (flag === '--duration') o.duration = num;
    else if (flag === '--rounds') o.rounds = num;
    else if (flag === '--warmup') o.warmup = num;
    else usage(`unknown argument ${flag}`);
    const ok =
      flag === '--connections'
        ? o.connections.every((c) => Number.isInteger(c) && c > 0)
        : flag === '--rounds'
          ? Number.isInteger(num) && num > 0
          : num > 0;
    if (!ok) usage(`bad value for ${flag}: ${value}`);
  }
  return o;
}

function usage(msg, code = 2) {
  console.error(`${msg ? msg + '\n' : ''}usage: node bench/run.mjs [--connections 1,50] [--duration 5] [--rounds 3] [--warmup 12]`);
  process.exit(code);
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

/** utime + stime of a process in seconds (Linux /proc; assumes 100 ticks/s); NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Busy CPU seconds of the whole machine (/proc/stat), and of this process and its children. */
function machineCpu() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system steal; irq and softirq left out: loopback packet work lands there, unattributed
    const busy = (f[0] + f[1] + f[2] + (f[7] ?? 0)) / 100;
    let ours = cpuSeconds(process.pid);
    for (const child of children) if (!child.exited) ours += cpuSeconds(child.proc.pid);
    return { busy, ours };
  } catch {
    return undefined;
  }
}

/** Cores' worth of CPU used by processes other than the bench during a run (noise indicator). */
function otherCpu(before, after, seconds) {
  if (!before || !after || Number.isNaN(before.ours) || Number.isNaN(after.ours)) return undefined;
  return round3(Math.max(0, after.busy - before.busy - (after.ours - before.ours)) / seconds);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function sum(xs) {
  return xs.reduce((a, b) => a + b, 0);
}
function round1(x) {
  return Math.round(x * 10) / 10;
}
function round3(x) {
  return Math.round(x * 1000) / 1000;
}
function fmt(x, digits) {
  return x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits);
}
function pct(x) {
  return x === undefined || Number.isNaN(x) ? '-' : `${Math.round(x * 100)}%`;
}
function log(s) {
  process.stderr.write(s + '\n');
}
