/**
 * Issue 3 capability 4, "Secrets out of the ConfigMap" (src/config/secrets.ts, ARCHITECTURE.md §5):
 * exactly one of client_secret / client_secret_env / client_secret_hash per access profile, a named
 * variable set, non-empty and printable, and a hash in Ory Hydra's PBKDF2 form. `validate(raw, env)`
 * is given its environment here; the file-level tests (positions) use process.env.
 */
import { pbkdf2Sync } from 'node:crypto';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { validate, type ConfigIssue } from '../../src/config/schema.js';
import { envValue, MIN_ITERATIONS, parseSecretHash, secretIssues } from '../../src/config/secrets.js';
import { configProblems } from '../helpers/config-file.js';

const SALT = Buffer.from('0123456789abcdef');
const HASH = pbkdf2Sync('s3cret', SALT, MIN_ITERATIONS, 32, 'sha256');
const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
/** A client_secret_hash in Hydra's form; salt and hash without padding unless `padded`. */
const hashText = (o: { i?: number; salt?: Buffer; hash?: Buffer; padded?: boolean } = {}): string => {
  const enc = (b: Buffer): string => (o.padded ? b.toString('base64') : b64(b));
  return `$pbkdf2-sha256$i=${o.i ?? MIN_ITERATIONS},l=32$${enc(o.salt ?? SALT)}$${enc(o.hash ?? HASH)}`;
};
const GOOD_HASH = hashText();

/** A minimal valid document whose one access profile is `profile` plus name, client_id, collections. */
const doc = (profile: Record<string, unknown>): Record<string, unknown> => ({
  domains: [{ host: 'api.example.com' }],
  collections: [{ name: 'orders', path: '/orders', upstream: 'http://127.0.0.1:9001/orders' }],
  access_profiles: [{ name: 'a', client_id: 'svc-a', collections: ['orders'], ...profile }],
});

/** The issues of a document that must be refused. */
function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  const result = validate(raw, env);
  if (!result.issues) throw new Error('expected the document to be refused');
  return result.issues;
}

t.test('issue 3 capability 4: client_secret_env -> client_secret filled from the variable, the name kept', async (t) => {
  const { config } = validate(doc({ client_secret_env: 'SVC_A_SECRET' }), { SVC_A_SECRET: 'from-a-secret' });
  t.equal(config?.access_profiles[0]?.client_secret, 'from-a-secret');
  t.equal(config?.access_profiles[0]?.client_secret_env, 'SVC_A_SECRET');
  t.equal(config?.access_profiles[0]?.client_secret_hash, undefined);
});

t.test('issue 3 capability 4: client_secret_env is read from the env given to validate(), not process.env', async (t) => {
  process.env.OAUTH2_SIDECAR_TEST_VALIDATE_ENV = 'from-process-env';
  t.teardown(() => delete process.env.OAUTH2_SIDECAR_TEST_VALIDATE_ENV);
  const { config } = validate(doc({ client_secret_env: 'OAUTH2_SIDECAR_TEST_VALIDATE_ENV' }), {
    OAUTH2_SIDECAR_TEST_VALIDATE_ENV: 'from-given-env',
  });
  t.equal(config?.access_profiles[0]?.client_secret, 'from-given-env');
});

t.test('issue 3 capability 4: client_secret_hash -> parsed into iterations, salt and hash, its text kept', async (t) => {
  const { config } = validate(doc({ client_secret_hash: GOOD_HASH }), {});
  const profile = config?.access_profiles[0];
  t.equal(profile?.client_secret, undefined);
  t.strictSame(profile?.client_secret_hash, { text: GOOD_HASH, iterations: MIN_ITERATIONS, salt: SALT, hash: HASH });
});

t.test('issue 3 capability 4: no secret at all -> "needs one of" at the access profile', async (t) => {
  t.strictSame(issuesOf(doc({})), [
    { path: ['access_profiles', 0], message: 'needs one of client_secret, client_secret_env, client_secret_hash' },
  ]);
});

