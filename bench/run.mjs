// `npm run bench`: the sidecar against the issue's targets, on loopback, one scenario after another:
//   proxy  - upstream alone vs bare http-proxy vs sidecar (bearer), interleaved, per connections x size
//            (plus Express Gateway when BENCH_EG_DIR is set)
//   token  - POST /oauth2/token with plain, env and hashed secrets; event-loop delay during the bursts
//   stores - bearer-validated req/s with the in-memory, Redis and JWT token stores, interleaved
//   memory - RSS with 1,000,000 live tokens; RSS over a flood of 5,000,000 token requests (not default)
// Each prints a table and its targets with PASS/FAIL; the last stdout line is JSON with every figure.
// Options as flags or environment variables (flags win); `node bench/run.mjs --help` lists them, and
// bench/README.md says what the figures mean.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { children, idlePolicy, killChildren, log, NODE_FLAGS_TEXT, SIDECAR_NODE_FLAGS, targetLines } from './lib/common.mjs';
import { memoryScenario } from './scenarios/memory.mjs';
import { proxyScenario } from './scenarios/proxy.mjs';
import { storesScenario } from './scenarios/stores.mjs';
import { tokenScenario } from './scenarios/token.mjs';

const SCENARIOS = { proxy: proxyScenario, token: tokenScenario, stores: storesScenario, memory: memoryScenario };
const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const positive = (s) => (Number(s) > 0 ? Number(s) : undefined);
const nonNegative = (s) => (s !== '' && Number(s) >= 0 ? Number(s) : undefined);
const int = (s) => (Number.isInteger(Number(s)) && Number(s) > 0 ? Number(s) : undefined);
const OPTIONS = [
  // [key, flag, env, default, parse, help]
  [
    'only',
    '--only',
    'BENCH_ONLY',
    'proxy,token,stores',
    (s) => (s === 'all' ? ['proxy', 'token', 'stores', 'memory'] : list(s).every((x) => x in SCENARIOS) ? list(s) : undefined),
    'scenarios: proxy,token,stores,memory or all',
  ],
  ['duration', '--duration', 'BENCH_DURATION', '5', positive, 's per measured run'],
  ['rounds', '--rounds', 'BENCH_ROUNDS', '2', int, 'interleaved rounds per combination / token case'],
  [
    'connections',
    '--connections',
    'BENCH_CONNECTIONS',
    '1,50,200',
    (s) => (list(s).every((c) => int(c)) ? list(s).map(Number) : undefined),
    'proxy connection counts',
  ],
  [
    'sizes',
    '--sizes',
    'BENCH_SIZES',
    'small,64k',
    (s) => (list(s).every((x) => x === 'small' || x === '64k') ? list(s) : undefined),
    'proxy response sizes: small, 64k',
  ],
  ['warmup', '--warmup', 'BENCH_WARMUP', '30', positive, 'most s of JIT warm-up per proxy target and response size (once)'],
  ['comboWarmup', '--combo-warmup', 'BENCH_COMBO_WARMUP', '1', nonNegative, 's of warm-up per target before each combination'],
  ['extraRounds', '--extra-rounds', 'BENCH_EXTRA_ROUNDS', '0', nonNegative, 'extra rounds while some targets lack a quiet run'],
  ['egDir', '--eg-dir', 'BENCH_EG_DIR', '', (s) => s, 'dir with node_modules/express-gateway: adds it to the proxy scenario'],
  ['hp3Dir', '--hp3-dir', 'BENCH_HP3_DIR', '', (s) => s, 'dir with node_modules/http-proxy-3: adds a bare pass-through with it'],
  ['tokenConnections', '--token-connections', 'BENCH_TOKEN_CONNECTIONS', '50', int, 'connections for token requests'],
  ['memoryTokens', '--memory-tokens', 'BENCH_MEMORY_TOKENS', '1000000', int, 'live tokens to hold'],
  [
    'memoryFill',
    '--memory-fill',
    'BENCH_MEMORY_FILL',
    'endpoint',
    (s) => (s === 'endpoint' || s === 'direct' ? s : undefined),
    'endpoint (HTTP) or direct (in-process store)',
  ],
  ['floodRequests', '--flood-requests', 'BENCH_FLOOD_REQUESTS', '5000000', nonNegative, 'token requests in the flood (0: skip)'],
  ['floodMaxActive', '--flood-max-active', 'BENCH_FLOOD_MAX_ACTIVE', '100000', int, 'tokens.max_active during the flood'],
  ['sampleS', '--sample-s', 'BENCH_SAMPLE_S', '5', positive, 's between RSS samples in the flood'],
  [
    'strict',
    '--strict',
    'BENCH_STRICT',
    '',
    (s) => (s === '1' || s === 'true' ? true : s === '' || s === '0' || s === 'false' ? false : undefined),
    'exit 1 when a target FAILs',
  ],
];

