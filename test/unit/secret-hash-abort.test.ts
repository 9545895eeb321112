/**
 * SecretVerifier and clients that go away (issue 3 capability 4: hashing must not become a CPU sink):
 * a verification still waiting for its turn is dropped when its signal aborts, and frees its place.
 */
import t from 'tap';
import { parseSecretHash, type SecretHash } from '../../src/config/secrets.js';
import { hashSecret, SecretVerifier, VerifierBusyError } from '../../src/oauth/secret-hash.js';

/** Holds the verifier's only slot while a test looks, on microtasks only (about 40 ms of hashing). */
const SLOW = 250_000;

async function stored(secret: string, iterations: number): Promise<SecretHash> {
  const parsed = parseSecretHash(await hashSecret(secret, iterations));
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

t.test('a waiting verification whose client left is dropped: it rejects with the reason and frees its place', async (t) => {
  const slow = await stored('slow', SLOW);
  const fast = await stored('fast', 25_000);
  const verifier = new SecretVerifier({ concurrency: 1, maxWaiting: 1 });
  const running = verifier.verify('slow', slow);
  const gone = new AbortController();
  const waiting = verifier.verify('fast', fast, gone.signal);
  await t.rejects(verifier.verify('fast', fast), VerifierBusyError, 'the one waiting place is taken');
  gone.abort(new Error('client closed'));
  await t.rejects(waiting, { message: 'client closed' });
  const next = verifier.verify('fast', fast); // the freed place can be taken again
  t.equal(await running, true);
  t.equal(await next, true);
});

t.test('an abort after the verification got its turn changes nothing: it completes', async (t) => {
  const slow = await stored('slow', SLOW);
  const hash = await stored('s', 25_000);
  const verifier = new SecretVerifier({ concurrency: 1 });
  const first = verifier.verify('slow', slow);
  const late = new AbortController();
  const second = verifier.verify('s', hash, late.signal); // waits: the only slot is busy
  await first; // the slot is handed to the second verification
  late.abort(new Error('too late'));
  t.equal(await second, true);
});
