/**
 * Header hygiene for forwarding (ARCHITECTURE.md §4; B13, B14, B24): strip first, then add, so a
 * client can neither pass a credential through nor delete a header the sidecar sets.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIPv4, type BlockList, type Socket } from 'node:net';
import { addressList, listed } from '../addresses.js';

// RFC 9110 §7.6.1 hop-by-hop fields, the legacy Proxy-Connection, and HTTP/2's upgrade settings.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings'];
// Credentials meant for us (RFC 6750 §5.3, RFC 9110 §11.7.2), our own 100-continue handling, and
// identity headers only the sidecar may set.
const NEVER_FORWARDED = [
  'authorization',
  'proxy-authorization',
  'expect',
  'x-client-id',
  'x-access-profile',
  'forwarded',
  // Another client-address claim (nginx real_ip, many frameworks) that only a proxy may set.
  'x-real-ip',
  // Path overrides (IIS URL Rewrite, Symfony, Zend): the upstream would serve another path than the
  // one the sidecar authorised.
  'x-original-url',
  'x-rewrite-url',
];
const FORWARDED_FOR = 'x-forwarded-for';
// Fields no Connection option removes from a request: the target (RFC 9110 §7.2) and the framing
// (RFC 9112 §6). Dropping the framing of a body the sidecar still pipes would let the upstream read
// that body as a second, unchecked request (B14, B16); each hop's framing is made from these values
// (by undici for requests, by node:http for WebSocket handshakes).
const MESSAGE_FIELDS = new Set(['host', 'content-length', 'transfer-encoding']);
// What connectionOptions() returns for the usual Connection values.
const NO_OPTIONS: readonly string[] = [];
const KEEP_ALIVE: readonly string[] = ['keep-alive'];
const CLOSE: readonly string[] = ['close'];

/** Who the token says is calling: sent upstream as X-Client-Id and X-Access-Profile. */
export interface Identity {
  client_id: string;
  access_profile: string;
}

/**
 * Rewrites `req.headers` for the upstream request, which is made from them as they are (for a
 * WebSocket upgrade http-proxy copies them, and skips its `proxyReq` hook there, so this runs before).
 * @param trusted whether the TCP peer is a trusted proxy: only then are its X-Forwarded-* kept
 * @param upgrade keep `Connection: upgrade` and `Upgrade` (a WebSocket handshake)
 */
export function prepareUpstreamHeaders(req: IncomingMessage, identity: Identity, trusted: boolean, upgrade = false): void {
  const headers = req.headers;
  const named = connectionOptions(headers.connection);
  // One pass into a fresh object: cheaper than deleting from Node's, which `delete` would turn
  // into a slow dictionary for the header writer that reads it next.
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (DROPPED.has(name) || name.startsWith('x-forwarded-')) continue;
    // CGI-style upstreams (WSGI, Rack, PHP) read "X_Client_Id" as HTTP_X_CLIENT_ID, the same variable
    // as X-Client-Id: a spelling with "_" of a field we drop or set is dropped too.
    if (name.includes('_') && isSidecarField(name.replace(/_/g, '-'))) continue;
    if (named.length > 0 && named.includes(name) && !MESSAGE_FIELDS.has(name)) continue;
    out[name] = headers[name];
  }
  // The framing fields stay as received: forward.ts lets undici frame the body from them (B16), and
  // undici says Content-Length: 0 itself for a bodiless POST, PUT or PATCH.
  const peer = peerAddress(req);
  const inboundFor = trusted ? forwardedFor(req) : undefined;
  out['x-client-id'] = identity.client_id;
  out['x-access-profile'] = identity.access_profile;
  out[FORWARDED_FOR] = inboundFor ? `${inboundFor}, ${peer}` : peer;
  out['x-forwarded-proto'] = (trusted && firstValue(headers['x-forwarded-proto'] as string | undefined)) || 'http';
  // Derived from the Host the request was routed by, never the client's claim (B24); an HTTP/1.0
  // request may have no Host, and then there is nothing to tell.
  if (headers.host !== undefined) out['x-forwarded-host'] = headers.host;
  if (upgrade && headers.upgrade) {
    out.connection = 'upgrade';
    out.upgrade = headers.upgrade;
  }
  req.headers = out;
}

// Never forwarded: hop-by-hop fields and the credentials and identity headers above.
const DROPPED = new Set([...HOP_BY_HOP, ...NEVER_FORWARDED]);

const isSidecarField = (name: string): boolean => DROPPED.has(name) || name.startsWith('x-forwarded-');

/**
 * Response header lines from an upstream, as a flat [name, value, ...] list in their order (so
 * repeated Set-Cookie lines survive) without hop-by-hop fields, Connection-named fields or
 * Transfer-Encoding (Node frames the body for the client itself).
 */
