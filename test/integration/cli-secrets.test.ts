/**
 * Issue 3 capability 4, the CLI subcommands (src/main.ts; ARCHITECTURE.md §5):
 * - `oauth2-sidecar check-config PATH`: validates only and never binds a port; exit 0 with `PATH: ok`
 *   on stdout, or exit 2 with every problem as `file:line:col path message` on stderr (for CI);
 * - `oauth2-sidecar hash-secret`: the secret on stdin, one trailing newline (LF or CRLF) ignored;
 *   prints `$pbkdf2-sha256$i=100000,l=32$<salt>$<hash>`, which the sidecar then accepts.
 * In-process through `main()`, and once each as a child process (with process.execArgv, so its
 * coverage is merged).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { parseSecretHash } from '../../src/config/secrets.js';
import { main, type MainIo } from '../../src/main.js';
import { SecretVerifier } from '../../src/oauth/secret-hash.js';
import { tokenRequest } from '../helpers/client.js';
import { testConfig } from '../helpers/config.js';
import { expectToken } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const UNSET = `OAUTH2_SIDECAR_TEST_CLI_UNSET_${process.pid}`;
const HASH_LINE = /^\$pbkdf2-sha256\$i=100000,l=32\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}\n$/;
const NOT_PRINTABLE = 'hash-secret: the secret must be 1+ printable ASCII characters (RFC 6749 Appendix A)';

const GOOD = (listen = '127.0.0.1:0'): string => `listen: ${listen}
domains: [{ host: localhost }]
collections: [{ name: echo, path: /echo, upstream: "http://127.0.0.1:9/v1" }]
access_profiles: [{ name: demo, client_id: demo-client, client_secret: demo-secret, collections: [echo] }]
`;

const BAD = `listen: 127.0.0.1:0
domains: [{ host: localhost }]
collections: [{ name: echo, path: /echo, upstream: "http://127.0.0.1:9/v1" }]
access_profiles:
  - name: env
    client_id: env-client
    client_secret_env: ${UNSET}
    collections: [echo]
  - name: two
    client_id: two-client
    client_secret: s
    client_secret_hash: "$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    collections: [echo]
  - name: none
    client_id: none-client
    collections: [ech0]
`;

/** BAD's problems, in file order, for the file at `file`. */
const badProblems = (file: string): string[] => [
  `${file}:7:24 access_profiles[0].client_secret_env environment variable ${UNSET} is not set or empty`,
  `${file}:12:25 access_profiles[1].client_secret_hash must use 25000 to 10000000 iterations`,
  `${file}:12:25 access_profiles[1].client_secret_hash only one of client_secret, client_secret_hash may be given`,
  `${file}:14:5 access_profiles[2] needs one of client_secret, client_secret_env, client_secret_hash`,
  `${file}:16:19 access_profiles[2].collections[0] no collection named "ech0"`,
];

/** An in-process CLI: what it printed, and its io. */
function cli(argv: string[], stdin?: (string | Buffer)[]) {
  const stderr: string[] = [];
  const stdout: string[] = [];
  const io: MainIo = {
    argv,
    env: {},
    stderr: (line) => stderr.push(line),
    stdout: (text) => stdout.push(text),
    stdin: stdin && Readable.from(stdin),
    log: new PassThrough(),
  };
  return { io, stderr, stdout };
}

/** Runs `hash-secret` in-process on the given stdin chunks. */
async function hashSecretCli(...chunks: (string | Buffer)[]) {
  const run = cli(['hash-secret'], chunks);
  const code = await main(run.io);
  return { code, stdout: run.stdout.join(''), stderr: run.stderr };
}

/** Whether `hash` (a printed line) verifies `secret`. */
async function verifies(hash: string, secret: string): Promise<boolean> {
  const parsed = parseSecretHash(hash.trimEnd());
  if (typeof parsed === 'string') throw new Error(parsed);
  return new SecretVerifier().verify(secret, parsed);
}

/** The TCP servers this process holds open. */
const tcpServers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;

