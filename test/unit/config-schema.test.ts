/**
 * The config contract (src/config/schema.ts, ARCHITECTURE.md §3): defaults, every shape rule, the
 * cross-references zod cannot see, and the whole document refused with every problem listed.
 */
import t from 'tap';
import { joinMount, parseCidr, validate, type ConfigIssue } from '../../src/config/schema.js';

/** A minimal valid document; `patch` replaces top-level keys. */
const doc = (patch: Record<string, unknown> = {}): Record<string, unknown> => ({
  domains: [{ host: 'api.example.com' }],
  collections: [{ name: 'orders', path: '/orders', upstream: 'http://127.0.0.1:9001/orders' }],
  access_profiles: [{ name: 'a', client_id: 'svc-a', client_secret: 's', collections: ['orders'] }],
  ...patch,
});
const collection = (patch: Record<string, unknown> = {}) => ({
  name: 'orders',
  path: '/orders',
  upstream: 'http://127.0.0.1:9001/orders',
  ...patch,
});
const profile = (patch: Record<string, unknown> = {}) => ({
  name: 'a',
  client_id: 'svc-a',
  client_secret: 's',
  collections: ['orders'],
  ...patch,
});

/** The issues of a document that must be refused. */
function issuesOf(raw: unknown): ConfigIssue[] {
  const result = validate(raw);
  if (!result.issues) throw new Error('expected the document to be refused');
  return result.issues;
}

t.test('a minimal document gets the documented defaults', async (t) => {
  const { config } = validate(doc());
  t.match(config, {
    listen: { host: '0.0.0.0', port: 8080 },
    realm: 'api',
    trusted_proxies: [],
    tokens: { expires_in: 3600, max_active: 100_000 },
    collections: [{ timeout_ms: 30_000 }],
    access_profiles: [{ enabled: true }],
  });
});

t.test('values are kept: listen host:port, [IPv6]:port, upstream as a URL, host lower-cased without its trailing dot', async (t) => {
  const { config } = validate(
    doc({ listen: '[::1]:0', domains: [{ host: 'API.Example.COM.', base_path: '/demo' }, { host: '*' }, { host: '[::1]' }] }),
  );
  t.strictSame(config?.listen, { host: '::1', port: 0 });
  t.strictSame(config?.domains, [{ host: 'api.example.com', base_path: '/demo' }, { host: '*' }, { host: '[::1]' }]);
  t.ok(config?.collections[0]?.upstream instanceof URL);
  t.equal(config?.collections[0]?.upstream.href, 'http://127.0.0.1:9001/orders');
});

t.test('partial tokens: the missing key gets its default', async (t) => {
  t.strictSame(validate(doc({ tokens: { expires_in: 60 } })).config?.tokens, { expires_in: 60, max_active: 100_000 });
});

t.test('ARCHITECTURE §1.4: the config is deeply frozen', async (t) => {
  const { config } = validate(doc());
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config?.listen));
  t.ok(Object.isFrozen(config?.access_profiles[0]?.collections));
  t.throws(() => (config!.access_profiles[0]!.collections as string[]).push('x'));
});

t.test('two documents validated one after the other each get their own defaults', async (t) => {
  const first = validate(doc()).config;
  const second = validate(doc({ listen: '127.0.0.1:1' })).config;
  t.equal(first?.listen.port, 8080);
  t.equal(second?.listen.port, 1);
  t.strictSame(validate(doc()).config?.tokens, { expires_in: 3600, max_active: 100_000 });
});

t.test('an empty document -> the three required keys', async (t) => {
  const expected = [
    { path: ['domains'], message: 'is required' },
    { path: ['collections'], message: 'is required' },
    { path: ['access_profiles'], message: 'is required' },
  ];
  t.strictSame(issuesOf(null), expected);
  t.strictSame(issuesOf(undefined), expected);
});

t.test('a document that is not a map -> one problem at the root', async (t) => {
  t.strictSame(issuesOf([1]), [{ path: [], message: 'Invalid input: expected object, received array' }]);
});

t.test('unknown keys are problems, at every level, each naming its key', async (t) => {
  const issues = issuesOf(
    doc({
      colections: [],
      tokens: { ttl: 1 },
      domains: [{ host: 'a', hots: 'b' }],
      collections: [collection({ timeout: 1 })],
      access_profiles: [profile({ secret: 'x', scopes: [] })],
    }),
  );
  t.strictSame(issues, [
    { path: ['domains', 0, 'hots'], message: 'unknown key' },
    { path: ['tokens', 'ttl'], message: 'unknown key' },
    { path: ['collections', 0, 'timeout'], message: 'unknown key' },
    { path: ['access_profiles', 0, 'secret'], message: 'unknown key' },
    { path: ['access_profiles', 0, 'scopes'], message: 'unknown key' },
    { path: ['colections'], message: 'unknown key' },
  ]);
});

