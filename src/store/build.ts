/**
 * Picks the token store and counter store the config asks for (README "Running several replicas"):
 * - `tokens.format: jwt` -> self-contained RFC 9068 tokens (no shared state needed);
 * - `store.type: redis` -> opaque tokens (unless jwt) and counters in Redis, shared by replicas;
 * - neither -> the in-process store (one replica).
 */
import type { Config } from '../config/schema.js';
import { loadSigningKeys } from '../config/scale-out.js';
import type { Logger } from '../log.js';
import { JwtTokenStore } from '../oauth/jwt-tokens.js';
import { MemoryTokenStore, type TokenStore } from '../oauth/tokens.js';
import type { CounterStore } from '../policy/counters.js';
import { RedisCounterStore } from '../store/redis-counters.js';
import { RedisConnection } from './redis.js';
import { RedisTokenStore } from './redis-tokens.js';

/** How long start-up waits for Redis before it listens anyway, not ready (ms). */
export const REDIS_STARTUP_WAIT_MS = 5000;

/**
 * Builds the stores of a validated config. With Redis it waits up to `REDIS_STARTUP_WAIT_MS` for the
 * first connection; if Redis is still away the sidecar starts anyway, not ready, and keeps trying.
 * @param currentConfig the config in force (issuers of JWTs are checked against its domains)
 * @returns the token store, and the Redis counter store when `store.type` is redis
 */
export async function buildStores(
  config: Config,
  env: NodeJS.ProcessEnv,
  log: Logger,
  currentConfig: () => Config,
): Promise<{ store: TokenStore; counters: CounterStore | undefined }> {
  const max = config.tokens.max_active;
  let redis: RedisConnection | undefined;
  if (config.store?.type === 'redis') {
    redis = new RedisConnection(env[config.store.url_env!]!, log);
    await redis.ready(REDIS_STARTUP_WAIT_MS);
  }
  const prefix = config.store?.key_prefix;
  const counters = redis && new RedisCounterStore(redis, { prefix });
  if (config.tokens.format === 'jwt') {
    const keys = loadSigningKeys(config.tokens.signing_keys!, env);
    return { store: new JwtTokenStore(keys, { maxCached: max, acceptIssuer: (iss) => issuerAccepted(currentConfig(), iss) }), counters };
  }
  if (redis) return { store: new RedisTokenStore(redis, { prefix, cacheTtlMs: config.store!.cache_ttl_ms, maxCached: max }), counters };
  return { store: new MemoryTokenStore({ maxActive: max }), counters };
}

/** Whether a JWT `iss` is a domain's configured issuer or names one of the config's domains (any host when a domain is "*"). */
export function issuerAccepted(config: Config, iss: string): boolean {
  if (config.domains.some((d) => d.issuer === iss)) return true; // a configured issuer (behind TLS termination)
  let host: string;
  try {
    host = new URL(iss).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return false;
  }
  return config.domains.some((d) => d.host === '*' || d.host === host);
}
