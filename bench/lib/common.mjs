// Shared by bench/run.mjs, its scenarios and scripts/soak.mjs: child processes, load, CPU and memory
// readings from /proc, statistics, target checks and formatting. Not a test file (tap only runs
// test/**/*.test.ts).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');

/** Every child started through startChild, so the caller can kill them all on exit. */
export const children = new Set();

/**
 * Spawns `node ...args` with piped stdio. JSON lines on its stdout or stderr are collected in
 * `child.lines`; `child.waitForLine(match, timeoutMs, from)` resolves with the first that matches.
 */
export function startChild(name, args, env = {}) {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const child = { name, proc, lines: [], stderr: [], waiters: new Set(), exited: undefined, expectedExit: false };
  children.add(child);
  const onLine = (line, isStderr) => {
    if (isStderr) {
      child.stderr.push(line);
      if (child.stderr.length > 200) child.stderr.shift();
    }
    if (!line.startsWith('{')) return;
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    // The sidecar logs one line per request at info; keep only what the bench reads, bounded.
    if (child.keep && !child.keep(parsed)) return;
    child.lines.push(parsed);
    for (const w of child.waiters) w();
  };
  readline.createInterface({ input: proc.stdout }).on('line', (line) => onLine(line, false));
  readline.createInterface({ input: proc.stderr }).on('line', (line) => onLine(line, true));
  proc.stdin.on('error', () => {}); // EPIPE when the child is gone: reported through `exited`
  proc.on('exit', (code, signal) => {
    child.exited = { code, signal };
    for (const w of child.waiters) w();
  });
  child.waitForLine = (match, timeoutMs, from = 0) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new Error(`${name}: expected line not seen within ${timeoutMs} ms`))), timeoutMs);
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
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
  child.stop = async (graceMs = 15_000) => {
    child.expectedExit = true;
    if (!child.exited) {
      const exited = new Promise((resolve) => child.proc.once('exit', resolve));
      child.proc.kill('SIGTERM');
      if ((await Promise.race([exited, sleep(graceMs).then(() => 'timeout')])) === 'timeout') {
        child.proc.kill('SIGKILL');
        await exited;
        child.killed = true;
      }
    }
    children.delete(child);
    return child.exited;
  };
  return child;
}

/** Kills every child still running (on exit, whatever the way out). */
export function killChildren() {
  for (const child of children) if (!child.exited) child.proc.kill('SIGKILL');
}

/** Throws if a child exited that was not asked to. */
export function assertAlive() {
  for (const child of children) {
    if (child.exited && !child.expectedExit) {
      const tail = child.stderr.slice(-10).join('\n');
      throw new Error(`${child.name} exited during the run: ${JSON.stringify(child.exited)}${tail ? `\n${tail}` : ''}`);
    }
  }
}

/** node:http upstream (bench/upstream.mjs); resolves with the child and its port. */
export async function startUpstream(port = 0) {
  const child = startChild('upstream', [path.join(BENCH_DIR, 'upstream.mjs'), String(port)]);
  child.port = (await child.waitForLine((e) => e.event === 'listening', 10_000)).port;
  return child;
}

/**
 * The Node flags the bench and the soak run the sidecar with: the ones README advises for the Node
 * that runs the bench (README, design notes). Under 64 KiB responses each keeps V8 from a full
 * mark-compact every few hundred ms:
 * - Node 24 and later (the image's): `--max-semi-space-size=8`, a young generation that is collected
 *   often enough to free the upstream's read buffers before V8's external-memory trigger starts a
 *   full collection;
 * - Node 22: none (its defaults ran no mark-compact at 50 connections, and Node 20's flag made 9-16
 *   per 4 s there);
 * - Node 20: `--initial-old-space-size=64`, a floor under the old-generation limit.
 * `BENCH_NODE_FLAGS` (whitespace-separated; empty for none) replaces them, to compare another set. The
 * proxy scenario gives the other forwarders the same flags. Printed in each scenario's heading.
 */
export const SIDECAR_NODE_FLAGS =
  process.env.BENCH_NODE_FLAGS !== undefined
    ? process.env.BENCH_NODE_FLAGS.trim().split(/\s+/).filter(Boolean)
    : advisedNodeFlags(Number(process.versions.node.split('.')[0]));

function advisedNodeFlags(major) {
  if (major >= 24) return ['--max-semi-space-size=8'];
  return major >= 22 ? [] : ['--initial-old-space-size=64'];
}

/** `SIDECAR_NODE_FLAGS` for a heading: the flags, or "no Node flags". */
export const NODE_FLAGS_TEXT = SIDECAR_NODE_FLAGS.length ? SIDECAR_NODE_FLAGS.join(' ') : 'no Node flags';

