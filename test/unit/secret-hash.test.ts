/**
 * Issue 3 capability 4 (src/oauth/secret-hash.ts): `hashSecret` writes Ory Hydra's PBKDF2 form, and
 * `SecretVerifier` checks secrets against it without making the token endpoint a CPU sink: successful
 * verifications are remembered, at most `concurrency` hashes run at once, at most `maxWaiting` wait.
 *
 * Whether a verification hashed or was answered from memory is observed without mocks: with
 * `concurrency: 1, maxWaiting: 0` and the one slot held by a slow hash, a verification that needs
 * to hash throws VerifierBusyError at once, and one answered from memory does not.
 */
import { pbkdf2Sync } from 'node:crypto';
import t from 'tap';
import { parseSecretHash, type SecretHash } from '../../src/config/secrets.js';
import { DEFAULT_ITERATIONS, hashSecret, SecretVerifier, VerifierBusyError } from '../../src/oauth/secret-hash.js';

/** Parses a hash text that must be valid. */
const parse = (text: string): SecretHash => {
  const parsed = parseSecretHash(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};
const FAST = 25_000;
// Holds the verifier's slot while the test looks. The looking is synchronous or on microtasks only
// (no I/O: a PBKDF2 result is delivered on a later turn of the event loop), so the hold needs no
// great length; 250000 iterations (about 40 ms here) keep a margin without burning CPU.
const SLOW = 250_000;
const right = parse(await hashSecret('s3cret', FAST));
const slow = parse(await hashSecret('slow-secret', SLOW));
const busy = { name: 'VerifierBusyError', message: 'too many secret verifications waiting' };

/** A verifier with one slot and no queue; `hold()` fills the slot with a slow hash until awaited. */
function oneSlot(opts: ConstructorParameters<typeof SecretVerifier>[0] = {}) {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 0, ...opts });
  return { verifier, hold: () => verifier.verify('slow-secret', slow) };
}

