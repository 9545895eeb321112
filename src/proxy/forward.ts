/**
 * Forwarding: the only file that imports `undici` and `http-proxy`. Plain requests go upstream through
 * undici's dispatcher (a keep-alive `Pool` per upstream origin); http-proxy 1.18.1 relays WebSocket
 * upgrades. Why (README "Design notes"): for plain requests every piece of http-proxy was either
 * replaced by glue or unused, and node:http's client (`http.request`, its Agent, a ClientRequest and an
 * IncomingMessage stream per request) cost more CPU than the sidecar's own checks; undici's dispatcher
 * hands the answer to one handler object, the exchange below, with no stream or event in between.
 * What the glue fixed stays fixed here:
 * - the upstream request target is the exact path authorised, never re-joined (B25);
 * - a chunked DELETE/OPTIONS body keeps its framing, re-chunked by undici; a bodiless POST says
 *   Content-Length: 0 (B16);
 * - the upstream request is aborted when the client's response closes unfinished, and a client gone
 *   before forwarding starts is not forwarded at all (B17);
 * - an upstream silent for the collection's timeout is a 504, or a cut connection mid-body (B19);
 * - headers are rewritten before sending, with `Expect` handled by the server (B13);
 * - responses are written without hop-by-hop headers (B14), and an error after the response
 *   started destroys the connection instead of appending a 502 to it (B18); a refused WebSocket
 *   handshake is relayed without hop-by-hop headers, and a failed one gets a 502 JSON answer.
 */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type httpProxy from 'http-proxy';
import { buildConnector, Pool, type Dispatcher } from 'undici';
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

/**
 * Idle connections to an upstream are closed after this long (ms) when the upstream announces no
 * keep-alive time: under Node's default 5 s keep-alive, so a reused connection never races the
 * upstream's close. An upstream that announces `Keep-Alive: timeout=N` (RFC 9112 §9.3) has its
 * connections kept N s less `UPSTREAM_IDLE_MARGIN_MS`, up to `UPSTREAM_IDLE_MAX_MS`; an announced
 * time within the margin closes the connection after the answer.
 */
export const UPSTREAM_IDLE_MS = 4000;

/** How much sooner than the upstream's announced keep-alive time an idle connection is closed, ms. */
export const UPSTREAM_IDLE_MARGIN_MS = 2000;

/** The longest an idle upstream connection is kept, ms, whatever keep-alive time the upstream announces. */
export const UPSTREAM_IDLE_MAX_MS = 60_000;

const require = createRequire(import.meta.url);
// Before common.js is required below: it too keeps util._extend when it loads.
const HttpProxy = loadHttpProxy();

// B25: http-proxy joins target and request paths with a join that collapses "//" and turns
// "http:/" into "http://". We hand it the exact path (toProxy, prependPath false), so the join
// must return that path unchanged.
const common = require('http-proxy/lib/http-proxy/common.js') as { urlJoin: (...parts: string[]) => string };
common.urlJoin = (...parts: string[]) => parts.join('');

/**
 * Loads http-proxy 1.18.1, which keeps the `util._extend` it finds when it loads. Node 22 and later
 * deprecate that function (DEP0060) and warn at its first call: in the image, the first WebSocket
 * upgrade printed a plain-text DeprecationWarning to stderr, among the JSON log lines. So
 * `util._extend` is `Object.assign` while http-proxy loads, then is put back. Both copy a plain
 * object's own enumerable properties, the only objects http-proxy passes it (options and request
 * headers); `_extend` copied them last to first, so a handshake's header fields now reach the
 * upstream in the order `prepareUpstreamHeaders` left them rather than reversed.
 */
function loadHttpProxy(): typeof httpProxy {
  const util = require('node:util') as { _extend: unknown };
  const extend = util._extend;
  util._extend = Object.assign;
  try {
    return require('http-proxy') as typeof httpProxy;
  } finally {
    util._extend = extend;
  }
}

/** One WebSocket handshake, until the upstream answers it. */
interface Handshake {
  timeoutMs: number;
  timedOut: boolean;
}

// http-proxy hands its per-call options to the `proxyReqWs` listener: the handshake rides there.
type HandshakeOptions = httpProxy.ServerOptions & { handshake: Handshake };

/** An upstream origin: its connection pool, and the TLS server name its requests carry. */
interface Upstream {
  pool: Pool;
  servername: string;
}

