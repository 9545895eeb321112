/**
 * Forwarding, the only file that imports `http-proxy`. Plain requests go upstream over node:http
 * directly; http-proxy 1.18.1 relays WebSocket upgrades. Why (README "Design notes"): for plain
 * requests every piece of http-proxy was either replaced by glue or unused (its path join, its
 * DELETE/OPTIONS length rewrite, its response writing, its timeout), and what was left, its per
 * request option copies, header copy and listeners, cost more CPU than the bearer check itself:
 * measured, a bare node:http forwarder needs ~16% less CPU per request than bare http-proxy.
 * What the glue fixed stays fixed here:
 * - the upstream request target is the exact path authorised, never re-joined (B25);
 * - a chunked DELETE/OPTIONS body keeps its framing; a bodiless POST says Content-Length: 0 (B16);
 * - the upstream request is destroyed when the client's response closes unfinished, and a client
 *   gone before forwarding starts is not forwarded at all (B17);
 * - an upstream silent for the collection's timeout is a 504, or a cut connection mid-body (B19);
 * - headers are rewritten before sending, with `Expect` handled by the server (B13);
 * - responses are written without hop-by-hop headers (B14), and an error after the response
 *   started destroys the connection instead of appending a 502 to it (B18); a refused WebSocket
 *   handshake is relayed without hop-by-hop headers, and a failed one gets a 502 JSON answer.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import httpProxy from 'http-proxy';
import { InFlight } from '../in-flight.js';
import { sendMessage, writeRawJson } from '../respond.js';
import { closeDelimitedHeaders, responseHeaderLines } from './headers.js';

/** Where one request goes. */
export interface ForwardTarget {
  /** the upstream origin (its path is ignored; see `path`) */
  upstream: URL;
  /** the exact upstream request target: path and query */
  path: string;
  /** upstream idle timeout in ms; no bytes from the upstream for this long -> 504 */
  timeoutMs: number;
}

/** How a forwarded exchange ended, for the access log. */
export interface ForwardOutcome {
  /** status sent to the client (0 if the connection was closed before one was sent) */
  status: number;
  /** upstream status, if the upstream answered */
  upstreamStatus?: number;
  /** 'upstream_error' (502), 'upstream_timeout' (504 or cut mid-body), 'client_closed' */
  error?: 'upstream_error' | 'upstream_timeout' | 'client_closed';
  detail?: string;
  /** response body bytes relayed to the client */
  bytes: number;
}

/** Idle sockets to an upstream are closed after this long (ms): under Node's default 5 s keep-alive, so a reused socket never races the upstream's close. */
export const UPSTREAM_IDLE_MS = 4000;

// B25: http-proxy joins target and request paths with a join that collapses "//" and turns
// "http:/" into "http://". We hand it the exact path (toProxy, prependPath false), so the join
// must return that path unchanged.
const require = createRequire(import.meta.url);
const common = require('http-proxy/lib/http-proxy/common.js') as { urlJoin: (...parts: string[]) => string };
common.urlJoin = (...parts: string[]) => parts.join('');

/** One forwarded request, from `web()` until the client's response finished or closed. */
interface Exchange {
  target: ForwardTarget;
  res: ServerResponse;
  done: (outcome: ForwardOutcome) => void;
  proxyReq: http.ClientRequest | undefined;
  timedOut: boolean;
  /** for the idle sweep: the upstream socket's bytes read + written when last seen (-1: no socket yet), and since when (ms) */
  io: number;
  quietSince: number;
  upstreamBroke: boolean;
  finished: boolean;
  bytes: number;
  upstreamStatus: number | undefined;
}

/** One WebSocket handshake, until the upstream answers it. */
interface Handshake {
  timeoutMs: number;
  timedOut: boolean;
}

// http-proxy hands its per-call options to the `proxyReqWs` listener: the handshake rides there.
type HandshakeOptions = httpProxy.ServerOptions & { handshake: Handshake };