t.test('a value of the wrong type is reported as such, not as missing', async (t) => {
  t.strictSame(issuesOf(doc({ realm: 5, access_profiles: [profile({ enabled: 'yes', collections: 'orders' })] })), [
    { path: ['realm'], message: 'Invalid input: expected string, received number' },
    { path: ['access_profiles', 0, 'collections'], message: 'Invalid input: expected array, received string' },
    { path: ['access_profiles', 0, 'enabled'], message: 'Invalid input: expected boolean, received string' },
  ]);
});

t.test('a missing required key inside a list item -> "is required" at its path', async (t) => {
  t.strictSame(issuesOf(doc({ access_profiles: [{ name: 'a', client_secret: 'x', collections: [] }] })), [
    { path: ['access_profiles', 0, 'client_id'], message: 'is required' },
  ]);
});

t.test('listen must be host:port with a port of 0-65535', async (t) => {
  t.strictSame(issuesOf(doc({ listen: 'localhost' })), [{ path: ['listen'], message: 'must be host:port, e.g. 0.0.0.0:8080' }]);
  t.strictSame(issuesOf(doc({ listen: '0.0.0.0:65536' })), [{ path: ['listen'], message: 'port must be 0-65535' }]);
  t.equal(validate(doc({ listen: 'localhost:65535' })).config?.listen.port, 65535);
});

t.test('RFC 6750 §3: realm is a quoted-string body without " or \\', async (t) => {
  t.strictSame(issuesOf(doc({ realm: 'a"b' })), [{ path: ['realm'], message: 'must be printable ASCII without " or \\' }]);
  t.strictSame(issuesOf(doc({ realm: '' })), [{ path: ['realm'], message: 'must be printable ASCII without " or \\' }]);
});

t.test('at least one domain; a host is a name, an IP literal or "*"', async (t) => {
  t.strictSame(issuesOf(doc({ domains: [] })), [{ path: ['domains'], message: 'at least one domain is required' }]);
  t.strictSame(issuesOf(doc({ domains: [{ host: 'api_example.com' }] })), [
    { path: ['domains', 0, 'host'], message: 'must be a host name, an IP literal or "*"' },
  ]);
  t.strictSame(issuesOf(doc({ domains: [{ host: 'api.example.com:8080' }] })), [
    { path: ['domains', 0, 'host'], message: 'must be a host name, an IP literal or "*"' },
  ]);
});

t.test('mount paths (base_path, collection path): "/" or clean segments', async (t) => {
  const SHAPE = 'must be "/" or /-separated segments without "//", "%", "?" or a trailing "/"';
  for (const path of ['orders', '/orders/', '/a//b', '/a%2fb', '/a?b', '']) {
    t.strictSame(issuesOf(doc({ collections: [collection({ path })] })), [{ path: ['collections', 0, 'path'], message: SHAPE }], path);
  }
  for (const path of ['/a/../b', '/.', '/a/..']) {
    t.strictSame(
      issuesOf(doc({ collections: [collection({ path })] })),
      [{ path: ['collections', 0, 'path'], message: 'must not contain "." or ".." segments' }],
      path,
    );
  }
  t.strictSame(issuesOf(doc({ domains: [{ host: 'a', base_path: '/demo/' }] })), [{ path: ['domains', 0, 'base_path'], message: SHAPE }]);
  for (const path of ['/', '/v1.2/a~b/@x:y', "/a-b_c/!$&'()*+,;="])
    t.ok(validate(doc({ collections: [collection({ path })] })).config, path);
});

t.test('tokens: expires_in 1 s - 1 year and max_active 1 - 10,000,000, whole numbers', async (t) => {
  t.strictSame(issuesOf(doc({ tokens: { expires_in: 0, max_active: 10_000_001 } })), [
    { path: ['tokens', 'expires_in'], message: 'Too small: expected number to be >=1' },
    { path: ['tokens', 'max_active'], message: 'Too big: expected number to be <=10000000' },
  ]);
  t.strictSame(issuesOf(doc({ tokens: { expires_in: 1.5 } })), [
    { path: ['tokens', 'expires_in'], message: 'Invalid input: expected int, received number' },
  ]);
});

