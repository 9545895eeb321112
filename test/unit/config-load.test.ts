/**
 * Loading the config file (src/config/load.ts) from real files: every problem is one line
 * `file:line:col path message` pointing at the node to fix, and a file that cannot be used is refused
 * as a whole (ARCHITECTURE.md §1.4, §3).
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config-file.js';

const VALID = `listen: 127.0.0.1:0
domains:
  - host: api.example.com
collections:
  - name: orders
    path: /orders
    upstream: http://127.0.0.1:9001/orders
access_profiles:
  - name: a
    client_id: svc-a
    client_secret: "p@ss:w+rd/=%"
    collections: [orders]
`;

/** Writes `text` to config.yaml in a fresh temp dir. @returns its path */
function file(t: Test, text: string): string {
  return join(t.testdir({ 'config.yaml': text }), 'config.yaml');
}

const problems = configProblems;

t.test('a valid file -> the frozen config', async (t) => {
  const config = loadConfig(file(t, VALID));
  t.match(config, {
    listen: { host: '127.0.0.1', port: 0 },
    domains: [{ host: 'api.example.com' }],
    access_profiles: [{ client_secret: 'p@ss:w+rd/=%' }],
  });
  t.ok(Object.isFrozen(config));
});

t.test('YAML anchors and aliases may share values', async (t) => {
  const config = parseConfig(
    VALID.replace('collections: [orders]', 'collections: &all [orders]') +
      '  - name: b\n    client_id: svc-b\n    client_secret: x\n    collections: *all\n',
    'c.yaml',
  );
  t.strictSame(config.access_profiles[1]?.collections, ['orders']);
});

t.test('a missing file -> "file: cannot read: ENOENT"', async (t) => {
  const path = join(t.testdir({}), 'nope.yaml');
  t.throws(() => loadConfig(path), {
    name: 'ConfigError',
    problems: [`${path}: cannot read: ENOENT`],
    message: `invalid config:\n${path}: cannot read: ENOENT`,
  });
});

t.test('a path Node refuses (NUL byte) -> "file: cannot read: ERR_INVALID_ARG_VALUE", not a crash', async (t) => {
  t.throws(() => loadConfig('a\0b.yaml'), { name: 'ConfigError', problems: ['a\0b.yaml: cannot read: ERR_INVALID_ARG_VALUE'] });
});

t.test('a directory -> "file: cannot read: EISDIR"', async (t) => {
  const dir = t.testdir({});
  t.throws(() => loadConfig(dir), { name: 'ConfigError', problems: [`${dir}: cannot read: EISDIR`] });
});

t.test('the file name appears as given (a relative path)', async (t) => {
  t.throws(() => parseConfig('realm: [\n', 'conf/config.yaml'), { name: 'ConfigError', problems: [/^conf\/config\.yaml:2:1 /] });
});

