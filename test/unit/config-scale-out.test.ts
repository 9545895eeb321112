/**
 * Config of the scale-out issue (src/config/scale-out.ts): `store` and `tokens.format: jwt` with
 * `tokens.signing_keys`, checked against each other and the environment at start-up.
 */
import t from 'tap';
import { loadSigningKeys } from '../../src/config/scale-out.js';
import { validate, type ConfigIssue } from '../../src/config/schema.js';
import { configProblems } from '../helpers/config-file.js';
import { hsSecret, privateKeyJwk, privateKeyPem } from '../helpers/keys.js';

const doc = (patch: Record<string, unknown> = {}): Record<string, unknown> => ({
  domains: [{ host: 'api.example.com' }],
  collections: [{ name: 'orders', path: '/orders', upstream: 'http://127.0.0.1:9001/orders' }],
  access_profiles: [{ name: 'a', client_id: 'svc-a', client_secret: 's', collections: ['orders'] }],
  ...patch,
});
const env = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  EC_PEM: privateKeyPem('ec'),
  ED_JWK: privateKeyJwk('ed25519'),
  HS: hsSecret(),
  SHORT: 'x'.repeat(31),
  RSA: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n',
  P384: JSON.stringify({ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA', d: 'AA' }),
};

function issuesOf(raw: unknown): ConfigIssue[] {
  const result = validate(raw, env);
  if (!result.issues) throw new Error('expected the document to be refused');
  return result.issues;
}

t.test('store: redis with url_env, key_prefix and cache_ttl_ms is kept; absent means memory', async (t) => {
  const { config } = validate(doc({ store: { type: 'redis', url_env: 'REDIS_URL', key_prefix: 'x:', cache_ttl_ms: 500 } }), env);
  t.strictSame(config?.store, { type: 'redis', url_env: 'REDIS_URL', key_prefix: 'x:', cache_ttl_ms: 500 });
  t.equal(validate(doc(), env).config?.store, undefined);
  t.ok(validate(doc({ store: { type: 'memory' } }), env).config);
});

t.test('store: redis needs url_env naming a set variable; memory takes none of the redis keys', async (t) => {
  t.strictSame(issuesOf(doc({ store: { type: 'redis' } })), [{ path: ['store', 'url_env'], message: 'is required with type: redis' }]);
  t.strictSame(issuesOf(doc({ store: { type: 'redis', url_env: 'NOPE' } })), [
    { path: ['store', 'url_env'], message: 'environment variable NOPE is not set' },
  ]);
  t.strictSame(issuesOf(doc({ store: { type: 'memory', url_env: 'REDIS_URL', cache_ttl_ms: 1 } })), [
    { path: ['store', 'url_env'], message: 'only with type: redis' },
    { path: ['store', 'cache_ttl_ms'], message: 'only with type: redis' },
  ]);
  t.strictSame(issuesOf(doc({ store: { type: 'etcd', url: 'x' } })), [
    { path: ['store', 'type'], message: 'Invalid option: expected one of "memory"|"redis"' },
    { path: ['store', 'url'], message: 'unknown key' },
  ]);
});

t.test('tokens.format jwt: PEM, JWK and HS256 keys are accepted and read', async (t) => {
  const signing_keys = [
    { kid: 'ec', private_key_env: 'EC_PEM' },
    { kid: 'ed', private_key_env: 'ED_JWK' },
    { kid: 'hs', secret_env: 'HS' },
  ];
  const { config } = validate(doc({ tokens: { format: 'jwt', signing_keys } }), env);
  t.equal(config?.tokens.format, 'jwt');
  t.same(
    loadSigningKeys(config!.tokens.signing_keys!, env).map((k) => [k.kid, k.alg, k.publicKey === undefined]),
    [
      ['ec', 'ES256', false],
      ['ed', 'EdDSA', false],
      ['hs', 'HS256', true],
    ],
  );
});

t.test('tokens.signing_keys: every problem named at its key, never the key material', async (t) => {
  const issues = issuesOf(
    doc({
      tokens: {
        format: 'jwt',
        signing_keys: [
          { kid: 'a', private_key_env: 'UNSET' },
          { kid: 'a', secret_env: 'SHORT' },
          { kid: 'c', private_key_env: 'RSA' },
          { kid: 'd', private_key_env: 'P384' },
          { kid: 'e', private_key_env: 'EC_PEM', secret_env: 'HS' },
          { kid: 'f' },
          { kid: 'g', secret_env: 'UNSET' },
        ],
      },
    }),
  );
  t.strictSame(issues, [
    { path: ['tokens', 'signing_keys', 0, 'private_key_env'], message: 'environment variable UNSET is not set' },
    { path: ['tokens', 'signing_keys', 1, 'kid'], message: 'duplicate kid "a"' },
    { path: ['tokens', 'signing_keys', 1, 'secret_env'], message: 'must hold at least 32 bytes (RFC 7518 §3.2)' },
    { path: ['tokens', 'signing_keys', 2, 'private_key_env'], message: 'RSA does not hold a private key in PEM or JWK form' },
    { path: ['tokens', 'signing_keys', 3, 'private_key_env'], message: 'P384 does not hold a private key in PEM or JWK form' },
    { path: ['tokens', 'signing_keys', 4], message: 'needs exactly one of private_key_env, secret_env' },
    { path: ['tokens', 'signing_keys', 5], message: 'needs exactly one of private_key_env, secret_env' },
    { path: ['tokens', 'signing_keys', 6, 'secret_env'], message: 'environment variable UNSET is not set' },
  ]);
});

t.test('tokens.signing_keys: an RSA or P-384 key is refused (ES256 or EdDSA only)', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const result = validate(
    doc({
      tokens: {
        format: 'jwt',
        signing_keys: [
          { kid: 'r', private_key_env: 'R' },
          { kid: 'p', private_key_env: 'P' },
        ],
      },
    }),
    { R: rsa, P: p384 },
  );
  t.strictSame(result.issues, [
    { path: ['tokens', 'signing_keys', 0, 'private_key_env'], message: 'R must hold an EC P-256 (ES256) or Ed25519 (EdDSA) private key' },
    { path: ['tokens', 'signing_keys', 1, 'private_key_env'], message: 'P must hold an EC P-256 (ES256) or Ed25519 (EdDSA) private key' },
  ]);
});

