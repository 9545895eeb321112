/**
 * Config of the scale-out issue: `store` (memory or redis) and `tokens.format: jwt` with its
 * `tokens.signing_keys`. Keys come from environment variables (a Kubernetes Secret) as PEM or JWK;
 * they are parsed here at validation, so a bad key is a `file:line:col` problem at start-up.
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { ConfigIssue } from './schema.js';

/** A signing key ready for use: `privateKey` signs (HS256: the secret), `publicKey` verifies and goes in the JWKS. */
export interface SigningKey {
  kid: string;
  alg: 'ES256' | 'EdDSA' | 'HS256';
  privateKey: KeyObject;
  /** undefined for HS256: a shared secret is never published */
  publicKey: KeyObject | undefined;
}

/** The fewest bytes of an HS256 secret (RFC 7518 §3.2: a key of at least the hash size). */
export const MIN_SECRET_BYTES = 32;

/**
 * Reads one key from the environment.
 * @returns the key, or a message saying what is wrong (never the key material itself)
 */
function readKey(kid: string, key: Record<string, unknown>, env: NodeJS.ProcessEnv): SigningKey | string {
  if (typeof key.secret_env === 'string') {
    const secret = env[key.secret_env];
    if (!secret) return `environment variable ${key.secret_env} is not set`;
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) return `must hold at least ${MIN_SECRET_BYTES} bytes (RFC 7518 §3.2)`;
    return { kid, alg: 'HS256', privateKey: createSecretKey(Buffer.from(secret)), publicKey: undefined };
  }
  const name = key.private_key_env as string;
  const text = env[name];
  if (!text) return `environment variable ${name} is not set`;
  let privateKey: KeyObject;
  try {
    const trimmed = text.trim();
    privateKey = trimmed.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(trimmed) as import('node:crypto').JsonWebKey, format: 'jwk' })
      : createPrivateKey(trimmed);
  } catch {
    return `${name} does not hold a private key in PEM or JWK form`;
  }
  const ec = privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!ec && privateKey.asymmetricKeyType !== 'ed25519') return `${name} must hold an EC P-256 (ES256) or Ed25519 (EdDSA) private key`;
  return { kid, alg: ec ? 'ES256' : 'EdDSA', privateKey, publicKey: createPublicKey(privateKey) };
}

/**
 * Reads the signing keys of a validated config.
 * @throws Error if a key no longer reads (validation read the same environment, so only if it changed)
 */
export function loadSigningKeys(keys: readonly { kid: string }[], env: NodeJS.ProcessEnv): SigningKey[] {
  return keys.map((k) => {
    const key = readKey(k.kid, k as Record<string, unknown>, env);
    if (typeof key === 'string') throw new Error(`tokens.signing_keys ${k.kid}: ${key}`);
    return key;
  });
}

/** Checks `store` and `tokens.format`/`tokens.signing_keys` of the raw document against each other and the environment. */
export function scaleOutIssues(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const store = record(doc.store);
  if (store.type === 'redis') {
    if (typeof store.url_env !== 'string') issues.push({ path: ['store', 'url_env'], message: 'is required with type: redis' });
    else if (!env[store.url_env]) issues.push({ path: ['store', 'url_env'], message: `environment variable ${store.url_env} is not set` });
  } else {
    for (const key of ['url_env', 'key_prefix', 'cache_ttl_ms'])
      if (store[key] !== undefined) issues.push({ path: ['store', key], message: 'only with type: redis' });
  }
  const tokens = record(doc.tokens);
  const keys = Array.isArray(tokens.signing_keys) ? tokens.signing_keys : [];
  if (tokens.format === 'jwt' && keys.length === 0)
    issues.push({ path: ['tokens', 'signing_keys'], message: 'at least one key is required with format: jwt' });
  if (tokens.format !== 'jwt' && tokens.signing_keys !== undefined)
    issues.push({ path: ['tokens', 'signing_keys'], message: 'only with format: jwt' });
  const kids = new Set<unknown>();
  for (const [i, k] of keys.entries()) {
    const key = record(k);
    if (kids.has(key.kid)) issues.push({ path: ['tokens', 'signing_keys', i, 'kid'], message: `duplicate kid "${String(key.kid)}"` });
    kids.add(key.kid);
    const given = ['private_key_env', 'secret_env'].filter((name) => typeof key[name] === 'string');
    if (given.length !== 1) {
      issues.push({ path: ['tokens', 'signing_keys', i], message: 'needs exactly one of private_key_env, secret_env' });
      continue;
    }
    const read = readKey(String(key.kid), key, env);
    if (typeof read === 'string') issues.push({ path: ['tokens', 'signing_keys', i, given[0]!], message: read });
  }
  return issues;
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