t.test("a YAML syntax error -> file:line:col and the parser's first line, no path", async (t) => {
  t.strictSame(problems(t, VALID.replace('  - host: api.example.com', '  - host: [api.example.com')), [
    'config.yaml:4:1 Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
});

t.test('a repeated YAML key -> a syntax problem at the second key', async (t) => {
  t.strictSame(problems(t, VALID + 'listen: 0.0.0.0:8080\n'), ['config.yaml:13:1 Map keys must be unique']);
});

t.test('two YAML documents in one file -> refused', async (t) => {
  t.strictSame(problems(t, VALID + '---\nrealm: x\n'), [
    'config.yaml:13:1 Source contains multiple documents; please use YAML.parseAllDocuments()',
  ]);
});

t.test('an empty file -> the three required keys, at 1:1', async (t) => {
  t.strictSame(problems(t, ''), [
    'config.yaml:1:1 domains is required',
    'config.yaml:1:1 collections is required',
    'config.yaml:1:1 access_profiles is required',
  ]);
});

t.test('a document that is a list -> one problem at the root', async (t) => {
  t.strictSame(problems(t, '- a\n'), ['config.yaml:1:1 (root) Invalid input: expected object, received array']);
});

t.test('an unknown key -> at the key itself', async (t) => {
  t.strictSame(problems(t, VALID.replace('    path: /orders', '    path: /orders\n    timeout: 5')), [
    'config.yaml:7:5 collections[0].timeout unknown key',
  ]);
});

t.test('a value of the wrong type -> at the value', async (t) => {
  t.strictSame(problems(t, VALID + 'realm: 5\n'), ['config.yaml:13:8 realm Invalid input: expected string, received number']);
});

t.test('a missing key -> at the map that lacks it', async (t) => {
  t.strictSame(problems(t, VALID.replace('    client_id: svc-a\n', '')), ['config.yaml:9:5 access_profiles[0].client_id is required']);
});

t.test('a key without a value -> at the key', async (t) => {
  t.strictSame(problems(t, VALID.replace('    client_secret: "p@ss:w+rd/=%"', '    client_secret:')), [
    'config.yaml:11:5 access_profiles[0].client_secret Invalid input: expected string, received null',
  ]);
});

t.test('a flow-map key without a value -> at the key', async (t) => {
  const text = VALID.replace(
    /access_profiles:\n[^]*$/,
    'access_profiles: [{name: a, client_id: svc-a, client_secret, collections: [orders]}]\n',
  );
  t.strictSame(problems(t, text), ['config.yaml:8:47 access_profiles[0].client_secret Invalid input: expected string, received null']);
});

t.test('non-string YAML keys (1, true) are found as the data keys "1" and "true"', async (t) => {
  t.strictSame(problems(t, `${VALID}1: x\ntrue: y\n`), ['config.yaml:13:1 1 unknown key', 'config.yaml:14:1 true unknown key']);
});

t.test('a map used as a key -> an unknown key at the document start, no process warning', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  t.strictSame(problems(t, `${VALID}? [a]\n: z\n`), ['config.yaml:1:1 [ a ] unknown key']);
  await new Promise((resolve) => setImmediate(resolve));
  t.strictSame(warnings, []);
});

t.test('YAML 1.1 !!pairs: a problem inside a pair stops at the list (pairs have no position)', async (t) => {
  const text = `%YAML 1.1\n---\n${VALID.replace(/collections:\n[^]*?access_profiles:/, 'collections: !!pairs [{name: orders}]\naccess_profiles:')}`;
  t.strictSame(problems(t, text), [
    'config.yaml:6:22 collections[0].path is required',
    'config.yaml:6:22 collections[0].upstream is required',
  ]);
});

t.test('a duplicate client_id -> at the second one', async (t) => {
  const text = VALID + '  - name: b\n    client_id: svc-a\n    client_secret: x\n    collections: []\n';
  t.strictSame(problems(t, text), ['config.yaml:14:16 access_profiles[1].client_id duplicate client_id "svc-a"']);
});

t.test('STYLE: an unknown collection reference -> at the list item', async (t) => {
  t.strictSame(problems(t, VALID.replace('collections: [orders]', 'collections: [orders, salse]')), [
    'config.yaml:12:27 access_profiles[0].collections[1] no collection named "salse"',
  ]);
});

t.test("a duplicate mount path -> at the second collection's path", async (t) => {
  const text = VALID.replace(
    'access_profiles:',
    '  - name: copy\n    path: /orders\n    upstream: http://127.0.0.1:9002/\naccess_profiles:',
  );
  t.strictSame(problems(t, text), ['config.yaml:9:11 collections[1].path "/orders" is mounted twice (also by collections[0])']);
});

t.test('a duplicate domain host -> at the second host', async (t) => {
  t.strictSame(problems(t, VALID.replace('  - host: api.example.com', '  - host: api.example.com\n  - host: API.example.com.')), [
    'config.yaml:4:11 domains[1].host duplicate domain host "api.example.com"',
  ]);
});

t.test('ARCHITECTURE §1.4: every problem is listed, in file order', async (t) => {
  const text = VALID.replace('listen: 127.0.0.1:0', 'listen: 127.0.0.1:99999\nrealm: "a\\"b"')
    .replace('collections: [orders]', 'collections: [salse]')
    .replace('    path: /orders', '    path: /orders/');
  t.strictSame(problems(t, text), [
    'config.yaml:1:9 listen port must be 0-65535',
    'config.yaml:2:8 realm must be printable ASCII without " or \\',
    'config.yaml:7:11 collections[0].path must be "/" or /-separated segments without "//", "%", "?" or a trailing "/"',
    'config.yaml:13:19 access_profiles[0].collections[0] no collection named "salse"',
  ]);
});

t.test('a problem inside an aliased node -> at the alias', async (t) => {
  const text = VALID.replace(
    'access_profiles:\n',
    'x-profile: &p {name: b, client_id: svc-b, client_secret: x, collections: [salse]}\naccess_profiles:\n  - *p\n',
  );
  t.strictSame(problems(t, text), [
    'config.yaml:8:1 x-profile unknown key',
    'config.yaml:10:5 access_profiles[0].collections[0] no collection named "salse"',
  ]);
});

t.test('an alias before its anchor -> a problem at the alias, not a crash', async (t) => {
  t.strictSame(problems(t, VALID.replace('collections: [orders]', 'collections: *nope')), [
    'config.yaml:12:18 Unresolved alias (the anchor must be set before the alias): nope',
  ]);
});

t.test('"billion laughs": aliases expanding past the limit -> a problem, not a crash', async (t) => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x, x]',
    ...'bcde'.split('').map((n, i) => `${n}: &${n} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`),
  ].join('\n');
  t.strictSame(problems(t, `${bomb}\n`), ['config.yaml:1:1 Excessive alias count indicates a resource exhaustion attack']);
});

t.test('%YAML 1.1 merge keys work; a bad merge source -> a problem at the document start', async (t) => {
  const merged = `%YAML 1.1\n---\n${VALID.replace('  - name: a\n', '  - <<: {name: a}\n')}`;
  t.equal(parseConfig(merged, 'c.yaml').access_profiles[0]?.name, 'a');
  t.strictSame(problems(t, `%YAML 1.1\n---\n${VALID.replace('  - name: a\n', '  - <<: 5\n    name: a\n')}`), [
    'config.yaml:1:1 Merge sources must be maps or map aliases',
  ]);
});
