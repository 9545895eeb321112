/**
 * Issue 3, capability 6: the Dockerfile's runtime stage, reproduced without a container engine. The
 * stage is read from the Dockerfile itself: a clean folder stands for the image's file system and
 * receives only what its COPY lines copy (dist/ compiled by the build stage's own build script); its
 * RUN install command runs there (with --prefer-offline, so the local npm cache serves it); its CMD
 * starts with its ENV only, as its USER when this test runs as root, on a config "mounted" at
 * CONFIG_FILE. Not reproduced: the base image's Node version (the image has Node 24, this runs on
 * the local Node) and `npm cache clean`, which would empty the developer's cache and only saves space.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import t from 'tap';
import { getToken, request, tokenRequest } from '../helpers/client.js';
import { expectToken } from '../helpers/expect.js';
import { ROOT, spawnSidecar, type SidecarProcess } from '../helpers/sidecar-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Compiling and installing take a while on a busy machine.
t.setTimeout(180_000);

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const line of logical.map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') {
      const [, image = '', name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ image, name, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
      stage.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** `K=V K2="V 2"` (or the legacy `K V`) -> entries. */
function parseEnv(args: string): [string, string][] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const [, key = '', value = ''] = /^(\S+)\s+(.*)$/.exec(args) ?? [];
    return [[key, value]];
  }
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map(([, k, v]) => [
    k!,
    v!.startsWith('"') ? JSON.parse(v!) : v!,
  ]);
}

/** `[--from=x] [--chown=..] src... dest` -> its parts. */
function parseCopy(args: string): { from: string | undefined; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** Whether .dockerignore keeps `path` out of the build context (its plain names and `*` globs). */
function ignored(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const first = path.replace(/^\.\//, '').split('/')[0]!;
  return patterns.some((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(first));
}

/** Runs a command; rejects with its output if it fails. */
function run(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };

// Only what a developer's npm needs to find its cache, registry and proxy: no tap or coverage hooks.
const hostEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => /^(PATH|HOME|npm_config_(cache|registry|userconfig)|(https?|no)_proxy)$/i.test(k)),
);

interface Image {
  /** the folder standing for the image's / */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: number | undefined;
  cmd: string[];
}

/**
 * Builds the "image": compiles dist/ as the build stage does, and replays the runtime stage's
 * instructions into a temporary root. Throws on an instruction it cannot reproduce, so a Dockerfile
 * change this test does not cover fails it instead of passing unnoticed.
 */
async function buildImage(): Promise<Image> {
  const base = mkdtempSync(join(tmpdir(), 'oauth2-sidecar-image-'));
  chmodSync(base, 0o755); // mkdtemp makes it 0700: the image's non-root user must get in
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'rootfs');
  mkdirSync(root);
  const inImage = (path: string): string => join(root, path);

  // The build stage: its `npm run build` is package.json's build script, run here into a temp outDir.
  const build = stages.find((s) => s.name !== undefined && runtime.instructions.some((i) => i.args.includes(`--from=${s.name}`)));
  if (!build) throw new Error('the runtime stage copies nothing from a build stage');
  const buildDir = build.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';
  if (build.instructions.filter((i) => i.op === 'RUN').at(-1)?.args !== 'npm run build')
    throw new Error('the build stage does not end with RUN npm run build');
  const [tsc, ...tscArgs] = pkg.scripts.build!.split(' ');
  if (tsc !== 'tsc') throw new Error(`the build script is not tsc: ${pkg.scripts.build}`);
  const outDir = join(base, 'build-output');
  const compiled = run(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), ...tscArgs, '--outDir', outDir], {
    cwd: ROOT,
    env: hostEnv,
  });

  let workdir = '/';
  const env: Record<string, string> = {};
  let user: number | undefined;
  let cmd: string[] = [];
  for (const { op, args } of runtime.instructions) {
    if (op === 'WORKDIR') {
      workdir = posix.resolve(workdir, args);
      mkdirSync(inImage(workdir), { recursive: true });
    } else if (op === 'ENV') {
      for (const [k, v] of parseEnv(args)) env[k] = v;
    } else if (op === 'COPY') {
      const { from, sources, dest } = parseCopy(args);
      const target = posix.resolve(workdir, dest);
      for (const source of sources) {
        const into = dest.endsWith('/') || sources.length > 1 ? posix.join(target, posix.basename(source)) : target;
        let origin: string;
        if (from === build.name) {
          if (posix.resolve(buildDir, source) !== posix.join(buildDir, 'dist'))
            throw new Error(`COPY --from=${from} ${source}: only dist/ is reproduced`);
          await compiled;
          origin = outDir;
        } else if (from === undefined) {
          if (ignored(source)) throw new Error(`COPY ${source}: excluded by .dockerignore, docker build would fail`);
          origin = join(ROOT, source);
        } else {
          throw new Error(`COPY --from=${from}: not reproduced`);
        }
        mkdirSync(dirname(inImage(into)), { recursive: true });
        cpSync(origin, inImage(into), { recursive: true });
      }
    } else if (op === 'RUN') {
      for (const step of args.split('&&').map((s) => s.trim())) {
        if (/^npm ci( |$)/.test(step)) {
          await run('npm', [...step.split(/\s+/).slice(1), '--prefer-offline'], { cwd: inImage(workdir), env: { ...hostEnv, ...env } });
        } else if (!/^npm cache clean( |$)/.test(step)) {
          throw new Error(`RUN step not reproduced: ${step}`);
        }
      }
    } else if (op === 'USER') {
      user = uidOf(args);
    } else if (op === 'CMD') {
      cmd = JSON.parse(args) as string[];
    } else if (op !== 'EXPOSE') {
      throw new Error(`${op} not reproduced`);
    }
  }
  return { root, workdir: inImage(workdir), env, user, cmd };
}

