/**
 * Discovery documents on every domain: authorization server metadata (RFC 8414) and protected
 * resource metadata (RFC 9728), built from the config and the domain's issuer.
 */
import { JWKS_PATH } from './jwt-tokens.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config, Domain } from '../config/schema.js';
import { sendMessage } from '../respond.js';
import { INTROSPECTION_PATH } from './introspection.js';
import {
  AUTHORIZATION_SERVER_METADATA_PATH as AS_PATH,
  issuerPath,
  PROTECTED_RESOURCE_METADATA_PATH as PR_PATH,
  resourcePath,
} from './issuer.js';
import { REVOCATION_PATH } from './revocation.js';
import { TOKEN_PATH } from './token-endpoint.js';

// Both methods of RFC 6749 §2.3.1 are accepted at every endpoint a client authenticates to.
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];
// The documents change only with the config (reloaded live) or the issuer: a short shared-cache life.
const CACHE_CONTROL = 'public, max-age=300';

/** Whether a request path belongs to the metadata documents: each well-known path and everything under it. */
export function isMetadataPath(path: string): boolean {
  return under(path, AS_PATH) !== undefined || under(path, PR_PATH) !== undefined;
}

/** The authorization server metadata of an issuer (RFC 8414 §2). */
export function authorizationServerMetadata(issuer: string, config: Config): Record<string, unknown> {
  return {
    issuer,
    token_endpoint: issuer + TOKEN_PATH,
    introspection_endpoint: issuer + INTROSPECTION_PATH,
    revocation_endpoint: issuer + REVOCATION_PATH,
    grant_types_supported: ['client_credentials'],
    // REQUIRED by RFC 8414 §2; no authorization endpoint, so no response type.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    scopes_supported: config.collections.map((c) => c.name),
    // RFC 8414 §2: where upstreams find the keys that verify JWT access tokens (RFC 9068).
    ...(config.tokens.format === 'jwt' ? { jwks_uri: issuer + JWKS_PATH } : {}),
  };
}

/**
 * The protected resource metadata at a well-known suffix (RFC 9728 §2, §3.1). The resources of a
 * domain: its issuer as a whole, `issuer + base_path`, and each collection at
 * `issuer + base_path + path`, whose only scope is the collection's name.
 * @param suffix what follows `/.well-known/oauth-protected-resource` in the request path; the
 *   issuer's own path may lead it or not (a gateway that strips its prefix)
 * @returns the document, or undefined when the suffix names no resource of this domain
 */
export function protectedResourceMetadata(
  issuer: string,
  domain: Domain,
  config: Config,
  suffix: string,
): Record<string, unknown> | undefined {
  const own = issuerPath(issuer);
  const path = own !== '' && under(suffix, own) !== undefined ? suffix.slice(own.length) : suffix;
  const base = domain.base_path === '/' ? undefined : domain.base_path;
  let scopes: string[] | undefined;
  if (path === '' || path === base) scopes = config.collections.map((c) => c.name);
  else scopes = config.collections.filter((c) => resourcePath(domain, c) === path).map((c) => c.name);
  if (scopes.length === 0) return undefined;
  return {
    resource: issuer + path,
    authorization_servers: [issuer],
    scopes_supported: scopes,
    bearer_methods_supported: ['header'], // RFC 6750 §2.1 only: see the bearer check
  };
}

/**
 * Answers a request for a metadata document: GET or HEAD, JSON with a short public cache life.
 * @param issuer the domain's issuer; undefined when the request's Host names no host (400)
 * @param derived whether the issuer came from the request (Host, X-Forwarded-Proto), so caches must
 *   tell requests apart by X-Forwarded-Proto
 */
export function handleMetadataRequest(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  domain: Domain,
  config: Config,
  issuer: string | undefined,
  derived: boolean,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendMessage(res, 405, 'metadata documents answer GET and HEAD only', { Allow: 'GET, HEAD' });
    return;
  }
  if (issuer === undefined) {
    sendMessage(res, 400, 'the Host header names no host, so there is no issuer to describe');
    return;
  }
  const asSuffix = under(path, AS_PATH);
  let doc: Record<string, unknown> | undefined;
  // RFC 8414 §3.1: an issuer with a path is described at the well-known path followed by it.
  if (asSuffix !== undefined)
    doc = asSuffix === '' || asSuffix === issuerPath(issuer) ? authorizationServerMetadata(issuer, config) : undefined;
  else doc = protectedResourceMetadata(issuer, domain, config, under(path, PR_PATH)!);
  if (!doc) {
    sendMessage(res, 404, 'no metadata document at this path');
    return;
  }
  const payload = JSON.stringify(doc);
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': CACHE_CONTROL,
    ...(derived ? { Vary: 'X-Forwarded-Proto' } : {}),
  });
  res.end(payload); // Node sends no body on HEAD
}

/** What follows `prefix` in `path` on a segment boundary ("" for the prefix itself), else undefined. */
function under(path: string, prefix: string): string | undefined {
  if (path === prefix) return '';
  return path.startsWith(prefix) && path[prefix.length] === '/' ? path.slice(prefix.length) : undefined;
}
