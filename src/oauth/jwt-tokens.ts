/**
 * Self-contained access tokens: JWTs per RFC 9068 (JWT Profile for OAuth 2.0 Access Tokens), signed
 * with the first of `tokens.signing_keys` and verified with any of them (`kid` rotation: an old key
 * verifies until it is removed). Every replica holding the keys accepts every replica's tokens with no
 * shared store; upstreams can verify them too with the JWKS (`/.well-known/jwks.json`). Verified
 * tokens are cached, so a token is checked by signature once. Revocation has no shared state here:
 * a revoked or disabled access profile (every replica reloads the same config) and
 * `tokens_issued_after` end tokens; RFC 7009 revocation of one token is not possible.
 * The only file that imports `jose`.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose';
import type { SigningKey } from '../config/scale-out.js';
import { tokenKey, type TokenGrant, type TokenRecord, type TokenStore } from './tokens.js';

/** The path of the JWKS document on every domain (RFC 7517 §5, RFC 8414 `jwks_uri`). */
export const JWKS_PATH = '/.well-known/jwks.json';

/** RFC 9068 §2.1: the `typ` header of a JWT access token. */
const TYP = 'at+jwt';

/** A wall clock in ms since the Unix epoch (Date.now by default; tests inject one). */
export type WallClock = () => number;

/** A `TokenStore` of RFC 9068 JWT access tokens. */
export class JwtTokenStore implements TokenStore {
  readonly #keys: ReadonlyMap<string, SigningKey>;
  readonly #signer: SigningKey;
  readonly #now: WallClock;
  readonly #acceptIssuer: (iss: string) => boolean;
  readonly #maxCached: number;
  /** verified tokens by tokenKey; insertion order = age */
  readonly #cache = new Map<string, TokenRecord>();
  /** per access profile: tokens issued at or before this second (epoch s) are revoked */
  readonly #revokedUpTo = new Map<string, number>();

  /**
   * @param keys the signing keys (at least one); the first signs
   * @param opts.maxCached the most verified tokens cached (config `tokens.max_active`)
   * @param opts.acceptIssuer whether a token's `iss` is one of ours (default: any)
   * @param opts.now wall clock in ms (`iat`, `exp`, and the expiry check)
   */
  constructor(keys: readonly SigningKey[], opts: { maxCached: number; acceptIssuer?: (iss: string) => boolean; now?: WallClock }) {
    this.#signer = keys[0]!;
    this.#keys = new Map(keys.map((k) => [k.kid, k]));
    this.#maxCached = opts.maxCached;
    this.#acceptIssuer = opts.acceptIssuer ?? (() => true);
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Issues a JWT access token (RFC 9068 §2.2): `iss` and `aud` the grant's issuer, `sub` and
   * `client_id` the client, `scope` the collections, `jti` unique, `iat`/`exp` in epoch seconds.
   */
  async issue(grant: TokenGrant): Promise<{ access_token: string; expires_in: number }> {
    // Revocation is by whole seconds of iat: a token issued in the second of a revocation would be
    // born revoked, so issuing waits for the next second (only right after a revocation).
    const cut = this.#revokedUpTo.get(grant.profile);
    if (cut !== undefined && Math.floor(this.#now() / 1000) <= cut) await sleep(1000 - (this.#now() % 1000));
    const iat = Math.floor(this.#now() / 1000);
    const issuer = grant.issuer ?? 'http://localhost';
    const access_token = await new SignJWT({ client_id: grant.client_id, scope: grant.scope.join(' '), access_profile: grant.profile })
      .setProtectedHeader({ alg: this.#signer.alg, typ: TYP, kid: this.#signer.kid })
      .setIssuer(issuer)
      .setAudience(issuer)
      .setSubject(grant.client_id)
      .setIssuedAt(iat)
      .setExpirationTime(iat + grant.lifetime)
      .setJti(randomUUID())
      .sign(this.#signer.privateKey);
    return { access_token, expires_in: grant.lifetime - 1 };
  }

  /**
   * Verifies a token (RFC 9068 §4): signature by the key its `kid` names with that key's algorithm
   * only, `typ` at+jwt, not expired (dead at `exp`), an accepted `iss` that is also its `aud`.
   * @returns the record, or undefined for anything else (never throws for a bad token)
   */
  async lookup(access_token: string): Promise<TokenRecord | undefined> {
    const key = tokenKey(access_token);
    let record = this.#cache.get(key);
    if (!record) {
      record = await this.#verify(access_token);
      if (!record) return undefined;
      if (this.#cache.size >= this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, record);
    }
    if (this.#now() >= record.expiresAt || record.issuedAt <= (this.#revokedUpTo.get(record.profile) ?? -1)) {
      this.#cache.delete(key);
      return undefined;
    }
    return record;
  }

  /** RFC 7009 for a self-contained token: nothing to revoke. @returns false */
  async revoke(_access_token: string): Promise<boolean> {
    return false;
  }

  /** Verified tokens cached on this replica (a local estimate, not the number of live tokens). */
  get size(): number {
    return this.#cache.size;
  }

  /** Revokes the profile's tokens issued up to this second, on this replica (each replica reloads the same config). */
  async revokeProfile(profile: string): Promise<void> {
    this.#revokedUpTo.set(profile, Math.floor(this.#now() / 1000));
    for (const [key, record] of this.#cache) if (record.profile === profile) this.#cache.delete(key);
  }

  /** The JWKS (RFC 7517 §5): the public keys (never an HS256 secret), with `kid`, `alg`, `use`. */
  jwks(): { keys: Record<string, unknown>[] } {
    const keys = [];
    for (const k of this.#keys.values()) {
      if (k.publicKey) keys.push({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: k.alg, use: 'sig' });
    }
    return { keys };
  }

  close(): void {}

  async #verify(access_token: string): Promise<TokenRecord | undefined> {
    try {
      const { payload } = await jwtVerify(
        access_token,
        (header: JWTHeaderParameters) => {
          const k = header.kid === undefined ? undefined : this.#keys.get(header.kid);
          // RFC 8725 §3.1: the algorithm is the key's, never the one the token names.
          if (!k || header.alg !== k.alg) throw new Error('unknown kid or wrong alg');
          return k.publicKey ?? k.privateKey;
        },
        { typ: TYP, currentDate: new Date(this.#now()), requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'] },
      );
      const { iss, aud, exp, iat, client_id, scope, access_profile } = payload;
      if (typeof iss !== 'string' || aud !== iss || !this.#acceptIssuer(iss)) return undefined;
      if (typeof client_id !== 'string' || typeof scope !== 'string' || typeof access_profile !== 'string') return undefined;
      return { profile: access_profile, client_id, scope: scope.split(' '), expiresAt: exp! * 1000, issuedAt: iat!, lifetime: exp! - iat! };
    } catch {
      return undefined; // a bad signature, a wrong typ, an expired or malformed token: invalid_token
    }
  }
}