/** Forwards authorised requests and WebSocket upgrades to upstreams over keep-alive connections. */
export class Forwarder {
  readonly #proxy: httpProxy;
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS }),
    'https:': new https.Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS }),
  };

  constructor() {
    this.#proxy = httpProxy.createProxyServer({ toProxy: true, prependPath: false, xfwd: false });
    this.#proxy.on('proxyReqWs', (proxyReq, _req, _socket, options) =>
      this.#onProxyReqWs(proxyReq, (options as HandshakeOptions).handshake),
    );
  }

  /**
   * Forwards a request whose headers `prepareUpstreamHeaders` has already rewritten, to
   * `target.upstream` + `target.path` exactly, and relays the answer.
   * @param done called once with the outcome, after the client's response finished or closed
   */
  web(req: IncomingMessage, res: ServerResponse, target: ForwardTarget, done: (outcome: ForwardOutcome) => void): void {
    const exchange: Exchange = {
      target,
      res,
      done,
      proxyReq: undefined,
      timedOut: false,
      io: -1,
      quietSince: performance.now(),
      upstreamBroke: false,
      finished: false,
      bytes: 0,
      upstreamStatus: undefined,
    };
    // B17: the client left while its request was being authorised (a token store may answer
    // asynchronously): its response closed before we could listen for that, so nothing is forwarded.
    if (res.destroyed) return finish(exchange, { status: 0, error: 'client_closed', bytes: 0 });
    const upstream = target.upstream;
    const secure = upstream.protocol === 'https:';
    const proxyReq = (secure ? https.request : http.request)({
      agent: this.#agents[secure ? 'https:' : 'http:'],
      ...plainTarget(upstream),
      method: req.method,
      path: target.path,
      headers: req.headers,
    });
    exchange.proxyReq = proxyReq;
    // Listeners shared by every exchange find theirs on the emitter: no closures per request.
    (res as ExchangeHolder)[EXCHANGE] = exchange;
    (proxyReq as ExchangeHolder)[EXCHANGE] = exchange;
    res.once('close', onResponseClose);
    proxyReq.on('error', onUpstreamError);
    proxyReq.once('response', onProxyRes);
    watched.add(exchange);
    sweeper ??= setInterval(sweep, SWEEP_MS).unref();
    // Node's parser has already seen the whole of a bodiless request: no pipe to set up and tear down.
    if (req.complete && req.readableLength === 0) proxyReq.end();
    else req.pipe(proxyReq);
  }

  /**
   * Forwards a WebSocket handshake (headers already rewritten with `upgrade` kept). An upstream that
   * fails before answering gets the client a 502, one silent for `timeoutMs` a 504; after that,
   * failures close the client's connection.
   */
  ws(req: IncomingMessage, socket: Socket, head: Buffer, target: ForwardTarget): void {
    req.url = target.path;
    const handshake: Handshake = { timeoutMs: target.timeoutMs, timedOut: false };
    const { servername } = plainTarget(target.upstream);
    const options: HandshakeOptions = { target: target.upstream, handshake, ...(servername === undefined ? {} : { ssl: { servername } }) };
    this.#proxy.ws(req, socket, head, options, () => {
      if (socket.bytesWritten > 0) socket.destroy();
      else if (handshake.timedOut) writeRawJson(socket, 504, { message: TIMED_OUT });
      else writeRawJson(socket, 502, { message: UNAVAILABLE });
    });
  }

  /** Closes idle upstream connections (at shutdown). */
  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
    this.#proxy.close();
  }

  #onProxyReqWs(proxyReq: http.ClientRequest, handshake: Handshake): void {
    // The handshake's answer is due within timeoutMs; http-proxy clears the timer on the upgraded
    // socket, since a WebSocket may rightly stay silent for long.
    proxyReq.setTimeout(handshake.timeoutMs, () => {
      handshake.timedOut = true;
      proxyReq.destroy(new Error(TIMED_OUT));
    });
    // B14: a refused handshake (no 101) is relayed by http-proxy's own 'response' listener, which
    // runs after this one: its headers are cleaned first.
    proxyReq.once('response', (proxyRes: IncomingMessage) => closeDelimitedHeaders(proxyRes.headers));
  }
}

const EXCHANGE = Symbol('exchange');
/** A client response or upstream request or response carrying its exchange, for the shared listeners below. */
type ExchangeHolder = { [EXCHANGE]?: Exchange };

/** The upstream answered: relay its status and headers without hop-by-hop fields (B14), then its body. */
function onProxyRes(this: http.ClientRequest, proxyRes: IncomingMessage): void {
  const exchange = (this as ExchangeHolder)[EXCHANGE]!;
  const res = exchange.res;
  exchange.upstreamStatus = proxyRes.statusCode;
  // statusCode is set on every response a client request receives.
  res.writeHead(proxyRes.statusCode!, proxyRes.statusMessage, responseHeaderLines(proxyRes.rawHeaders));
  (proxyRes as ExchangeHolder)[EXCHANGE] = exchange;
  proxyRes.on('data', countBytes);
  proxyRes.once('end', upstreamEnded);
  // B18: the upstream died mid-body: end the client's connection short of the declared length.
  proxyRes.once('error', upstreamBroke);
  proxyRes.once('aborted', upstreamBroke);
  proxyRes.pipe(res);
}

function countBytes(this: IncomingMessage, chunk: Buffer): void {
  (this as ExchangeHolder)[EXCHANGE]!.bytes += chunk.length;
}

/** The upstream has said everything (the client may still be reading): its socket may serve another request now. */
function upstreamEnded(this: IncomingMessage): void {
  watched.delete((this as ExchangeHolder)[EXCHANGE]!);
}

