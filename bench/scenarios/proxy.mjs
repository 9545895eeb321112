// Scenario "proxy": the upstream alone, a raw TCP relay, bare http-proxy and undici pass-throughs and the
// sidecar with bearer validation (and Express Gateway when BENCH_EG_DIR is set, a bare http-proxy-3
// pass-through when BENCH_HP3_DIR is), interleaved, at each connection count and response size. See
// bench/README.md.
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  BENCH_DIR,
  aggregateCheckNote,
  assertAlive,
  check,
  cpuSeconds,
  fmt,
  idleCost,
  load,
  log,
  machineCpu,
  otherCpu,
  pct,
  percentile,
  probe,
  round3,
  median,
  SIDECAR_NODE_FLAGS,
  sidecarMemory,
  sleep,
  startChild,
  startSidecar,
  startUpstream,
  statusCodes,
  sum,
  targetLines,
} from '../lib/common.mjs';
import { benchConfig } from '../lib/config.mjs';
import { basic, fetchToken } from '../lib/oauth.mjs';

/** A run is "noisy" when other processes used more than this share of a core during it. */
const NOISE_LIMIT = 0.15;
const WARMUP_CHUNK_S = 2;
/** requests each target serves in its JIT warm-up before its CPU per request may count as settled */
const WARMUP_MIN_REQUESTS = 50_000;
const MAX_ACTIVE = 100_000;
const LABEL = {
  upstream: 'upstream (direct)',
  relay: 'raw TCP relay',
  passthrough: 'bare http-proxy',
  hp3: 'bare http-proxy-3',
  undici: 'bare undici',
  sidecar: 'sidecar (bearer)',
  eg: 'express-gateway (oauth2)',
};
const PATHS = { small: 'items?id=1', '64k': 'big' };
/** seconds of the idle reading, after IDLE_SETTLE_S with no load */
const IDLE_S = 5;
const IDLE_SETTLE_S = 10;
/** "+12" or "-3": an added cost in us that may be a saving */
const signed = (x) => (x >= 0 ? '+' : '') + fmt(x, 0);

/**
 * @param opts.connections connection counts, opts.sizes ("small", "64k"), opts.duration (s per run),
 *   opts.rounds, opts.warmup (most s of JIT warm-up per target and response size), opts.comboWarmup
 *   (s per target before each connections x size combination), opts.extraRounds, opts.egDir, opts.hp3Dir
 */
