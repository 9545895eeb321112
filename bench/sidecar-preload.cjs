// Preloaded into the sidecar by bench/run.mjs (`node --expose-gc -r`); it changes nothing in the sidecar.
// - When the bench's end of the stdin pipe closes (the bench exited, even by SIGKILL), the sidecar gets
//   SIGTERM, so no orphan keeps the port.
// - A line "mem" on stdin prints {"bench_mem":process.memoryUsage()} on stderr; "gc" runs a full GC
//   first, so the bench can tell a leak (live heap growing) from memory the allocator merely keeps.
//   Forced GCs discard V8's warmed-up code state (the next seconds run several times slower), so the
//   bench sends "gc" only around its leak check, never before a measured run.
const readline = require('node:readline');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'gc' && typeof globalThis.gc === 'function') globalThis.gc();
  if (line === 'gc' || line === 'mem') process.stderr.write(JSON.stringify({ bench_mem: process.memoryUsage() }) + '\n');
});
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
