/**
 * The token store: opaque access tokens (256 bits from the CSPRNG, 64 hex chars) held in memory,
 * keyed by a hash of the token so a heap dump shows no usable token. Expiry is checked here rather
 * than by lru-cache's ttl, which keeps an entry alive at exactly its expiry instant (B12).
 * Compact (issue 6): about 120 bytes per live token, see `MemoryTokenStore`.
 * The only file that imports `lru-cache`.
 */
import { hash, randomFillSync } from 'node:crypto';
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
  /** lifetime granted, seconds: `issuedAt + lifetime` is its wall-clock expiry (RFC 7662 `exp`) */
  readonly lifetime: number;
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
  /**
   * Revokes one access token (RFC 7009 §2.2: the token is invalid at once).
   * @returns true if a live token was revoked; false if it was unknown, already expired, evicted or revoked
   */
  revoke(access_token: string): Promise<boolean>;
  /** for /readyz, shared stores only: undefined when the store answers, else why not */
  notReadyBecause?(): string | undefined;
  /** stops background work (the sweep timer) */
  close(): void;
}

/** A monotonic clock in milliseconds (performance.now() by default; tests inject one). */
export type Clock = () => number;

/**
 * The store key of a token: the first 128 bits of its SHA-256, as a 16-character latin1 ('binary') string (one
 * character per byte), which V8 keeps in 32 bytes where the full base64url digest took 64.
 *
 * Why 128 bits are enough: the key is not a secret but an index; the token (256 random bits) is the
 * secret. A heap dump shows keys only: finding a token that maps to a given key is a second preimage
 * of truncated SHA-256, about 2^128 work. Presenting made-up tokens hits some live key with probability
 * at most max_active / 2^128 <= 2^26 / 2^128 = 2^-102 per guess (50,000,000 tokens at most), which
 * no online attack approaches. Two live tokens sharing a key (the later would replace the earlier):
 * by the birthday bound at most (2^26)^2 / 2^129 = 2^-77 for a full store.
 * @returns a transient string (a slice of the digest); `MemoryTokenStore` stores a flat copy
 */
export function tokenKey(access_token: string): string {
  return hash('sha256', access_token, 'binary').slice(0, 16); // one-shot: no Hash object per request
}

/**
 * `tokenKey` as a string of its own, for keeping: a slice of 13 characters or more is a V8 SlicedString
 * that would keep the whole 32-character digest alive in the store. Built from char codes rather than
 * through a Buffer, which costs a native allocation per token.
 */
function storedKey(access_token: string): string {
  const digest = tokenKey(access_token);
  const at = (i: number): number => digest.charCodeAt(i);
  // prettier-ignore
  return String.fromCharCode(at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15));
}

// 128 tokens' worth of CSPRNG bytes, refilled by one call: a call per token was 6% of the token endpoint's CPU.
const RANDOM_POOL = Buffer.alloc(4096);
let randomOffset = RANDOM_POOL.length;

/**
 * A new opaque access token: 256 bits from the CSPRNG (`crypto.randomFillSync`) as 64 lowercase hex
 * characters (RFC 6749 §10.10, RFC 6750 §5.2). Each pooled byte is used once and zeroed once read.
 * @returns the token; shared by the memory and Redis stores
 */