export async function proxyScenario(opts, { tmpDir }) {
  const problems = [];
  const upstream = await startUpstream();
  const upPort = upstream.port;
  // Every forwarder runs with the sidecar's Node flags, so each comparison is like for like. Resolves
  // once the child has printed its listening line (kept as `listening`, its port as `port`).
  const forwarder = async (name, script, args, timeoutMs = 10_000) => {
    const child = startChild(name, [...SIDECAR_NODE_FLAGS, path.join(BENCH_DIR, script), ...args]);
    child.listening = await child.waitForLine((e) => e.event === 'listening', timeoutMs);
    child.port = child.listening.port;
    return child;
  };
  const upstreamUrl = `http://127.0.0.1:${upPort}`;
  const relay = await forwarder('relay', 'relay.mjs', [upstreamUrl]);
  const passthrough = await forwarder('passthrough', 'passthrough.mjs', [upstreamUrl]);
  const undici = await forwarder('undici', 'passthrough-undici.mjs', [upstreamUrl]);
  let hp3;
  if (opts.hp3Dir) {
    // Resolved here and in the child from the same absolute directory, so both find the same package.
    const dir = path.resolve(opts.hp3Dir);
    hp3 = await forwarder('http-proxy-3', 'passthrough.mjs', [upstreamUrl, dir]);
    hp3.version = createRequire(path.join(dir, 'package.json'))('http-proxy-3/package.json').version;
  }
  const configPath = path.join(tmpDir, 'proxy.yaml');
  writeFileSync(
    configPath,
    benchConfig({ source: 'bench/scenarios/proxy.mjs', upstreamPort: upPort, maxActive: MAX_ACTIVE, timeoutMs: 30_000 }),
  );
  const sidecar = await startSidecar('sidecar', configPath);
  const tokenUrl = `http://127.0.0.1:${sidecar.port}/oauth2/token`;
  const auth = basic('bench-client', 'bench-secret');
  let eg;
  if (opts.egDir) {
    eg = await forwarder('express-gateway', 'eg-gateway.cjs', [opts.egDir, `${upstreamUrl}/v1`], 60_000);
    Object.assign(eg, { auth: basic(eg.listening.client_id, eg.listening.client_secret), version: eg.listening.version });
  }
  const order = ['upstream', 'relay', 'passthrough', ...(hp3 ? ['hp3'] : []), 'undici', 'sidecar', ...(eg ? ['eg'] : [])];
  const procOf = {
    upstream: upstream.proc,
    relay: relay.proc,
    passthrough: passthrough.proc,
    hp3: hp3?.proc,
    undici: undici.proc,
    sidecar: sidecar.proc,
    eg: eg?.proc,
  };
  const base = {
    upstream: `http://127.0.0.1:${upPort}/v1/`,
    relay: `http://127.0.0.1:${relay.port}/v1/`,
    passthrough: `http://127.0.0.1:${passthrough.port}/v1/`,
    hp3: hp3 && `http://127.0.0.1:${hp3.port}/v1/`,
    undici: `http://127.0.0.1:${undici.port}/v1/`,
    sidecar: `http://127.0.0.1:${sidecar.port}/api/`,
    eg: eg && `http://127.0.0.1:${eg.port}/api/`,
  };
  const egToken = eg && (await fetchToken(`http://127.0.0.1:${eg.port}/oauth2/token`, eg.auth));
  await sanityCheck(base, order, await fetchToken(tokenUrl, auth), egToken);

  // A fresh bearer before each sidecar run costs nothing measurable and keeps the run independent of
  // whatever the store did before.
  const job = async (name, size) => {
    const url = base[name] + PATHS[size];
    if (name === 'sidecar') return { url, headers: { authorization: `Bearer ${await fetchToken(tokenUrl, auth)}` } };
    if (name === 'eg') return { url, headers: { authorization: `Bearer ${egToken}` } };
    return { url };
  };
  const upstreamConnections = async () => {
    const from = upstream.lines.length;
    upstream.proc.kill('SIGUSR2');
    return (await upstream.waitForLine((e) => e.event === 'stats', 5000, from)).connections;
  };
  const memory = [await sidecarMemory(sidecar, 'start')];

  const results = [];
  // JIT warm-up of every target before the rounds of each response size, once per size: 2-second
  // chunks until the server's CPU per request settles (within 15% of the previous chunk), at least 2
  // chunks and WARMUP_MIN_REQUESTS requests, at most opts.warmup seconds. V8 optimises by calls, not
  // time, and each size takes code paths of its own (64 KiB: backpressure, several chunks per answer).
  // At 64 KiB two chunks that agreed could both be early (the sidecar at 476 -> 420 us per request,
  // then 510, 320, 267 and 253 in its first runs); and a full run that warmed at 60 B only reached the
  // sidecar's 50-connection 64 KiB rounds after about 16,000 answers of that size (344 and 277 us per
  // answer against bare undici's 246 and 156).
  const warmUp = async (size) => {
    log(`\n== proxy: JIT warm-up (up to ${opts.warmup} s per target, ${size}, 50 connections)`);
    for (const name of order) {
      const steps = [];
      let requests = 0;
      let settled = false;
      for (let t = 0; t < opts.warmup; t += WARMUP_CHUNK_S) {
        const before = cpuSeconds(procOf[name].pid);
        const r = await load(await job(name, size), 50, Math.min(WARMUP_CHUNK_S, opts.warmup - t));
        requests += r.requests.total;
        steps.push(Math.round(((cpuSeconds(procOf[name].pid) - before) / Math.max(1, r.requests.total)) * 1e6));
        const [prev, last] = steps.slice(-2);
        settled = steps.length >= 2 && Math.abs(last - prev) <= 0.15 * prev && requests >= WARMUP_MIN_REQUESTS;
        if (settled) break;
      }
      log(
        `  warm-up ${name.padEnd(11)} cpu us/req per ${WARMUP_CHUNK_S} s: ${steps.join(' -> ')} (${requests} requests` +
          `${settled ? '' : `, not settled within ${opts.warmup} s`})`,
      );
    }
  };
  for (const size of opts.sizes) {
    await warmUp(size);
    memory.push(await sidecarMemory(sidecar, `after ${size} warm-up`));
    for (const connections of opts.connections) {
      log(
        `\n== proxy ${size}, ${connections} connection(s): ${opts.comboWarmup} s warm-up each, ${opts.rounds} round(s) x ${opts.duration} s`,
      );
      for (const name of order) if (opts.comboWarmup > 0) await load(await job(name, size), connections, opts.comboWarmup);
      const runs = Object.fromEntries(order.map((n) => [n, []]));
      const quiet = (name) => runs[name].filter((r) => r.other_cpu !== undefined && r.other_cpu <= NOISE_LIMIT).length;
      for (let round = 0; ; round++) {
        const extra = round >= opts.rounds;
        // One more round only if some targets had quiet runs and others none: when every run was noisy,
        // the machine is busy throughout and another round would not change that.
        const lacking = order.filter((n) => quiet(n) === 0);
        if (extra && (round >= opts.rounds + opts.extraRounds || lacking.length === 0 || lacking.length === order.length)) break;
        if (extra) log(`  extra round: no quiet run yet for ${lacking.join(', ')}`);
        // rotate the order each round so no target always follows the same one
        for (const name of order.map((_, i) => order[(i + round) % order.length])) {
          const pid = procOf[name].pid;
          const spec = await job(name, size);
          const conns = await upstreamConnections();
          const gcsBefore = name === 'sidecar' ? await probe(sidecar, 'gcs') : undefined;
          const before = { server: cpuSeconds(pid), machine: machineCpu() };
          const r = await load(spec, connections, opts.duration);
          const s = summarise(r, cpuSeconds(pid) - before.server, otherCpu(before.machine, machineCpu(), r.duration));
          s.round = round + 1;
          s.upstream_connections_opened = (await upstreamConnections()) - conns;
          if (gcsBefore) {
            // V8's collections during the run: a full one every few hundred ms marks the whole live heap each time (README, design notes).
            const gcsAfter = await probe(sidecar, 'gcs');
            s.full_gcs = gcsAfter.full - gcsBefore.full;
            s.young_gcs = gcsAfter.young - gcsBefore.young;
          }
          // A proxy that reuses its upstream sockets opens at most one per client connection per run.
          if (name !== 'upstream' && s.upstream_connections_opened > 2 * connections) {
            problems.push(
              `${name}, ${size}, ${connections} conn, round ${round + 1}: ${s.upstream_connections_opened} upstream connections opened for ${s.requests} requests (keep-alive not reused)`,
            );
          }
          runs[name].push(s);
          if (!s.requests) problems.push(`${name}, ${size}, ${connections} conn, round ${round + 1}: no request completed within the run`);
          const failed = s.non2xx || s.errors || s.timeouts;
          log(
            `  round ${round + 1} ${name.padEnd(11)} ${fmt(s.rps, 0).padStart(7)} req/s  p50 ${fmt(s.p50, 3)} ms  p99 ${fmt(s.p99, 2)} ms` +
              `  server cpu ${pct(s.cpu)} ${fmt(s.cpu_us_per_req, 0)} us/req  other procs ${pct(s.other_cpu)}${s.other_cpu > NOISE_LIMIT ? ' (noisy)' : ''}` +
              `  upstream conns +${s.upstream_connections_opened}` +
              (s.full_gcs === undefined ? '' : `  GCs full ${s.full_gcs} young ${s.young_gcs}`) +
              (failed ? `  non2xx ${s.non2xx} errors ${s.errors} timeouts ${s.timeouts}` : ''),
          );
          if (failed) {
            problems.push(
              `${name}, ${size}, ${connections} conn, round ${round + 1}: non2xx ${s.non2xx}, errors ${s.errors}, timeouts ${s.timeouts}` +
                ` (status codes ${JSON.stringify(s.status_codes)})`,
            );
          }
          assertAlive();
        }
      }
      memory.push(await sidecarMemory(sidecar, `${size} c${connections}`));
      const targets = Object.fromEntries(order.map((n) => [n, aggregate(runs[n])]));
      const noisy = order.filter((n) => targets[n].basis === 'all runs');
      if (noisy.length)
        problems.push(
          `${size}, ${connections} conn: no run free of other CPU load for ${noisy.join(', ')}; their figures come from noisy runs`,
        );
      const t = targets;
      results.push({
        size,
        connections,
        targets,
        sidecar_vs_passthrough: {
          rps: round3(t.sidecar.rps / t.passthrough.rps),
          p50: round3(t.sidecar.p50 / t.passthrough.p50),
          p99: round3(t.sidecar.p99 / t.passthrough.p99),
          cpu_us_per_req_added: t.sidecar.cpu_us_per_req - t.passthrough.cpu_us_per_req,
        },
        sidecar_vs_upstream: { p50_added_us: Math.round((t.sidecar.p50 - t.upstream.p50) * 1000) },
        // Not judged: what one more process in the path costs with no HTTP work, and the sidecar over that.
        relay_vs_upstream: { p50_added_us: Math.round((t.relay.p50 - t.upstream.p50) * 1000) },
        sidecar_vs_relay: {
          p50_added_us: Math.round((t.sidecar.p50 - t.relay.p50) * 1000),
          cpu_us_per_req_added: t.sidecar.cpu_us_per_req - t.relay.cpu_us_per_req,
        },
        // Not judged: what the sidecar's own checks cost over the same forwarding with none.
        sidecar_vs_undici: {
          rps: round3(t.sidecar.rps / t.undici.rps),
          cpu_us_per_req_added: t.sidecar.cpu_us_per_req - t.undici.cpu_us_per_req,
        },
        // Not judged: http-proxy's maintained rewrite against the two forwarders above.
        ...(hp3
          ? {
              hp3_vs_passthrough: {
                rps: round3(t.hp3.rps / t.passthrough.rps),
                cpu_us_per_req_added: t.hp3.cpu_us_per_req - t.passthrough.cpu_us_per_req,
              },
              hp3_vs_undici: { rps: round3(t.hp3.rps / t.undici.rps) },
            }
          : {}),
        // Not judged: the forwarding library's and a bare TCP relay's own ratios, the ceiling the sidecar's is read against.
        ...(eg
          ? {
              sidecar_vs_eg: { rps: round3(t.sidecar.rps / t.eg.rps) },
              undici_vs_eg: { rps: round3(t.undici.rps / t.eg.rps) },
              relay_vs_eg: { rps: round3(t.relay.rps / t.eg.rps) },
              ...(hp3 ? { hp3_vs_eg: { rps: round3(t.hp3.rps / t.eg.rps) } } : {}),
            }
          : {}),
        runs,
      });
    }
  }

  // Leak check: live heap (after a full GC) before and after GET-only load at the most connections.
  const leakConnections = Math.max(...opts.connections);
  const heapBefore = await sidecarMemory(sidecar, 'leak check start, after GC', true);
  const leakRun = await load(await job('sidecar', opts.sizes[0]), leakConnections, opts.duration * 2);
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

  // Idle: what the sidecar and, beside it, the bare node:http upstream cost while nothing is sent,
  // read once V8's memory reducer has run its GC after the load (it starts some seconds after).
  await sleep(IDLE_SETTLE_S * 1000);
  const [idleSidecar, idleUpstream] = await Promise.all([idleCost(sidecar.proc.pid, IDLE_S), idleCost(upstream.proc.pid, IDLE_S)]);
  const idle = { seconds: IDLE_S, sidecar: idleSidecar, upstream: idleUpstream };

  const status = await sidecar.stop();
  if (sidecar.killed) problems.push('sidecar did not exit within 15 s of SIGTERM');
  else if (status.code !== 0) problems.push(`sidecar exited with ${JSON.stringify(status)} after SIGTERM`);
  await new Promise((resolve) => setTimeout(resolve, 100)); // let readline deliver the last lines
  const events = {};
  for (const e of sidecar.lines) {
    if (e.bench_probe || e.event === 'listening') continue;
    const key = e.event ?? e.msg ?? 'unknown';
    events[key] = (events[key] ?? 0) + 1;
  }
  for (const [event, count] of Object.entries(events)) problems.push(`sidecar logged ${count} x "${event}" at warn or above`);
  for (const c of [upstream, relay, passthrough, hp3, undici, eg]) if (c) await c.stop(2000);

  const checks = proxyChecks(results, leak, !!eg);
  return {
    name: 'proxy',
    lines: tableLines(results, order, opts, memory, leak, eg, idle, hp3),
    checks,
    problems,
    json: {
      results,
      sidecar_memory_mb: memory,
      idle,
      leak_check: leak,
      sidecar_log_events: events,
      express_gateway: eg?.version,
      http_proxy_3: hp3?.version,
    },
  };
}