function upstreamBroke(this: IncomingMessage): void {
  const exchange = (this as ExchangeHolder)[EXCHANGE]!;
  exchange.upstreamBroke = true;
  exchange.res.destroy();
}

/** The upstream request failed (refused, reset, timed out by the sweep): 502 or 504, or a cut connection. */
function onUpstreamError(this: http.ClientRequest, err: Error): void {
  const exchange = (this as ExchangeHolder)[EXCHANGE]!;
  const res = exchange.res;
  const error = exchange.timedOut ? 'upstream_timeout' : 'upstream_error';
  const detail = (err as NodeJS.ErrnoException).code ?? err.message;
  if (res.headersSent || res.destroyed) {
    // Too late for a status: cut the connection so the client sees a truncated response (B18, B19).
    res.destroy();
    finish(exchange, { status: res.statusCode, error, detail, bytes: exchange.bytes });
    return;
  }
  const status = exchange.timedOut ? 504 : 502;
  sendMessage(res, status, exchange.timedOut ? TIMED_OUT : UNAVAILABLE);
  finish(exchange, { status, error, detail, bytes: 0 });
}

/**
 * The client's response closed: after it finished (the exchange is complete), or before (B17: the
 * client went away, or the upstream broke or timed out: tear the upstream exchange down).
 */
function onResponseClose(this: ServerResponse): void {
  const exchange = (this as ExchangeHolder)[EXCHANGE]!;
  if (this.writableFinished) return finish(exchange, { status: this.statusCode, bytes: exchange.bytes });
  exchange.proxyReq!.destroy();
  const error = exchange.timedOut ? 'upstream_timeout' : exchange.upstreamBroke ? 'upstream_error' : 'client_closed';
  finish(exchange, { status: this.headersSent ? this.statusCode : 0, error, bytes: exchange.bytes });
}

/** Reports the outcome once (the error listener and the close listener may both see the end). */
function finish(exchange: Exchange, outcome: ForwardOutcome): void {
  if (exchange.finished) return;
  exchange.finished = true;
  watched.delete(exchange);
  outcome.upstreamStatus = exchange.upstreamStatus;
  exchange.done(outcome);
}

// The request options of an upstream, made once per upstream URL: a WHATWG URL computes each field in a getter.
const plainTargets = new WeakMap<URL, PlainTarget>();
type PlainTarget = { protocol: string; hostname: string; port: string; servername?: string };
function plainTarget(url: URL): PlainTarget {
  let plain = plainTargets.get(url);
  if (!plain) {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1'); // [::1] -> ::1: node:http takes the bare address
    plain = { protocol: url.protocol, hostname, port: url.port };
    // RFC 6125: an https upstream proves the identity in its URL, not the client's Host (which is
    // forwarded, and which Node would otherwise use for SNI and the check); SNI never names an
    // address (RFC 6066 §3), and without one the check is against the address.
    if (url.protocol === 'https:') plain.servername = isIP(hostname) ? '' : hostname;
    plainTargets.set(url, plain);
  }
  return plain;
}

/**
 * B19 for forwarded requests: an exchange whose upstream socket moves no byte either way for the
 * collection's `timeout_ms` (counted from the request, so a connect that never completes counts) is
 * timed out: 504, or cut mid-body. A client too slow to take the answer stops the upstream socket
 * too (backpressure): that is not the upstream's silence, and its clock restarts. One sweep every
 * SWEEP_MS checks all of them, so a timeout fires up to SWEEP_MS late; a timer per request (what
 * `setTimeout` on the request does) costs a Timeout object and listeners on every request and showed
 * in the bench. Once the upstream has sent its whole answer the exchange leaves the sweep.
 */
export const SWEEP_MS = 100;
const watched = new InFlight<Exchange>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const exchange of watched) {
    const proxyReq = exchange.proxyReq!; // set before the exchange is watched
    const socket = proxyReq.socket;
    /* c8 ignore next - the socket is assigned on the tick after the request, before any sweep; only an agent that queues requests (maxSockets) could leave it unset */
    const io = socket ? socket.bytesRead + socket.bytesWritten : -1;
    if (io !== exchange.io || exchange.res.writableNeedDrain) {
      exchange.io = io;
      exchange.quietSince = now;
    } else if (now - exchange.quietSince >= exchange.target.timeoutMs) {
      watched.delete(exchange);
      exchange.timedOut = true;
      proxyReq.destroy(new Error(TIMED_OUT));
    }
  }
  if (watched.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

// RFC 9110 §15.6.3 / §15.6.5: the bodies of 502 and 504, without internal addresses or codes.
const UNAVAILABLE = 'upstream unavailable';
const TIMED_OUT = 'upstream timed out';
