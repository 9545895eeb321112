// Preloaded into the sidecar by bench/run.mjs and scripts/soak.mjs (`node --expose-gc -r`); it changes
// nothing in the sidecar.
// - When the bench's end of the stdin pipe closes (the bench exited, even by SIGKILL), the sidecar gets
//   SIGTERM, so no orphan keeps the port.
// - Probes, one line on stdin each, answered by one JSON line {"bench_probe":<line>,...} on stderr:
//   "mem": process.memoryUsage() and the bytes V8 holds per heap space (v8.getHeapSpaceStatistics():
//   space_size, which counts pages kept even when empty); "gc": a full GC first, so the bench can tell
//   a leak (live heap growing) from memory the allocator merely keeps. Forced GCs discard V8's warmed-up code state (the
//   next seconds run several times slower), so the bench sends "gc" only where it measures memory,
//   never before a measured run.
//   "loop-start" / "loop-stop": event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution)
//   between the two, p50/p99/max in ms, and this process's CPU seconds (process.cpuUsage).
//   "gcs": how many full (mark-compact) and young-generation collections V8 has run since start.
const readline = require('node:readline');
const { monitorEventLoopDelay, PerformanceObserver, constants } = require('node:perf_hooks');
const v8 = require('node:v8');

const gcs = { full: 0, young: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.full++;
    else if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.young++;
  }
}).observe({ entryTypes: ['gc'] });

const delay = monitorEventLoopDelay({ resolution: 1 });
let cpuAtStart;
const ms = (ns) => Math.round(ns / 1e4) / 100;
const answer = (line, extra) => process.stderr.write(JSON.stringify({ bench_probe: line, ...extra }) + '\n');

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'gc' && typeof globalThis.gc === 'function') globalThis.gc();
  if (line === 'gc' || line === 'mem') answer(line, { mem: process.memoryUsage(), spaces: spaceSizes() });
  else if (line === 'gcs') answer(line, { ...gcs });
  else if (line === 'loop-start') {
    delay.reset();
    delay.enable();
    cpuAtStart = process.cpuUsage();
    answer(line, {});
  } else if (line === 'loop-stop') {
    delay.disable();
    const cpu = process.cpuUsage(cpuAtStart);
    answer(line, {
      loop_delay_ms: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
      cpu_s: (cpu.user + cpu.system) / 1e6,
    });
  }
});
/** space name (new_space, old_space, large_object_space, ...) -> bytes V8 holds for it */
function spaceSizes() {
  return Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
}

process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
