/**
 * Issue 3 capability 2, the config watcher on real files: what it reads, when it reports, and what it
 * never reports. Through a real process and on the wire: test/integration/config-reload*.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ConfigError } from '../../src/config/load.js';
import { ConfigWatcher, readConfig, type LoadedConfig } from '../../src/config/watch.js';
import { configText, renameOver } from '../helpers/config-file.js';
import { eventually } from '../helpers/wait.js';

const V1 = configText('http://127.0.0.1:9/v1');
const V2 = configText('http://127.0.0.1:9/v2');
const INVALID = 'listen: 127.0.0.1:0\ndomains: []\ncollections: []\naccess_profiles: []\n';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
/** The version segment of the first collection's upstream: /v2 for http://127.0.0.1:9/v2/orders */
const upstreamOf = (loaded: LoadedConfig): string => `/${loaded.config.collections[0]!.upstream.pathname.split('/')[1]}`;

/** A watcher on `file` with recording handlers, closed when the test ends. */
function watcher(
  t: { teardown(fn: () => void): void },
  file: string,
  hash: string,
  opts: { debounceMs?: number; pollMs?: number } = { debounceMs: 20, pollMs: 60_000 },
  onConfig: (loaded: LoadedConfig) => void = () => {},
) {
  const applied: LoadedConfig[] = [];
  const invalid: string[][] = [];
  const w = new ConfigWatcher(
    file,
    hash,
    {
      onConfig: (loaded) => {
        applied.push(loaded);
        onConfig(loaded);
      },
      onInvalid: (problems) => invalid.push(problems),
    },
    opts,
  );
  t.teardown(() => w.close());
  return { w, applied, invalid };
}

t.test('readConfig: the validated config and the SHA-256 of the file bytes', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const loaded = await readConfig(file);
  t.equal(loaded.hash, sha256(V1));
  t.equal(upstreamOf(loaded), '/v1');
});

t.test('readConfig: a missing file is a ConfigError naming the file and the code', async (t) => {
  const file = join(t.testdir({}), 'config.yaml');
  await t.rejects(readConfig(file), new ConfigError([`${file}: cannot read: ENOENT`]));
});

t.test('check(): the same bytes as the config serving are not applied again', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied, invalid } = watcher(t, file, sha256(V1));
  await w.check();
  t.same([applied.length, invalid.length], [0, 0]);
});

t.test('check(): new valid bytes are applied, with their hash', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied } = watcher(t, file, sha256(V1));
  writeFileSync(file, V2);
  await w.check();
  t.equal(applied.length, 1);
  t.equal(applied[0]!.hash, sha256(V2));
  t.equal(upstreamOf(applied[0]!), '/v2');
});

t.test('issue 3 capability 2: a file rewritten in place is applied through the directory watch', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied } = watcher(t, file, sha256(V1));
  t.ok(w.watching);
  writeFileSync(file, V2);
  t.ok(await eventually(() => applied.length === 1, 2000), 'applied within 2 s, long before the poll');
  t.equal(upstreamOf(applied[0]!), '/v2');
});

t.test('issue 3 capability 2: a new file renamed over the old one is applied through the directory watch', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { applied } = watcher(t, file, sha256(V1));
  renameOver(file, V2);
  t.ok(await eventually(() => applied.length === 1, 2000), 'applied within 2 s, long before the poll');
  t.equal(upstreamOf(applied[0]!), '/v2');
});

t.test('issue 3 capability 2: a burst of events is one reload of the last bytes (debounce)', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { applied } = watcher(t, file, sha256(V1), { debounceMs: 200, pollMs: 60_000 });
  for (let i = 0; i < 5; i++) writeFileSync(file, configText(`http://127.0.0.1:9/v${i + 3}`));
  t.ok(await eventually(() => applied.length >= 1, 2000));
  await sleep(300);
  t.equal(applied.length, 1);
  t.equal(upstreamOf(applied[0]!), '/v7');
});

t.test('issue 3 capability 2: the poll applies a change where the directory cannot be watched', async (t) => {
  const dir = join(t.testdir({}), 'later');
  const file = join(dir, 'config.yaml');
  const { w, applied, invalid } = watcher(t, file, sha256(V1), { debounceMs: 20, pollMs: 30 });
  t.notOk(w.watching, 'no directory to watch yet');
  await sleep(100);
  t.same(invalid, [], 'a missing file is not reported: it may be mid-swap');
  mkdirSync(dir);
  writeFileSync(file, V2);
  t.ok(await eventually(() => applied.length === 1, 2000));
  t.equal(upstreamOf(applied[0]!), '/v2');
});

t.test('issue 3 capability 2: an invalid file is reported with file:line:col problems, once, not at every poll', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { applied, invalid } = watcher(t, file, sha256(V1), { debounceMs: 20, pollMs: 25 });
  writeFileSync(file, INVALID);
  t.ok(await eventually(() => invalid.length === 1, 2000));
  await sleep(200);
  t.same(invalid, [[`${file}:2:10 domains at least one domain is required`]]);
  t.equal(applied.length, 0);
});