/**
 * The built sidecar (`node dist/main.js`) on `configText`, with bench/sidecar-preload.cjs preloaded
 * (memory and event-loop probes on stdin, exit when our stdin pipe closes). Its port comes from its
 * `listening` line, printed at every log level; with `withAdmin` (the config sets admin_listen), the
 * admin port from its `admin_listening` line.
 */
export async function startSidecar(name, configPath, env = {}, withAdmin = false) {
  const args = [
    '--expose-gc',
    ...SIDECAR_NODE_FLAGS,
    '-r',
    path.join(BENCH_DIR, 'sidecar-preload.cjs'),
    path.join(ROOT, 'dist/main.js'),
    '--config',
    configPath,
  ];
  const child = startChild(name, args, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env });
  child.keep = (e) => e.level !== 'info' || e.event === 'listening' || e.event === 'admin_listening';
  child.port = (await child.waitForLine((e) => e.event === 'listening', 15_000)).port;
  if (withAdmin) child.adminPort = (await child.waitForLine((e) => e.event === 'admin_listening', 15_000)).port;
  return child;
}

/**
 * Asks the preloaded probe of a sidecar child. `what`: "mem" (process.memoryUsage()), "gc" (full GC
 * first), "loop-start" / "loop-stop" (event-loop delay percentiles since loop-start, ms).
 */
export async function probe(child, what) {
  const from = child.lines.length;
  child.proc.stdin.write(what + '\n');
  const line = await child.waitForLine((e) => e.bench_probe === what, 10_000, from);
  return line;
}

/**
 * RSS and live heap of a sidecar child in MiB; `gc` forces a full GC first (slows the next seconds).
 * `parts` (MiB) is what V8 has committed for its young generation (`new_space`: it keeps its grown size
 * after a GC has emptied it), old objects and large ones (1 MiB or more: the token store's arrays),
 * and the ArrayBuffers (the store's typed arrays). Committed is not resident: pages never written are
 * not in the RSS.
 */
export async function sidecarMemory(child, at, gc = false) {
  const { mem, spaces } = await probe(child, gc ? 'gc' : 'mem');
  const mb = (bytes) => round1(bytes / 2 ** 20);
  const young = spaces.new_space + spaces.new_large_object_space;
  const large = spaces.large_object_space + spaces.code_large_object_space;
  const parts = {
    new_space: mb(young),
    old_space: mb(mem.heapTotal - young - large),
    large_objects: mb(large),
    array_buffers: mb(mem.arrayBuffers),
  };
  return { at, rss_mb: mb(mem.rss), heap_mb: mb(mem.heapUsed), parts };
}

/** "V8 committed: new space 32, old space 59, large objects 54; ArrayBuffers 38" (MiB) */
export function memoryParts({ parts: p }) {
  return `V8 committed: new space ${p.new_space}, old space ${p.old_space}, large objects ${p.large_objects}; ArrayBuffers ${p.array_buffers}`;
}

/**
 * One autocannon run. Its histogram keeps whole milliseconds, too coarse on loopback, so every
 * response time (ms, float) is also collected here; `r.latencies` holds them sorted.
 * @param job autocannon options (url, method, headers, body); `seconds` or `job.amount` bounds the run
 */
export async function load(job, connections, seconds, onResponse) {
  const latencies = [];
  const instance = autocannon({ ...job, connections, ...(job.amount ? {} : { duration: seconds }), pipelining: 1, timeout: 10 });
  instance.on('response', (_client, status, _bytes, responseTime) => {
    latencies.push(responseTime);
    if (onResponse) onResponse(status);
  });
  const r = await instance;
  r.latencies = latencies.sort((a, b) => a - b);
  return r;
}

