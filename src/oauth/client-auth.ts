/**
 * Client authentication at the token endpoint (RFC 6749 §2.3.1): `client_secret_basic` and
 * `client_secret_post`, one method per request (§2.3), secrets compared in constant time; with a
 * `ClientGuard`, also failure throttling, `allowed_ips` and the previous secret of a rotation.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { BlockList } from 'node:net';
import { addressList, listed } from '../addresses.js';
import type { SecretHash } from '../config/secrets.js';
import type { AccessProfile, Config } from '../config/schema.js';
import type { FailureThrottle } from './client-throttle.js';
import { OAuthError } from './errors.js';
import { tryDecodeForm, tryDecodeUtf8, type Params } from './request-body.js';
import { VerifierBusyError, type SecretVerifier } from './secret-hash.js';

/** Credentials as presented; `ids` and `secrets` hold every reading of them (see parseBasic). */
export interface PresentedCredentials {
  method: 'client_secret_basic' | 'client_secret_post';
  ids: string[];
  secrets: string[];
}

/** A profile's previous secret (rotation): its digest or hash, accepted before `notAfter` (epoch ms). */
interface PreviousSecret {
  digest: Buffer | undefined;
  hash: SecretHash | undefined;
  notAfter: number;
}

/**
 * The access profiles by client_id, with digests of their plain secrets (hashed ones carry their
 * hash), their previous secret and their `allowed_ips` list.
 */
export type ClientRegistry = ReadonlyMap<
  string,
  { profile: AccessProfile; digest: Buffer | undefined; previous?: PreviousSecret; allowed?: BlockList }
>;

/** What an endpoint that authenticates clients knows of the request, beyond its credentials. */
export interface ClientGuard {
  /** the client's address: the TCP peer, or the X-Forwarded-For client behind trusted proxies */
  address: string;
  /** failed authentications per client_id and per address; checked before any secret is verified */
  throttle: FailureThrottle;
  /** wall clock, epoch ms (for `previous_not_after`) */
  now: () => number;
}

// Per request, bytes go into these two reused buffers rather than into new ones: Buffer.from takes a
// slice of Node's shared Buffer pool, and a slice that is still referenced at a young-generation GC
// keeps its whole pool slab (64 KiB on Node 24.22.3, 8 KiB on Node 20) until the next full GC. After
// 1,000,000 token requests on Node 24 that left malloc's heap 20 MiB larger (README, design notes).
/** the presented secret's digest, for `timingSafeEqual` (a digest, not the secret: not zeroed) */
const PRESENTED_DIGEST = Buffer.alloc(32);

/**
 * The SHA-256 of a secret, written into `into` (by default a new 32-byte buffer of its own, not a pool
 * slice). One-shot, as a 'binary' (latin1) string copied into the buffer: a Buffer that hash() makes
 * itself is a native object per call (digest and timingSafeEqual: 1.14 us here, against 0.72 with the
 * copy).
 */
function digest(secret: string, into: Buffer = Buffer.alloc(32)): Buffer {
  into.write(hash('sha256', secret, 'binary'), 'latin1');
  return into;
}
/** decoded Basic credentials of up to BASIC_SCRATCH_CHARS base64 characters, zeroed after each use */
const BASIC_SCRATCH = Buffer.alloc(1536);
const BASIC_SCRATCH_CHARS = (BASIC_SCRATCH.length / 3) * 4;
// Compared against when the client_id is unknown, so unknown ids cost what wrong secrets cost (B08).
const DUMMY_DIGEST = digest('no client has this secret');

/** Builds the client registry of a config (once per config load). */
export function buildClientRegistry(config: Config): ClientRegistry {
  return new Map(
    config.access_profiles.map((profile) => {
      const plain = profile.client_secret;
      const old = profile.previous_client_secret;
      const previous =
        profile.previous_not_after === undefined
          ? undefined
          : {
              digest: old === undefined ? undefined : digest(old),
              hash: profile.previous_client_secret_hash,
              notAfter: profile.previous_not_after,
            };
      const allowed = profile.allowed_ips && addressList(profile.allowed_ips);
      return [profile.client_id, { profile, digest: plain === undefined ? undefined : digest(plain), previous, allowed }];
    }),
  );
}