t.test('issue 3 capability 4: client_secret and client_secret_env -> refused at the second key', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret: 's', client_secret_env: 'X' }), { X: 'x' }), [
    { path: ['access_profiles', 0, 'client_secret_env'], message: 'only one of client_secret, client_secret_env may be given' },
  ]);
});

t.test('issue 3 capability 4: client_secret and client_secret_hash -> refused at the second key', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret_hash: GOOD_HASH, client_secret: 's' })), [
    { path: ['access_profiles', 0, 'client_secret_hash'], message: 'only one of client_secret, client_secret_hash may be given' },
  ]);
});

t.test('issue 3 capability 4: all three forms -> one problem naming them all', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret: 's', client_secret_env: 'X', client_secret_hash: GOOD_HASH }), { X: 'x' }), [
    {
      path: ['access_profiles', 0, 'client_secret_env'],
      message: 'only one of client_secret, client_secret_env, client_secret_hash may be given',
    },
  ]);
});

t.test('issue 3 capability 4: client_secret_env naming an unset variable -> refused at that key', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret_env: 'SVC_A_SECRET' }), { OTHER: 'x' }), [
    { path: ['access_profiles', 0, 'client_secret_env'], message: 'environment variable SVC_A_SECRET is not set or empty' },
  ]);
});

t.test('issue 3 capability 4: client_secret_env naming an empty variable -> refused at that key', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret_env: 'SVC_A_SECRET' }), { SVC_A_SECRET: '' }), [
    { path: ['access_profiles', 0, 'client_secret_env'], message: 'environment variable SVC_A_SECRET is not set or empty' },
  ]);
});

t.test('issue 3 capability 4, RFC 6749 Appendix A: a variable holding a non-printable or non-ASCII secret -> refused', async (t) => {
  for (const value of ['line\n', 'tab\there', 'caf\u00e9', '\x7f']) {
    t.strictSame(
      issuesOf(doc({ client_secret_env: 'SVC_A_SECRET' }), { SVC_A_SECRET: value }),
      [
        {
          path: ['access_profiles', 0, 'client_secret_env'],
          message: 'environment variable SVC_A_SECRET must hold printable ASCII only (RFC 6749 Appendix A)',
        },
      ],
      JSON.stringify(value),
    );
  }
});

t.test('issue 3 capability 4: a variable named like an Object.prototype member is unset, not a function', async (t) => {
  // process.env inherits toString, constructor, __proto__...: they must not pass for a secret.
  for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
    t.strictSame(
      issuesOf(doc({ client_secret_env: name }), process.env),
      [{ path: ['access_profiles', 0, 'client_secret_env'], message: `environment variable ${name} is not set or empty` }],
      name,
    );
  }
});

t.test('issue 3 capability 4: client_secret_env must be a variable name', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret_env: '1-BAD' }), { '1-BAD': 'x' }), [
    { path: ['access_profiles', 0, 'client_secret_env'], message: 'must be an environment variable name' },
  ]);
});

t.test('issue 3 capability 4: a client_secret_env that is not a string -> only the type problem', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret_env: 5 })), [
    { path: ['access_profiles', 0, 'client_secret_env'], message: 'Invalid input: expected string, received number' },
  ]);
});

t.test('issue 3 capability 4: every profile is checked, and all problems are listed at once', async (t) => {
  const raw = doc({});
  raw.access_profiles = [
    { name: 'a', client_id: 'svc-a', client_secret_env: 'A_SECRET', collections: [] },
    { name: 'b', client_id: 'svc-b', collections: [] },
    { name: 'c', client_id: 'svc-c', client_secret_hash: '$pbkdf2-sha256$nope', collections: [] },
    { name: 'd', client_id: 'svc-d', client_secret_env: 'D_SECRET', collections: [] },
  ];
  t.strictSame(issuesOf(raw, { D_SECRET: 'fine' }), [
    {
      path: ['access_profiles', 2, 'client_secret_hash'],
      message: 'must be $pbkdf2-sha256$i=<iterations>,l=32$<salt base64>$<hash base64> (see oauth2-sidecar hash-secret)',
    },
    { path: ['access_profiles', 0, 'client_secret_env'], message: 'environment variable A_SECRET is not set or empty' },
    { path: ['access_profiles', 1], message: 'needs one of client_secret, client_secret_env, client_secret_hash' },
  ]);
});