/** A port held by a server of this test, closed at teardown. */
async function heldPort(t: Test): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Runs the real entry point as a child process. */
function child(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [...process.execArgv, 'src/main.ts', ...args], {
    cwd: ROOT,
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  proc.stdin?.end(stdin);
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
}

// ---- check-config ----

t.test('issue 3 capability 4: check-config on a good file -> exit 0, "PATH: ok" on stdout, nothing on stderr', async (t) => {
  const file = join(t.testdir({ 'good.yaml': GOOD() }), 'good.yaml');
  const run = cli(['check-config', file]);
  t.equal(await main(run.io), 0);
  t.strictSame(run.stdout, [`${file}: ok\n`]);
  t.strictSame(run.stderr, []);
});

t.test('issue 3 capability 4: check-config binds no port, even on a config whose listen port is taken', async (t) => {
  const port = await heldPort(t);
  const file = join(t.testdir({ 'good.yaml': GOOD(`127.0.0.1:${port}`) }), 'good.yaml');
  const before = tcpServers();
  const run = cli(['check-config', file]);
  t.equal(await main(run.io), 0, 'an exit code, not a running sidecar');
  t.equal(tcpServers(), before, 'no server opened');
});

t.test('issue 3 capability 4: check-config on a bad file -> exit 2, every problem as file:line:col path message', async (t) => {
  const file = join(t.testdir({ 'bad.yaml': BAD }), 'bad.yaml');
  const run = cli(['check-config', file]);
  t.equal(await main(run.io), 2);
  t.strictSame(run.stderr.join('\n').split('\n'), badProblems(file));
  t.strictSame(run.stdout, [], 'no "ok"');
});

t.test('issue 3 capability 4: check-config reads client_secret_env from the environment it is given', async (t) => {
  const name = `OAUTH2_SIDECAR_TEST_CLI_SET_${process.pid}`;
  const text = GOOD().replace('client_secret: demo-secret', `client_secret_env: ${name}`);
  const file = join(t.testdir({ 'env.yaml': text }), 'env.yaml');
  const run = cli(['check-config', file]);
  t.equal(await main({ ...run.io, env: { [name]: 'from-a-secret' } }), 0);
  t.strictSame(run.stdout, [`${file}: ok\n`]);
});

t.test('issue 3 capability 4: check-config on a missing file -> exit 2, "PATH: cannot read: ENOENT"', async (t) => {
  const file = join(t.testdir({}), 'nope.yaml');
  const run = cli(['check-config', file]);
  t.equal(await main(run.io), 2);
  t.strictSame(run.stderr, [`${file}: cannot read: ENOENT`]);
});

t.test('check-config without PATH -> usage, exit 2', async (t) => {
  const run = cli(['check-config']);
  t.equal(await main(run.io), 2);
  t.match(run.stderr[0], /^check-config needs a PATH\nusage: oauth2-sidecar \[--config PATH\]\n {7}oauth2-sidecar check-config PATH\n/);
});

t.test('check-config with two paths -> the second is refused with usage, exit 2', async (t) => {
  const run = cli(['check-config', 'a.yaml', 'b.yaml']);
  t.equal(await main(run.io), 2);
  t.match(run.stderr[0], /^unknown argument "b\.yaml"\nusage:/);
});

t.test('check-config with no stdout sink still validates and exits 0', async (t) => {
  const file = join(t.testdir({ 'good.yaml': GOOD() }), 'good.yaml');
  const run = cli(['check-config', file]);
  t.equal(await main({ ...run.io, stdout: undefined }), 0);
  t.strictSame(run.stderr, []);
});

t.test('issue 3 capability 4: the check-config process: exit 0 with "PATH: ok", no port bound (its listen port is taken)', async (t) => {
  const port = await heldPort(t);
  const file = join(t.testdir({ 'good.yaml': GOOD(`127.0.0.1:${port}`) }), 'good.yaml');
  t.strictSame(await child(['check-config', file]), { code: 0, stdout: `${file}: ok\n`, stderr: '' });
});

t.test('issue 3 capability 4: the check-config process: exit 2 with every problem on stderr, nothing on stdout', async (t) => {
  const file = join(t.testdir({ 'bad.yaml': BAD }), 'bad.yaml');
  t.strictSame(await child(['check-config', file]), { code: 2, stdout: '', stderr: `${badProblems(file).join('\n')}\n` });
});

// ---- hash-secret ----

t.test('issue 3 capability 4: hash-secret prints $pbkdf2-sha256$i=100000,l=32$<salt>$<hash> and exits 0', async (t) => {
  const { code, stdout, stderr } = await hashSecretCli('s3cret\n');
  t.equal(code, 0);
  t.match(stdout, HASH_LINE);
  t.strictSame(stderr, []);
});

t.test('issue 3 capability 4: hash-secret ignores one trailing LF: the hash is of the secret without it', async (t) => {
  const { stdout } = await hashSecretCli('s3cret\n');
  t.equal(await verifies(stdout, 's3cret'), true);
  t.equal(await verifies(stdout, 's3cret\n'), false);
});

t.test('issue 3 capability 4: hash-secret ignores one trailing CRLF', async (t) => {
  const { code, stdout } = await hashSecretCli('s3cret\r\n');
  t.equal(code, 0);
  t.equal(await verifies(stdout, 's3cret'), true);
});

t.test('issue 3 capability 4: hash-secret without a trailing newline hashes the input as is', async (t) => {
  const { stdout } = await hashSecretCli('s3cret');
  t.equal(await verifies(stdout, 's3cret'), true);
});

t.test('issue 3 capability 4: hash-secret reads the whole of stdin, however it is chunked', async (t) => {
  const { stdout } = await hashSecretCli(Buffer.from('p@ss:'), 'w+rd', Buffer.from('/=%\n'));
  t.equal(await verifies(stdout, 'p@ss:w+rd/=%'), true);
});

t.test('issue 3 capability 4: hash-secret ignores only one newline: two -> not printable, exit 2', async (t) => {
  t.strictSame(await hashSecretCli('s3cret\n\n'), { code: 2, stdout: '', stderr: [NOT_PRINTABLE] });
});

t.test('issue 3 capability 4: hash-secret on an empty secret -> exit 2', async (t) => {
  t.strictSame(await hashSecretCli(), { code: 2, stdout: '', stderr: [NOT_PRINTABLE] });
  t.strictSame(await hashSecretCli('\n'), { code: 2, stdout: '', stderr: [NOT_PRINTABLE] });
});

t.test('issue 3 capability 4, RFC 6749 Appendix A: hash-secret on a non-printable or non-ASCII secret -> exit 2', async (t) => {
  for (const secret of ['tab\there\n', 'caf\u00e9\n', 'nul\0\n', 'cr\rinside\n']) {
    t.strictSame(await hashSecretCli(secret), { code: 2, stdout: '', stderr: [NOT_PRINTABLE] }, JSON.stringify(secret));
  }
});

t.test('hash-secret takes no arguments -> usage, exit 2', async (t) => {
  const run = cli(['hash-secret', 's3cret'], ['x\n']);
  t.equal(await main(run.io), 2);
  t.match(run.stderr[0], /^unknown argument "s3cret"\nusage:/);
  t.strictSame(run.stdout, []);
});

t.test('hash-secret without a stdin -> usage, exit 2', async (t) => {
  const run = cli(['hash-secret']);
  t.equal(await main(run.io), 2);
  t.match(run.stderr[0], /^hash-secret reads the secret on stdin\nusage:/);
});

t.test('hash-secret with no stdout sink still exits 0', async (t) => {
  const run = cli(['hash-secret'], ['s3cret\n']);
  t.equal(await main({ ...run.io, stdout: undefined }), 0);
  t.strictSame(run.stderr, []);
});

t.test('issue 3 capability 4: the hash-secret process prints a hash that the sidecar then accepts (RFC 6749 §2.3.1)', async (t) => {
  const { code, stdout, stderr } = await child(['hash-secret'], 'child-s3cret\n');
  t.equal(code, 0);
  t.match(stdout, HASH_LINE);
  t.equal(stderr, '');
  const config = testConfig('http://127.0.0.1:9', {
    access_profiles: [{ name: 'h', client_id: 'svc-h', client_secret_hash: stdout.trimEnd(), collections: ['orders'] }],
  });
  const sc = await startSidecar(config);
  t.teardown(() => sc.close());
  const basic = `Basic ${Buffer.from('svc-h:child-s3cret').toString('base64')}`;
  expectToken(t, await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: basic }));
});
