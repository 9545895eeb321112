/**
 * The process wiring at the bottom of src/main.ts, in child processes: SIGHUP re-reads the config
 * (ARCHITECTURE.md §5, issue 3 capability 2), which matters where the directory watch cannot see a
 * change (a config symlinked from another directory), and importing the module starts nothing.
 * SIGTERM and SIGINT are in drain.test.ts; the kubelet swap in a child process is in
 * config-reload-kubelet.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { getToken, request, tokenRequest } from '../helpers/client.js';
import { ROOT, spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { namedUpstreams } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

const upstreams = namedUpstreams(t);

/** The config: demo-client with `secret` may call "orders", on upstream A or B; no admin listener. */
const config = (secret: string, upstream: 'A' | 'B' = 'A'): string => `listen: 127.0.0.1:0
domains: [{ host: api.example.com }]
collections: [{ name: orders, path: /orders, upstream: "${upstreams[upstream].url}/orders" }]
access_profiles: [{ name: demo, client_id: demo-client, client_secret: ${secret}, collections: [orders] }]
`;

const basic = (secret: string): string => `Basic ${Buffer.from(`demo-client:${secret}`).toString('base64')}`;

/** Which upstream answered GET /orders/x with `token` (or the status when it failed). */
async function servedBy(port: number, token: string): Promise<string> {
  const answer = await request(port, 'GET', '/orders/x', { authorization: `Bearer ${token}` });
  return answer.status === 200 ? String(answer.json.upstream) : `status ${answer.status}`;
}

/**
 * One child process for all the SIGHUP tests (a child takes seconds to start under coverage), which
 * run in order. The config path `mounted/config.yaml` is a symlink to `real/config.yaml` in another
 * directory: rewriting the target is invisible to the watch on the link's directory, and the poll
 * runs every 10 s, so only SIGHUP can notice it.
 */
let sc: SidecarProcess;
let target: string;
let link: string;
let token: string;
t.before(async () => {
  const dir = t.testdir({});
  mkdirSync(join(dir, 'mounted'));
  mkdirSync(join(dir, 'real'));
  target = join(dir, 'real', 'config.yaml');
  link = join(dir, 'mounted', 'config.yaml');
  symlinkSync(target, link);
  const command = [process.execPath, ...process.execArgv, 'src/main.ts', '--config', link];
  sc = await spawnSidecar(t, target, config('first-secret'), { command, env: { ...process.env, LOG_LEVEL: 'info' } });
  token = await getToken(sc.port, basic('first-secret'));
});

const events = (event: string): Record<string, unknown>[] => sc.logs().filter((l) => l.event === event);
const configEvents = (): Record<string, unknown>[] => sc.logs().filter((l) => String(l.event).startsWith('config_'));

/**
 * Waits for the `n`-th log line of `event` (earlier tests of this process logged the first ones).
 * @throws Error after `ms` without it
 */
async function nth(event: string, n: number, ms = 3000): Promise<Record<string, unknown>> {
  if (!(await eventually(() => events(event).length >= n, ms))) throw new Error(`${events(event).length} "${event}" lines, wanted ${n}`);
  return events(event)[n - 1]!;
}

t.test('issue 3 capability 2: SIGHUP with unchanged bytes reloads nothing and the process keeps serving', async (t) => {
  sc.child.kill('SIGHUP');
  await sleep(300);
  t.same(configEvents(), [], 'no config_reloaded, no config_reload_failed');
  t.equal(await servedBy(sc.port, token), 'A');
});

t.test('issue 3 capability 2: SIGHUP with an invalid file logs config_reload_failed and the process keeps serving', async (t) => {
  writeFileSync(target, 'domains: []\n');
  sc.child.kill('SIGHUP');
  const line = await sc.logged('config_reload_failed', 2000);
  t.match(line, { level: 'error', detail: /mounted\/config\.yaml:1:10 domains at least one domain is required$/ });
  t.equal(await servedBy(sc.port, token), 'A');
  t.equal(sc.child.exitCode, null, 'still running');
});

t.test('issue 3 capability 2: SIGHUP makes the process re-read a change its directory watch cannot see', async (t) => {
  writeFileSync(target, config('first-secret', 'B'));
  await sleep(400);
  t.equal(await servedBy(sc.port, token), 'A', 'not seen without the signal (the poll runs every 10 s)');
  const since = performance.now();
  sc.child.kill('SIGHUP');
  t.ok(await eventually(async () => (await servedBy(sc.port, token)) === 'B', 2000), 'applied after SIGHUP');
  t.comment(`SIGHUP -> new upstream on the wire: ${(performance.now() - since).toFixed(0)} ms`);
  t.match(await sc.logged('config_reloaded'), { level: 'info', event: 'config_reloaded' });
});

t.test('SIGHUP re-reads a changed config that no file watch saw, and applies it', async (t) => {
  writeFileSync(target, config('second-secret', 'B'));
  sc.child.kill('SIGHUP');
  await nth('config_reloaded', 2);
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic('second-secret') })).status, 200);
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic('first-secret') })).status, 401);
});

t.test('SIGHUP on an invalid config keeps the last good one and logs every problem', async (t) => {
  writeFileSync(target, config('second-secret', 'B').replace('listen: 127.0.0.1:0', 'listen: nowhere'));
  sc.child.kill('SIGHUP');
  const failed = await nth('config_reload_failed', 2);
  t.equal(failed.level, 'error');
  t.equal(failed.detail, `${link}:1:9 listen must be host:port, e.g. 0.0.0.0:8080`);
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic('second-secret') })).status, 200);
});

t.test('imported by another program (node -e), main.ts starts nothing', async (t) => {
  const code = "const m = await import('./src/main.ts'); console.log(typeof m.main);";
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(exitCode, 0);
  t.equal(out, 'function\n', 'no listening line: nothing started');
});