t.test('tokens.format: jwt needs signing keys; opaque takes none', async (t) => {
  t.strictSame(issuesOf(doc({ tokens: { format: 'jwt' } })), [
    { path: ['tokens', 'signing_keys'], message: 'at least one key is required with format: jwt' },
  ]);
  t.strictSame(issuesOf(doc({ tokens: { signing_keys: [] } })), [{ path: ['tokens', 'signing_keys'], message: 'only with format: jwt' }]);
  t.strictSame(issuesOf(doc({ tokens: { format: 'paseto' } })), [
    { path: ['tokens', 'format'], message: 'Invalid option: expected one of "opaque"|"jwt"' },
  ]);
});

t.test('loadSigningKeys: a variable changed since validation is an error naming the kid', async (t) => {
  t.throws(() => loadSigningKeys([{ kid: 'k', private_key_env: 'GONE' } as { kid: string }], {}), {
    message: 'tokens.signing_keys k: environment variable GONE is not set',
  });
});

t.test('config file: a bad signing key is reported as file:line:col path message', async (t) => {
  process.env.SCALE_OUT_TEST_SHORT = 'short';
  t.teardown(() => delete process.env.SCALE_OUT_TEST_SHORT);
  const text = [
    'domains: [{ host: api.example.com }]',
    'collections: []',
    'access_profiles: []',
    'tokens:',
    '  format: jwt',
    '  signing_keys:',
    '    - kid: k1',
    '      secret_env: SCALE_OUT_TEST_SHORT',
    'store: { type: redis }',
    '',
  ].join('\n');
  t.strictSame(configProblems(t, text), [
    'config.yaml:8:19 tokens.signing_keys[0].secret_env must hold at least 32 bytes (RFC 7518 §3.2)',
    'config.yaml:9:8 store.url_env is required with type: redis',
  ]);
});