export function responseHeaderLines(rawHeaders: string[]): string[] {
  let drop = RESPONSE_DROPS;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    // The usual "keep-alive" or "close" names nothing beyond the hop-by-hop fields: no new Set.
    const named = connectionOptions(rawHeaders[i + 1]);
    if (named.some((option) => !drop.has(option))) drop = new Set([...drop, ...named]);
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!drop.has(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * Rewrites, in place, the headers of an upstream's answer to a WebSocket handshake that is not
 * 101. http-proxy relays that answer on the raw socket from this object, with the body already
 * decoded and ended by closing the connection: so the same fields as `responseHeaderLines` go,
 * and `Connection: close` tells the client how the body ends (RFC 9112 §6.3).
 */
export function closeDelimitedHeaders(headers: IncomingHttpHeaders): void {
  for (const name of responseDrops([headers.connection])) delete headers[name];
  headers.connection = 'close';
}

// Response fields never relayed: hop-by-hop ones, those the upstream's Connection lines name, and
// Transfer-Encoding (RFC 9110 §7.6.1).
function responseDrops(connection: (string | undefined)[]): Set<string> {
  return new Set([...HOP_BY_HOP, 'transfer-encoding', ...connection.flatMap(connectionOptions)]);
}
// "close" too: a Connection option, never a field name, so the common `Connection: close` builds no Set.
const RESPONSE_DROPS = responseDrops(['close']);

/** The field names a Connection value nominates (RFC 9110 §7.6.1), lower-cased. */
function connectionOptions(value: string | undefined): readonly string[] {
  if (!value) return NO_OPTIONS;
  // The usual values, on nearly every request and response: no split, no new array.
  const lower = value.toLowerCase();
  if (lower === 'keep-alive') return KEEP_ALIVE;
  if (lower === 'close') return CLOSE;
  return lower.split(',').map((token) => token.trim());
}

/** The TCP peer's address, IPv4-mapped IPv6 shown as plain IPv4 ("::ffff:10.1.2.3" -> "10.1.2.3"). */
export function peerAddress(req: IncomingMessage): string {
  return socketPeer(req.socket);
}

/**
 * `peerAddress` from the socket itself: forwarding may detach a request from its socket (undici does
 * once it has sent the body), and Node keeps a socket's address once read, even after it closed.
 */
export function socketPeer(socket: Socket): string {
  return unmapped(socket.remoteAddress ?? '');
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * A set of trusted proxy networks (config `trusted_proxies`) for `isTrusted`.
 * @param cidrs addresses or CIDR blocks, already validated
 */
export function trustedProxies(cidrs: readonly string[]): BlockList {
  return addressList(cidrs);
}

/** @returns whether the request's TCP peer is in the trusted list */
export function isTrusted(req: IncomingMessage, list: BlockList): boolean {
  return listed(list, peerAddress(req));
}

/**
 * The address of the client that sent the request, for `allowed_ips` and the token endpoint's
 * failure throttle: the TCP peer; or, when the peer is a trusted proxy, the nearest address in
 * X-Forwarded-For that is not a trusted proxy, read from the right (the entries left of it were
 * written by the client itself and prove nothing). An entry that is not an IP address ends the
 * walk and is returned as is (it matches no `allowed_ips`).
 * @param trusted the trusted proxies, or undefined when none are
 */
export function clientAddress(req: IncomingMessage, trusted: BlockList | undefined): string {
  const peer = peerAddress(req);
  if (!trusted || !listed(trusted, peer)) return peer;
  const inbound = forwardedFor(req);
  if (!inbound) return peer;
  const hops = inbound.split(', ');
  let address = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    address = unmapped(hops[i]!);
    if (!listed(trusted, address)) break;
  }
  return address;
}

// RFC 9110 §5.3: repeated field lines combine, in order, with ", ". Node joins X-Forwarded-For
// lines with ", " already; normalise the separators so the upstream sees one clean list.
function forwardedFor(req: IncomingMessage): string | undefined {
  const value = req.headers[FORWARDED_FOR] as string | undefined;
  if (!value) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(', ');
}

function firstValue(value: string | undefined): string | undefined {
  const first = value?.split(',')[0]?.trim().toLowerCase();
  return first === 'http' || first === 'https' ? first : undefined;
}

/**
 * The scheme a trusted proxy reports in its X-Forwarded-Proto (the first value, the client's side).
 * @returns "http" or "https", or undefined when the header is absent or names something else
 */
export function forwardedProto(req: IncomingMessage): string | undefined {
  return firstValue(req.headers['x-forwarded-proto'] as string | undefined);
}
