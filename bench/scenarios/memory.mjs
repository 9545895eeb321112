// Scenario "memory" (not in the default run): RSS of the sidecar holding 1,000,000 live tokens, and RSS
// over time during a flood of 5,000,000 token requests against a smaller tokens.max_active. See
// bench/README.md for how long each takes.
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import {
  BENCH_DIR,
  assertAlive,
  check,
  load,
  log,
  memoryParts,
  metric,
  round1,
  rssMiB,
  SIDECAR_NODE_FLAGS,
  sidecarMemory,
  sleep,
  startChild,
  startSidecar,
  statusCodes,
} from '../lib/common.mjs';
import { benchConfig } from '../lib/config.mjs';
import { basic, tokenJob } from '../lib/oauth.mjs';

const AUTH = basic('bench-client', 'bench-secret');
const RSS_TARGET_MIB = 256;
/** ms of idle before the second, unjudged RSS reading of the live-token fill */
const SETTLE_MS = 10_000;
/** Flat: after a full GC, the figure at the end of the flood within this factor of the one at half-time. */
const FLAT_FACTOR = 1.1;

/**
 * @param opts.memoryTokens live tokens to hold (1e6), opts.memoryFill "endpoint" | "direct",
 *   opts.floodRequests (5e6), opts.floodMaxActive (1e5), opts.tokenConnections, opts.sampleS
 */