const opts = parseOptions(process.argv.slice(2));
let tmpDir;
process.on('exit', () => {
  killChildren();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping children`);
    process.exit(130);
  });
}

const started = Date.now();
const report = {
  bench: 'oauth2-sidecar',
  node: process.version,
  sidecar_node_flags: SIDECAR_NODE_FLAGS,
  cpus: os.cpus().length,
  cpuidle: idlePolicy(),
  options: opts,
  scenarios: {},
  checks: [],
  problems: [],
};
try {
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'oauth2-sidecar-bench-'));
  for (const name of opts.only) {
    const t0 = Date.now();
    const result = await SCENARIOS[name](opts, { tmpDir });
    result.wall_s = Math.round((Date.now() - t0) / 1000);
    report.scenarios[name] = { wall_s: result.wall_s, ...result.json };
    report.checks.push(...result.checks);
    report.problems.push(...result.problems.map((p) => `${name}: ${p}`));
    // Each scenario's table as soon as it is done, so a long run shows results early.
    console.log(
      [
        `\n=== ${name} (${result.wall_s} s, node ${process.version} ${NODE_FLAGS_TEXT}, ${report.cpus} cpus${idleText(report.cpuidle)})`,
        ...result.lines,
        '',
        ...targetLines(result.checks),
      ].join('\n'),
    );
  }
} catch (err) {
  console.error(`bench: FAILED: ${err instanceof Error ? err.message : err}`);
  for (const child of children) {
    const tail = child.stderr
      .filter((l) => !l.startsWith('{"bench_probe"'))
      .slice(-10)
      .join('\n');
    if (tail) console.error(`--- ${child.name} stderr (tail) ---\n${tail}`);
  }
  process.exitCode = 1;
}
report.wall_s = Math.round((Date.now() - started) / 1000);
const failed = report.checks.filter((c) => c.result === 'FAIL');
console.log(
  [
    '',
    `=== summary (${report.wall_s} s): ${report.checks.filter((c) => c.result === 'PASS').length} PASS, ${failed.length} FAIL` +
      (failed.length ? `: ${failed.map((c) => c.name).join('; ')}` : ''),
    report.problems.length ? `problems:\n${report.problems.map((p) => `  - ${p}`).join('\n')}` : 'problems: none',
  ].join('\n'),
);
console.log(JSON.stringify(report));
if (opts.strict && failed.length) process.exitCode = 1;
process.exit();

/** ", cpuidle haltpoll (guest_halt_poll_ns 0)" for a scenario's heading; "" when unknown. */
function idleText(idle) {
  if (!idle) return '';
  return `, cpuidle ${idle.driver}` + (idle.guest_halt_poll_ns === undefined ? '' : ` (guest_halt_poll_ns ${idle.guest_halt_poll_ns})`);
}

function parseOptions(argv) {
  const raw = {};
  for (const [key, , env, def] of OPTIONS) raw[key] = process.env[env] ?? def;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--help' || flag === '-h') usage('', 0);
    const spec = OPTIONS.find((o) => o[1] === flag);
    if (!spec) usage(`unknown argument ${flag}`);
    raw[spec[0]] = spec[0] === 'strict' ? (inline ?? '1') : (inline ?? argv[++i]);
  }
  const o = {};
  for (const [key, flag, env, , parse] of OPTIONS) {
    const value = parse(String(raw[key] ?? ''));
    if (value === undefined) usage(`bad value for ${flag} / ${env}: ${raw[key]}`);
    o[key] = value;
  }
  return o;
}

function usage(msg, code = 2) {
  const rows = OPTIONS.map(([, flag, env, def, , help]) => `  ${`${flag} / ${env}`.padEnd(50)} ${help}${def ? ` (default ${def})` : ''}`);
  rows.push(
    `  ${'BENCH_NODE_FLAGS (environment only)'.padEnd(50)} Node flags of the sidecar and forwarders (this run: ${NODE_FLAGS_TEXT})`,
  );
  console.error(
    `${msg ? msg + '\n' : ''}usage: node bench/run.mjs [options]  (or npm run bench; environment variables work too)\n${rows.join('\n')}`,
  );
  process.exit(code);
}