t.test('RFC 6749 §3.3: a collection name is a scope token', async (t) => {
  for (const name of ['two words', 'quote"d', 'back\\slash', '']) {
    t.strictSame(
      issuesOf(doc({ collections: [collection({ name })], access_profiles: [] })),
      [{ path: ['collections', 0, 'name'], message: 'must be a scope token: printable ASCII without space, " or \\' }],
      name,
    );
  }
});

t.test('upstream: an absolute http(s) URL without query, fragment or credentials', async (t) => {
  const at = [{ path: ['collections', 0, 'upstream'] }];
  t.match(issuesOf(doc({ collections: [collection({ upstream: '/orders' })] })), [
    { ...at[0], message: 'must be an absolute http:// or https:// URL' },
  ]);
  t.match(issuesOf(doc({ collections: [collection({ upstream: 'ftp://x/orders' })] })), [
    { ...at[0], message: 'must use http:// or https://' },
  ]);
  for (const upstream of ['http://x/?q=1', 'http://x/#f', 'http://u:p@x/', 'http://u@x/']) {
    t.match(
      issuesOf(doc({ collections: [collection({ upstream })] })),
      [{ ...at[0], message: 'must not carry a query, fragment or credentials' }],
      upstream,
    );
  }
  t.equal(
    validate(doc({ collections: [collection({ upstream: 'https://x.example' })] })).config?.collections[0]?.upstream.href,
    'https://x.example/',
  );
});

t.test('timeout_ms: 1 ms - 1 hour', async (t) => {
  t.strictSame(issuesOf(doc({ collections: [collection({ timeout_ms: 3_600_001 })] })), [
    { path: ['collections', 0, 'timeout_ms'], message: 'Too big: expected number to be <=3600000' },
  ]);
});

t.test('RFC 6749 Appendix A: client_id and client_secret are 1+ VSCHAR', async (t) => {
  const VSCHAR = 'must be 1+ printable ASCII characters (RFC 6749 Appendix A)';
  t.strictSame(issuesOf(doc({ access_profiles: [profile({ client_id: 'svc-é', client_secret: '' })] })), [
    { path: ['access_profiles', 0, 'client_id'], message: VSCHAR },
    { path: ['access_profiles', 0, 'client_secret'], message: VSCHAR },
  ]);
  t.strictSame(issuesOf(doc({ access_profiles: [profile({ client_secret: 'tab\there' })] })), [
    { path: ['access_profiles', 0, 'client_secret'], message: VSCHAR },
  ]);
  t.ok(
    validate(doc({ access_profiles: [profile({ client_secret: ' p@ss:w+rd/=% ' })] })).config,
    'space and reserved characters are VSCHAR',
  );
});

t.test('an access profile name is not empty', async (t) => {
  t.strictSame(issuesOf(doc({ access_profiles: [profile({ name: '' })] })), [
    { path: ['access_profiles', 0, 'name'], message: 'Too small: expected string to have >=1 characters' },
  ]);
});

