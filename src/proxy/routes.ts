/**
 * Routing: (Host, path) -> domain + API collection + upstream path. Built once per config.
 */
import { joinMount, type Collection, type Config, type Domain } from '../config/schema.js';

/** A matched route: what to check (collection) and where to send it. */
export interface Route {
  domain: Domain;
  collection: Collection;
  /** the path on the upstream: upstream base path + the rest of the request path, then the query */
  upstreamPath: string;
}

interface Mount {
  prefix: string;
  collection: Collection;
  base: string;
}

/** The routes of one config: domains by host, and each domain's mounts, longest prefix first. */
export class RouteTable {
  readonly #domains = new Map<string, { domain: Domain; mounts: Mount[] }>();

  constructor(config: Config) {
    for (const domain of config.domains) {
      const mounts = config.collections.map((collection) => ({
        prefix: joinMount(domain.base_path ?? '', collection.path),
        collection,
        base: collection.upstream.pathname.replace(/\/$/, ''),
      }));
      mounts.sort((a, b) => b.prefix.length - a.prefix.length);
      this.#domains.set(domain.host, { domain, mounts });
    }
  }

  /**
   * Finds the domain a Host header names: case-insensitive, port and trailing dot ignored, "*" as
   * the fallback (ARCHITECTURE.md §3).
   * @returns the domain, or undefined (the caller answers 404)
   */
  domainOf(hostHeader: string | undefined): Domain | undefined {
    const entry = this.#domains.get(hostName(hostHeader ?? '')) ?? this.#domains.get('*');
    return entry?.domain;
  }

  /**
   * Matches a normalised path on a domain; prefixes match on segment boundaries only.
   * @param path normalised by `normaliseTarget`; `query` is appended to the upstream path verbatim
   * @returns the route, or undefined when no collection is mounted there (404) or the domain is
   *   not one of this table's (e.g. from the table of a config since replaced)
   */
  match(domain: Domain, path: string, query: string): Route | undefined {
    const entry = this.#domains.get(domain.host);
    if (!entry) return undefined;
    for (const { prefix, collection, base } of entry.mounts) {
      if (prefix === '/' || path === prefix || (path.startsWith(prefix) && path[prefix.length] === '/')) {
        const rest = prefix === '/' ? path : path.slice(prefix.length);
        return { domain, collection, upstreamPath: (base + rest || '/') + query };
      }
    }
    return undefined;
  }
}

/** "API.Example.com.:8080" -> "api.example.com"; "[::1]:8080" -> "[::1]" */
export function hostName(host: string): string {
  let name = host.toLowerCase();
  if (name.startsWith('[')) name = name.slice(0, name.indexOf(']') + 1);
  else if (name.includes(':')) name = name.slice(0, name.indexOf(':'));
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