/** The issue's targets for bearer-validated forwarding, per response size. */
function proxyChecks(results, leak, withEg) {
  const checks = [];
  const sizes = [...new Set(results.map((r) => r.size))];
  for (const size of sizes) {
    const at = (c) => results.find((r) => r.size === size && r.connections === c);
    const c50 = at(50);
    const c1 = at(1);
    const note = (r, names) => aggregateCheckNote(names.map((n) => r.targets[n]));
    if (c50) {
      checks.push(
        check('proxy', `${size} c50 req/s sidecar / bare http-proxy`, c50.sidecar_vs_passthrough.rps, '>=', 0.9, 'x', {
          stretch: 1.0,
          note: note(c50, ['sidecar', 'passthrough']),
        }),
        check(
          'proxy',
          `${size} c50 cpu/request sidecar - bare http-proxy`,
          c50.sidecar_vs_passthrough.cpu_us_per_req_added,
          '<=',
          15,
          ' us',
          {
            note: note(c50, ['sidecar', 'passthrough']),
          },
        ),
        check('proxy', `${size} c50 p99 sidecar / bare http-proxy`, c50.sidecar_vs_passthrough.p99, '<=', 1.3, 'x', {
          note: note(c50, ['sidecar', 'passthrough']),
        }),
      );
      if (withEg)
        checks.push(
          check('proxy', `${size} c50 req/s sidecar / express-gateway`, c50.sidecar_vs_eg.rps, '>=', 5, 'x', {
            // What the forwarding library and a bare TCP relay reach in the same run: the sidecar forwards with the first.
            note: [
              note(c50, ['sidecar', 'eg', 'undici']),
              `bare undici x${fmt(c50.undici_vs_eg.rps, 2)}, relay x${fmt(c50.relay_vs_eg.rps, 2)}`,
            ]
              .filter(Boolean)
              .join('; '),
          }),
        );
    }
    if (c1)
      checks.push(
        check('proxy', `${size} c1 p50 sidecar - upstream alone`, c1.sidecar_vs_upstream.p50_added_us, '<=', 120, ' us', {
          note: note(c1, ['sidecar', 'upstream']),
        }),
      );
  }
  // Not an issue target, but a live heap that grows with GETs is a leak whatever the speed: more than
  // 50 B per GET, beyond 2 MiB of noise (what V8 keeps between two full GCs varies by about that much).
  const limitMiB = Math.max(2, (50 * leak.requests) / 2 ** 20);
  checks.push(
    check(
      'proxy',
      'live heap growth over the leak check',
      leak.heap_mb_after - leak.heap_mb_before,
      '<=',
      Number(limitMiB.toFixed(1)),
      ' MiB',
    ),
  );
  return checks;
}

