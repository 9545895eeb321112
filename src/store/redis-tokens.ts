/**
 * Opaque access tokens shared by every replica through Redis (the scale-out issue). A token's key is
 * `tokenKey()` (SHA-256, so Redis holds no usable token) with the record as value and the token's
 * lifetime as TTL. Each access profile has a generation counter: `revokeProfile` increments it and
 * a token issued under an older generation is dead on every replica. In front of Redis sits a small
 * in-process read cache: a token looked up once is trusted for `cacheTtlMs` without asking Redis,
 * which bounds how long a revocation on another replica takes to be seen here.
 */
import { newAccessToken, tokenKey, type Clock, type TokenGrant, type TokenRecord, type TokenStore } from '../oauth/tokens.js';
import { DEFAULT_PREFIX, type RedisConnection } from './redis.js';

// KEYS[1] token key, KEYS[2] generation key of the profile; ARGV[1] record JSON, ARGV[2] TTL ms.
const ISSUE = `local g = redis.call('GET', KEYS[2]) or '0'
redis.call('SET', KEYS[1], g .. ' ' .. ARGV[1], 'PX', ARGV[2])
return 1`;

// KEYS[1] token key; ARGV[1] the generation key prefix. A live token of the current generation
// -> { record JSON, ms to live }, else false. (The generation key is derived from the value, so this
// needs a single Redis, not Redis Cluster.)
const LIVE = `local v = redis.call('GET', KEYS[1])
if not v then return false end
local sp = string.find(v, ' ', 1, true)
local json = string.sub(v, sp + 1)
local g = redis.call('GET', ARGV[1] .. cjson.decode(json).profile) or '0'
if g ~= string.sub(v, 1, sp - 1) then return false end`;
const LOOKUP = `${LIVE}\nreturn { json, redis.call('PTTL', KEYS[1]) }`;
const REVOKE = `${LIVE}\nredis.call('DEL', KEYS[1])\nreturn 1`;

/** Default of `store.cache_ttl_ms`: the most a revocation on another replica takes to be seen here. */
export const DEFAULT_CACHE_TTL_MS = 2000;

interface Cached {
  record: TokenRecord;
  /** until when (store clock, ms) the record is trusted without asking Redis */
  until: number;
}

/** A `TokenStore` in Redis with a bounded, short-lived in-process read cache. */
export class RedisTokenStore implements TokenStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #cacheTtlMs: number;
  readonly #maxCached: number;
  readonly #now: Clock;
  /** insertion order = age: the first entry is the oldest and goes first when full */
  readonly #cache = new Map<string, Cached>();

  /**
   * @param opts.prefix key prefix (default `oauth2-sidecar:`)
   * @param opts.cacheTtlMs how long a looked-up token is trusted without Redis (ms, 0 = never cached)
   * @param opts.maxCached the most tokens in the read cache (config `tokens.max_active`)
   * @param opts.now monotonic clock in ms
   */
  constructor(redis: RedisConnection, opts: { prefix?: string; cacheTtlMs?: number; maxCached: number; now?: Clock }) {
    this.#redis = redis;
    this.#prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.#cacheTtlMs = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.#maxCached = opts.maxCached;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** @throws StoreUnavailableError when Redis is unreachable */
  async issue(grant: TokenGrant): Promise<{ access_token: string; expires_in: number }> {
    const access_token = newAccessToken();
    const key = tokenKey(access_token);
    const lifetimeMs = grant.lifetime * 1000;
    const issuedAt = Math.floor(Date.now() / 1000);
    const json = JSON.stringify({
      profile: grant.profile,
      client_id: grant.client_id,
      scope: grant.scope,
      issuedAt,
      lifetime: grant.lifetime,
    });
    await this.#redis.script(ISSUE, [this.#prefix + 't:' + key, this.#prefix + 'g:' + grant.profile], [json, lifetimeMs]);
    return { access_token, expires_in: Math.ceil(lifetimeMs / 1000) - 1 };
  }

  /** @throws StoreUnavailableError when the token is not cached and Redis is unreachable */
  async lookup(access_token: string): Promise<TokenRecord | undefined> {
    const key = tokenKey(access_token);
    const now = this.#now();
    const cached = this.#cache.get(key);
    if (cached) {
      // RFC 7519 §4.1.4 by analogy: dead at its expiry instant.
      if (now < cached.until && now < cached.record.expiresAt) return cached.record;
      this.#cache.delete(key);
    }
    const found = (await this.#redis.script(LOOKUP, [this.#prefix + 't:' + key], [this.#prefix + 'g:'])) as [string, number] | null;
    if (!found) return undefined;
    const stored = JSON.parse(found[0]) as Omit<TokenRecord, 'expiresAt'>;
    // Field by field, in the memory store's order: a spread copy with a field added made V8 miss its
    // inline caches on every read of the record (node --log-ic: 3 misses per bearer request).
    const record: TokenRecord = {
      profile: stored.profile,
      client_id: stored.client_id,
      scope: stored.scope,
      expiresAt: now + found[1],
      issuedAt: stored.issuedAt,
      lifetime: stored.lifetime,
    };
    if (this.#cacheTtlMs > 0) {
      if (this.#cache.size >= this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, { record, until: now + this.#cacheTtlMs });
    }
    return record;
  }

  /**
   * Revokes one token on every replica (RFC 7009); other replicas' read caches forget it within `cacheTtlMs`.
   * @returns true if a live token was revoked
   * @throws StoreUnavailableError when Redis is unreachable
   */
  async revoke(access_token: string): Promise<boolean> {
    const key = tokenKey(access_token);
    this.#cache.delete(key);
    return (await this.#redis.script(REVOKE, [this.#prefix + 't:' + key], [this.#prefix + 'g:'])) === 1;
  }

  /** Tokens in this replica's read cache: a local estimate, not the number of live tokens in Redis. */
  get size(): number {
    return this.#cache.size;
  }

  /**
   * Revokes every token of a profile on every replica (a new generation); other replicas' read
   * caches forget them within `cacheTtlMs`.
   * @throws StoreUnavailableError when Redis is unreachable
   */
  async revokeProfile(profile: string): Promise<void> {
    for (const [key, cached] of this.#cache) if (cached.record.profile === profile) this.#cache.delete(key);
    await this.#redis.command('INCR', this.#prefix + 'g:' + profile);
  }

  /** For /readyz: undefined when Redis answers, else why not. */
  notReadyBecause(): string | undefined {
    return this.#redis.notReadyBecause();
  }

  close(): void {
    this.#redis.close();
  }
}
