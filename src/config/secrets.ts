/**
 * Client secrets in config: exactly one of `client_secret` (plain), `client_secret_env` (the name of
 * an environment variable, e.g. filled from a Kubernetes Secret) and `client_secret_hash` (Ory
 * Hydra's PBKDF2 form); during a rotation, at most one of the same three `previous_` forms, with
 * `previous_not_after`. Parsing lives here; verifying lives in oauth/.
 */
import type { ConfigIssue } from './schema.js';

/** The fewest PBKDF2 iterations accepted (Ory Hydra's default). */
export const MIN_ITERATIONS = 25_000;

/** A parsed `client_secret_hash`; `text` is the config value (it identifies the hash). */
export interface SecretHash {
  text: string;
  iterations: number;
  salt: Buffer;
  hash: Buffer;
}

const FORM = /^\$pbkdf2-sha256\$i=(\d+),l=32\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/**
 * Parses `$pbkdf2-sha256$i=<iterations>,l=32$<salt base64>$<hash base64>` (padding optional).
 * @returns the parts, or a message saying what is wrong
 */
export function parseSecretHash(text: string): SecretHash | string {
  const m = FORM.exec(text);
  if (!m) return 'must be $pbkdf2-sha256$i=<iterations>,l=32$<salt base64>$<hash base64> (see oauth2-sidecar hash-secret)';
  const iterations = Number(m[1]);
  const salt = Buffer.from(m[2]!, 'base64');
  const hash = Buffer.from(m[3]!, 'base64');
  if (iterations < MIN_ITERATIONS || iterations > 10_000_000) return `must use ${MIN_ITERATIONS} to 10000000 iterations`;
  if (hash.length !== 32) return 'must hold a 32-byte hash (l=32)';
  if (salt.length < 8) return 'must hold a salt of at least 8 bytes';
  return { text, iterations, salt, hash };
}

const FORMS = ['client_secret', 'client_secret_env', 'client_secret_hash'] as const;
// Secret rotation: the previous secret, in the same three forms, accepted until previous_not_after.
const PREVIOUS = ['previous_client_secret', 'previous_client_secret_env', 'previous_client_secret_hash'] as const;

/**
 * Checks that each raw access profile names its secret exactly one way and its previous secret at
 * most one way, that a previous secret comes with `previous_not_after` (and only then), and that a
 * named variable is set and not empty.
 * @param profiles the raw `access_profiles` list
 * @param env the environment secrets are read from
 */
export function secretIssues(profiles: unknown[], env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [i, p] of profiles.entries()) {
    if (p === null || typeof p !== 'object' || Array.isArray(p)) continue; // the shape check reports it
    const profile = p as Record<string, unknown>;
    const at = (key: string): (string | number)[] => ['access_profiles', i, key];
    const given = FORMS.filter((k) => profile[k] !== undefined);
    if (given.length === 0)
      issues.push({ path: ['access_profiles', i], message: 'needs one of client_secret, client_secret_env, client_secret_hash' });
    const previous = PREVIOUS.filter((k) => profile[k] !== undefined);
    for (const forms of [given, previous]) {
      if (forms.length > 1) issues.push({ path: at(forms[1]!), message: `only one of ${forms.join(', ')} may be given` });
    }
    if (previous.length > 0 && profile.previous_not_after === undefined)
      issues.push({ path: at(previous[0]!), message: 'needs previous_not_after: a previous secret is accepted until then' });
    if (previous.length === 0 && profile.previous_not_after !== undefined)
      issues.push({ path: at('previous_not_after'), message: 'needs a previous_client_secret, _env or _hash' });
    for (const key of ['client_secret_env', 'previous_client_secret_env']) {
      const name = profile[key];
      if (typeof name !== 'string') continue; // absent, or the shape check reports it
      const value = envValue(env, name);
      if (!value) {
        issues.push({ path: at(key), message: `environment variable ${name} is not set or empty` });
      } else if (!/^[\x20-\x7e]+$/.test(value)) {
        issues.push({ path: at(key), message: `environment variable ${name} must hold printable ASCII only (RFC 6749 Appendix A)` });
      }
    }
  }
  return issues;
}

/**
 * The value of an environment variable, read only from the object's own string properties: names
 * such as `toString` or `__proto__` would otherwise find Object.prototype's members, which are
 * truthy and stringify to printable text.
 * @returns the value, or undefined when the variable is not set
 */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = Object.hasOwn(env, name) ? env[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}