t.test('secretIssues: entries that are not objects are left to the shape check', async (t) => {
  t.strictSame(secretIssues([null, 7, ['x'], 'y'], {}), []);
});

t.test('envValue: own string properties only', async (t) => {
  t.equal(envValue({ A: 'x' }, 'A'), 'x');
  t.equal(envValue({ A: '' }, 'A'), '');
  t.equal(envValue({}, 'A'), undefined);
  t.equal(envValue({}, 'toString'), undefined);
  t.equal(envValue({ A: undefined }, 'A'), undefined);
});

t.test('parseSecretHash: Ory Hydra form', async (t) => {
  t.test('padding of salt and hash is optional: both forms parse to the same parts', async (t) => {
    const padded = hashText({ padded: true, salt: Buffer.from('0123456789') });
    t.match(padded, /==\$/, 'the 10-byte salt is padded');
    t.strictSame(parseSecretHash(padded), { text: padded, iterations: MIN_ITERATIONS, salt: Buffer.from('0123456789'), hash: HASH });
    t.strictSame(parseSecretHash(GOOD_HASH), { text: GOOD_HASH, iterations: MIN_ITERATIONS, salt: SALT, hash: HASH });
  });

  t.test('issue 3 capability 4: not the form -> the expected form and a pointer to hash-secret', async (t) => {
    const message = 'must be $pbkdf2-sha256$i=<iterations>,l=32$<salt base64>$<hash base64> (see oauth2-sidecar hash-secret)';
    for (const text of [
      '',
      's3cret',
      GOOD_HASH.replace('pbkdf2-sha256', 'pbkdf2-sha512'),
      GOOD_HASH.replace('l=32', 'l=64'),
      GOOD_HASH.replace('i=25000', 'i=-25000'),
      GOOD_HASH.replace('i=25000,', ''),
      GOOD_HASH + '$',
      ` ${GOOD_HASH}`,
      GOOD_HASH.replace(/\$[^$]*$/, '$a-b_c'), // base64url is not Hydra's alphabet
      GOOD_HASH.replace(/\$[^$]*$/, '$'),
    ]) {
      t.equal(parseSecretHash(text), message, JSON.stringify(text));
    }
  });

  t.test(`issue 3 capability 4: ${MIN_ITERATIONS} iterations are the fewest accepted`, async (t) => {
    t.equal(MIN_ITERATIONS, 25_000);
    t.match(parseSecretHash(hashText({ i: MIN_ITERATIONS })), { iterations: MIN_ITERATIONS });
    t.equal(parseSecretHash(hashText({ i: MIN_ITERATIONS - 1 })), 'must use 25000 to 10000000 iterations');
    t.equal(parseSecretHash(hashText({ i: 1000 })), 'must use 25000 to 10000000 iterations');
  });

  t.test('issue 3 capability 4: more than 10000000 iterations -> refused (a config must not stall the endpoint)', async (t) => {
    t.match(parseSecretHash(hashText({ i: 10_000_000 })), { iterations: 10_000_000 });
    t.equal(parseSecretHash(hashText({ i: 10_000_001 })), 'must use 25000 to 10000000 iterations');
    t.equal(parseSecretHash(GOOD_HASH.replace('i=25000', 'i=99999999999999999999')), 'must use 25000 to 10000000 iterations');
  });

  t.test('issue 3 capability 4: a hash that is not 32 bytes -> refused', async (t) => {
    for (const hash of [HASH.subarray(0, 31), Buffer.concat([HASH, Buffer.from([0])]), Buffer.alloc(64)]) {
      t.equal(parseSecretHash(hashText({ hash })), 'must hold a 32-byte hash (l=32)', `${hash.length} bytes`);
    }
  });

  t.test('issue 3 capability 4: a salt under 8 bytes -> refused', async (t) => {
    t.match(parseSecretHash(hashText({ salt: Buffer.alloc(8, 1) })), { salt: Buffer.alloc(8, 1) });
    t.equal(parseSecretHash(hashText({ salt: Buffer.alloc(7, 1) })), 'must hold a salt of at least 8 bytes');
  });
});

