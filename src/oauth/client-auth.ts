/**
 * Client authentication at the token endpoint (RFC 6749 §2.3.1): `client_secret_basic` and
 * `client_secret_post`, one method per request (§2.3), secrets compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccessProfile, Config } from '../config/schema.js';
import { OAuthError } from './errors.js';
import { tryDecodeForm, type Params } from './request-body.js';
import { VerifierBusyError, type SecretVerifier } from './secret-hash.js';

/** Credentials as presented; `ids` and `secrets` hold every reading of them (see parseBasic). */
export interface PresentedCredentials {
  method: 'client_secret_basic' | 'client_secret_post';
  ids: string[];
  secrets: string[];
}

/** The access profiles by client_id, with digests of their plain secrets (hashed ones carry their hash). */
export type ClientRegistry = ReadonlyMap<string, { profile: AccessProfile; digest: Buffer | undefined }>;

const digest = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();
// Compared against when the client_id is unknown, so unknown ids cost what wrong secrets cost (B08).
const DUMMY_DIGEST = digest('no client has this secret');

/** Builds the client registry of a config (once per config load). */
export function buildClientRegistry(config: Config): ClientRegistry {
  return new Map(
    config.access_profiles.map((profile) => {
      const plain = profile.client_secret;
      return [profile.client_id, { profile, digest: plain === undefined ? undefined : digest(plain) }];
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
  const bytes = Buffer.from(match[1]!, 'base64');
  // RFC 7617 §2 uses RFC 4648 base64, which Buffer decodes leniently: it drops a dangling character
  // or stray low bits, so "<valid>x" would authenticate too. Only a canonical encoding is accepted
  // (the "=" padding may be left out).
  if (bytes.toString('base64').replace(/=+$/, '') !== match[1]!.replace(/=+$/, ''))
    throw fail('Basic credentials are not canonical base64');
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail('Basic credentials are not UTF-8');
  }
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
 * Authenticates the presented credentials against the registry.
 * @param verifier checks secrets against a profile's `client_secret_hash` (PBKDF2, bounded cost)
 * @param signal aborted when the client has gone (see SecretVerifier.verify)
 * @returns the access profile of the authenticated client
 * @throws OAuthError invalid_client, the same for an unknown id, a wrong secret and a disabled
 *   profile; `temporarily_unavailable` (503) when too many hashed verifications already wait
 */
export async function authenticateClient(
  presented: PresentedCredentials,
  registry: ClientRegistry,
  verifier: SecretVerifier,
  signal?: AbortSignal,
): Promise<AccessProfile> {
  const entry = presented.ids.map((id) => registry.get(id)).find((e) => e !== undefined);
  const stored = entry?.profile.client_secret_hash;
  let ok = false;
  if (entry && stored) {
    try {
      for (const secret of presented.secrets) if (!ok) ok = await verifier.verify(secret, stored, signal);
    } catch (err) {
      if (!(err instanceof VerifierBusyError)) throw err; // a fault, not a load problem: server_error
      throw new OAuthError('temporarily_unavailable', 'the server is busy, retry shortly', { detail: err.message });
    }
  } else {
    const expected = entry?.digest ?? DUMMY_DIGEST;
    // Every reading is compared, whatever matched earlier, so timing does not tell which one did.
    for (const secret of presented.secrets) ok = timingSafeEqual(digest(secret), expected) || ok;
  }
  if (!entry || !ok) {
    throw new OAuthError('invalid_client', 'client authentication failed', { detail: entry ? 'wrong client_secret' : 'unknown client_id' });
  }
  if (!entry.profile.enabled) {
    throw new OAuthError('invalid_client', 'client authentication failed', { detail: 'access profile disabled' });
  }
  return entry.profile;
}
