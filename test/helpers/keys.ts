/**
 * Signing keys for the JWT token format, generated per run: environment variables as a Kubernetes
 * Secret would set them (PEM, JWK, or an HS256 secret).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** A PKCS#8 PEM private key: "ec" is P-256 (ES256), "ed25519" EdDSA. */
export function privateKeyPem(type: 'ec' | 'ed25519'): string {
  const { privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A private key as a JWK JSON text. */
export function privateKeyJwk(type: 'ec' | 'ed25519'): string {
  const { privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return JSON.stringify(privateKey.export({ format: 'jwk' }));
}

/** A 32-byte HS256 secret, hex. */
export const hsSecret = (): string => randomBytes(32).toString('hex');