/** Forwards authorised requests and WebSocket upgrades to upstreams over keep-alive connections. */
export class Forwarder {
  readonly #proxy: httpProxy;
  /** one pool per upstream origin, shared by every config that names it */
  readonly #pools = new Map<string, Pool>();
  /** per upstream URL of a config: a WHATWG URL computes each field in a getter */
  readonly #upstreams = new WeakMap<URL, Upstream>();

  constructor() {
    this.#proxy = HttpProxy.createProxyServer({ toProxy: true, prependPath: false, xfwd: false });
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
    const exchange = new Exchange(res, target.timeoutMs, done);
    // B17: the client left while its request was being authorised (a token store may answer
    // asynchronously): its response closed before we could listen for that, so nothing is forwarded.
    if (res.destroyed) return exchange.finish({ status: 0, error: 'client_closed', bytes: 0 });
    // The listener shared by every exchange finds its exchange on the response: no closure per request.
    (res as ExchangeHolder)[EXCHANGE] = exchange;
    res.on('close', onResponseClose); // emitted once per response: no once() wrapper per request
    watched.add(exchange);
    sweeper ??= setInterval(sweep, SWEEP_MS).unref();
    const { pool, servername } = this.#upstream(target.upstream);
    const headers = req.headers;
    // undici frames a body of unknown length itself and refuses the field from callers; it skips
    // undefined values, so the object `prepareUpstreamHeaders` made goes as it is, with no second pass.
    if (headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = undefined;
    pool.dispatch(
      {
        path: target.path,
        method: req.method!, // always set on a server's requests
        headers,
        // Node's parser has already seen the whole of a bodiless request: no stream to relay.
        body: req.complete && req.readableLength === 0 ? null : req,
        servername,
      } as Dispatcher.DispatchOptions, // `servername` is read by undici's Request but missing from its types
      exchange,
    );
  }

  /**
   * Forwards a WebSocket handshake (headers already rewritten with `upgrade` kept). An upstream that
   * fails before answering gets the client a 502, one silent for `timeoutMs` a 504; after that,
   * failures close the client's connection.
   */
  ws(req: IncomingMessage, socket: Socket, head: Buffer, target: ForwardTarget): void {
    req.url = target.path;
    const handshake: Handshake = { timeoutMs: target.timeoutMs, timedOut: false };
    const servername = tlsServerName(target.upstream);
    const options: HandshakeOptions = { target: target.upstream, handshake, ...(servername === undefined ? {} : { ssl: { servername } }) };
    this.#proxy.ws(req, socket, head, options, () => {
      if (socket.bytesWritten > 0) socket.destroy();
      else if (handshake.timedOut) writeRawJson(socket, 504, { message: TIMED_OUT });
      else writeRawJson(socket, 502, { message: UNAVAILABLE });
    });
  }

  /** Closes the upstream connections (at shutdown, once no request is in flight). */
  close(): void {
    for (const pool of this.#pools.values()) pool.destroy().catch(() => {}); // nothing is left to fail
    this.#pools.clear();
    this.#proxy.close();
  }

  #upstream(url: URL): Upstream {
    let upstream = this.#upstreams.get(url);
    if (!upstream) {
      const origin = url.origin;
      let pool = this.#pools.get(origin);
      if (!pool) {
        pool = new Pool(origin, {
          keepAliveTimeout: UPSTREAM_IDLE_MS,
          keepAliveMaxTimeout: UPSTREAM_IDLE_MAX_MS,
          keepAliveTimeoutThreshold: UPSTREAM_IDLE_MARGIN_MS, // undici's default too; set here because README and tests state it
          // timeout_ms is enforced by the idle sweep below, which sees uploads and slow clients too
          headersTimeout: 0,
          bodyTimeout: 0,
          ...(url.protocol === 'https:' ? { connect: tlsConnector(tlsServerName(url)) } : {}),
        });
        this.#pools.set(origin, pool);
      }
      // Every request names the same server: undici would otherwise take it from the forwarded Host
      // and, on an https upstream, close the connection whenever two requests' Hosts differed.
      upstream = { pool, servername: url.hostname };
      this.#upstreams.set(url, upstream);
    }
    return upstream;
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

/**
 * RFC 6125: an https upstream proves the identity in its URL, not the client's Host (which is
 * forwarded, and which Node would otherwise use for SNI and the check); SNI never names an address
 * (RFC 6066 §3), and without one the check is against the address.
 * @returns the server name to send and check: undefined for plain http, "" for an IP address
 */
function tlsServerName(url: URL): string | undefined {
  if (url.protocol !== 'https:') return undefined;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1'); // [::1] -> ::1
  return isIP(hostname) ? '' : hostname;
}

/** undici's TLS connector with the server name fixed to the upstream's (see `tlsServerName`). */
function tlsConnector(servername: string | undefined): buildConnector.connector {
  const connect = buildConnector({});
  return (options, callback) => connect({ ...options, servername: servername || undefined }, callback);
}

const EXCHANGE = Symbol('exchange');
/** A client response carrying its exchange, for the shared listeners below. */
type ExchangeHolder = { [EXCHANGE]?: Exchange };

/**
 * One forwarded request, from `web()` until the client's response finished or closed. It is its own
 * undici dispatch handler (RFC 9110 §7.6: the upstream's answer relayed without hop-by-hop fields).
 */
class Exchange implements Dispatcher.DispatchHandler {
  /** undici's abort of the upstream request, once it is being sent */
  #abort: ((err?: Error) => void) | undefined = undefined;
  /** undici's resume of a paused upstream body (backpressure from the client) */
  #resume: (() => void) | undefined = undefined;
  /** the 'drain' listener is on the response */
  #listening = false;
  /** the last write went over the response's high-water mark and its 'drain' has not come yet */
  #congested = false;
  /** the upstream's answer is wholly relayed (or needs no more bytes): a late undici error is no failure */
  #answered = false;
  /** for the idle sweep: a count of upstream events, its value when last seen, and since when (ms) */
  progress = 0;
  seen = -1;
  quietSince = performance.now();
  timedOut = false;
  #finished = false;
  bytes = 0;
  #upstreamStatus: number | undefined = undefined;

  constructor(
    readonly res: ServerResponse,
    readonly timeoutMs: number,
    readonly done: (outcome: ForwardOutcome) => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    // The client left, or the sweep answered 504, while the upstream connection was being made: the
    // request is not sent. (Reached when a TLS handshake ends after that; tests cannot make a trusted
    // one in-process on Node 20, so the 504 test's handshake never ends.)
    /* c8 ignore next */
    if (this.#finished) return abort(new Error(CLIENT_CLOSED));
    this.#abort = abort;
    this.progress++;
  }

  onBodySent(): void {
    this.progress++;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.progress++;
    const lines = new Array<string>(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) lines[i] = rawHeaders[i]!.toString('latin1');
    if (statusCode < 200) {
      relayInformational(this.res, statusCode, lines);
      return true;
    }
    this.#upstreamStatus = statusCode;
    this.#resume = resume;
    const res = this.res;
    // undici decodes the reason phrase as UTF-8; Node writes it as latin1: give back the bytes.
    const reason = ASCII_TEXT.test(statusText) ? statusText : Buffer.from(statusText).toString('latin1');
    res.writeHead(statusCode, reason, responseHeaderLines(lines));
    // RFC 9110 §6.4.1: a 204 or 304 ends at its head. undici would still match a 304's Content-Length
    // (the representation's, §8.6) against its empty body and fail it: the client has it all already.
    if (statusCode === 204 || statusCode === 304) {
      this.#answered = true;
      watched.delete(this);
      res.end();
    }
    return true;
  }

  /**
   * Backpressure, one chunk late: Node's `write()` says false for any chunk over the response's
   * high-water mark (16 KiB), even one the socket then takes whole when the write is flushed at the
   * next tick. Pausing on that paused and resumed undici on every large answer (an empty body
   * callback, an empty write and two epoll_ctl calls each time). So a refused write only marks the
   * response congested; the upstream body pauses when the next chunk arrives before its 'drain'.
   * A slow client holds at most the high-water mark and two chunks (socket reads of up to 64 KiB).
   */
  onData(chunk: Buffer): boolean {
    this.progress++;
    this.bytes += chunk.length;
    const congested = this.#congested;
    if (!this.res.write(chunk)) {
      this.#congested = true;
      if (!this.#listening) {
        this.#listening = true;
        this.res.on('drain', onDrain);
      }
    }
    return !congested; // false: undici pauses the upstream body until `drained()`
  }

  /** The client's socket has taken what it was sent: undici resumes the upstream body if it paused it (else a no-op). */
  drained(): void {
    this.#congested = false;
    this.#resume?.();
  }

  /** The upstream has said everything (the client may still be reading): its connection may serve another request now. */
  onComplete(): void {
    this.#answered = true;
    watched.delete(this);
    this.res.end();
  }

  /** The upstream request failed (refused, reset, cut mid-body, timed out by the sweep): 502 or 504, or a cut connection. */
  onError(err: Error): void {
    // Aborted by us once the exchange was over, or failed after its whole answer was relayed.
    if (this.#finished || this.#answered) return;
    const res = this.res;
    const code = (err as NodeJS.ErrnoException).code;
    const timedOut = this.timedOut || code === 'UND_ERR_CONNECT_TIMEOUT';
    const error = timedOut ? 'upstream_timeout' : 'upstream_error';
    const detail = code ?? err.message;
    if (res.headersSent || res.destroyed) {
      // Too late for a status: cut the connection so the client sees a truncated response (B18, B19).
      this.finish({ status: res.statusCode, error, detail, bytes: this.bytes });
      res.destroy();
      return;
    }
    const status = timedOut ? 504 : 502;
    this.finish({ status, error, detail, bytes: 0 });
    // A head that Node refused to write (undici aborts the request when onHeaders throws) left its reason behind.
    res.statusMessage = '';
    try {
      sendMessage(res, status, timedOut ? TIMED_OUT : UNAVAILABLE);
      /* c8 ignore start - nothing known makes the JSON answer throw; a client must never be left waiting */
    } catch {
      res.destroy();
    }
    /* c8 ignore stop */
  }

  /** Times the exchange out (the sweep): the upstream request is aborted, or answered 504 before it is sent. */
  timeOut(): void {
    this.timedOut = true;
    if (this.#abort) this.#abort(new Error(TIMED_OUT));
    else this.onError(new Error(TIMED_OUT));
  }

  /** The client's response closed unfinished (B17): tear the upstream exchange down. */
  cancel(outcome: ForwardOutcome): void {
    this.finish(outcome);
    this.#abort?.(new Error(CLIENT_CLOSED)); // not sent yet: onConnect aborts it
  }

  /** Reports the outcome once (the error handler and the close listener may both see the end). */
  finish(outcome: ForwardOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    watched.delete(this);
    outcome.upstreamStatus = this.#upstreamStatus;
    this.done(outcome);
  }
}

const ASCII_TEXT = /^[\t\x20-\x7e]*$/;

/**
 * RFC 9110 §15.2: a proxy forwards 1xx answers it did not ask for, but never to an HTTP/1.0 client. Node
 * writes 103 Early Hints (RFC 8297) only; 100 never reaches here (the sidecar answers Expect itself and
 * undici refuses an unasked 100), 101 only on upgrades, and 102 is obsolete (RFC 9110 §15.2): dropped.
 */
function relayInformational(res: ServerResponse, statusCode: number, lines: string[]): void {
  if (statusCode !== 103 || res.req.httpVersionMinor === 0 || res.headersSent) return;
  const hints: Record<string, string | string[]> = {};
  lines = responseHeaderLines(lines);
  for (let i = 0; i < lines.length; i += 2) {
    const name = lines[i]!.toLowerCase();
    const value = lines[i + 1]!;
    const had = hints[name];
    hints[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  try {
    res.writeEarlyHints(hints); // writes nothing without a Link field
  } catch {
    // a Link value Node will not write: the hints are only hints
  }
}

function onDrain(this: ServerResponse): void {
  (this as ExchangeHolder)[EXCHANGE]!.drained();
}

/**
 * The client's response closed: after it finished (the exchange is complete), or before (B17: the
 * client went away, or the upstream broke or timed out, which `onError` has already reported).
 */
function onResponseClose(this: ServerResponse): void {
  const exchange = (this as ExchangeHolder)[EXCHANGE]!;
  if (this.writableFinished) return exchange.finish({ status: this.statusCode, bytes: exchange.bytes });
  exchange.cancel({ status: this.headersSent ? this.statusCode : 0, error: 'client_closed', bytes: exchange.bytes });
}

/**
 * B19 for forwarded requests: an exchange whose upstream request makes no progress (connected, a body
 * chunk sent, the answer's head or a body chunk received) for the collection's `timeout_ms`, counted
 * from the request so that a connect that never completes counts, is timed out: 504, or cut mid-body.
 * A client too slow to take the answer stops the upstream body too (backpressure): that is not the
 * upstream's silence, and its clock restarts. One sweep every SWEEP_MS checks all of them, so a
 * timeout fires up to SWEEP_MS late; a timer per request costs a Timeout object on every request.
 * Once the upstream has sent its whole answer the exchange leaves the sweep.
 */
export const SWEEP_MS = 100;
const watched = new InFlight<Exchange>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const exchange of watched) {
    if (exchange.progress !== exchange.seen || exchange.res.writableNeedDrain) {
      exchange.seen = exchange.progress;
      exchange.quietSince = now;
    } else if (now - exchange.quietSince >= exchange.timeoutMs) {
      watched.delete(exchange);
      exchange.timeOut();
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
const CLIENT_CLOSED = 'the client closed its connection';
