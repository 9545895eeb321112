/**
 * Issue 3 capability 4, "Secrets out of the ConfigMap", on the wire: a real sidecar on port 0 whose
 * access profiles name their secret by `client_secret_env` or `client_secret_hash` (Ory Hydra's
 * PBKDF2 form). Hashes use 25000 iterations to keep the tests fast; a 1000000-iteration one (about
 * 0.16 s, some 30 times a token request on loopback) holds the verifier's only slot where a test needs
 * it held.
 */
import t, { type Test } from 'tap';
import type { Config } from '../../src/config/schema.js';
import { parseSecretHash, type SecretHash } from '../../src/config/secrets.js';
import { hashSecret, SecretVerifier } from '../../src/oauth/secret-hash.js';
import { connect, tokenRequest, type Answer } from '../helpers/client.js';
import { testConfig } from '../helpers/config.js';
import { expectInvalidClient, expectToken, expectTokenError } from '../helpers/expect.js';
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js';

const ENV_SECRET = 'env-s3cret.from_a~Secret';
const HASHED_SECRET = 'hashed-s3cret';
const SLOW_SECRET = 'slow-s3cret';
const FAST = 25_000;
const SLOW = 1_000_000;
const ENV_NAME = `OAUTH2_SIDECAR_TEST_SECRETS_${process.pid}`;

const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const GRANT = 'grant_type=client_credentials';
const viaBasic = (sc: RunningSidecar, id: string, secret: string): Promise<Answer> =>
  tokenRequest(sc.port, GRANT, { authorization: basic(id, secret) });
const viaBody = (sc: RunningSidecar, id: string, secret: string): Promise<Answer> =>
  tokenRequest(sc.port, `${GRANT}&client_id=${encodeURIComponent(id)}&client_secret=${encodeURIComponent(secret)}`);

const hashed = await hashSecret(HASHED_SECRET, FAST);
const slowHash = await hashSecret(SLOW_SECRET, SLOW);

/** The test config with an env profile, a hashed one and a slow hashed one (validated with process.env). */
function secretsConfig(patch: { hashed?: string } = {}): Config {
  process.env[ENV_NAME] = ENV_SECRET;
  try {
    return testConfig('http://127.0.0.1:9', {
      access_profiles: [
        { name: 'env', client_id: 'svc-env', client_secret_env: ENV_NAME, collections: ['orders'] },
        { name: 'hashed', client_id: 'svc-hashed', client_secret_hash: patch.hashed ?? hashed, collections: ['orders'] },
        { name: 'slow', client_id: 'svc-slow', client_secret_hash: slowHash, collections: ['public'] },
      ],
    });
  } finally {
    delete process.env[ENV_NAME];
  }
}

const config = secretsConfig();

/** A sidecar on the secrets config, closed at teardown; `verifier` defaults to the sidecar's own. */
async function start(t: Test, verifier?: SecretVerifier): Promise<RunningSidecar> {
  const sc = await startSidecar(config, { verifier });
  t.teardown(() => sc.close());
  return sc;
}

/** A verifier with one hashing slot and no queue: a request that must hash while it is held gets 503. */
const oneSlot = (): SecretVerifier => new SecretVerifier({ concurrency: 1, maxWaiting: 0 });

/** Asserts the 503 of an overloaded verifier: RFC 6749 §5.2 JSON, no-store, Retry-After: 1, no challenge. */
function expectBusy(t: Test, answer: Answer): void {
  expectTokenError(t, answer, 503, 'temporarily_unavailable', 'the server is busy, retry shortly', undefined);
  t.equal(answer.headers['retry-after'], '1', 'Retry-After: 1');
}

t.test('issue 3 capability 4: the variable is read at load; the config holds its value, not the name', async (t) => {
  t.equal(config.access_profiles[0]?.client_secret, ENV_SECRET);
  t.equal(process.env[ENV_NAME], undefined, 'the variable is gone, the loaded config keeps working');
});

t.test('issue 3 capability 4, RFC 6749 §2.3.1: client_secret_env, HTTP Basic with the variable value -> 200 token', async (t) => {
  const sc = await start(t);
  expectToken(t, await viaBasic(sc, 'svc-env', ENV_SECRET));
});

t.test('issue 3 capability 4, RFC 6749 §2.3.1: client_secret_env, body credentials with the variable value -> 200 token', async (t) => {
  const sc = await start(t);
  expectToken(t, await viaBody(sc, 'svc-env', ENV_SECRET));
});

t.test('issue 3 capability 4, RFC 6749 §5.2: client_secret_env, the variable name as secret -> 401 invalid_client', async (t) => {
  const sc = await start(t);
  expectInvalidClient(t, await viaBasic(sc, 'svc-env', ENV_NAME));
});

t.test('issue 3 capability 4, RFC 6749 §2.3.1: client_secret_hash, HTTP Basic with the right secret -> 200 token', async (t) => {
  const sc = await start(t);
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
});

t.test('issue 3 capability 4, RFC 6749 §2.3.1: client_secret_hash, body credentials with the right secret -> 200 token', async (t) => {
  const sc = await start(t);
  expectToken(t, await viaBody(sc, 'svc-hashed', HASHED_SECRET));
});

t.test('issue 3 capability 4, RFC 6749 §5.2: client_secret_hash, HTTP Basic with a wrong secret -> 401 invalid_client', async (t) => {
  const sc = await start(t);
  expectInvalidClient(t, await viaBasic(sc, 'svc-hashed', `${HASHED_SECRET}x`));
});

t.test('issue 3 capability 4, RFC 6749 §5.2: client_secret_hash, body credentials with a wrong secret -> 401 invalid_client', async (t) => {
  const sc = await start(t);
  expectInvalidClient(t, await viaBody(sc, 'svc-hashed', `${HASHED_SECRET}x`));
});