t.test('validate: a malformed client_secret_hash is a problem at that key', async (t) => {
  t.strictSame(issuesOf(doc({ client_secret_hash: hashText({ i: 24_999 }) })), [
    { path: ['access_profiles', 0, 'client_secret_hash'], message: 'must use 25000 to 10000000 iterations' },
  ]);
});

// ---- From a file: file:line:col of each problem, and process.env as the environment ----

const BASE = `domains: [{ host: api.example.com }]
collections: [{ name: orders, path: /orders, upstream: "http://127.0.0.1:9001/orders" }]
access_profiles:
  - name: a
    client_id: svc-a
`;

const problems = configProblems;

/** Sets a variable unique to this test on process.env, removed at teardown. @returns its name */
function setEnv(t: Test, value: string): string {
  const name = `OAUTH2_SIDECAR_TEST_${process.pid}_${t.name.replace(/\W+/g, '_').slice(0, 40).toUpperCase()}`;
  process.env[name] = value;
  t.teardown(() => delete process.env[name]);
  return name;
}

t.test('issue 3 capability 4: loadConfig fills client_secret from process.env', async (t) => {
  const name = setEnv(t, 'env-secret');
  const path = join(t.testdir({ 'config.yaml': `${BASE}    client_secret_env: ${name}\n    collections: [orders]\n` }), 'config.yaml');
  t.equal(loadConfig(path).access_profiles[0]?.client_secret, 'env-secret');
});

t.test('issue 3 capability 4: an unset variable -> file:line:col at the value of client_secret_env', async (t) => {
  const name = `OAUTH2_SIDECAR_TEST_${process.pid}_NEVER_SET`;
  t.strictSame(problems(t, `${BASE}    client_secret_env: ${name}\n    collections: [orders]\n`), [
    `config.yaml:6:24 access_profiles[0].client_secret_env environment variable ${name} is not set or empty`,
  ]);
});

t.test('issue 3 capability 4: an empty variable -> file:line:col at the value of client_secret_env', async (t) => {
  const name = setEnv(t, '');
  t.strictSame(problems(t, `${BASE}    collections: [orders]\n    client_secret_env: ${name}\n`), [
    `config.yaml:7:24 access_profiles[0].client_secret_env environment variable ${name} is not set or empty`,
  ]);
});

t.test('issue 3 capability 4: a non-printable variable -> file:line:col at the value of client_secret_env', async (t) => {
  const name = setEnv(t, 'two\nlines');
  t.strictSame(problems(t, `${BASE}    client_secret_env: ${name}\n    collections: [orders]\n`), [
    `config.yaml:6:24 access_profiles[0].client_secret_env environment variable ${name} must hold printable ASCII only (RFC 6749 Appendix A)`,
  ]);
});

t.test('issue 3 capability 4: no secret -> file:line:col at the access profile', async (t) => {
  t.strictSame(problems(t, `${BASE}    collections: [orders]\n`), [
    'config.yaml:4:5 access_profiles[0] needs one of client_secret, client_secret_env, client_secret_hash',
  ]);
});

t.test('issue 3 capability 4: two secret forms -> file:line:col at the second one', async (t) => {
  t.strictSame(problems(t, `${BASE}    client_secret: s\n    collections: [orders]\n    client_secret_hash: "${GOOD_HASH}"\n`), [
    'config.yaml:8:25 access_profiles[0].client_secret_hash only one of client_secret, client_secret_hash may be given',
  ]);
});

t.test('issue 3 capability 4: a malformed hash -> file:line:col at the value of client_secret_hash', async (t) => {
  t.strictSame(problems(t, `${BASE}    client_secret_hash: "${hashText({ hash: HASH.subarray(1) })}"\n    collections: [orders]\n`), [
    'config.yaml:6:25 access_profiles[0].client_secret_hash must hold a 32-byte hash (l=32)',
  ]);
});
