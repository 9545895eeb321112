/**
 * Issue 3 capability 2 in a real process: `src/main.ts` as a child process re-reads its config on
 * SIGHUP, which matters where the directory watch cannot see a change (a config symlinked from
 * another directory). The kubelet swap in a child process: config-reload-kubelet.test.ts.
 */
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { namedUpstreams } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

const upstreams = namedUpstreams(t);

/** The fixture config on upstream A or B, without an admin listener. */
const on = (name: 'A' | 'B', patch: Record<string, unknown> = {}): string =>
  configText(upstreams[name].url, { admin_listen: undefined, ...patch });

async function servedBy(port: number, token: string): Promise<string> {
  const answer = await request(port, 'GET', '/orders/x', { authorization: `Bearer ${token}` });
  return answer.status === 200 ? String(answer.json.upstream) : `status ${answer.status}`;
}

/**
 * One child process for the SIGHUP tests (a child takes seconds to start under coverage): its
 * `etc/config.yaml` is a symlink to `elsewhere/config.yaml`, so writes to the target happen outside
 * the watched directory and only SIGHUP (or the 10 s poll) notices them. The tests run in order.
 */
let proc: SidecarProcess;
let target: string;
let token: string;
t.before(async () => {
  const root = t.testdir({ etc: {}, elsewhere: {} });
  target = join(root, 'elsewhere', 'config.yaml');
  symlinkSync(target, join(root, 'etc', 'config.yaml'));
  proc = await spawnSidecar(t, join(root, 'etc', 'config.yaml'), on('A'), { env: { ...process.env, LOG_LEVEL: 'info' } });
  token = await getToken(proc.port, BASIC.aForm);
});

const configEvents = (): Record<string, unknown>[] => proc.logs().filter((l) => String(l.event).startsWith('config_'));

t.test('issue 3 capability 2: SIGHUP with unchanged bytes reloads nothing and the process keeps serving', async (t) => {
  proc.child.kill('SIGHUP');
  await sleep(300);
  t.same(configEvents(), [], 'no config_reloaded, no config_reload_failed');
  t.equal(await servedBy(proc.port, token), 'A');
});

t.test('issue 3 capability 2: SIGHUP with an invalid file logs config_reload_failed and the process keeps serving', async (t) => {
  writeFileSync(target, 'domains: []\n');
  proc.child.kill('SIGHUP');
  const line = await proc.logged('config_reload_failed', 2000);
  t.match(line, { level: 'error', detail: /etc\/config\.yaml:1:10 domains at least one domain is required$/ });
  t.equal(await servedBy(proc.port, token), 'A');
  t.equal(proc.child.exitCode, null, 'still running');
});

t.test('issue 3 capability 2: SIGHUP makes the process re-read a change its directory watch cannot see', async (t) => {
  writeFileSync(target, on('B'));
  await sleep(400);
  t.equal(await servedBy(proc.port, token), 'A', 'not seen without the signal (the poll runs every 10 s)');
  const since = performance.now();
  proc.child.kill('SIGHUP');
  t.ok(await eventually(async () => (await servedBy(proc.port, token)) === 'B', 2000), 'applied after SIGHUP');
  t.comment(`SIGHUP -> new upstream on the wire: ${(performance.now() - since).toFixed(0)} ms`);
  t.match(await proc.logged('config_reloaded'), { level: 'info', event: 'config_reloaded' });
});
