/**
 * The config contract (ARCHITECTURE.md §3): types, defaults and validation of the parsed YAML.
 * Nothing here knows about files or YAML; `load.ts` turns issue paths into `file:line:col`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { scaleOutIssues } from './scale-out.js';
import { parseSecretHash, secretIssues } from './secrets.js';
import { parseTimestamp, TIMESTAMP_FORM } from './timestamp.js';

/** One validation problem: the key path into the document and a message for ops. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

// RFC 6749 Appendix A: client_id and client_secret are VSCHAR (%x20-7E).
const VSCHAR = /^[\x20-\x7e]+$/;
// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); a collection name is a scope value.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
// A mount path: "/", or "/"-separated segments of RFC 3986 unreserved / sub-delims / ":" / "@".
const MOUNT_PATH = /^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$|^\/$/;
const HOST = /^(\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

const mountPath = z
  .string()
  .regex(MOUNT_PATH, 'must be "/" or /-separated segments without "//", "%", "?" or a trailing "/"')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain "." or ".." segments');

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:8080')
  .transform((s, ctx) => {
    const i = s.lastIndexOf(':');
    const port = Number(s.slice(i + 1));
    if (port > 65535) ctx.addIssue({ code: 'custom', message: 'port must be 0-65535' });
    return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
  });

const upstream = z.string().transform((s, ctx) => {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute http:// or https:// URL' });
    return z.NEVER;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'must use http:// or https://' });
  }
  if (url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'must not carry a query, fragment or credentials' });
  }
  return url;
});

// RFC 8414 §2: the issuer is an https URL without query or fragment; http is allowed for a sidecar
// reached over plain HTTP (a test bench, a mesh). Kept without a trailing "/" (RFC 8414 §3.1).
const issuer = z.string().transform((s, ctx) => {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute https:// or http:// URL' });
    return z.NEVER;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must use https:// or http://' });
  // An empty "?" or "#" leaves no trace in the URL object: look at the text for them.
  if (/[?#]/.test(s) || url.username + url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'must not carry a query, fragment or credentials' });
  }
  return url.origin + url.pathname.replace(/\/$/, '');
});

const domain = z.strictObject({
  host: z
    .string()
    .transform((h) => h.toLowerCase().replace(/\.$/, ''))
    .pipe(z.string().regex(HOST, 'must be a host name, an IP literal or "*"')),
  base_path: mountPath.optional(),
  issuer: issuer.optional(),
});

const expiresIn = z.number().int().min(1).max(31_536_000);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const tokens = z.strictObject({
  expires_in: expiresIn.default(3600),
  // lru-cache reserves 16 bytes per slot up front (src/oauth/tokens.ts): 160 MB at this cap.
  max_active: z.number().int().min(1).max(10_000_000).default(100_000),
  // Scale-out (README "Running several replicas"): absent = opaque tokens. scale-out.ts checks the keys.
  format: z.enum(['opaque', 'jwt']).optional(),
  signing_keys: z
    .array(
      z.strictObject({
        kid: z.string().regex(/^[\x21-\x7e]+$/, 'must be 1+ printable ASCII characters without space'),
        private_key_env: envName.optional(),
        secret_env: envName.optional(),
      }),
    )
    .optional(),
});

// Where tokens, revocations and counters live; absent = memory (one process).
const store = z.strictObject({
  type: z.enum(['memory', 'redis']),
  url_env: envName.optional(),
  key_prefix: z
    .string()
    .regex(/^[\x21-\x7e]+$/, 'must be 1+ printable ASCII characters without space')
    .optional(),
  cache_ttl_ms: z.number().int().min(0).max(60_000).optional(),
});

const collection = z.strictObject({
  name: z.string().regex(SCOPE_TOKEN, 'must be a scope token: printable ASCII without space, " or \\'),
  path: mountPath,
  upstream,
  timeout_ms: z.number().int().min(1).max(3_600_000).default(30_000),
});

const secretHash = z.string().transform((text, ctx) => {
  const parsed = parseSecretHash(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  return parsed as Exclude<typeof parsed, string>;
});

const cidr = z.string().refine((s) => parseCidr(s) !== undefined, 'must be an IP address or CIDR block');

const secret = z.string().regex(VSCHAR, 'must be 1+ printable ASCII characters (RFC 6749 Appendix A)');

/** A timestamp (config/timestamp.ts), as epoch ms. */
const timestamp = z.union([z.string(), z.date()], { error: TIMESTAMP_FORM }).transform((value, ctx) => {
  const parsed = parseTimestamp(value);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  return parsed as number;
});