export function newAccessToken(): string {
  if (randomOffset === RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  const end = randomOffset + 32;
  const access_token = RANDOM_POOL.toString('hex', randomOffset, end);
  RANDOM_POOL.fill(0, randomOffset, end);
  randomOffset = end;
  return access_token;
}

/** "no slot" in the per-slot links */
const NIL = -1;

/** The live tokens of one access profile as a list through the slot links, least recently used first. */
interface ProfileTokens {
  /** least recently used slot, or NIL */
  head: number;
  /** most recently used slot, or NIL */
  tail: number;
  size: number;
  /** the grants its live tokens name (usually one; more after a reload changed its collections) */
  readonly grants: Grant[];
}

/** What tokens issued alike share (interned, counted): profile, client_id, scope, lifetime and the profile's list. */
interface Grant {
  /** index into MemoryTokenStore.#grants */
  readonly id: number;
  readonly profile: string;
  readonly client_id: string;
  readonly scope: readonly string[];
  /** seconds (per-profile `expires_in` may differ between reloads) */
  readonly lifetime: number;
  readonly tokens: ProfileTokens;
  /** live slots naming this grant */
  refs: number;
}

/**
 * In-process token store on `lru-cache`. At most `maxActive` tokens live at once; when full, the
 * access profile holding the most tokens loses its least recently used one (on a tie, the profile
 * asking for a token), so one client's flood of token requests evicts its own tokens and never
 * those of a client holding no more than it (B27). Eviction acts like revocation: the evicted
 * token answers `invalid_token`.
 *
 * Layout (issue 6: 1,000,000 tokens in a 256 MiB process; the bench measured 239.0 MiB on Node 20,
 * 240.8-247.5 on Node 24). One `LRUCache` with `max: maxActive` (preallocated arrays, no per-entry
 * objects) maps each token key to a slot number; a slot's data lives in typed arrays: expiry, issue
 * time, grant (an index into interned grants), and links ordering the slots of each access profile by
 * recency, which make "the least recently used token of the largest profile" O(1). Per token: key
 * string 32 B, lru-cache's Map entry ~29 B and arrays 28 B, the slot 32 B (8 expiry, 4 issue time,
 * 4 grant, 8 links, 8 the key reference). Free slots form a list through the links. Typed arrays are
 * allocated for `maxActive` slots up front, zeroed pages the OS maps only when first written;
 * lru-cache's two key/value arrays (16 B per slot) are written at construction.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #cache: LRUCache<string, number>;
  /** expiry on the store clock, ms */
  readonly #expiresAt: Float64Array;
  /** issue time, wall-clock epoch seconds (fits until 2106) */
  readonly #issuedAt: Uint32Array;
  /** index into #grants */
  readonly #grantOf: Uint32Array;
  /** the previous (less recently used) slot of the same profile, or NIL */
  readonly #older: Int32Array;
  /** the next (more recently used) slot of the same profile, or NIL; for a free slot, the next free one */
  readonly #newer: Int32Array;
  /** each slot's key, to delete a slot from the cache when its profile loses it (undefined when free) */
  readonly #keys: (string | undefined)[] = [];
  /** slots from here up were never used */
  #top = 0;
  /** first free slot below #top, or NIL */
  #free = NIL;
  readonly #grants: (Grant | undefined)[] = [];
  readonly #freeGrantIds: number[] = [];
  /** profiles holding tokens */
  readonly #byProfile = new Map<string, ProfileTokens>();
  readonly #maxActive: number;
  readonly #now: Clock;
  readonly #wallClock: () => number;
  readonly #timer: NodeJS.Timeout;

  /**
   * @param opts.maxActive the most live tokens held at once (config `tokens.max_active`, at most 2^31 - 1)
   * @param opts.now monotonic clock in ms
   * @param opts.sweepIntervalMs how often expired tokens are dropped (ms, default 60000)
   * @param opts.wallClock epoch ms, for `issuedAt` (default Date.now)
   */
  constructor(opts: { maxActive: number; now?: Clock; sweepIntervalMs?: number; wallClock?: () => number }) {
    const max = (this.#maxActive = opts.maxActive);
    this.#now = opts.now ?? (() => performance.now());
    this.#wallClock = opts.wallClock ?? Date.now;
    // dispose runs on every delete (lookup of a dead token, revoke, sweep, eviction): the slot is freed there.
    this.#cache = new LRUCache<string, number>({ max, dispose: (slot) => this.#release(slot) });
    this.#expiresAt = new Float64Array(max);
    this.#issuedAt = new Uint32Array(max);
    this.#grantOf = new Uint32Array(max);
    this.#older = new Int32Array(max);
    this.#newer = new Int32Array(max);
    this.#timer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000).unref();
  }

  async issue(grant: TokenGrant): Promise<{ access_token: string; expires_in: number }> {
    const access_token = newAccessToken();
    const key = storedKey(access_token);
    const lifetimeMs = grant.lifetime * 1000;
    if (this.#cache.size >= this.#maxActive) this.#evictFromLargestProfile(grant.profile);
    const shared = this.#intern(grant); // after the eviction, which may drop the last token of this grant
    const slot = this.#allocate();
    this.#expiresAt[slot] = this.#now() + lifetimeMs;
    this.#issuedAt[slot] = Math.floor(this.#wallClock() / 1000);
    this.#grantOf[slot] = shared.id;
    this.#keys[slot] = key;
    shared.refs++;
    this.#append(shared.tokens, slot);
    this.#cache.set(key, slot);
    return { access_token, expires_in: Math.ceil(lifetimeMs / 1000) - 1 };
  }

  async lookup(access_token: string): Promise<TokenRecord | undefined> {
    const key = tokenKey(access_token);
    const slot = this.#cache.get(key); // get() marks it recently used in the cache's own order
    if (slot === undefined) return undefined;
    const expiresAt = this.#expiresAt[slot]!;
    // RFC 7519 §4.1.4 by analogy: a token is dead at its expiry instant, not one tick later.
    if (this.#now() >= expiresAt) {
      this.#cache.delete(key);
      return undefined;
    }
    const shared = this.#grants[this.#grantOf[slot]!]!;
    if (shared.tokens.tail !== slot) {
      this.#unlink(shared.tokens, slot); // the most recently used of its profile now
      this.#append(shared.tokens, slot);
    }
    return {
      profile: shared.profile,
      client_id: shared.client_id,
      scope: shared.scope,
      expiresAt,
      issuedAt: this.#issuedAt[slot]!,
      lifetime: shared.lifetime,
    };
  }

  get size(): number {
    return this.#cache.size;
  }

  async revoke(access_token: string): Promise<boolean> {
    const key = tokenKey(access_token);
    const slot = this.#cache.peek(key);
    if (slot === undefined) return false;
    const live = this.#now() < this.#expiresAt[slot]!;
    this.#cache.delete(key);
    return live;
  }

  async revokeProfile(profile: string): Promise<void> {
    const tokens = this.#byProfile.get(profile);
    for (let slot = tokens ? tokens.head : NIL; slot !== NIL;) {
      const newer = this.#newer[slot]!; // read before release() puts the slot on the free list
      this.#cache.delete(this.#keys[slot]!);
      slot = newer;
    }
  }

  /** Drops every expired token now (also runs on a timer). */
  sweep(): void {
    const now = this.#now();
    for (let slot = 0; slot < this.#top; slot++) {
      const key = this.#keys[slot];
      if (key !== undefined && now >= this.#expiresAt[slot]!) this.#cache.delete(key);
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** @returns a free slot: a released one, else the next never used */
  #allocate(): number {
    const slot = this.#free;
    if (slot === NIL) return this.#top++;
    this.#free = this.#newer[slot]!;
    return slot;
  }

  /** Frees a slot the cache dropped: out of its profile's list, its grant released, onto the free list. */
  #release(slot: number): void {
    const shared = this.#grants[this.#grantOf[slot]!]!;
    const tokens = shared.tokens;
    this.#unlink(tokens, slot);
    if (tokens.size === 0) this.#byProfile.delete(shared.profile);
    if (--shared.refs === 0) {
      tokens.grants.splice(tokens.grants.indexOf(shared), 1);
      this.#grants[shared.id] = undefined;
      this.#freeGrantIds.push(shared.id);
    }
    this.#keys[slot] = undefined; // the key string may go
    this.#newer[slot] = this.#free;
    this.#free = slot;
  }

  /** @returns the shared grant for tokens issued alike, created on first use */
  #intern(grant: TokenGrant): Grant {
    let tokens = this.#byProfile.get(grant.profile);
    if (!tokens) this.#byProfile.set(grant.profile, (tokens = { head: NIL, tail: NIL, size: 0, grants: [] }));
    for (const shared of tokens.grants) {
      if (shared.client_id === grant.client_id && shared.lifetime === grant.lifetime && sameScope(shared.scope, grant.scope)) return shared;
    }
    const id = this.#freeGrantIds.pop() ?? this.#grants.length;
    const shared: Grant = {
      id,
      profile: grant.profile,
      client_id: grant.client_id,
      scope: [...grant.scope],
      lifetime: grant.lifetime,
      tokens,
      refs: 0,
    };
    this.#grants[id] = shared;
    tokens.grants.push(shared);
    return shared;
  }

  /** Puts a slot at the most recently used end of a profile's list. */
  #append(tokens: ProfileTokens, slot: number): void {
    this.#older[slot] = tokens.tail;
    this.#newer[slot] = NIL;
    if (tokens.tail === NIL) tokens.head = slot;
    else this.#newer[tokens.tail] = slot;
    tokens.tail = slot;
    tokens.size++;
  }

  /** Takes a slot out of a profile's list. */
  #unlink(tokens: ProfileTokens, slot: number): void {
    const older = this.#older[slot]!;
    const newer = this.#newer[slot]!;
    if (older === NIL) tokens.head = newer;
    else this.#newer[older] = newer;
    if (newer === NIL) tokens.tail = older;
    else this.#older[newer] = older;
    tokens.size--;
  }

  /** Makes room for one token of `issuing`: on a tie for the most tokens the issuing profile loses its own. */
  #evictFromLargestProfile(issuing: string): void {
    let largest = this.#byProfile.get(issuing);
    for (const tokens of this.#byProfile.values()) if (!largest || tokens.size > largest.size) largest = tokens;
    this.#cache.delete(this.#keys[largest!.head]!); // its least recently used token; dispose() frees the slot
  }
}

/** @returns whether two scopes list the same values in the same order */
function sameScope(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
