// Memory of the real token store (dist/oauth/tokens.js, MemoryTokenStore) holding N live tokens, filled
// in-process through issue() -- the store's own cost, without HTTP. After `npm run build`:
//   node --expose-gc bench/token-store-memory.mjs [--tokens 1000000] [--profiles 1]
// Prints one JSON line: RSS and live heap (after a full GC) before the store exists and filled, and bytes
// per token: heap, heap plus ArrayBuffers (the store's typed arrays) and RSS.
// bench/run.mjs (BENCH_ONLY=memory, BENCH_MEMORY_FILL=direct) runs this as a child process.
import { MemoryTokenStore } from '../dist/oauth/tokens.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const tokens = opt('tokens', 1_000_000);
const profiles = opt('profiles', 1);
if (typeof globalThis.gc !== 'function') {
  console.error('token-store-memory: run with node --expose-gc');
  process.exit(2);
}
if (!(Number.isInteger(tokens) && tokens > 0 && Number.isInteger(profiles) && profiles > 0)) {
  console.error('usage: node --expose-gc bench/token-store-memory.mjs [--tokens N] [--profiles N]');
  process.exit(2);
}

const mem = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};
// before the store exists: it allocates its arrays for max_active up front
const before = mem();
const store = new MemoryTokenStore({ maxActive: tokens });
const scope = ['bench'];
const started = performance.now();
for (let i = 0; i < tokens; i++) {
  const p = i % profiles;
  // the same shape the token endpoint passes: profile, client_id and scope shared by a profile's tokens
  await store.issue({ profile: `profile-${p}`, client_id: `client-${p}`, scope, lifetime: 3600 });
}
const fillMs = performance.now() - started;
const after = mem();
const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
console.log(
  JSON.stringify({
    bench_store_mem: {
      tokens,
      live: store.size,
      profiles,
      fill_s: Math.round(fillMs / 100) / 10,
      rss_mib_before: mib(before.rss),
      rss_mib_after: mib(after.rss),
      heap_mib_before: mib(before.heapUsed),
      heap_mib_after: mib(after.heapUsed),
      array_buffers_mib_after: mib(after.arrayBuffers),
      heap_bytes_per_token: Math.round((after.heapUsed - before.heapUsed) / tokens),
      // the store's own memory: JS heap plus its typed arrays (ArrayBuffers, outside the heap)
      store_bytes_per_token: Math.round((after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / tokens),
      rss_bytes_per_token: Math.round((after.rss - before.rss) / tokens),
    },
  }),
);
store.close();