export async function memoryScenario(opts, { tmpDir }) {
  const problems = [];
  const checks = [];
  const lines = [''];
  const json = {};

  // ---- 1. N live tokens ----
  const n = opts.memoryTokens;
  if (opts.memoryFill === 'direct') {
    // The real MemoryTokenStore from dist/, filled through issue() in a bare node process: the store's
    // own cost plus node's baseline, without the sidecar's modules (a few MiB) or HTTP.
    log(`\n== memory: ${n} live tokens, filled in-process (bench/token-store-memory.mjs)`);
    const child = startChild('token-store-memory', [
      '--expose-gc',
      ...SIDECAR_NODE_FLAGS,
      path.join(BENCH_DIR, 'token-store-memory.mjs'),
      '--tokens',
      String(n),
    ]);
    const { bench_store_mem: m } = await child.waitForLine((e) => e.bench_store_mem, 30 * 60_000);
    await child.stop(2000);
    json.live = { fill: 'direct', ...m };
    lines.push(
      `${n} live tokens, MemoryTokenStore filled in-process in ${m.fill_s} s: RSS ${m.rss_mib_before} -> ${m.rss_mib_after} MiB after GC,` +
        ` live heap ${m.heap_mib_before} -> ${m.heap_mib_after} MiB, ArrayBuffers ${m.array_buffers_mib_after} MiB` +
        ` (${m.heap_bytes_per_token} B/token heap, ${m.store_bytes_per_token} B/token heap + ArrayBuffers, ${m.rss_bytes_per_token} B/token RSS)`,
    );
    checks.push(check('memory', `RSS with ${n} live tokens (store alone, after GC)`, m.rss_mib_after, '<=', RSS_TARGET_MIB, ' MiB'));
  } else {
    log(`\n== memory: ${n} live tokens, filled through POST /oauth2/token at ${opts.tokenConnections} connections`);
    const sidecar = await startTokenSidecar(tmpDir, 'live', n);
    const url = `http://127.0.0.1:${sidecar.port}/oauth2/token`;
    const before = await sidecarMemory(sidecar, 'start, after GC', true);
    const started = Date.now();
    let issued = 0;
    const ticker = setInterval(() => log(`  ${issued} tokens issued, rss ${rssMiB(sidecar.proc.pid)} MiB`), 10_000);
    const r = await load({ ...tokenJob(url, AUTH), amount: n }, opts.tokenConnections, 0, (status) => status === 200 && issued++);
    clearInterval(ticker);
    const fillS = round1((Date.now() - started) / 1000);
    assertAlive();
    const active = await metric(sidecar.adminPort, 'oauth2_sidecar_tokens_active');
    const peak = rssMiB(sidecar.proc.pid);
    const after = await sidecarMemory(sidecar, `${n} live tokens, after GC`, true);
    // Not judged: the same after 10 s idle, once V8 has given back the pages it pooled during the burst.
    await sleep(SETTLE_MS);
    const settled = await sidecarMemory(sidecar, `${n} live tokens, ${SETTLE_MS / 1000} s idle`);
    await sidecar.stop();
    if (r.non2xx || r.errors) problems.push(`memory fill: status codes ${JSON.stringify(statusCodes(r))}, errors ${r.errors}`);
    json.live = {
      fill: 'endpoint',
      tokens: n,
      issued,
      tokens_active: active,
      fill_s: fillS,
      before,
      rss_mib_before_gc: peak,
      after,
      settled,
    };
    const perToken = Math.round(((after.heap_mb - before.heap_mb) * 2 ** 20) / Math.max(1, active));
    lines.push(
      `${n} token requests in ${fillS} s (${Math.round(issued / fillS)} tokens/s), ${active} live: RSS ${before.rss_mb} -> ${after.rss_mb} MiB after GC` +
        ` (${peak} before GC), live heap ${before.heap_mb} -> ${after.heap_mb} MiB (~${perToken} B/token);` +
        ` after ${SETTLE_MS / 1000} s idle RSS ${settled.rss_mb} MiB (not judged)`,
      `  MiB after GC: ${memoryParts(after)} (at the start: ${memoryParts(before)})`,
    );
    checks.push(check('memory', `RSS with ${active} live tokens (after GC)`, after.rss_mb, '<=', RSS_TARGET_MIB, ' MiB'));
  }

  // ---- 2. flood against max_active ----
  // Two halves with a full GC after each: once the store is full and turning over, what survives a GC
  // must not grow (bounded by max_active). RSS is sampled throughout; between GCs it saws up and down.
  if (opts.floodRequests > 0) {
    const max = opts.floodMaxActive;
    const halves = [Math.floor(opts.floodRequests / 2), opts.floodRequests - Math.floor(opts.floodRequests / 2)];
    if (halves[0] < 2 * max)
      problems.push(`memory flood: the first half (${halves[0]} requests) does not reach 2 x max_active; raise BENCH_FLOOD_REQUESTS`);
    log(`\n== memory: flood of ${opts.floodRequests} token requests (two halves), max_active ${max}, RSS every ${opts.sampleS} s`);
    const sidecar = await startTokenSidecar(tmpDir, 'flood', max);
    const url = `http://127.0.0.1:${sidecar.port}/oauth2/token`;
    const start = await sidecarMemory(sidecar, 'start');
    const started = Date.now();
    let issued = 0;
    const samples = [];
    const sample = () => {
      samples.push({ t_s: round1((Date.now() - started) / 1000), issued, rss_mb: rssMiB(sidecar.proc.pid) });
      log(`  ${String(issued).padStart(8)} issued  rss ${samples.at(-1).rss_mb} MiB`);
    };
    const timer = setInterval(sample, opts.sampleS * 1000);
    const afterGc = [];
    for (const [i, amount] of halves.entries()) {
      const r = await load({ ...tokenJob(url, AUTH), amount }, opts.tokenConnections, 0, (status) => status === 200 && issued++);
      if (r.non2xx || r.errors)
        problems.push(`memory flood, half ${i + 1}: status codes ${JSON.stringify(statusCodes(r))}, errors ${r.errors}`);
      assertAlive();
      sample();
      afterGc.push(await sidecarMemory(sidecar, `after half ${i + 1} (${issued} issued), after GC`, true));
    }
    clearInterval(timer);
    const floodS = round1((Date.now() - started) / 1000);
    const active = await metric(sidecar.adminPort, 'oauth2_sidecar_tokens_active');
    await sidecar.stop();
    const [mid, end] = afterGc;
    const peak = (from, to) => Math.max(...samples.filter((s) => s.issued > from && s.issued <= to).map((s) => s.rss_mb));
    json.flood = {
      requests: opts.floodRequests,
      issued,
      max_active: max,
      tokens_active: active,
      flood_s: floodS,
      start,
      after_gc: afterGc,
      samples,
    };
    lines.push(
      `flood: ${opts.floodRequests} token requests in ${floodS} s (${Math.round(issued / floodS)} tokens/s), max_active ${max}, ${active} live at the end`,
      `  RSS MiB: start ${start.rss_mb}; peak during half 1 ${peak(0, halves[0])}, half 2 ${peak(halves[0], Infinity)};` +
        ` after GC: half 1 ${mid.rss_mb}, half 2 ${end.rss_mb}; live heap after GC ${mid.heap_mb} -> ${end.heap_mb} MiB`,
      `  samples (s: issued rss): ${samples.map((s) => `${s.t_s}: ${s.issued} ${s.rss_mb}`).join(', ')}`,
    );
    checks.push(
      check('memory', 'flood: live heap after GC, end / middle', end.heap_mb / mid.heap_mb, '<=', FLAT_FACTOR, 'x'),
      check('memory', 'flood: RSS after GC, end / middle', end.rss_mb / mid.rss_mb, '<=', FLAT_FACTOR, 'x'),
      check('memory', 'flood: live tokens at the end / max_active', active / max, '<=', 1, 'x'),
    );
  }
  return { name: 'memory', lines, checks, problems, json };
}

async function startTokenSidecar(tmpDir, name, maxActive) {
  const configPath = path.join(tmpDir, `memory-${name}.yaml`);
  writeFileSync(configPath, benchConfig({ source: 'bench/scenarios/memory.mjs', admin: true, maxActive }));
  return startSidecar(`sidecar (memory ${name})`, configPath, {}, true);
}