t.test('issue 3 capability 2: after an invalid file, the next valid one is applied', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied, invalid } = watcher(t, file, sha256(V1));
  writeFileSync(file, INVALID);
  await w.check();
  writeFileSync(file, V2);
  await w.check();
  t.equal(invalid.length, 1);
  t.equal(applied.length, 1);
  t.equal(upstreamOf(applied[0]!), '/v2');
});

t.test('issue 3 capability 2: going back to the serving bytes after an invalid file applies them again', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied } = watcher(t, file, sha256(V1));
  writeFileSync(file, INVALID);
  await w.check();
  writeFileSync(file, V1);
  await w.check();
  t.equal(applied.length, 1, 'harmless: the same config applied once more');
  t.equal(applied[0]!.hash, sha256(V1));
});

t.test('issue 3 capability 2: an unreadable file is reported once with its code, then recovered from', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied, invalid } = watcher(t, file, sha256(V1));
  rmSync(file);
  mkdirSync(file); // a directory where the file was: EISDIR
  await w.check();
  await w.check();
  t.same(invalid, [[`${file}: cannot read: EISDIR`]]);
  rmSync(file, { recursive: true });
  writeFileSync(file, V2);
  await w.check();
  t.equal(applied.length, 1);
});

t.test('issue 3 capability 2: the same read error after a good read is reported again', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, invalid } = watcher(t, file, sha256(V1));
  const breakFile = (): void => {
    rmSync(file, { recursive: true, force: true });
    mkdirSync(file);
  };
  breakFile();
  await w.check();
  rmSync(file, { recursive: true });
  writeFileSync(file, V1);
  await w.check();
  breakFile();
  await w.check();
  t.equal(invalid.length, 2);
});

t.test('issue 3 capability 2: a file missing mid-swap is not reported; its successor is applied', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied, invalid } = watcher(t, file, sha256(V1));
  rmSync(file);
  await w.check();
  t.same(invalid, []);
  writeFileSync(file, V2);
  await w.check();
  t.equal(applied.length, 1);
});

t.test('a failing onConfig is reported through onInvalid and later checks still run', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  let fail = true;
  const { w, applied, invalid } = watcher(t, file, sha256(V1), undefined, () => {
    if (fail) throw new Error('apply failed');
  });
  writeFileSync(file, V2);
  await w.check();
  t.same(invalid, [[`${file}: Error: apply failed`]]);
  fail = false;
  writeFileSync(file, configText('http://127.0.0.1:9/v3'));
  await w.check();
  t.equal(applied.length, 2);
});

t.test('checks never overlap: two at once read and apply the change once', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied } = watcher(t, file, sha256(V1));
  writeFileSync(file, V2);
  await Promise.all([w.check(), w.check()]);
  t.equal(applied.length, 1);
});

t.test('close(): a check already started applies nothing', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied } = watcher(t, file, sha256(V1));
  writeFileSync(file, V2);
  const checking = w.check();
  w.close();
  await checking;
  t.equal(applied.length, 0);
});

t.test('close(): an invalid file read after close is not reported', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, invalid } = watcher(t, file, sha256(V1));
  writeFileSync(file, INVALID);
  w.close();
  await w.check();
  t.same(invalid, []);
});

t.test('close(): later changes to the file are not applied', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const { w, applied } = watcher(t, file, sha256(V1), { debounceMs: 10, pollMs: 20 });
  w.close();
  writeFileSync(file, V2);
  await sleep(150);
  t.equal(applied.length, 0);
});

t.test('issue 3 capability 2: with the default options (debounce 100 ms) a rewrite applies within 2 s', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const applied: LoadedConfig[] = [];
  const w = new ConfigWatcher(file, sha256(V1), { onConfig: (loaded) => applied.push(loaded), onInvalid: () => {} });
  t.teardown(() => w.close());
  const since = performance.now();
  writeFileSync(file, V2);
  t.ok(await eventually(() => applied.length === 1, 2000));
  t.ok(performance.now() - since >= 100, 'not before the debounce');
});

t.test('a reloaded file reads its *_env secrets from the environment the watcher was given, as at start-up', async (t) => {
  const file = join(t.testdir({ 'config.yaml': V1 }), 'config.yaml');
  const applied: LoadedConfig[] = [];
  const invalid: string[][] = [];
  const env = { RELOADED_SECRET: 'from-the-given-env' };
  const w = new ConfigWatcher(
    file,
    sha256(V1),
    { onConfig: (loaded) => applied.push(loaded), onInvalid: (problems) => invalid.push(problems) },
    { debounceMs: 20, pollMs: 60_000, env },
  );
  t.teardown(() => w.close());
  const parsed = JSON.parse(V1) as { access_profiles: Record<string, unknown>[] };
  const { client_secret: _dropped, ...profile } = parsed.access_profiles[0]!;
  parsed.access_profiles[0] = { ...profile, client_secret_env: 'RELOADED_SECRET' };
  writeFileSync(file, JSON.stringify(parsed));
  await w.check();
  t.same(invalid, []);
  t.equal(applied[0]!.config.access_profiles[0]!.client_secret, 'from-the-given-env');
});
