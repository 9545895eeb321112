/**
 * The process wiring at the bottom of src/main.ts, in child processes: SIGHUP re-reads the config
 * (ARCHITECTURE.md §5, issue 3 capability 2), and importing the module starts nothing.
 * SIGTERM and SIGINT are in drain.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tokenRequest } from '../helpers/client.js';
import { ROOT, spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';

const config = (secret: string): string => `listen: 127.0.0.1:0
domains: [{ host: api.example.com }]
collections: [{ name: echo, path: /echo, upstream: "http://127.0.0.1:9/v1" }]
access_profiles: [{ name: demo, client_id: demo-client, client_secret: ${secret}, collections: [echo] }]
`;

const basic = (secret: string): string => `Basic ${Buffer.from(`demo-client:${secret}`).toString('base64')}`;

// The config path is a symlink to a file in another directory: rewriting the target is invisible to
// the watch on the link's directory, and the poll runs every 10 s, so only SIGHUP can notice it.
// One process serves both SIGHUP tests, in order.
let started: Promise<{ sc: SidecarProcess; target: string; link: string }> | undefined;
function sidecarBehindSymlink(): Promise<{ sc: SidecarProcess; target: string; link: string }> {
  started ??= (async () => {
    const dir = t.testdir({});
    mkdirSync(join(dir, 'mounted'));
    mkdirSync(join(dir, 'real'));
    const target = join(dir, 'real', 'config.yaml');
    const link = join(dir, 'mounted', 'config.yaml');
    symlinkSync(target, link);
    const command = [process.execPath, ...process.execArgv, 'src/main.ts', '--config', link];
    const sc = await spawnSidecar(t, target, config('first-secret'), { command });
    return { sc, target, link };
  })();
  return started;
}

t.test('SIGHUP re-reads a changed config that no file watch saw, and applies it', async (t) => {
  const { sc, target } = await sidecarBehindSymlink();
  writeFileSync(target, config('second-secret'));
  sc.child.kill('SIGHUP');
  await sc.logged('config_reloaded', 3000);
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic('second-secret') })).status, 200);
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic('first-secret') })).status, 401);
});

t.test('SIGHUP on an invalid config keeps the last good one and logs every problem', async (t) => {
  const { sc, target, link } = await sidecarBehindSymlink();
  writeFileSync(target, config('second-secret').replace('listen: 127.0.0.1:0', 'listen: nowhere'));
  sc.child.kill('SIGHUP');
  const failed = await sc.logged('config_reload_failed', 3000);
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