function tableLines(results, order, opts, memory, leak, eg, idle, hp3) {
  const lines = [];
  for (const r of results) {
    lines.push('', `${r.size} responses, ${r.connections} connection(s), ${opts.duration} s runs, median of quiet runs`);
    lines.push(
      `${'target'.padEnd(26)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'cpu'.padStart(6)}${'us/req'.padStart(8)}${'non2xx'.padStart(8)}${'errors'.padStart(8)}  basis`,
    );
    for (const name of order) {
      const t = r.targets[name];
      lines.push(
        `${LABEL[name].padEnd(26)}${String(t.rps).padStart(8)}${fmt(t.p50, 3).padStart(9)}${fmt(t.p99, 2).padStart(9)}${pct(t.cpu).padStart(6)}` +
          `${fmt(t.cpu_us_per_req, 0).padStart(8)}${String(t.non2xx).padStart(8)}${String(t.errors).padStart(8)}  ${t.basis}`,
      );
    }
    const q = r.sidecar_vs_passthrough;
    lines.push(
      `sidecar vs bare http-proxy: req/s x${fmt(q.rps, 2)}, p50 x${fmt(q.p50, 2)}, p99 x${fmt(q.p99, 2)}, cpu/request ${signed(q.cpu_us_per_req_added)} us;` +
        ` p50 over upstream alone ${signed(r.sidecar_vs_upstream.p50_added_us)} us` +
        (r.sidecar_vs_eg ? `; req/s x${fmt(r.sidecar_vs_eg.rps, 2)} express-gateway ${eg.version}` : ''),
      `sidecar vs bare undici (not judged): req/s x${fmt(r.sidecar_vs_undici.rps, 2)}, cpu/request ${signed(r.sidecar_vs_undici.cpu_us_per_req_added)} us` +
        (r.undici_vs_eg ? `; bare undici itself x${fmt(r.undici_vs_eg.rps, 2)} express-gateway` : ''),
      `raw TCP relay, no HTTP work (not judged): p50 over upstream alone ${signed(r.relay_vs_upstream.p50_added_us)} us` +
        (r.relay_vs_eg ? `, req/s x${fmt(r.relay_vs_eg.rps, 2)} express-gateway` : '') +
        `; sidecar over it: p50 ${signed(r.sidecar_vs_relay.p50_added_us)} us, cpu/request ${signed(r.sidecar_vs_relay.cpu_us_per_req_added)} us`,
    );
    if (r.hp3_vs_passthrough)
      lines.push(
        `bare http-proxy-3 ${hp3.version} (not judged): req/s x${fmt(r.hp3_vs_passthrough.rps, 2)} bare http-proxy (cpu/request ${signed(r.hp3_vs_passthrough.cpu_us_per_req_added)} us),` +
          ` x${fmt(r.hp3_vs_undici.rps, 2)} bare undici` +
          (r.hp3_vs_eg ? `, x${fmt(r.hp3_vs_eg.rps, 2)} express-gateway` : ''),
      );
  }
  lines.push(
    '',
    `sidecar memory MiB (rss/live heap): ${memory.map((s) => `${s.at} ${s.rss_mb}/${s.heap_mb}`).join(', ')}`,
    `leak check: ${leak.requests} GETs, live heap ${leak.heap_mb_before} -> ${leak.heap_mb_after} MiB (${fmt(leak.bytes_per_request, 1)} B/request)`,
    `idle, ${idle.seconds} s with no load (not judged): sidecar ${fmt(idle.sidecar.cpu_ms_per_s, 2)} ms CPU/s, ${idle.sidecar.wakeups_per_s} wake-ups/s;` +
      ` bare node:http upstream ${fmt(idle.upstream.cpu_ms_per_s, 2)} ms CPU/s, ${idle.upstream.wakeups_per_s} wake-ups/s`,
  );
  return lines;
}

/** Each target answers the upstream's bodies; the sidecar refuses a request without a bearer. */
async function sanityCheck(base, order, token, egToken) {
  const get = async (u, headers = {}) => {
    const res = await fetch(u, { headers });
    return { status: res.status, body: await res.text() };
  };
  for (const p of Object.values(PATHS)) {
    const direct = await get(base.upstream + p);
    if (direct.status !== 200) throw new Error(`upstream answered ${direct.status}`);
    for (const name of order.slice(1)) {
      const bearer = name === 'sidecar' ? token : egToken;
      const res = await get(base[name] + p, bearer ? { authorization: `Bearer ${bearer}` } : {});
      if (res.status !== 200 || res.body !== direct.body) throw new Error(`${name} answered ${res.status} ${res.body.slice(0, 200)}`);
    }
  }
  const anonymous = await get(base.sidecar + PATHS.small);
  if (anonymous.status !== 401) throw new Error(`sidecar without a bearer answered ${anonymous.status}, expected 401`);
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
    status_codes: statusCodes(r),
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