t.test('hashSecret: $pbkdf2-sha256$i=100000,l=32$<16-byte salt>$<32-byte hash>, base64 without padding', async (t) => {
  t.equal(DEFAULT_ITERATIONS, 100_000);
  const text = await hashSecret('s3cret');
  t.match(text, /^\$pbkdf2-sha256\$i=100000,l=32\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const parsed = parse(text);
  t.equal(parsed.salt.length, 16);
  t.strictSame(parsed.hash, pbkdf2Sync('s3cret', parsed.salt, 100_000, 32, 'sha256'), 'PBKDF2-HMAC-SHA256 of the secret and salt');
});

t.test('hashSecret: the iterations asked for are used and written', async (t) => {
  const parsed = parse(await hashSecret('s3cret', FAST));
  t.equal(parsed.iterations, FAST);
  t.strictSame(parsed.hash, pbkdf2Sync('s3cret', parsed.salt, FAST, 32, 'sha256'));
});

t.test('hashSecret: a fresh random salt each time, so equal secrets get different hashes', async (t) => {
  t.not(await hashSecret('s3cret', FAST), await hashSecret('s3cret', FAST));
});

t.test('SecretVerifier: the right secret -> true', async (t) => {
  t.equal(await new SecretVerifier().verify('s3cret', right), true);
});

t.test('SecretVerifier: a wrong secret -> false', async (t) => {
  t.equal(await new SecretVerifier().verify('s3cret ', right), false);
});

t.test('SecretVerifier: a hash written by another tool (padded base64, Hydra form) is verified', async (t) => {
  const salt = Buffer.from('ten-bytes!');
  const hash = pbkdf2Sync('hydra', salt, FAST, 32, 'sha256');
  const stored = parse(`$pbkdf2-sha256$i=${FAST},l=32$${salt.toString('base64')}$${hash.toString('base64')}`);
  const verifier = new SecretVerifier();
  t.equal(await verifier.verify('hydra', stored), true);
  t.equal(await verifier.verify('hydrA', stored), false);
});

t.test('issue 3 capability 4: a second verification of the same secret is answered from memory', async (t) => {
  const { verifier, hold } = oneSlot();
  t.equal(await verifier.verify('s3cret', right), true, 'first: hashed');
  const held = hold();
  t.equal(await verifier.verify('s3cret', right), true, 'second: no free slot needed');
  t.equal(await held, true);
});

t.test('issue 3 capability 4: a secret that is not remembered needs a hash (VerifierBusyError with the slot held)', async (t) => {
  const { verifier, hold } = oneSlot();
  const held = hold();
  await t.rejects(verifier.verify('s3cret', right), busy);
  await held;
});

t.test('issue 3 capability 4: a wrong secret is never remembered', async (t) => {
  const { verifier, hold } = oneSlot();
  t.equal(await verifier.verify('wrong', right), false);
  const held = hold();
  await t.rejects(verifier.verify('wrong', right), busy, 'hashed again');
  await held;
});

t.test('issue 3 capability 4: a changed hash text is never answered from memory, even for the same hash bytes', async (t) => {
  const { verifier, hold } = oneSlot();
  t.equal(await verifier.verify('s3cret', right), true);
  // The same salt and hash, written with padding: another text, so another memory key.
  const padded = parse(`$pbkdf2-sha256$i=${FAST},l=32$${right.salt.toString('base64')}$${right.hash.toString('base64')}`);
  t.not(padded.text, right.text);
  const held = hold();
  await t.rejects(verifier.verify('s3cret', padded), busy);
  await held;
  t.equal(await verifier.verify('s3cret', padded), true);
});

t.test('issue 3 capability 4: a secret remembered for one hash is not accepted for another', async (t) => {
  const verifier = new SecretVerifier();
  t.equal(await verifier.verify('s3cret', right), true);
  const rotated = parse(await hashSecret('n3w-secret', FAST));
  t.equal(await verifier.verify('s3cret', rotated), false);
});

t.test('issue 3 capability 4: a verification is remembered for rememberMs, up to the boundary', async (t) => {
  let now = 1_000_000;
  const { verifier, hold } = oneSlot({ rememberMs: 1000, now: () => now });
  t.equal(await verifier.verify('s3cret', right), true);
  const held = hold();
  now += 999;
  t.equal(await verifier.verify('s3cret', right), true, '1 ms before: from memory');
  now += 1;
  await t.rejects(verifier.verify('s3cret', right), busy, 'at rememberMs: forgotten, hashed again');
  await held;
  t.equal(await verifier.verify('s3cret', right), true, 'hashed, and remembered again');
  const again = hold();
  t.equal(await verifier.verify('s3cret', right), true, 'from memory again');
  await again;
});

t.test('issue 3 capability 4: at most `remember` verifications are held; the oldest remembered goes first', async (t) => {
  let now = 1_000_000;
  const { verifier, hold } = oneSlot({ remember: 2, rememberMs: 1000, now: () => now });
  const [a, b, c] = await Promise.all(['a-secret', 'b-secret', 'c-secret'].map(async (s) => parse(await hashSecret(s, FAST))));
  t.equal(await verifier.verify('a-secret', a!), true); // remembered until +1000
  now += 500;
  t.equal(await verifier.verify('b-secret', b!), true); // remembered until +1500
  now += 500;
  t.equal(await verifier.verify('a-secret', a!), true, 'a expired: hashed and remembered anew, now the newest');
  t.equal(await verifier.verify('c-secret', c!), true, 'a third: b, the oldest remembered, is dropped');
  const held = hold();
  t.equal(await verifier.verify('a-secret', a!), true, 'a from memory');
  t.equal(await verifier.verify('c-secret', c!), true, 'c from memory');
  await t.rejects(verifier.verify('b-secret', b!), busy, 'b dropped before it expired');
  await held;
});

t.test('issue 3 capability 4: beyond `concurrency`, verifications wait their turn; beyond `maxWaiting`, VerifierBusyError', async (t) => {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 1 });
  const first = verifier.verify('slow-secret', slow);
  const second = verifier.verify('s3cret', right);
  await t.rejects(verifier.verify('s3cret', right), busy, 'a second waiter is refused at once');
  t.equal(await second, true, 'the waiter got the slot when the first finished');
  t.equal(await first, true);
  // Everything done: the slot is free again, and the waiter's success was remembered.
  const held = verifier.verify('slow-secret', slow);
  t.equal(await verifier.verify('s3cret', right), true, 'from memory beside the held slot');
  t.equal(await held, true);
});

t.test('issue 3 capability 4: a waiting verification takes over the slot; the next arrival waits, it does not run beside it', async (t) => {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 1 });
  const first = verifier.verify('slow-secret', slow);
  const second = verifier.verify('slow-secret', { ...slow, text: `${slow.text} ` }); // not remembered: hashes
  await first;
  // `second` holds the slot now; a newcomer may wait (one place), another is refused.
  const third = verifier.verify('s3cret', right);
  await t.rejects(verifier.verify('s3cret', right), busy);
  t.equal(await second, true);
  t.equal(await third, true);
});

t.test('issue 3 capability 4: the defaults are 2 hashes at once and 64 waiting', async (t) => {
  const verifier = new SecretVerifier();
  const running = [verifier.verify('slow-secret', slow), verifier.verify('slow-secret', slow)];
  const waiting = Array.from({ length: 64 }, (_, i) => verifier.verify(`wrong-${i}`, right));
  await t.rejects(verifier.verify('s3cret', right), busy, 'the 67th');
  t.strictSame(await Promise.all(running), [true, true]);
  t.equal((await Promise.all(waiting)).filter(Boolean).length, 0);
});

t.test('a hash that fails to compute rejects, and frees its slot', async (t) => {
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 0 });
  const broken: SecretHash = { ...right, text: 'broken', iterations: -1 };
  await t.rejects(verifier.verify('s3cret', broken), { code: 'ERR_OUT_OF_RANGE' });
  t.equal(await verifier.verify('s3cret', right), true, 'the slot is free');
});

t.test('VerifierBusyError: a named Error', async (t) => {
  const err = new VerifierBusyError();
  t.ok(err instanceof Error);
  t.match(err, busy);
});
