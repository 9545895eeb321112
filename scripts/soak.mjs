// `npm run soak`: a bounded soak of the built sidecar (not part of CI's default run). For SOAK_MINUTES
// (default 10) it sends bearer GETs at a steady SOAK_RATE (default 200 req/s) through `node dist/main.js`
// in a child process, while
//   - tokens churn: a new token every SOAK_TOKEN_S (10) s, each living SOAK_EXPIRES_IN (30) s; every 5 s a
//     request with an expired token must get 401;
//   - the upstream is killed and restarted on the same port every SOAK_RESTART_S (60) s, first at half
//     that, down for SOAK_GAP_MS (1000) ms: 502s are expected only while it is down;
//   - every SOAK_ABORT_EVERY-th (50th) request asks for a slow answer and is aborted by the client after 50 ms.
// The sidecar's RSS (/proc/<pid>/status VmRSS) and open sockets (/proc/<pid>/fd -> socket:) are sampled
// before the load, 10 s in, every SOAK_SAMPLE_S (60) s and after the load stopped. PASS/FAIL: at the end
// of the load, RSS, RSS outside the V8 heap (RSS less the heap V8 has committed) and the live heap each
// within +20% of the reference mark (half-time, once V8's heap has reached its working size), both marks
// read right after a full GC (a leak shows in the live heap or outside the heap; RSS itself also swings
// with how much heap V8 keeps committed); sockets back to the before-load count; no errors but those the
// faults cause; the sidecar alive and exiting 0 on SIGTERM.
// Requests not sent because more than 500 were in flight (a machine too busy for the rate) are counted
// and listed, not judged.
// Progress on stderr; a report, then one JSON line, on stdout. Exit 1 on FAIL.
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT,
  children,
  freePort,
  killChildren,
  NODE_FLAGS_TEXT,
  probe,
  SIDECAR_NODE_FLAGS,
  round1,
  rssMiB,
  sleep,
  socketCount,
  startSidecar,
  startUpstream,
} from '../bench/lib/common.mjs';
import { benchConfig } from '../bench/lib/config.mjs';
import { basic, TOKEN_BODY } from '../bench/lib/oauth.mjs';

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!(n > 0)) usage(`${name} must be a positive number, not ${v}`);
  return n;
};
const cfg = {
  minutes: env('SOAK_MINUTES', 10),
  rate: env('SOAK_RATE', 200),
  tokenS: env('SOAK_TOKEN_S', 10),
  expiresIn: env('SOAK_EXPIRES_IN', 30),
  restartS: env('SOAK_RESTART_S', 60),
  gapMs: env('SOAK_GAP_MS', 1000),
  abortEvery: env('SOAK_ABORT_EVERY', 50),
  sampleS: env('SOAK_SAMPLE_S', 60),
};
const FLAT = 1.2;
/** After the upstream is back, requests that started while it was down may still fail for this long. */
const GAP_GRACE_MS = 1000;
const AUTH = basic('soak-client', 'soak-secret');
if (process.argv.includes('--help') || process.argv.includes('-h')) usage('', 0);
if (!existsSync(path.join(ROOT, 'dist/main.js'))) usage('dist/main.js is missing: run `npm run build` (npm run soak does)');

let tmpDir;
process.on('exit', () => {
  killChildren();
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));

const log = (s) => process.stderr.write(`soak ${elapsed()}s: ${s}\n`);
let t0 = Date.now();
const elapsed = () => Math.round((Date.now() - t0) / 1000);

try {
  process.exitCode = await soak();
} catch (err) {
  console.error(`soak: FAILED: ${err instanceof Error ? err.stack : err}`);
  for (const child of children) {
    const tail = child.stderr.slice(-10).join('\n');
    if (tail) console.error(`--- ${child.name} stderr (tail) ---\n${tail}`);
  }
  process.exitCode = 1;
}
process.exit();