// Issue 4: access policies. A window is at most a year (366 days).
const limit = z.strictObject({
  requests: z.number().int().min(1).max(1_000_000_000),
  window_s: z.number().int().min(1).max(31_622_400),
});
const policy = z.strictObject({ name: z.string().min(1), rate_limit: limit.optional(), quota: limit.optional() });

const tokenEndpoint = z.strictObject({
  max_failures_per_client: z.number().int().min(1).max(1_000_000).default(10),
  max_failures_per_ip: z.number().int().min(1).max(1_000_000).default(30),
  failure_window_s: z.number().int().min(1).max(86_400).default(60),
});

const accessProfile = z.strictObject({
  name: z.string().min(1),
  client_id: z.string().regex(VSCHAR, 'must be 1+ printable ASCII characters (RFC 6749 Appendix A)'),
  // Exactly one of the three secret forms; secretIssues() checks that, and fills client_secret from
  // client_secret_env.
  client_secret: secret.optional(),
  client_secret_env: envName.optional(),
  client_secret_hash: secretHash.optional(),
  collections: z.array(z.string()),
  enabled: z.boolean().default(true),
  introspection: z.boolean().default(false),
  // Issue 4: policy, network and lifetime per profile; secret rotation (previous_* as the current
  // secret's three forms, checked by secretIssues) and a cut-off for older tokens.
  policy: z.string().optional(),
  allowed_ips: z.array(cidr).min(1, 'must list at least one address or CIDR block (leave the key out to allow any)').optional(),
  expires_in: expiresIn.optional(),
  previous_client_secret: secret.optional(),
  previous_client_secret_env: envName.optional(),
  previous_client_secret_hash: secretHash.optional(),
  previous_not_after: timestamp.optional(),
  tokens_issued_after: timestamp
    .refine((ms) => ms <= Date.now(), 'is in the future: tokens issued until then, new ones too, would be refused')
    .optional(),
});

const millis = (max: number, fallback: number) => z.number().int().min(0).max(max).default(fallback);

const configSchema = z.strictObject({
  listen: listen.default({ host: '0.0.0.0', port: 8080 }),
  admin_listen: listen.optional(),
  shutdown_delay_ms: millis(600_000, 0),
  shutdown_timeout_ms: millis(600_000, 25_000),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  realm: z
    .string()
    .regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, 'must be printable ASCII without " or \\')
    .default('api'),
  trusted_proxies: z.array(cidr).default([]),
  domains: z.array(domain).min(1, 'at least one domain is required'),
  tokens: tokens.default({ expires_in: 3600, max_active: 100_000 }),
  store: store.optional(),
  collections: z.array(collection),
  access_profiles: z.array(accessProfile),
  policies: z.array(policy).default([]),
  token_endpoint: tokenEndpoint.default({ max_failures_per_client: 10, max_failures_per_ip: 30, failure_window_s: 60 }),
});

export type Config = z.output<typeof configSchema>;
export type Domain = Config['domains'][number];
export type Collection = Config['collections'][number];
export type AccessProfile = Config['access_profiles'][number];
export type AccessPolicy = Config['policies'][number];

/**
 * Parses an IP address or CIDR block ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32"). The address is
 * checked by node:net, which the proxy's BlockList uses too: what passes here cannot fail there.
 * @returns the address, its family and prefix length, or undefined if it is neither.
 */
export function parseCidr(s: string): { address: string; family: 'ipv4' | 'ipv6'; prefix: number } | undefined {
  const [address = '', bits, extra] = s.split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (extra !== undefined || !family) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  return prefix <= max ? { address, family, prefix } : undefined; // NaN <= max is false
}

/**
 * Validates a parsed config document as a whole (ARCHITECTURE.md §1.4, §3, §5).
 * @param raw the YAML document as plain data
 * @param env where `client_secret_env` variables are read (default process.env)
 * @returns the frozen config, with `client_secret` filled from `client_secret_env`; or every problem
 *   found (shape problems, cross-references and secrets alike)
 */
