/**
 * Starts a real sidecar on 127.0.0.1:0 with captured logs and an optional fake clock.
 */
import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import type { SecretVerifier } from '../../src/oauth/secret-hash.js';
import type { CounterStore } from '../../src/policy/counters.js';
import { MemoryTokenStore, type TokenStore } from '../../src/oauth/tokens.js';
import { Sidecar, type SidecarOptions } from '../../src/server.js';

export interface RunningSidecar {
  sidecar: Sidecar;
  port: number;
  /** every log line written so far, parsed */
  logs: Record<string, unknown>[];
  /** every log line written so far, as text (to scan for secrets) */
  logText(): string;
  close(): Promise<void>;
}

/**
 * A token store whose `issue` or `lookup` rejects with `message` (a store fault, not an outage):
 * the other methods answer as an empty store.
 */
export function failingStore(fails: 'issue' | 'lookup', message = 'store down at 10.0.0.9'): TokenStore {
  const fault = (): Promise<never> => Promise.reject(new Error(message));
  return {
    issue: fails === 'issue' ? fault : () => Promise.reject(new Error('unused')),
    lookup: fails === 'lookup' ? fault : async () => undefined,
    revoke: async () => false,
    revokeProfile: async () => {},
    size: 0,
    close: () => {},
  };
}

/** A fake monotonic clock in ms; starts well above 0 (as lru-cache's tests advise). */
export function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/**
 * Starts a sidecar on the given config (its `listen` is ignored: always 127.0.0.1:0).
 * @param opts.store a token store other than the default in-memory one
 * @param opts.verifier a hashed-secret verifier other than the default one (small limits in tests)
 * @param opts.headersTimeoutMs, opts.tokenBodyTimeoutMs shorter slowloris limits (ms)
 * @param opts.wallClock a fake wall clock, epoch ms (token issue times, previous_not_after, counters)
 * @param opts.counters a counter store other than the default in-memory one
 */
export async function startSidecar(
  config: Config,
  opts: { now?: () => number; store?: TokenStore; verifier?: SecretVerifier; wallClock?: () => number; counters?: CounterStore } & Pick<
    SidecarOptions,
    'headersTimeoutMs' | 'tokenBodyTimeoutMs'
  > = {},
): Promise<RunningSidecar> {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const parsed = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const log = createLogger({ level: 'debug', destination });
  // Issue 3 capability 5, suite-wide: every token any test gets from this sidecar is remembered,
  // and close() fails the test if one of them, or a configured secret, reached the log.
  const issued: string[] = [];
  const inner = opts.store ?? new MemoryTokenStore({ maxActive: config.tokens.max_active, now: opts.now, wallClock: opts.wallClock });
  const store = new Proxy(inner, {
    get(target, p) {
      const value = Reflect.get(target, p, target) as unknown;
      if (p !== 'issue' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<TokenStore['issue']>) => {
        const answer = await target.issue(...args);
        issued.push(answer.access_token);
        return answer;
      };
    },
  });
  const secrets = config.access_profiles
    .flatMap((p) => [p.client_secret ?? '', p.previous_client_secret ?? ''])
    .filter((s) => s.length >= 6);
  const sidecar = new Sidecar({
    config: { ...config, listen: { host: '127.0.0.1', port: 0 } },
    log,
    now: opts.now,
    store,
    verifier: opts.verifier,
    headersTimeoutMs: opts.headersTimeoutMs,
    tokenBodyTimeoutMs: opts.tokenBodyTimeoutMs,
    wallClock: opts.wallClock,
    counters: opts.counters,
  });
  const address = await sidecar.listen();
  return {
    sidecar,
    port: address.port,
    // `has` as well as `get`: Array.prototype.some/filter/forEach skip indices the target lacks.
    logs: new Proxy([], { get: (_t, p) => Reflect.get(parsed(), p), has: (_t, p) => Reflect.has(parsed(), p) }),
    logText: () => lines.join('\n'),
    close: async () => {
      await sidecar.close(1000);
      const text = lines.join('\n');
      const leaked = [...issued, ...secrets].filter((secret) => text.includes(secret));
      if (leaked.length > 0) throw new Error(`a token or secret reached the log: ${leaked.map((s) => s.slice(0, 6)).join(', ')}...`);
    },
  };
}