t.test('issue 3 capability 4, RFC 6749 §5.2: the hash text itself is not a secret -> 401 invalid_client', async (t) => {
  const sc = await start(t);
  expectInvalidClient(t, await viaBody(sc, 'svc-hashed', hashed));
});

t.test('issue 3 capability 4: the token of a hashed profile is logged as token_issued, without the secret or the hash', async (t) => {
  const sc = await start(t);
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  t.match(
    sc.logs.find((l) => l.event === 'token_issued'),
    { client_id: 'svc-hashed', access_profile: 'hashed', status: 200 },
  );
  for (const secret of [HASHED_SECRET, hashed, hashed.split('$')[4]!]) t.notOk(sc.logText().includes(secret), 'not in the log');
});

t.test('issue 3 capability 4: the second token request with the same secret is answered from memory (no hash, no slot)', async (t) => {
  const verifier = oneSlot();
  const sc = await start(t, verifier);
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  const held = verifier.verify(SLOW_SECRET, config.access_profiles[2]!.client_secret_hash!); // the only slot
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  t.equal(await held, true);
});

t.test('issue 3 capability 4: the memory serves Basic and body credentials alike (it is keyed by secret, not method)', async (t) => {
  const verifier = oneSlot();
  const sc = await start(t, verifier);
  expectToken(t, await viaBody(sc, 'svc-hashed', HASHED_SECRET));
  const held = verifier.verify(SLOW_SECRET, config.access_profiles[2]!.client_secret_hash!);
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  t.equal(await held, true);
});

t.test('issue 3 capability 4: a wrong secret is hashed every time, never answered from memory', async (t) => {
  const verifier = oneSlot();
  const sc = await start(t, verifier);
  expectInvalidClient(t, await viaBasic(sc, 'svc-hashed', 'wrong'));
  const held = verifier.verify(SLOW_SECRET, config.access_profiles[2]!.client_secret_hash!);
  expectBusy(t, await viaBasic(sc, 'svc-hashed', 'wrong'));
  t.equal(await held, true);
});

t.test('issue 3 capability 4: too many verifications waiting -> 503 temporarily_unavailable with Retry-After: 1', async (t) => {
  const sc = await start(t, oneSlot());
  // Four at once against a 0.16 s hash: the first hashes, the three others find the slot taken.
  const answers = await Promise.all([1, 2, 3, 4].map(() => viaBasic(sc, 'svc-slow', SLOW_SECRET)));
  const statuses = answers.map((a) => a.status).sort();
  t.strictSame(statuses, [200, 503, 503, 503]);
  expectToken(
    t,
    answers.find((a) => a.status === 200)!,
  );
  for (const answer of answers.filter((a) => a.status === 503)) expectBusy(t, answer);
});

t.test('issue 3 capability 4: a busy refusal is logged as token_denied temporarily_unavailable with status 503', async (t) => {
  const verifier = oneSlot();
  const sc = await start(t, verifier);
  const held = verifier.verify(SLOW_SECRET, config.access_profiles[2]!.client_secret_hash!);
  expectBusy(t, await viaBody(sc, 'svc-hashed', HASHED_SECRET));
  await held;
  t.match(
    sc.logs.find((l) => l.event === 'token_denied'),
    { client_id: 'svc-hashed', status: 503, error: 'temporarily_unavailable', detail: 'too many secret verifications waiting' },
  );
});

t.test('issue 3 capability 4: a client refused as busy gets its token on retry, once the slot is free', async (t) => {
  const verifier = oneSlot();
  const sc = await start(t, verifier);
  const held = verifier.verify(SLOW_SECRET, config.access_profiles[2]!.client_secret_hash!);
  expectBusy(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  await held;
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
});

t.test('issue 3 capability 4: a client that leaves while its hashed secret waits for a slot is dropped from the queue', async (t) => {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 1 });
  const sc = await start(t, verifier);
  const held = verifier.verify('held', parseSecretHash(await hashSecret('held', 4 * SLOW)) as SecretHash); // the only slot, ~0.6 s
  const leaving = await connect(sc.port);
  leaving.socket.write(
    `POST /oauth2/token HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: ${basic('svc-hashed', HASHED_SECRET)}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${GRANT.length}\r\n\r\n${GRANT}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 50)); // read, authenticated as far as the queue: the one place in it
  leaving.socket.destroy();
  await leaving.closed;
  // Had the leaver kept its place, the queue (1) would be full and this would be 503.
  const answer = await viaBasic(sc, 'svc-hashed', HASHED_SECRET);
  expectToken(t, answer);
  t.equal(await held, true);
});

t.test('issue 3 capability 4: a reloaded hash of a new secret -> the old secret is refused, never answered from memory', async (t) => {
  const sc = await start(t);
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET)); // remembered under the old hash
  sc.sidecar.reload(secretsConfig({ hashed: await hashSecret('rotated-s3cret', FAST) }));
  expectInvalidClient(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  expectToken(t, await viaBasic(sc, 'svc-hashed', 'rotated-s3cret'));
});

t.test('issue 3 capability 4: a reloaded hash text of the same secret is hashed again, not answered from memory', async (t) => {
  const verifier = oneSlot();
  const sc = await start(t, verifier);
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  sc.sidecar.reload(secretsConfig({ hashed: await hashSecret(HASHED_SECRET, FAST) })); // a new salt
  const held = verifier.verify(SLOW_SECRET, config.access_profiles[2]!.client_secret_hash!);
  expectBusy(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
  await held;
  expectToken(t, await viaBasic(sc, 'svc-hashed', HASHED_SECRET));
});