export function validate(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): { config: Config; issues?: undefined } | { config?: undefined; issues: ConfigIssue[] } {
  // reportInput: toIssues tells a missing key ("is required") from a value of the wrong type.
  const parsed = configSchema.safeParse(raw ?? {}, { reportInput: true });
  const issues: ConfigIssue[] = parsed.success ? [] : parsed.error.issues.flatMap(toIssues);
  issues.push(...crossCheck(raw), ...secretIssues(asArray(asRecord(raw).access_profiles), env), ...scaleOutIssues(asRecord(raw), env));
  if (issues.length > 0 || !parsed.success) return { issues };
  for (const profile of parsed.data.access_profiles) {
    if (profile.client_secret_env !== undefined) profile.client_secret = env[profile.client_secret_env];
    if (profile.previous_client_secret_env !== undefined) profile.previous_client_secret = env[profile.previous_client_secret_env];
  }
  return { config: deepFreeze(parsed.data) };
}

function toIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }));
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [{ path, message: 'is required' }];
  }
  return [{ path, message: issue.message }];
}

/** Cross-references that zod cannot see; runs on the raw data so all problems are reported at once. */
function crossCheck(raw: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const doc = asRecord(raw);
  const names = new Set<string>();
  for (const [i, c] of asArray(doc.collections).entries()) {
    const name = asRecord(c).name;
    if (typeof name !== 'string') continue;
    if (names.has(name)) issues.push({ path: ['collections', i, 'name'], message: `duplicate collection name "${name}"` });
    names.add(name);
  }
  // Every collection is mounted on every domain, under that domain's base_path, so a (host, path)
  // mount is taken twice exactly when two domains share a host or two collections share a path.
  const paths = new Map<string, number>();
  for (const [i, c] of asArray(doc.collections).entries()) {
    const path = asRecord(c).path;
    if (typeof path !== 'string') continue;
    const other = paths.get(path);
    if (other !== undefined)
      issues.push({ path: ['collections', i, 'path'], message: `"${path}" is mounted twice (also by collections[${other}])` });
    else paths.set(path, i);
  }
  const hosts = new Set<string>();
  for (const [d, dom] of asArray(doc.domains).entries()) {
    const host = asRecord(dom).host;
    if (typeof host !== 'string') continue;
    const name = host.toLowerCase().replace(/\.$/, '');
    if (hosts.has(name)) issues.push({ path: ['domains', d, 'host'], message: `duplicate domain host "${name}"` });
    hosts.add(name);
  }
  const policyNames = new Set<string>();
  for (const [i, p] of asArray(doc.policies).entries()) {
    const policy = asRecord(p);
    if (policy.rate_limit === undefined && policy.quota === undefined)
      issues.push({ path: ['policies', i], message: 'needs rate_limit, quota or both' });
    if (typeof policy.name !== 'string') continue;
    if (policyNames.has(policy.name)) issues.push({ path: ['policies', i, 'name'], message: `duplicate policy name "${policy.name}"` });
    policyNames.add(policy.name);
  }
  const clientIds = new Set<string>();
  const profileNames = new Set<string>();
  for (const [i, p] of asArray(doc.access_profiles).entries()) {
    const profile = asRecord(p);
    if (typeof profile.client_id === 'string') {
      if (clientIds.has(profile.client_id))
        issues.push({ path: ['access_profiles', i, 'client_id'], message: `duplicate client_id "${profile.client_id}"` });
      clientIds.add(profile.client_id);
    }
    if (typeof profile.name === 'string') {
      if (profileNames.has(profile.name))
        issues.push({ path: ['access_profiles', i, 'name'], message: `duplicate access profile name "${profile.name}"` });
      profileNames.add(profile.name);
    }
    if (typeof profile.policy === 'string' && !policyNames.has(profile.policy))
      issues.push({ path: ['access_profiles', i, 'policy'], message: `no policy named "${profile.policy}"` });
    for (const [j, ref] of asArray(profile.collections).entries()) {
      if (typeof ref === 'string' && !names.has(ref)) {
        issues.push({ path: ['access_profiles', i, 'collections', j], message: `no collection named "${ref}"` });
      }
    }
  }
  return issues;
}

/** Joins a domain's base_path and a collection path into the mount prefix ("/demo" + "/echo"). */
export function joinMount(base: string, path: string): string {
  if (!base || base === '/') return path;
  return path === '/' ? base : base + path;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof URL) && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