/**
 * Reads the client's credentials from the Authorization header or the body, never both (§2.3).
 * @param authorization the single Authorization header value, if any
 * @param params the token request parameters
 * @throws OAuthError invalid_request for two methods or a body client_id that is not the header's;
 *   invalid_client for a malformed header or no credentials
 */
export function presentedCredentials(authorization: string | undefined, params: Params): PresentedCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (authorization !== undefined) {
    const basic = parseBasic(authorization);
    if (bodySecret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method, not Basic and body credentials');
    }
    // §3.2.1 lets a client name itself in the body; it must name the client the header authenticates.
    if (bodyId !== undefined && !basic.ids.includes(bodyId)) {
      throw new OAuthError('invalid_request', 'client_id in the body does not match the Authorization header');
    }
    return basic;
  }
  if (bodyId === undefined || bodySecret === undefined) {
    throw new OAuthError('invalid_client', 'client authentication failed', {
      detail: bodyId ? 'no client_secret' : 'no client credentials',
    });
  }
  return { method: 'client_secret_post', ids: [bodyId], secrets: [bodySecret] };
}

/**
 * Parses `Authorization: Basic` (RFC 7617 §2; RFC 6749 §2.3.1). The user-id ends at the first
 * colon, so a password may hold colons. RFC 6749 asks clients to form-urlencode id and secret before
 * base64; curl -u, Postman and requests-oauthlib do not. Both readings are returned: the decoded one
 * first, then the raw one (a secret ending in "%" has only the raw reading).
 * @throws OAuthError invalid_client for another scheme, non-canonical base64, bad UTF-8 or no colon
 */
export function parseBasic(authorization: string): PresentedCredentials {
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  const fail = (detail: string): OAuthError => new OAuthError('invalid_client', 'client authentication failed', { detail });
  if (!match) throw fail('Authorization is not Basic with base64 credentials');
  const encoded = match[1]!;
  const bytes =
    encoded.length <= BASIC_SCRATCH_CHARS
      ? BASIC_SCRATCH.subarray(0, BASIC_SCRATCH.write(encoded, 'base64'))
      : Buffer.from(encoded, 'base64');
  // RFC 7617 §2 uses RFC 4648 base64, which Buffer decodes leniently: it drops a dangling character
  // or stray low bits, so "<valid>x" would authenticate too. Only a canonical encoding is accepted
  // (the "=" padding may be left out).
  const canonical = bytes.toString('base64').replace(/=+$/, '') === encoded.replace(/=+$/, '');
  const decoded = canonical ? tryDecodeUtf8(bytes) : undefined;
  bytes.fill(0); // the secret's bytes do not stay behind in the scratch buffer
  if (!canonical) throw fail('Basic credentials are not canonical base64');
  if (decoded === undefined) throw fail('Basic credentials are not UTF-8');
  const colon = decoded.indexOf(':');
  if (colon < 1) throw fail('Basic credentials have no user-id or no colon');
  const rawId = decoded.slice(0, colon);
  const rawSecret = decoded.slice(colon + 1);
  return { method: 'client_secret_basic', ids: readings(rawId), secrets: readings(rawSecret) };
}

function readings(raw: string): string[] {
  const decoded = tryDecodeForm(raw);
  return decoded === undefined || decoded === raw ? [raw] : [decoded, raw];
}

