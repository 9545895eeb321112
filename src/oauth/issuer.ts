/**
 * The public base URL of a domain: its issuer identifier (RFC 8414 §2), on which the endpoint URLs,
 * protected-resource identifiers and metadata URLs (RFC 8414 §3.1, RFC 9728 §3.1) are built.
 */
import { joinMount, type Collection, type Domain } from '../config/schema.js';

/** The path of the authorization server metadata (RFC 8414 §3). */
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';
/** The path of the protected resource metadata (RFC 9728 §3). */
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

// What a Host header may hold here: a reg-name or an IP literal, then an optional port (RFC 9110
// §7.2, RFC 3986 §3.2.2). Anything else (quotes, "/", "@") never reaches a URL or a challenge.
const HOST_HEADER = /^([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

/**
 * The issuer of a domain, as a request reached it.
 * @param hostHeader the request's Host header
 * @param forwardedProto the scheme a trusted proxy reported (X-Forwarded-Proto); undefined when
 *   the peer is not a trusted proxy or sent none: the sidecar itself speaks plain http
 * @returns the domain's configured `issuer`; else `<scheme>://<Host>` (lower-case, a default port
 *   dropped); undefined when there is no Host or it names no host
 */
export function issuerOf(domain: Domain, hostHeader: string | undefined, forwardedProto: string | undefined): string | undefined {
  if (domain.issuer !== undefined) return domain.issuer;
  const host = hostHeader?.toLowerCase();
  if (host === undefined || !HOST_HEADER.test(host)) return undefined;
  try {
    return new URL(`${forwardedProto ?? 'http'}://${host}`).origin;
  } catch {
    return undefined; // a port over 65535, an IP literal that is not one
  }
}

/** The path of an issuer URL without a trailing "/": "" for `https://a.example`, "/auth" for `https://a.example/auth/`. */
export function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/$/, '');
}

/**
 * The path of a collection's resource identifier under the issuer: base_path + path ("/demo/echo"),
 * "" for a collection mounted at "/" of a domain without base_path (RFC 9728 §3.1 drops a lone "/").
 */
export function resourcePath(domain: Domain, collection: Collection): string {
  const path = joinMount(domain.base_path ?? '', collection.path);
  return path === '/' ? '' : path;
}

/**
 * The URL of the protected resource metadata of the resource `issuer + path` (RFC 9728 §3.1: the
 * well-known path goes between the host and the resource's path), for `resource_metadata` (§5.1).
 */
export function resourceMetadataUrl(issuer: string, path: string): string {
  return `${new URL(issuer).origin}${PROTECTED_RESOURCE_METADATA_PATH}${issuerPath(issuer)}${path}`;
}