async function soak() {
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'oauth2-sidecar-soak-'));
  const upPort = await freePort();
  let upstream = await startUpstream(upPort);
  const configPath = path.join(tmpDir, 'config.yaml');
  writeFileSync(
    configPath,
    benchConfig({
      source: 'scripts/soak.mjs',
      admin: true,
      upstreamPort: upPort,
      collection: 'soak',
      timeoutMs: 5000,
      expiresIn: cfg.expiresIn,
      maxActive: 10_000,
      profiles: [['soak', 'soak-client', 'client_secret: soak-secret']],
    }),
  );
  const sidecar = await startSidecar('sidecar', configPath, {}, true);
  const pid = sidecar.proc.pid;
  const base = `http://127.0.0.1:${sidecar.port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const counts = { sent: 0, ok: 0, aborted: 0, expected_502: 0, expected_socket_errors: 0, expired_401: 0, tokens: 0, skipped: 0 };
  const unexpected = [];
  const gaps = []; // [downAt, upAt + grace] in ms since epoch; upAt Infinity while down
  const samples = [];
  /** @param gc a full GC first (the reference and end-of-load marks, which are compared) */
  const sample = async (at, gc = false) => {
    const { mem } = await probe(sidecar, gc ? 'gc' : 'mem');
    const s = {
      at,
      t_s: elapsed(),
      rss_mib: rssMiB(pid),
      heap_mib: round1(mem.heapUsed / 2 ** 20),
      // what V8 holds for its heap, and memory outside it (buffers, WebAssembly): where RSS goes
      heap_total_mib: round1(mem.heapTotal / 2 ** 20),
      external_mib: round1(mem.external / 2 ** 20),
      sockets: socketCount(pid),
      tokens_active: await metric(sidecar.adminPort, 'oauth2_sidecar_tokens_active'),
      requests: counts.sent,
    };
    samples.push(s);
    log(
      `sample ${at}: rss ${s.rss_mib} MiB, heap ${s.heap_mib} of ${s.heap_total_mib} MiB, external ${s.external_mib} MiB,` +
        ` sockets ${s.sockets}, tokens ${s.tokens_active}, ${s.requests} requests`,
    );
    return s;
  };

  t0 = Date.now();
  const before = await sample('before load');
  const durationMs = cfg.minutes * 60_000;
  // The reference mark is at half-time: V8 grows its heap to a working size over the first minutes
  // (a 20-minute run reached it by minute 5 and then held RSS within 1 MiB for 15 minutes), so an earlier
  // mark judges that growth, not a leak.
  const refAtS = (cfg.minutes * 60) / 2;
  log(
    `${cfg.minutes} min at ${cfg.rate} req/s; upstream restarts every ${cfg.restartS} s; token every ${cfg.tokenS} s (expires_in ${cfg.expiresIn})`,
  );

  // ---- token churn ----
  const tokens = []; // { token, issuedAt }
  const newToken = async () => {
    const r = await send(
      agent,
      base,
      'POST',
      '/oauth2/token',
      { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
      TOKEN_BODY,
    );
    if (r.status !== 200) {
      unexpected.push({ t_s: elapsed(), what: 'token request', status: r.status, error: r.error });
      return;
    }
    tokens.push({ token: JSON.parse(r.body).access_token, issuedAt: Date.now() });
    counts.tokens++;
    while (tokens.length > 2 && Date.now() - tokens[1].issuedAt > (cfg.expiresIn + 30) * 1000) tokens.shift();
  };
  await newToken();
  if (!tokens.length) throw new Error(`first token request failed: ${JSON.stringify(unexpected)}`);

  // ---- steady load ----
  const inflight = new Set();
  const MAX_INFLIGHT = 500;
  let n = 0;
  const fire = () => {
    if (inflight.size >= MAX_INFLIGHT) {
      counts.skipped++;
      return;
    }
    const i = n++;
    const current = tokens.at(-1).token;
    const abort = i % cfg.abortEvery === cfg.abortEvery - 1;
    const started = Date.now();
    const p = send(
      agent,
      base,
      'GET',
      abort ? `/api/items?delay=500&i=${i}` : `/api/items?id=${i}`,
      { authorization: `Bearer ${current}` },
      undefined,
      abort ? 50 : 0,
    ).then((r) => {
      inflight.delete(p);
      counts.sent++;
      if (abort && r.aborted) return void counts.aborted++;
      if (r.status === 200) return void counts.ok++;
      const inGap = gaps.some(([down, up]) => started <= up && Date.now() >= down);
      if (inGap && r.status === 502) return void counts.expected_502++;
      if (inGap && r.error) return void counts.expected_socket_errors++;
      unexpected.push({ t_s: elapsed(), what: abort ? 'slow GET' : 'GET', status: r.status, error: r.error, body: r.body?.slice(0, 200) });
    });
    inflight.add(p);
  };
  // A fixed rate on the wall clock: each tick sends what is due since the load started, so a late
  // timer (a busy machine) catches up instead of lowering the rate.
  const loadStart = Date.now();
  let fired = 0;
  const loadTimer = setInterval(() => {
    const due = Math.floor(((Date.now() - loadStart) * cfg.rate) / 1000);
    for (; fired < due; fired++) fire();
  }, 20);
  const tokenTimer = setInterval(newToken, cfg.tokenS * 1000);
  // An expired token must be refused: the oldest kept one, once past its expiry by a second.
  const expiredTimer = setInterval(async () => {
    const old = tokens.find((t) => Date.now() - t.issuedAt > (cfg.expiresIn + 1) * 1000);
    if (!old) return;
    const r = await send(agent, base, 'GET', '/api/items?expired=1', { authorization: `Bearer ${old.token}` });
    if (r.status === 401) counts.expired_401++;
    else unexpected.push({ t_s: elapsed(), what: 'expired token', status: r.status, error: r.error });
  }, 5000);

  // ---- faults and samples, on a schedule ----
  const events = [];
  let nextRestart = (cfg.restartS * 1000) / 2;
  let nextSample = 10_000;
  let refTaken = false;
  const restarts = [];
  while (Date.now() - t0 < durationMs) {
    const now = Date.now() - t0;
    if (!refTaken && now >= refAtS * 1000) {
      refTaken = true;
      await sample(`reference (${refAtS} s, GC)`, true);
      if (nextSample <= now) nextSample += cfg.sampleS * 1000; // the reference stands for this minute's sample
    } else if (now >= nextSample) {
      await sample(nextSample === 10_000 ? 'start (10 s)' : `${Math.round(nextSample / 60_000)} min`);
      nextSample = nextSample === 10_000 ? cfg.sampleS * 1000 : nextSample + cfg.sampleS * 1000;
    } else if (now >= nextRestart && now + cfg.gapMs + 5000 < durationMs) {
      const gap = [Date.now(), Infinity];
      gaps.push(gap);
      await upstream.stop(5000);
      await sleep(cfg.gapMs);
      upstream = await startUpstream(upPort);
      gap[1] = Date.now() + GAP_GRACE_MS;
      restarts.push({ t_s: elapsed(), down_ms: gap[1] - GAP_GRACE_MS - gap[0] });
      log(`upstream restarted (down ${gap[1] - GAP_GRACE_MS - gap[0]} ms)`);
      nextRestart += cfg.restartS * 1000;
    }
    if (sidecar.exited) throw new Error(`the sidecar exited: ${JSON.stringify(sidecar.exited)}`);
    await sleep(100);
  }

  // ---- stop, let it settle, final readings ----
  clearInterval(loadTimer);
  clearInterval(tokenTimer);
  clearInterval(expiredTimer);
  await Promise.all(inflight);
  const atEnd = await sample('end of load (GC)', true);
  agent.destroy();
  // The sidecar closes client sockets on our FIN, and its idle upstream sockets 2 s before the keep-alive
  // time the upstream announces (bench/upstream.mjs: 60 s), so after 58 s at most.
  const settleUntil = Date.now() + 75_000;
  while (socketCount(pid) > before.sockets && Date.now() < settleUntil) await sleep(250);
  const after = await sample('after load');
  const gcd = await probe(sidecar, 'gc');
  after.heap_mib_after_gc = round1(gcd.mem.heapUsed / 2 ** 20);
  const exit = await sidecar.stop();
  for (const e of sidecar.lines) if (!e.bench_probe && e.level !== 'info') events.push(e.event ?? e.msg);
  const logEvents = events.reduce((acc, e) => ((acc[e] = (acc[e] ?? 0) + 1), acc), {});

  const ref = samples.find((s) => s.at.startsWith('reference'));
  const rssRatio = atEnd.rss_mib / ref.rss_mib;
  const heapRatio = atEnd.heap_mib / ref.heap_mib;
  // RSS less the heap V8 has committed: native memory (buffers, sockets, code, the allocator), which V8's
  // heap sizing does not move; RSS itself swings with that sizing by tens of MiB within a run.
  const outside = (x) => round1(x.rss_mib - x.heap_total_mib);
  const outsideRatio = outside(atEnd) / outside(ref);
  const checks = [
    [
      'RSS after GC, end of load / reference',
      `${atEnd.rss_mib} / ${ref.rss_mib} MiB = x${rssRatio.toFixed(2)}`,
      `<= x${FLAT}`,
      rssRatio <= FLAT,
    ],
    [
      'RSS outside the V8 heap, end / reference',
      `${outside(atEnd)} / ${outside(ref)} MiB = x${outsideRatio.toFixed(2)}`,
      `<= x${FLAT}`,
      outsideRatio <= FLAT,
    ],
    [
      'live heap after GC, end of load / reference',
      `${atEnd.heap_mib} / ${ref.heap_mib} MiB = x${heapRatio.toFixed(2)}`,
      `<= x${FLAT}`,
      heapRatio <= FLAT,
    ],
    ['open sockets after load vs before', `${after.sockets} vs ${before.sockets}`, '<= before', after.sockets <= before.sockets],
    ['errors not caused by the faults', String(unexpected.length), '0', unexpected.length === 0],
    ['expired tokens refused (401)', `${counts.expired_401} probes`, '>= 1, all 401', counts.expired_401 >= 1],
    ['sidecar exit on SIGTERM', JSON.stringify(exit), 'code 0', exit.code === 0 && !sidecar.killed],
  ];
  const lines = [
    '',
    `soak: ${cfg.minutes} min, ${cfg.rate} req/s target, node ${process.version} ${NODE_FLAGS_TEXT}, ${os.cpus().length} cpus`,
    `requests ${counts.sent} (${Math.round(counts.sent / (durationMs / 1000))}/s): ${counts.ok} ok, ${counts.aborted} aborted by the client,` +
      ` ${counts.expected_502} x 502 and ${counts.expected_socket_errors} socket errors while the upstream was down;` +
      ` ${counts.tokens} tokens issued, ${counts.expired_401} expired-token probes refused; ${restarts.length} upstream restarts`,
    '',
    `${'sample'.padEnd(20)}${'t s'.padStart(6)}${'rss MiB'.padStart(9)}${'heap MiB'.padStart(10)}${'sockets'.padStart(9)}${'tokens'.padStart(8)}${'requests'.padStart(10)}`,
    ...samples.map(
      (s) =>
        `${s.at.padEnd(20)}${String(s.t_s).padStart(6)}${String(s.rss_mib).padStart(9)}${String(s.heap_mib).padStart(10)}${String(s.sockets).padStart(9)}` +
        `${String(s.tokens_active).padStart(8)}${String(s.requests).padStart(10)}`,
    ),
    `live heap after load and a full GC: ${after.heap_mib_after_gc} MiB`,
    ...(counts.skipped
      ? [`${counts.skipped} requests not sent: more than ${MAX_INFLIGHT} were in flight (the sidecar or the machine fell behind the rate)`]
      : []),
    `sidecar log events at warn or above: ${JSON.stringify(logEvents)}`,
    '',
    ...checks.map(([name, measured, limit, ok]) => `${name.padEnd(44)} ${measured.padEnd(28)} ${limit.padEnd(16)} ${ok ? 'PASS' : 'FAIL'}`),
    ...(unexpected.length ? ['unexpected (first 20):', ...unexpected.slice(0, 20).map((u) => `  ${JSON.stringify(u)}`)] : []),
  ];
  console.log(lines.join('\n'));
  console.log(
    JSON.stringify({
      soak: cfg,
      sidecar_node_flags: SIDECAR_NODE_FLAGS,
      counts,
      restarts,
      samples,
      checks: checks.map(([name, measured, limit, ok]) => ({ name, measured, limit, result: ok ? 'PASS' : 'FAIL' })),
      unexpected,
      sidecar_log_events: logEvents,
    }),
  );
  return checks.every((c) => c[3]) ? 0 : 1;
}

/**
 * One request through `agent`. Resolves (never rejects) with status and body, or `error` (socket
 * error code), or `aborted` when `abortAfterMs` passed first and the client destroyed the request.
 */
function send(agent, base, method, p, headers, body, abortAfterMs = 0) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (!done) {
        done = true;
        clearTimeout(abortTimer);
        resolve(r);
      }
    };
    const req = http.request(base + p, { method, agent, headers, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', (err) => finish({ error: err.code ?? err.message }));
    });
    const abortTimer = abortAfterMs
      ? setTimeout(() => {
          finish({ aborted: true });
          req.destroy();
        }, abortAfterMs)
      : undefined;
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (err) => finish({ error: err.code ?? err.message }));
    req.end(body);
  });
}

/** A metric without labels from the admin port, over a connection of its own (closed after). */
function metric(adminPort, name) {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port: adminPort, path: '/metrics', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
          resolve(m ? Number(m[1]) : NaN);
        });
      })
      .on('error', () => resolve(NaN));
  });
}

function usage(msg, code = 2) {
  console.error(
    `${msg ? msg + '\n' : ''}usage: npm run soak   (or node scripts/soak.mjs after npm run build)\n` +
      'environment: SOAK_MINUTES (10) SOAK_RATE (200 req/s) SOAK_TOKEN_S (10) SOAK_EXPIRES_IN (30 s) SOAK_RESTART_S (60)\n' +
      '             SOAK_GAP_MS (1000) SOAK_ABORT_EVERY (50) SOAK_SAMPLE_S (60)',
  );
  process.exit(code);
}