/** A sample of a Prometheus metric (no labels) from the sidecar's admin port; NaN if absent. */
export async function metric(adminPort, name) {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Status code -> count of an autocannon result. */
export function statusCodes(r) {
  return Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
}

// ---- /proc readings (Linux) ----

/** utime + stime of a process in seconds (Linux /proc; assumes 100 ticks/s); NaN elsewhere. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * What a process costs while it serves nothing, over `seconds`: CPU ms per second of all its threads
 * (/proc/<pid>/task/<tid>/schedstat, in ns: exact, where /proc/<pid>/stat counts 10 ms ticks) and
 * wake-ups per second of its main thread (context switches: each is a sleep ended by a timer or I/O).
 * NaN where /proc has no schedstat.
 */
export async function idleCost(pid, seconds) {
  const read = () => {
    try {
      let ns = 0;
      for (const tid of readdirSync(`/proc/${pid}/task`))
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const switches = [...status.matchAll(/ctxt_switches:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
      return { ns, switches };
    } catch {
      return { ns: NaN, switches: NaN };
    }
  };
  const before = read();
  await sleep(seconds * 1000);
  const after = read();
  return {
    cpu_ms_per_s: round3((after.ns - before.ns) / 1e6 / seconds),
    wakeups_per_s: Math.round((after.switches - before.switches) / seconds),
  };
}

/** Busy CPU seconds of the whole machine (/proc/stat), and of this process and its children. */
export function machineCpu() {
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

/**
 * How this machine's idle CPUs wait (Linux sysfs): the cpuidle driver and, under `haltpoll` (a KVM
 * guest), how long an idle vCPU polls before it halts (`guest_halt_poll_ns`; 0 = halts at once, so
 * every wake-up of an idle vCPU is a VM exit). It governs the 1-connection latencies, where every
 * process idles between requests. Undefined where unreadable.
 * @returns e.g. { driver: 'haltpoll', guest_halt_poll_ns: 0 }
 */
export function idlePolicy() {
  const read = (file) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const driver = read('/sys/devices/system/cpu/cpuidle/current_driver');
  if (driver === undefined) return undefined;
  const poll = read('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  return { driver, ...(driver === 'haltpoll' && poll !== undefined ? { guest_halt_poll_ns: Number(poll) } : {}) };
}

/** Cores' worth of CPU used by processes other than the bench during a run (noise indicator). */
export function otherCpu(before, after, seconds) {
  if (!before || !after || Number.isNaN(before.ours) || Number.isNaN(after.ours)) return undefined;
  return round3(Math.max(0, after.busy - before.busy - (after.ours - before.ours)) / seconds);
}

/** VmRSS of a process in MiB, from /proc/<pid>/status; NaN if unreadable. */
export function rssMiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round1(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

/** Open sockets of a process: entries of /proc/<pid>/fd that link to socket:[...] (includes stdio pipes). */
export function socketCount(pid) {
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // closed between readdir and readlink
      }
    }
    return n;
  } catch {
    return NaN;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- statistics ----

export function percentile(sorted, p) {
  return sorted.length ? sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function sum(xs) {
  return xs.reduce((a, b) => a + b, 0);
}
export function round1(x) {
  return Math.round(x * 10) / 10;
}
export function round3(x) {
  return Math.round(x * 1000) / 1000;
}

// ---- targets ----

/**
 * A target check: `measured op limit` (op ">=" or "<="). `stretch` is a second, harder limit
 * reported beside it; it never makes the check FAIL. `note` says on what the figure rests (noisy...).
 * @returns {{scenario, name, measured, op, limit, unit, result: 'PASS'|'FAIL'|'n/a', stretch?, note?}}
 */
export function check(scenario, name, measured, op, limit, unit = '', { stretch, note } = {}) {
  const ok = (v, l) => (op === '>=' ? v >= l : v <= l);
  const valid = typeof measured === 'number' && Number.isFinite(measured);
  return {
    scenario,
    name,
    measured: valid ? round3(measured) : undefined,
    op,
    limit,
    unit,
    result: valid ? (ok(measured, limit) ? 'PASS' : 'FAIL') : 'n/a',
    ...(stretch !== undefined ? { stretch, stretch_result: valid ? (ok(measured, stretch) ? 'PASS' : 'FAIL') : 'n/a' } : {}),
    ...(note ? { note } : {}),
  };
}

/** The target table of one scenario, as lines. */
export function targetLines(checks) {
  if (!checks.length) return [];
  const w = Math.max(...checks.map((c) => c.name.length), 6);
  const lines = [`${'target'.padEnd(w)}  ${'measured'.padStart(12)}  ${'limit'.padEnd(14)}result  stretch`];
  for (const c of checks) {
    const measured = c.measured === undefined ? '-' : `${fmtNum(c.measured)}${c.unit}`;
    const stretch = c.stretch === undefined ? '' : `${c.op} ${fmtNum(c.stretch)}${c.unit} ${c.stretch_result}`;
    lines.push(
      `${c.name.padEnd(w)}  ${measured.padStart(12)}  ${`${c.op} ${fmtNum(c.limit)}${c.unit}`.padEnd(14)}${c.result.padEnd(7)} ${stretch}` +
        (c.note ? `  (${c.note})` : ''),
    );
  }
  return lines;
}

function fmtNum(x) {
  if (Math.abs(x) >= 1000) return String(Math.round(x));
  if (Math.abs(x) >= 10) return x.toFixed(1).replace(/\.0$/, '');
  return String(round3(x));
}

// ---- formatting ----

export function fmt(x, digits) {
  return x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits);
}
export function pct(x) {
  return x === undefined || Number.isNaN(x) ? '-' : `${Math.round(x * 100)}%`;
}
export function log(s) {
  process.stderr.write(s + '\n');
}
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** "noisy runs" when any of the aggregated targets rests on runs with other CPU load, else undefined. */
export function aggregateCheckNote(targets) {
  return targets.some((t) => t.basis === 'all runs') ? 'from noisy runs' : undefined;
}