/** The uid of a USER argument: a number, or "node" (uid 1000 in the node:* images). */
function uidOf(args: string): number {
  const name = args.split(':')[0]!;
  return /^\d+$/.test(name) ? Number(name) : name === 'node' ? 1000 : NaN;
}

let built: Promise<Image> | undefined;
const image = (): Promise<Image> => (built ??= buildImage());

/** The image started as its CMD, ENV and USER say, on a config mounted at CONFIG_FILE. */
let running: Promise<{ sc: SidecarProcess; upstream: Upstream }> | undefined;
function container(): Promise<{ sc: SidecarProcess; upstream: Upstream }> {
  running ??= (async () => {
    const { root, workdir, env, user, cmd } = await image();
    if (!env.CONFIG_FILE) throw new Error('the runtime stage sets no CONFIG_FILE: where would the config be mounted?');
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const mounted = join(root, env.CONFIG_FILE);
    mkdirSync(dirname(mounted), { recursive: true });
    const config = `listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
domains: [{ host: api.example.com }]
collections: [{ name: echo, path: /echo, upstream: "${upstream.url}/v1" }]
access_profiles: [{ name: demo, client_id: demo-client, client_secret: demo-secret, collections: [echo] }]
`;
    const [program, ...args] = cmd;
    const sc = await spawnSidecar(t, mounted, config, {
      command: [program === 'node' ? process.execPath : program!, ...args],
      cwd: workdir,
      env: { PATH: process.env.PATH, ...env, CONFIG_FILE: mounted },
      // Running as the image's user needs root; elsewhere it runs as whoever runs the tests.
      uid: process.getuid?.() === 0 ? user : undefined,
    });
    return { sc, upstream };
  })();
  return running;
}

const BASIC = `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`;

t.test('Dockerfile: both stages are on a supported Node LTS (22 or 24), while package.json engines keeps Node 20', async (t) => {
  t.strictSame(
    stages.map((s) => /^node:(22|24)(-|$)/.test(s.image)),
    stages.map(() => true),
    stages.map((s) => s.image).join(', '),
  );
  t.match(pkg.engines.node, /^>=20\.\d+(\.\d+)?$/);
});

t.test(
  'Dockerfile: the runtime stage installs with npm ci --omit=dev, runs as a non-root user, CMD node --max-semi-space-size=8 dist/main.js',
  async (t) => {
    const args = (op: string): string[] => runtime.instructions.filter((i) => i.op === op).map((i) => i.args);
    t.ok(
      args('RUN').some((r) => /^npm ci .*--omit=dev/.test(r)),
      args('RUN').join(' / '),
    );
    const user = uidOf(args('USER').at(-1) ?? 'root');
    t.ok(user > 0, `USER ${user}`);
    t.strictSame(JSON.parse(args('CMD').at(-1) ?? 'null'), ['node', '--max-semi-space-size=8', 'dist/main.js']);
  },
);

t.test('Dockerfile: every file it copies from the build context exists and is not excluded by .dockerignore', async (t) => {
  const copied = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY').map((i) => parseCopy(i.args)));
  const sources = copied.filter((c) => c.from === undefined).flatMap((c) => c.sources);
  t.strictSame(
    sources.filter((source) => ignored(source) || !existsSync(join(ROOT, source))),
    [],
    sources.join(', '),
  );
});

t.test('runtime stage: the image holds dist/ and production dependencies only', async (t) => {
  const { workdir } = await image();
  t.ok(existsSync(join(workdir, 'dist/main.js')), 'dist/main.js');
  t.ok(existsSync(join(workdir, 'node_modules/http-proxy')), 'a production dependency');
  t.notOk(existsSync(join(workdir, 'node_modules/typescript')), 'no devDependency (typescript)');
  t.notOk(existsSync(join(workdir, 'src')), 'no sources');
});

t.test('runtime stage: GET /readyz on the admin listener answers 200 {"status":"ready"}', async (t) => {
  const { sc } = await container();
  const answer = await request(sc.adminPort, 'GET', '/readyz');
  t.equal(answer.status, 200);
  t.equal(answer.headers['content-type'], 'application/json');
  t.equal(answer.body, '{"status":"ready"}');
});

t.test('runtime stage: POST /oauth2/token issues a token (RFC 6749 §4.4)', async (t) => {
  const { sc } = await container();
  expectToken(t, await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC }));
});

t.test(
  'runtime stage: a request with that token is forwarded to the upstream (http-proxy loads from the production install)',
  async (t) => {
    const { sc, upstream } = await container();
    const token = await getToken(sc.port, BASIC);
    const answer = await request(sc.port, 'GET', '/echo/hello?x=1', { authorization: `Bearer ${token}` });
    t.equal(answer.status, 200);
    t.equal(answer.json.url, '/v1/hello?x=1');
    t.equal(answer.json.headers['x-client-id'], 'demo-client');
    t.equal(upstream.requests.length, 1);
  },
);

t.test('runtime stage: the CMD process runs as the USER of the Dockerfile (when the tests run as root)', async (t) => {
  const { user } = await image();
  const { sc } = await container();
  const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${sc.child.pid}/status`, 'utf8'))?.[1]);
  t.equal(uid, process.getuid?.() === 0 ? user : process.getuid?.());
});

t.test('runtime stage: SIGTERM to the CMD process drains and exits 0', async (t) => {
  const { sc } = await container();
  sc.child.kill('SIGTERM');
  t.equal((await sc.exited).code, 0);
});