t.test('trusted_proxies: IP addresses or CIDR blocks', async (t) => {
  t.strictSame(validate(doc({ trusted_proxies: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1'] })).config?.trusted_proxies, [
    '10.0.0.0/8',
    '192.0.2.7',
    '2001:db8::/32',
    '::1',
  ]);
  t.strictSame(issuesOf(doc({ trusted_proxies: ['10.0.0.0/33', 'example.com'] })), [
    { path: ['trusted_proxies', 0], message: 'must be an IP address or CIDR block' },
    { path: ['trusted_proxies', 1], message: 'must be an IP address or CIDR block' },
  ]);
});

t.test('cross-references: a duplicate collection name', async (t) => {
  const issues = issuesOf(doc({ collections: [collection(), collection({ path: '/other' })] }));
  t.strictSame(issues, [{ path: ['collections', 1, 'name'], message: 'duplicate collection name "orders"' }]);
});

t.test('cross-references: two collections at the same path are a duplicate (host, path) mount on every domain', async (t) => {
  const issues = issuesOf(
    doc({ domains: [{ host: 'a' }, { host: 'b', base_path: '/x' }], collections: [collection(), collection({ name: 'copy' })] }),
  );
  t.strictSame(issues, [{ path: ['collections', 1, 'path'], message: '"/orders" is mounted twice (also by collections[0])' }]);
});

t.test('cross-references: a duplicate domain host, compared as matched (case, trailing dot), reported once', async (t) => {
  const issues = issuesOf(doc({ domains: [{ host: 'api.example.com' }, { host: 'API.example.com.' }] }));
  t.strictSame(issues, [{ path: ['domains', 1, 'host'], message: 'duplicate domain host "api.example.com"' }]);
});

t.test('cross-references: a duplicate client_id', async (t) => {
  const issues = issuesOf(doc({ access_profiles: [profile(), profile({ name: 'b' })] }));
  t.strictSame(issues, [{ path: ['access_profiles', 1, 'client_id'], message: 'duplicate client_id "svc-a"' }]);
});

t.test('cross-references: a duplicate access profile name', async (t) => {
  const issues = issuesOf(doc({ access_profiles: [profile(), profile({ client_id: 'svc-b' })] }));
  t.strictSame(issues, [{ path: ['access_profiles', 1, 'name'], message: 'duplicate access profile name "a"' }]);
});

t.test('cross-references: a profile naming an unknown collection', async (t) => {
  const issues = issuesOf(doc({ access_profiles: [profile({ collections: ['orders', 'salse'] })] }));
  t.strictSame(issues, [{ path: ['access_profiles', 0, 'collections', 1], message: 'no collection named "salse"' }]);
});

t.test('ARCHITECTURE §1.4: shape problems and cross-references are reported together', async (t) => {
  const issues = issuesOf(doc({ realm: 5, access_profiles: [profile({ collections: ['salse'] })] }));
  t.strictSame(issues, [
    { path: ['realm'], message: 'Invalid input: expected string, received number' },
    { path: ['access_profiles', 0, 'collections', 0], message: 'no collection named "salse"' },
  ]);
});

t.test('cross-references skip what has the wrong shape (reported by the shape check alone)', async (t) => {
  const issues = issuesOf({
    domains: 'x',
    collections: [null, 7, { name: 1, path: 2 }],
    access_profiles: [[], { name: 3, client_id: 4, collections: [5] }],
  });
  t.strictSame(issues, [
    { path: ['domains'], message: 'Invalid input: expected array, received string' },
    { path: ['collections', 0], message: 'Invalid input: expected object, received null' },
    { path: ['collections', 1], message: 'Invalid input: expected object, received number' },
    { path: ['collections', 2, 'name'], message: 'Invalid input: expected string, received number' },
    { path: ['collections', 2, 'path'], message: 'Invalid input: expected string, received number' },
    { path: ['collections', 2, 'upstream'], message: 'is required' },
    { path: ['access_profiles', 0], message: 'Invalid input: expected object, received array' },
    { path: ['access_profiles', 1, 'name'], message: 'Invalid input: expected string, received number' },
    { path: ['access_profiles', 1, 'client_id'], message: 'Invalid input: expected string, received number' },
    { path: ['access_profiles', 1, 'collections', 0], message: 'Invalid input: expected string, received number' },
    { path: ['access_profiles', 1], message: 'needs one of client_secret, client_secret_env, client_secret_hash' },
  ]);
  t.strictSame(
    issuesOf({ domains: [{ base_path: '/x' }], collections: {}, access_profiles: 'x' }).map((i) => i.path.join('.')),
    ['domains.0.host', 'collections', 'access_profiles'],
  );
});

t.test('parseCidr: addresses and blocks node:net accepts, nothing else', async (t) => {
  t.strictSame(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', family: 'ipv4', prefix: 8 });
  t.strictSame(parseCidr('192.0.2.7'), { address: '192.0.2.7', family: 'ipv4', prefix: 32 });
  t.strictSame(parseCidr('2001:db8::/32'), { address: '2001:db8::', family: 'ipv6', prefix: 32 });
  t.strictSame(parseCidr('::ffff:10.0.0.1'), { address: '::ffff:10.0.0.1', family: 'ipv6', prefix: 128 });
  t.strictSame(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', family: 'ipv4', prefix: 0 });
  for (const bad of [
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/8/1',
    '10.0.0.0/',
    '10.0.0.0/x',
    '10.0.0.0/1000',
    '256.0.0.1',
    '01.2.3.4',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    'example.com',
    '',
  ]) {
    t.equal(parseCidr(bad), undefined, bad);
  }
});

t.test('joinMount: base_path + collection path', async (t) => {
  t.equal(joinMount('', '/echo'), '/echo');
  t.equal(joinMount('/', '/echo'), '/echo');
  t.equal(joinMount('/demo', '/'), '/demo');
  t.equal(joinMount('/demo', '/echo'), '/demo/echo');
});