/**
 * Authenticates the presented credentials against the registry. With a guard, a client_id or
 * address over its failure limit is refused before any secret is verified, `allowed_ips` is
 * enforced before that too, and every `invalid_client` counts as a failure (an address outside
 * `allowed_ips` against the address only, so strangers cannot lock a client out of its own
 * networks). Without a guard (no address known) a profile with `allowed_ips` is always refused.
 * @param verifier checks secrets against a profile's `client_secret_hash` (PBKDF2, bounded cost)
 * @param gone gives a signal aborted when the client has gone (see SecretVerifier.verify); called only
 *   when a hashed secret is verified, so plain secrets cost no AbortController
 * @param guard the request's address, the failure throttle and the wall clock
 * @returns the access profile of the authenticated client
 * @throws OAuthError invalid_client, the same for an unknown id, a wrong secret, a disabled profile
 *   and an address not in `allowed_ips`; `temporarily_unavailable` 429 with `retryAfterS` when
 *   throttled; `temporarily_unavailable` 503 when too many hashed verifications already wait
 */
export async function authenticateClient(
  presented: PresentedCredentials,
  registry: ClientRegistry,
  verifier: SecretVerifier,
  gone?: () => AbortSignal,
  guard?: ClientGuard,
): Promise<AccessProfile> {
  const entry = presented.ids.map((id) => registry.get(id)).find((e) => e !== undefined);
  if (!guard) {
    if (entry?.allowed) throw failed('source address not allowed', 'no address to judge allowed_ips by');
    return verifyClient(entry, presented, verifier, gone, Date.now());
  }
  const clientId = entry?.profile.client_id ?? presented.ids[0]!;
  await guard.throttle.check(clientId, guard.address);
  // Refused before any hashing: an address outside allowed_ips answers as fast as an unknown client_id.
  if (entry?.allowed && !listed(entry.allowed, guard.address)) {
    await guard.throttle.failed(undefined, guard.address);
    throw failed('source address not allowed');
  }
  try {
    return await verifyClient(entry, presented, verifier, gone, guard.now());
  } catch (err) {
    if (err instanceof OAuthError && err.code === 'invalid_client') await guard.throttle.failed(clientId, guard.address);
    throw err;
  }
}

type Entry = ClientRegistry extends ReadonlyMap<string, infer E> ? E : never;

const failed = (detail: string, more?: string): OAuthError =>
  new OAuthError('invalid_client', 'client authentication failed', { detail: more ? `${detail}: ${more}` : detail });

/** Checks the secret (the current one, then a previous one before its deadline) and `enabled`. @param now epoch ms */
async function verifyClient(
  entry: Entry | undefined,
  presented: PresentedCredentials,
  verifier: SecretVerifier,
  gone: (() => AbortSignal) | undefined,
  now: number,
): Promise<AccessProfile> {
  let ok = await matches(presented.secrets, entry ? entry.digest : DUMMY_DIGEST, entry?.profile.client_secret_hash, verifier, gone);
  const previous = entry?.previous;
  // Rotation: the previous secret is accepted before previous_not_after, not at that instant.
  if (!ok && previous && now < previous.notAfter) {
    ok = await matches(presented.secrets, previous.digest, previous.hash, verifier, gone);
  }
  if (!entry || !ok) throw failed(entry ? 'wrong client_secret' : 'unknown client_id');
  if (!entry.profile.enabled) throw failed('access profile disabled');
  return entry.profile;
}

/** Whether one of the readings matches a plain secret's digest or a PBKDF2 hash (exactly one is set). */
async function matches(
  secrets: string[],
  expected: Buffer | undefined,
  stored: SecretHash | undefined,
  verifier: SecretVerifier,
  gone: (() => AbortSignal) | undefined,
): Promise<boolean> {
  let ok = false;
  if (stored) {
    try {
      const signal = gone?.();
      for (const secret of secrets) if (!ok) ok = await verifier.verify(secret, stored, signal);
    } catch (err) {
      if (!(err instanceof VerifierBusyError)) throw err; // a fault, not a load problem: server_error
      throw new OAuthError('temporarily_unavailable', 'the server is busy, retry shortly', { detail: err.message });
    }
    return ok;
  }
  // Every reading is compared, whatever matched earlier, so timing does not tell which one did.
  for (const secret of secrets) ok = timingSafeEqual(digest(secret, PRESENTED_DIGEST), expected!) || ok;
  return ok;
}
