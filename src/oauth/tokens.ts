/**
 * The token store: opaque access tokens (256 bits from the CSPRNG, 64 hex chars) held in memory,
 * keyed by a hash of the token so a heap dump shows no usable token. Expiry is checked here rather
 * than by lru-cache's ttl, which keeps an entry alive at exactly its expiry instant (B12).
 * The only file that imports `lru-cache`.
 */
import { hash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** What a live token stands for. */
export interface TokenRecord {
  /** access profile name */
  readonly profile: string;
  readonly client_id: string;
  /** collection names granted (RFC 6749 §3.3 scope values) */
  readonly scope: readonly string[];
  /** expiry on the store's clock, ms */
  readonly expiresAt: number;
  /** when it was issued, wall-clock epoch seconds (RFC 7662 `iat`; `tokens_issued_after` cut-offs) */
  readonly issuedAt: number;
}

/** A grant to turn into an access token. */
export interface TokenGrant {
  profile: string;
  client_id: string;
  scope: readonly string[];
  /** lifetime in seconds */
  lifetime: number;
  /** the issuer URL of the domain the token endpoint answered on (JWT `iss`); opaque tokens ignore it */
  issuer?: string;
}

/**
 * Where tokens live. Async so that a shared store (Redis, see the scale-out issue) can implement it.
 */
export interface TokenStore {
  /**
   * Issues a new access token.
   * @returns the token and `expires_in`, the whole seconds it still has (RFC 6749 §5.1): 3599 for a
   *   3600-second lifetime, since part of the first second is spent before the client reads it
   */
  issue(grant: TokenGrant): Promise<{ access_token: string; expires_in: number }>;
  /** @returns the record of a live token, or undefined if unknown, expired (at or after expiry) or evicted */
  lookup(access_token: string): Promise<TokenRecord | undefined>;
  /** number of live tokens held (may include expired ones not yet swept) */
  readonly size: number;
  /**
   * Revokes every live token of an access profile (a reload removed or disabled it, or changed its
   * client_id), so enabling it again never revives them.
   */
  revokeProfile(profile: string): Promise<void>;
  /** for /readyz, shared stores only: undefined when the store answers, else why not */
  notReadyBecause?(): string | undefined;
  /** stops background work (the sweep timer) */
  close(): void;
}

/** A monotonic clock in milliseconds (performance.now() by default; tests inject one). */
export type Clock = () => number;

/** @returns the store key of a token: SHA-256, base64url (43 chars) */
export function tokenKey(access_token: string): string {
  return hash('sha256', access_token, 'base64url'); // one-shot: no Hash object per request
}

/**
 * In-process token store on `lru-cache`. At most `maxActive` tokens live at once; when full, the
 * access profile holding the most tokens loses its least recently used one (on a tie, the profile
 * asking for a token), so one client's flood of token requests evicts its own tokens and never
 * those of a client holding no more than it (B27). Eviction acts like revocation: the evicted
 * token answers `invalid_token`.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #byProfile = new Map<string, LRUCache<string, TokenRecord>>();
  readonly #index = new Map<string, LRUCache<string, TokenRecord>>();
  readonly #maxActive: number;
  readonly #now: Clock;
  readonly #timer: NodeJS.Timeout;

  /**
   * @param opts.maxActive the most live tokens held at once (config `tokens.max_active`)
   * @param opts.now monotonic clock in ms
   * @param opts.sweepIntervalMs how often expired tokens are dropped (ms, default 60000)
   */
  constructor(opts: { maxActive: number; now?: Clock; sweepIntervalMs?: number }) {
    this.#maxActive = opts.maxActive;
    this.#now = opts.now ?? (() => performance.now());
    this.#timer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000).unref();
  }

  async issue(grant: TokenGrant): Promise<{ access_token: string; expires_in: number }> {
    const access_token = randomBytes(32).toString('hex');
    const key = tokenKey(access_token);
    const lifetimeMs = grant.lifetime * 1000;
    const record: TokenRecord = {
      profile: grant.profile,
      client_id: grant.client_id,
      scope: grant.scope,
      expiresAt: this.#now() + lifetimeMs,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    if (this.#index.size >= this.#maxActive) this.#evictFromLargestProfile(grant.profile);
    const cache = this.#cacheOf(grant.profile);
    cache.set(key, record);
    this.#index.set(key, cache);
    return { access_token, expires_in: Math.ceil(lifetimeMs / 1000) - 1 };
  }

  async lookup(access_token: string): Promise<TokenRecord | undefined> {
    const key = tokenKey(access_token);
    const cache = this.#index.get(key);
    const record = cache?.get(key); // get() marks it recently used
    if (!record) return undefined;
    // RFC 7519 §4.1.4 by analogy: a token is dead at its expiry instant, not one tick later.
    if (this.#now() >= record.expiresAt) {
      cache!.delete(key);
      return undefined;
    }
    return record;
  }

  get size(): number {
    return this.#index.size;
  }

  async revokeProfile(profile: string): Promise<void> {
    this.#byProfile.get(profile)?.clear(); // dispose() drops each token from the index
    this.#byProfile.delete(profile);
  }

  /** Drops every expired token now (also runs on a timer). */
  sweep(): void {
    const now = this.#now();
    for (const cache of this.#byProfile.values()) {
      const expired: string[] = [];
      for (const [key, record] of cache.entries()) if (now >= record.expiresAt) expired.push(key);
      for (const key of expired) cache.delete(key);
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #cacheOf(profile: string): LRUCache<string, TokenRecord> {
    let cache = this.#byProfile.get(profile);
    if (!cache) {
      // maxSize without max: arrays grow with use instead of being allocated up front per profile.
      cache = new LRUCache<string, TokenRecord>({
        maxSize: this.#maxActive,
        sizeCalculation: () => 1,
        dispose: (_record, key) => this.#index.delete(key),
      });
      this.#byProfile.set(profile, cache);
    }
    return cache;
  }

  /** Makes room for one token of `issuing`: on a tie for the most tokens the issuing profile loses its own. */
  #evictFromLargestProfile(issuing: string): void {
    let largest = this.#byProfile.get(issuing);
    for (const cache of this.#byProfile.values()) if (!largest || cache.size > largest.size) largest = cache;
    largest?.pop(); // its least recently used token; dispose() drops it from the index
  }
}
