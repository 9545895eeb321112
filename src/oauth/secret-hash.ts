/**
 * Hashed client secrets in Ory Hydra's PBKDF2 form, `$pbkdf2-sha256$i=<iterations>,l=32$<salt>$<hash>`
 * (salt and hash base64, padding optional; parsed by config/secrets.ts), so ops keep no plain secret
 * in a ConfigMap.
 * Verification is deliberately slow; to keep the token endpoint from becoming a CPU sink, successful
 * verifications are remembered (by an HMAC under a per-process key, never the secret itself) and at
 * most a few run at once.
 */
import { createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { SecretHash } from '../config/secrets.js';

const pbkdf2Async = promisify(pbkdf2);

/** Iterations `hashSecret` uses. */
export const DEFAULT_ITERATIONS = 100_000;

/**
 * Hashes a secret for `client_secret_hash` (the `hash-secret` command).
 * @param iterations PBKDF2-SHA256 iterations (default DEFAULT_ITERATIONS)
 * @returns `$pbkdf2-sha256$i=<iterations>,l=32$<16-byte salt>$<hash>`, base64 without padding
 */
export async function hashSecret(secret: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salt = randomBytes(16);
  const hash = await pbkdf2Async(secret, salt, iterations, 32, 'sha256');
  const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
  return `$pbkdf2-sha256$i=${iterations},l=32$${b64(salt)}$${b64(hash)}`;
}

/** Thrown when too many verifications wait: the caller answers 503 and the client retries. */
export class VerifierBusyError extends Error {
  constructor() {
    super('too many secret verifications waiting');
    this.name = 'VerifierBusyError';
  }
}

/**
 * Verifies presented secrets against PBKDF2 hashes with a bounded cost.
 */
export class SecretVerifier {
  readonly #key = randomBytes(32);
  readonly #remembered = new Map<string, number>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;

  /**
   * @param opts.concurrency hashes computed at once (default 2: the others wait their turn)
   * @param opts.maxWaiting verifications allowed to wait; beyond it VerifierBusyError (default 64)
   * @param opts.remember successful verifications remembered (default 10000)
   * @param opts.rememberMs how long one is remembered, ms (default 10 minutes)
   * @param opts.now clock in ms
   */
  constructor(
    private readonly opts: { concurrency?: number; maxWaiting?: number; remember?: number; rememberMs?: number; now?: () => number } = {},
  ) {}

  /**
   * @param stored the parsed `client_secret_hash`; its text is part of the memory key, so a changed
   *   hash is never answered from memory
   * @param signal aborted when the client has gone: a verification still waiting for its turn is
   *   dropped from the queue rather than hashed for nobody
   * @returns whether the secret matches
   * @throws VerifierBusyError when maxWaiting verifications already wait; the signal's reason when
   *   it aborts a waiting verification
   */
  async verify(secret: string, stored: SecretHash, signal?: AbortSignal): Promise<boolean> {
    const now = this.opts.now?.() ?? Date.now();
    const tag = createHmac('sha256', this.#key).update(stored.text).update('\0').update(secret).digest('base64');
    const until = this.#remembered.get(tag);
    if (until !== undefined && until > now) return true;
    const derived = await this.#limited(() => pbkdf2Async(secret, stored.salt, stored.iterations, 32, 'sha256'), signal);
    const ok = timingSafeEqual(derived, stored.hash);
    if (ok) this.#remember(tag, now);
    return ok;
  }

  #remember(tag: string, now: number): void {
    this.#remembered.delete(tag);
    this.#remembered.set(tag, now + (this.opts.rememberMs ?? 600_000));
    // Map keeps insertion order: the first key is the oldest.
    if (this.#remembered.size > (this.opts.remember ?? 10_000)) this.#remembered.delete(this.#remembered.keys().next().value!);
  }

  async #limited<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#running >= (this.opts.concurrency ?? 2)) {
      if (this.#waiting.length >= (this.opts.maxWaiting ?? 64)) throw new VerifierBusyError();
      await new Promise<void>((resolve, reject) => {
        this.#waiting.push(resolve);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.#waiting.indexOf(resolve);
            if (i === -1) return; // already handed a slot: it runs, and frees the slot after
            this.#waiting.splice(i, 1);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot over to the first waiting verification, or free it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
