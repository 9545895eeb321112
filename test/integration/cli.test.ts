/**
 * The CLI (`oauth2-sidecar [--config PATH]`, CONFIG_FILE): in-process for the argument and config
 * paths, and as a real child process for start-up, the listening log line and SIGTERM.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { main } from '../../src/main.js';
import { Sidecar } from '../../src/server.js';

const GOOD = `listen: 127.0.0.1:0
domains: [{ host: localhost }]
collections: [{ name: echo, path: /echo, upstream: "http://127.0.0.1:9/v1" }]
access_profiles: [{ name: demo, client_id: demo-client, client_secret: demo-secret, collections: [echo] }]
`;

function io(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stderr: string[] = [];
  const log = new PassThrough();
  return { io: { argv, env, stderr: (line: string) => stderr.push(line), log }, stderr };
}

t.test('--help prints usage on stdout and exits 0', async (t) => {
  const out: string[] = [];
  const { io: cli, stderr } = io(['--help']);
  t.equal(await main({ ...cli, stdout: (text) => out.push(text) }), 0);
  t.match(out[0], /^usage: oauth2-sidecar \[--config PATH\]/);
  t.same(stderr, []);
});

t.test('-h without a stdout prints usage on stderr, exit 0', async (t) => {
  const { io: cli, stderr } = io(['-h']);
  t.equal(await main(cli), 0);
  t.match(stderr[0], /^usage: oauth2-sidecar \[--config PATH\]/);
});

t.test('an unknown argument is refused with usage, exit 2', async (t) => {
  const { io: cli, stderr } = io(['--port', '1']);
  t.equal(await main(cli), 2);
  t.match(stderr[0], /^unknown argument "--port"\nusage:/);
});

t.test('a missing config file is reported with its path, exit 2', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'nope.yaml');
  const { io: cli, stderr } = io(['--config', file]);
  t.equal(await main(cli), 2);
  t.same(stderr, [`${file}: cannot read: ENOENT`]);
});

t.test('ARCHITECTURE §3: an invalid config lists every problem as file:line:col path message, exit 2', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'listen: nowhere\ndomains: []\ncollections: []\naccess_profiles: []\nextra: 1\n' });
  const file = join(dir, 'bad.yaml');
  const { io: cli, stderr } = io([`--config=${file}`]);
  t.equal(await main(cli), 2);
  t.same(stderr[0]!.split('\n'), [
    `${file}:1:9 listen must be host:port, e.g. 0.0.0.0:8080`,
    `${file}:2:10 domains at least one domain is required`,
    `${file}:5:1 extra unknown key`,
  ]);
});

t.test('CONFIG_FILE names the config when --config is absent; the sidecar starts', async (t) => {
  const dir = t.testdir({ 'good.yaml': GOOD });
  const { io: cli } = io([], { CONFIG_FILE: join(dir, 'good.yaml') });
  const result = await main(cli);
  if (typeof result === 'number') throw new Error(`exited ${result}`);
  t.ok(result.sidecar instanceof Sidecar);
  t.equal(result.sidecar.config.domains[0]!.host, 'localhost');
  t.equal(await result.stop(false), 0);
});

t.test('the built-in process: logs the bound address, exits 0 on SIGTERM', async (t) => {
  const dir = t.testdir({ 'good.yaml': GOOD });
  const child = spawn(process.execPath, [...process.execArgv, 'src/main.ts', '--config', join(dir, 'good.yaml')], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${out}`)));
  });
  t.equal(listening.event, 'listening');
  t.equal(listening.address, '127.0.0.1');
  t.type(listening.port, 'number');
  t.not(listening.port, 0);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exit, 0);
});

t.test('the built-in process: an invalid config exits 2 and prints the problems on stderr', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'domains: [{ host: "bad host" }]\ncollections: []\naccess_profiles: []\n' });
  const file = join(dir, 'bad.yaml');
  const child = spawn(process.execPath, [...process.execArgv, 'src/main.ts', '--config', file], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 2);
  t.equal(err, `${file}:1:19 domains[0].host must be a host name, an IP literal or "*"\n`);
});

t.test('the shipped config.yaml (the quick start) passes check-config', async (t) => {
  const out: string[] = [];
  const { io: cli, stderr } = io(['check-config', 'config.yaml']);
  t.equal(await main({ ...cli, stdout: (text) => out.push(text) }), 0);
  t.same(stderr, []);
  t.same(out, ['config.yaml: ok\n']);
});

/** A config whose data-plane port another server holds for the test's duration; @returns its path and port */
async function busyPortConfig(t: Test): Promise<{ file: string; port: number }> {
  const net = await import('node:net');
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const dir = t.testdir({ 'busy.yaml': GOOD.replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`) });
  return { file: join(dir, 'busy.yaml'), port };
}

t.test('a data-plane port already in use logs no drain: the sidecar never served, so nothing shut down', async (t) => {
  const { file } = await busyPortConfig(t);
  const { io: cli } = io(['--config', file]);
  const logged: string[] = [];
  cli.log.on('data', (chunk: Buffer) => logged.push(chunk.toString()));
  t.equal(await main(cli), 1);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(logged.join('').match(/"event":"[a-z_]+"/g) ?? [], []);
});

t.test('a data-plane port already in use is reported in one line, exit 1, no stack trace', async (t) => {
  const { file, port } = await busyPortConfig(t);
  const { io: cli, stderr } = io(['--config', file]);
  t.equal(await main(cli), 1);
  t.same(stderr, [`listen 127.0.0.1:${port}: cannot listen: EADDRINUSE`]);
});
