/**
 * The composition root: one HTTP server whose requests are either the token endpoint or protected
 * traffic (route -> bearer check -> forward). It wires config, oauth and proxy; it does not decide.
 */
import http, { ServerResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo, BlockList, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { addressList, listed } from './addresses.js';
import { InFlight } from './in-flight.js';
import type { AccessPolicy, AccessProfile, Config, Domain } from './config/schema.js';
import { Metrics } from './admin/metrics.js';
import { flushLogger, type Logger } from './log.js';
import { checkBearer, queryTokenError, type BearerResult } from './oauth/bearer.js';
import { StoreUnavailableError } from './oauth/errors.js';
import { JWKS_PATH, JwtTokenStore } from './oauth/jwt-tokens.js';
import { buildClientRegistry, type ClientRegistry } from './oauth/client-auth.js';
import { handleIntrospectionRequest, INTROSPECTION_PATH } from './oauth/introspection.js';
import { issuerOf, resourceMetadataUrl, resourcePath } from './oauth/issuer.js';
import { handleMetadataRequest, isMetadataPath } from './oauth/metadata.js';
import { FailureThrottle } from './oauth/client-throttle.js';
import { bearerChallenge } from './oauth/respond.js';
import { handleRevocationRequest, REVOCATION_PATH } from './oauth/revocation.js';
import { SecretVerifier } from './oauth/secret-hash.js';
import { handleTokenRequest, TOKEN_PATH } from './oauth/token-endpoint.js';
import { MemoryTokenStore, type Clock, type TokenStore } from './oauth/tokens.js';
import { Forwarder, type ForwardOutcome } from './proxy/forward.js';
import { MemoryCounterStore, type CounterStore, type WallClock } from './policy/counters.js';
import { checkPolicy } from './policy/limits.js';
import {
  clientAddress,
  forwardedProto,
  isTrusted,
  prepareUpstreamHeaders,
  socketPeer,
  trustedProxies,
  type Identity,
} from './proxy/headers.js';
import { normaliseTarget } from './proxy/path.js';
import { hostName, RouteTable, type Route } from './proxy/routes.js';
import { sendJson, sendMessage, writeRawJson } from './respond.js';

/** Everything derived from one config; replaced as a whole, never edited. */
interface State {
  config: Config;
  routes: RouteTable;
  registry: ClientRegistry;
  profiles: ReadonlyMap<string, AccessProfile>;
  /** undefined when no proxy is trusted: the common case skips the address check */
  trusted: BlockList | undefined;
  policies: ReadonlyMap<string, AccessPolicy>;
  /** `allowed_ips` by access profile name, for profiles that have it */
  allowed: ReadonlyMap<string, BlockList>;
}

/** Options of a sidecar instance. */
export interface SidecarOptions {
  config: Config;
  log: Logger;
  /** monotonic clock in ms for token expiry (tests inject one) */
  now?: Clock;
  /** token store; default an in-memory store of `config.tokens.max_active` */
  store?: TokenStore;
  /** hashed-secret verifier; default one with 2 concurrent hashes */
  verifier?: SecretVerifier;
  /** how long a client may take to send its request headers, ms (default 20000; slowloris) */
  headersTimeoutMs?: number;
  /** how long a client may take to send a token-request body, ms (default BODY_TIMEOUT_MS, 10000) */
  tokenBodyTimeoutMs?: number;
  /** wall clock, epoch ms (previous_not_after; the default counter store's windows) */
  wallClock?: WallClock;
  /** access-policy and failure counters; default an in-memory store on `wallClock` */
  counters?: CounterStore;
}

// Clients behind load balancers keep connections idle for 60 s; outlast them so the LB never sends
// on a socket we are closing. Uploads may run for hours: no whole-request timeout (B20), only
// headers must arrive in time (slowloris).
const CLIENT_KEEP_ALIVE_MS = 65_000;
const HEADERS_TIMEOUT_MS = 20_000;

/** A running sidecar: the data-plane server, its token store and metrics. */
export class Sidecar {
  readonly server: http.Server;
  readonly store: TokenStore;
  readonly metrics: Metrics;
  readonly #log: Logger;
  readonly #verifier: SecretVerifier;
  readonly #tokenBodyTimeoutMs: number | undefined;
  readonly #wallClock: WallClock;
  readonly #counters: CounterStore;
  readonly #throttle: FailureThrottle;
  readonly #forwarder = new Forwarder();
  readonly #upgraded = new Set<Duplex>();
  /** responses not yet finished or closed: drain() tells their connections to close */
  readonly #responses = new InFlight<ServerResponse>();
  /** a 'close' listener shared by every tracked response (no closure per request) */
  readonly #untrack: (this: ServerResponse) => void;
  /** the token endpoint's answers, counted (one closure for all requests) */
  readonly #tokenAnswered = (error?: string): void => this.metrics.tokenAnswered(error);
  #state: State;
  #listening = false;
  #draining = false;
  #closing = false;

  constructor(opts: SidecarOptions) {
    this.#log = opts.log;
    const responses = this.#responses;
    this.#untrack = function (this: ServerResponse) {
      responses.delete(this);
    };
    this.#state = buildState(opts.config);
    this.store = opts.store ?? new MemoryTokenStore({ maxActive: opts.config.tokens.max_active, now: opts.now, wallClock: opts.wallClock });
    this.#verifier = opts.verifier ?? new SecretVerifier();
    this.#tokenBodyTimeoutMs = opts.tokenBodyTimeoutMs;
    this.metrics = new Metrics(() => this.store.size);
    this.#wallClock = opts.wallClock ?? Date.now;
    this.#counters = opts.counters ?? new MemoryCounterStore({ now: this.#wallClock });
    this.#throttle = new FailureThrottle(
      this.#counters,
      () => this.#state.config.token_endpoint,
      (by) => this.metrics.clientAuthThrottled(by),
    );
    const headersTimeout = opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    this.server = http.createServer({
      requestTimeout: 0,
      headersTimeout,
      keepAliveTimeout: CLIENT_KEEP_ALIVE_MS,
      // Node checks the headers timeout on this period (default 30 s): check often enough to honour it.
      connectionsCheckingInterval: Math.min(1000, Math.ceil(headersTimeout / 4)),
      // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400 by #onRequest, as JSON.
      requireHostHeader: false,
    });
    // Node drops field lines past its default 2000 from `headers` and `rawHeaders`, but still frames
    // the body by them: a Content-Length after line 2000 was forwarded unframed and the body reached
    // the upstream as a second request. Every line counts; their size stays capped at 16 KiB.
    this.server.maxHeadersCount = 0;
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#guard(this.#onRequest(req, res, false), res));
    // RFC 9110 §10.1.1: answer from the headers alone, or forward; 100 is sent only once authorised.
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#guard(this.#onRequest(req, res, true), res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.#onUpgrade(req, socket, head).catch((err: unknown) => this.#internalError(err, socket));
    });
    this.server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
      writeRawJson(socket, 405, { message: 'CONNECT is not supported' }),
    );
    // RFC 9110 §10.1.1: an expectation other than 100-continue gets 417, as JSON like every refusal.
    this.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) =>
      sendMessage(res, 417, 'only Expect: 100-continue is supported', { Connection: 'close' }),
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => onClientError(err, socket));
  }

  /** The current config. */
  get config(): Config {
    return this.#state.config;
  }

  /**
   * Applies a new, already validated config to new requests at once; requests in flight finish on
   * the config they started with. Live tokens keep working while their access profile exists, is
   * enabled and keeps its client_id; their scope narrows to the profile's current collections.
   * `listen`, `admin_listen` and `tokens.max_active` apply at the next start only.
   */
  reload(config: Config): void {
    const before = this.#state.config;
    this.#state = buildState(config);
    // Tokens of a profile that is gone, disabled or now another client are revoked, not just
    // refused: enabling the profile again must not bring them back.
    for (const old of before.access_profiles) {
      const now = this.#state.profiles.get(old.name);
      if (!now || !now.enabled || now.client_id !== old.client_id) {
        this.store
          .revokeProfile(old.name)
          .catch((err: unknown) => this.#log.error({ event: 'revoke_failed', access_profile: old.name, detail: String(err) }));
      }
    }
    const changed = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
    const pending = [
      changed(before.listen, config.listen) && 'listen',
      changed(before.admin_listen, config.admin_listen) && 'admin_listen',
      before.tokens.max_active !== config.tokens.max_active && 'tokens.max_active',
      changed(
        [before.store, before.tokens.format, before.tokens.signing_keys],
        [config.store, config.tokens.format, config.tokens.signing_keys],
      ) && 'store or tokens.format or tokens.signing_keys',
    ].filter(Boolean);
    for (const key of pending) this.#log.warn({ event: 'config_needs_restart', detail: `${key} changed: it applies at the next start` });
  }

  /** Readiness (for /readyz): undefined when ready, else the reason. */
  notReadyBecause(): string | undefined {
    if (this.#draining) return 'draining';
    return this.#listening ? this.store.notReadyBecause?.() : 'not listening';
  }

  /**
   * Listens on `config.listen` (port 0 = any free port).
   * @returns the bound address
   */
  listen(): Promise<AddressInfo> {
    const { host, port } = this.#state.config.listen;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.#listening = true;
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Graceful drain (Kubernetes pod termination): readiness fails at once; new requests are still
   * served for `delayMs` while the endpoints controller takes the pod out of its Services; then the
   * listener closes, in-flight requests (uploads and streamed downloads too) finish, and keep-alive
   * connections close after their current response, which says `Connection: close` unless its
   * headers had already been sent. Whatever is still open after `timeoutMs` more (a hung request, a
   * WebSocket) is closed by force. A sidecar that never listened (its port was taken) only closes its
   * stores, at once and without drain log events.
   * @param delayMs ms to keep serving normally (config `shutdown_delay_ms`)
   * @param timeoutMs ms allowed for in-flight requests (config `shutdown_timeout_ms`)
   * @returns true if everything finished in time, false if connections had to be cut
   */
  async drain(delayMs: number, timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    if (!this.#listening) {
      this.#release();
      return true;
    }
    this.#log.info({ event: 'drain_started', delay_ms: delayMs, timeout_ms: timeoutMs });
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    this.#closing = true; // from now on every response says Connection: close (#onRequest)
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.#log.info({ event: 'listener_closed', in_flight: this.#responses.size, upgraded: this.#upgraded.size });
    // Node keeps a keep-alive connection open after the response of a request that was already
    // running: announce the close on responses not yet started; close the others once they finish.
    for (const res of this.#responses) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
      else res.once('finish', () => this.server.closeIdleConnections());
    }
    this.server.closeIdleConnections();
    let forced = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        forced = true;
        this.server.closeAllConnections();
        for (const socket of this.#upgraded) socket.destroy();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([closed, deadline]);
    clearTimeout(timer);
    this.#release();
    this.#log.info({ event: forced ? 'drain_forced' : 'drain_finished' });
    flushLogger(this.#log);
    return !forced;
  }

  /** Closes the upstream connections, the token store and the policy counters. */
  #release(): void {
    this.#forwarder.close();
    this.store.close();
    this.#counters.close();
  }

  /**
   * Stops at once without a readiness delay (tests, SIGINT).
   * @param timeoutMs after this long (ms) remaining connections are closed
   */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.drain(0, timeoutMs);
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const state = this.#state;
    // Draining: answer, then close this keep-alive connection so the client reconnects elsewhere.
    if (this.#closing) res.setHeader('Connection', 'close');
    else this.#track(res);
    const counts = countHeaders(req.rawHeaders);
    const fault = messageFault(req, counts.host);
    // The body, if any, is not read: close the connection after the answer.
    if (fault) return sendMessage(res, fault.status, fault.message, { Connection: 'close' });
    const domain = state.routes.domainOf(req.headers.host);
    const url = req.url!; // always set on a server's requests
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // RFC 7517 §5: the public keys of JWT access tokens, for upstreams that verify tokens themselves.
    if (domain && path === JWKS_PATH && this.store instanceof JwtTokenStore) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendMessage(res, 405, 'the JWKS accepts GET only', { Allow: 'GET, HEAD' });
      return sendJson(res, 200, this.store.jwks(), { 'Cache-Control': 'public, max-age=300' });
    }
    if (domain && path === TOKEN_PATH) {
      if (expectContinue) res.writeContinue();
      // The JWT `iss` (RFC 9068 §2.2): this domain's issuer (RFC 8414). Opaque tokens name none: not
      // computed for them (it parses a URL per request).
      const issuer = this.store instanceof JwtTokenStore ? this.#issuer(req, domain, state) : undefined;
      const ctx = this.#clientContext(req, state, issuer, this.#tokenAnswered);
      return handleTokenRequest(
        req,
        res,
        { host: requestHost(req), query: q === -1 ? '' : url.slice(q), authorizationCount: counts.authorization },
        ctx,
      );
    }
    if (domain && this.#oauthEndpoint(req, res, domain, path, counts.authorization, expectContinue, state)) return;
    const started = performance.now();
    const decision = await this.#authorise(req, domain, counts.authorization, state);
    if (!decision.ok) {
      // An unread body is not drained: close the connection after the answer.
      if (hasBody(req)) res.setHeader('Connection', 'close');
      sendJson(res, decision.status, decision.body, decision.headers);
      this.#logDenied(req, decision, started);
      return;
    }
    prepareUpstreamHeaders(req, decision.identity, state.trusted !== undefined && isTrusted(req, state.trusted));
    // The access policy's RateLimit-* fields; an upstream's own fields of the same name replace them.
    for (const name in decision.headers) res.setHeader(name, decision.headers[name]!);
    if (expectContinue) res.writeContinue();
    const { route } = decision;
    const target = { upstream: route.collection.upstream, path: route.upstreamPath, timeoutMs: route.collection.timeout_ms };
    const exchange = { req, socket: req.socket, route, identity: decision.identity, path, started, forwardedAt: performance.now() };
    this.#forwarder.web(req, res, target, (outcome) => this.#logForwarded(exchange, outcome));
  }

  /**
   * Answers the discovery documents (RFC 8414, RFC 9728), introspection (RFC 7662) and revocation
   * (RFC 7009) when the path is theirs; these paths are reserved on every domain, like the token endpoint.
   * @returns whether the request was theirs
   */
  #oauthEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    domain: Domain,
    path: string,
    authorizationCount: number,
    expectContinue: boolean,
    state: State,
  ): boolean {
    if (isMetadataPath(path)) {
      handleMetadataRequest(req, res, path, domain, state.config, this.#issuer(req, domain, state), domain.issuer === undefined);
      return true;
    }
    const handler =
      path === INTROSPECTION_PATH ? handleIntrospectionRequest : path === REVOCATION_PATH ? handleRevocationRequest : undefined;
    if (!handler) return false;
    if (expectContinue) res.writeContinue();
    const url = req.url!;
    const info = {
      host: requestHost(req),
      query: url.slice(path.length),
      authorizationCount,
      issuer: this.#issuer(req, domain, state),
    };
    this.#guard(handler(req, res, info, this.#clientContext(req, state, undefined, undefined)), res);
    return true;
  }

  /**
   * The context of the token, introspection and revocation endpoints: the client registry, the secret
   * verifier, the store, and the failure throttle and `allowed_ips` address of this request.
   * One object literal with every field, never a spread copy with fields added: V8 missed its
   * inline caches on such a copy at every request (node --log-ic: 9 misses per token request).
   * @param issuer the token endpoint's JWT `iss` (undefined for opaque tokens and the other endpoints)
   * @param onAnswered the token endpoint's metric (undefined for the other endpoints)
   */
  #clientContext(req: IncomingMessage, state: State, issuer: string | undefined, onAnswered: ((error?: string) => void) | undefined) {
    return {
      config: state.config,
      registry: state.registry,
      store: this.store,
      verifier: this.#verifier,
      log: this.#log,
      bodyTimeoutMs: this.#tokenBodyTimeoutMs,
      guard: { address: clientAddress(req, state.trusted), throttle: this.#throttle, now: this.#wallClock },
      profiles: state.profiles,
      issuer,
      onAnswered,
    };
  }

  /** The domain's issuer as this request reached it (RFC 8414 §2): X-Forwarded-Proto counts from a trusted proxy only. */
  #issuer(req: IncomingMessage, domain: Domain, state: State): string | undefined {
    const trusted = state.trusted !== undefined && isTrusted(req, state.trusted);
    return issuerOf(domain, req.headers.host, trusted ? forwardedProto(req) : undefined);
  }

  /** The `resource_metadata` URL of a route's collection for its challenges (RFC 9728 §5.1). */
  #resourceMetadata(req: IncomingMessage, route: Route, state: State): string | undefined {
    const issuer = this.#issuer(req, route.domain, state);
    return issuer === undefined ? undefined : resourceMetadataUrl(issuer, resourcePath(route.domain, route.collection));
  }

  /** Tracks a response until it is done, for drain(). */
  #track(res: ServerResponse): void {
    this.#responses.add(res);
    res.on('close', this.#untrack); // a response closes once (Node guards it): no once() wrapper per request
  }

  async #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      // RFC 9110 §7.8: a server may ignore Upgrade (h2c from `curl --http2`) and answer in HTTP/1.1.
      // Node has detached its parser from this socket, so only a request without a body can still
      // be answered here; the connection closes after the answer.
      if (hasBody(req) || head.length > 0) {
        writeRawJson(socket, 400, { message: 'only WebSocket upgrades are supported' });
        return;
      }
      const res = new ServerResponse(req);
      res.assignSocket(socket);
      res.shouldKeepAlive = false;
      res.once('finish', () => socket.end());
      return this.#onRequest(req, res, false);
    }
    const state = this.#state;
    const counts = countHeaders(req.rawHeaders);
    const fault = messageFault(req, counts.host);
    const decision = fault
      ? refusal(fault.status, fault.message)
      : await this.#authorise(req, state.routes.domainOf(req.headers.host), counts.authorization, state);
    if (!decision.ok) {
      writeRawJson(socket, decision.status, decision.body, decision.headers);
      this.#logDenied(req, decision, performance.now());
      return;
    }
    prepareUpstreamHeaders(req, decision.identity, state.trusted !== undefined && isTrusted(req, state.trusted), true);
    this.#upgraded.add(socket);
    socket.once('close', () => this.#upgraded.delete(socket));
    const { route } = decision;
    this.#forwarder.ws(req, socket, head, {
      upstream: route.collection.upstream,
      path: route.upstreamPath,
      timeoutMs: route.collection.timeout_ms,
    });
    // Logged when the handshake is handed to the upstream: its own answer (101, 502, 504) follows.
    this.#log.info({
      event: 'upgrade_authorised',
      host: requestHost(req),
      collection: route.collection.name,
      client_id: decision.identity.client_id,
    });
  }

  /** Route first (404), then the bearer check (RFC 6750 §3.1). `domain` is looked up once, by the caller. */
  async #authorise(req: IncomingMessage, domain: Domain | undefined, authorizationCount: number, state: State): Promise<Decision> {
    if (!domain) return refusal(404, 'no such domain');
    const target = normaliseTarget(req.url!);
    if (target.error !== undefined) return refusal(400, target.error);
    const route = state.routes.match(domain, target.path, target.query);
    if (!route) return refusal(404, 'no API collection at this path');
    const queryError = queryTokenError(target.query);
    if (queryError) {
      return {
        ok: false,
        ...bearerChallenge(state.config.realm, queryError, undefined, this.#resourceMetadata(req, route, state)),
        route,
        error: queryError.code,
      };
    }
    let result: BearerResult;
    try {
      result = await checkBearer(req.headers.authorization, authorizationCount, route.collection.name, this.store, state.profiles);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err; // a bug: 500 by #internalError
      // Fail closed: a token we cannot check is not let through, and not called invalid either.
      return { ...refusal(503, 'the token store is unavailable'), headers: { 'Retry-After': '1' }, route, error: 'store_unavailable' };
    }
    if (!result.ok) {
      const answer = bearerChallenge(state.config.realm, result.error, result.scope, this.#resourceMetadata(req, route, state));
      return { ok: false, ...answer, route, error: result.error?.code ?? 'no_credentials' };
    }
    return this.#admit(req, result.profile, route, state);
  }

  /**
   * After a valid token: the profile's `allowed_ips` (403), then its access policy (429). Requests
   * refused for their address are not counted. Without a policy the decision is returned as it is: a
   * promise returned from `#authorise` would cost the hot path three more microtask turns.
   */
  #admit(req: IncomingMessage, profile: AccessProfile, route: Route, state: State): Decision | Promise<Decision> {
    const allowed = state.allowed.get(profile.name);
    if (allowed && !listed(allowed, clientAddress(req, state.trusted))) {
      return { ...refusal(403, 'source address not allowed for this access profile'), route, error: 'address_not_allowed' };
    }
    const identity = { client_id: profile.client_id, access_profile: profile.name };
    const policy = profile.policy === undefined ? undefined : state.policies.get(profile.policy);
    if (!policy) return { ok: true, route, identity, headers: NO_HEADERS };
    return this.#applyPolicy(profile, policy, route, identity);
  }

  /** The access policy's verdict (429 when over a limit), from the shared counters. */
  async #applyPolicy(profile: AccessProfile, policy: AccessPolicy, route: Route, identity: Identity): Promise<Decision> {
    const verdict = await checkPolicy(this.#counters, profile.name, policy);
    if (verdict.allowed) return { ok: true, route, identity, headers: verdict.headers };
    this.metrics.requestLimited(policy.name, verdict.limit);
    return {
      ok: false,
      status: 429,
      body: { message: verdict.message },
      headers: verdict.headers,
      route,
      error: `${verdict.limit}_exceeded`,
    };
  }

  #logDenied(req: IncomingMessage, decision: Refusal, started: number): void {
    this.metrics.requestAnswered(decision.route?.collection.name ?? '', decision.status);
    if (!this.#log.isLevelEnabled('info')) return;
    this.#log.info({
      event: 'access_denied',
      method: req.method,
      host: requestHost(req),
      path: pathOf(req.url!),
      collection: decision.route?.collection.name,
      status: decision.status,
      error: decision.error,
      duration_ms: elapsed(started),
    });
  }

  #logForwarded(exchange: ForwardedExchange, outcome: ForwardOutcome): void {
    const { req, socket, route, identity, started, forwardedAt } = exchange;
    this.metrics.requestAnswered(route.collection.name, outcome.status, (performance.now() - forwardedAt) / 1000);
    const level = outcome.error && outcome.error !== 'client_closed' ? 'warn' : 'info';
    if (!this.#log.isLevelEnabled(level)) return; // the hot path builds no log object it would drop
    this.#log[level]({
      event: outcome.error ?? 'request_forwarded',
      method: req.method,
      host: requestHost(req),
      path: exchange.path,
      upstream_path: pathOf(route.upstreamPath),
      collection: route.collection.name,
      access_profile: identity.access_profile,
      client_id: identity.client_id,
      peer: socketPeer(socket),
      status: outcome.status,
      upstream_status: outcome.upstreamStatus,
      detail: outcome.detail,
      bytes: outcome.bytes,
      duration_ms: elapsed(started),
    });
  }

  #guard(work: Promise<void>, res: ServerResponse): void {
    work.catch((err: unknown) => this.#internalError(err, res));
  }

  #internalError(err: unknown, target: ServerResponse | Duplex): void {
    this.#log.error({ event: 'internal_error', detail: String(err) });
    if (target instanceof ServerResponse) {
      /* c8 ignore next - nothing throws once a response has started; kept so nothing ever could write a second status line */
      if (target.headersSent) target.destroy();
      else sendMessage(target, 500, 'internal error', { Connection: 'close' });
    } else {
      writeRawJson(target, 500, { message: 'internal error' });
    }
  }
}

type Refusal = { ok: false; status: number; body: Record<string, string>; headers: Record<string, string>; route?: Route; error: string };
/** A forwarded request, as the access log needs it once the exchange ends. */
interface ForwardedExchange {
  req: IncomingMessage;
  /** the client's socket: forwarding may detach it from `req` */
  socket: Socket;
  route: Route;
  identity: Identity;
  /** the request path as received, without the query */
  path: string;
  started: number;
  forwardedAt: number;
}

type Decision = Refusal | { ok: true; route: Route; identity: Identity; headers: Record<string, string> };
const NO_HEADERS: Record<string, string> = Object.freeze({});

function refusal(status: number, message: string): Refusal {
  return { ok: false, status, body: { message }, headers: {}, error: message };
}

function buildState(config: Config): State {
  return {
    config,
    routes: new RouteTable(config),
    registry: buildClientRegistry(config),
    profiles: new Map(config.access_profiles.map((p) => [p.name, p])),
    trusted: config.trusted_proxies.length > 0 ? trustedProxies(config.trusted_proxies) : undefined,
    policies: new Map(config.policies.map((p) => [p.name, p])),
    allowed: new Map(config.access_profiles.flatMap((p) => (p.allowed_ips ? [[p.name, addressList(p.allowed_ips)] as const] : []))),
  };
}

/** Counts Host and Authorization field lines: Node keeps only the first of each (B04). */
function countHeaders(raw: string[]): { host: number; authorization: number } {
  let host = 0;
  let authorization = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') host++;
    else if (name.length === 13 && name.toLowerCase() === 'authorization') authorization++;
  }
  return { host, authorization };
}

/**
 * Faults of the message itself, answered before routing and always with the connection closed:
 * RFC 9110 §2.5 / RFC 9112 §2.3 (HTTP/1.x only: 505), RFC 9112 §3.2 (one Host, required in 1.1),
 * RFC 9112 §6.1 (Transfer-Encoding is faulty framing in 1.0; a coding other than chunked is not
 * understood: 501).
 * @param hostCount the number of Host field lines (from rawHeaders)
 * @returns the status and message to answer, or undefined
 */
function messageFault(req: IncomingMessage, hostCount: number): { status: number; message: string } | undefined {
  if (req.httpVersionMajor !== 1) return { status: 505, message: 'only HTTP/1.0 and HTTP/1.1 are supported' };
  if (hostCount > 1) return { status: 400, message: 'more than one Host header' };
  if (hostCount === 0 && req.httpVersionMinor === 1) return { status: 400, message: 'the Host header is required' };
  const coding = req.headers['transfer-encoding'];
  if (coding === undefined) return undefined;
  if (req.httpVersionMinor === 0) return { status: 400, message: 'Transfer-Encoding is not allowed in HTTP/1.0' };
  return coding.trim().toLowerCase() === 'chunked' ? undefined : { status: 501, message: 'only the chunked transfer coding is supported' };
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

// The query may carry application secrets: logs get the path only.
/** The request's host name for logs: lower-case, no port; "" when an HTTP/1.0 request has no Host. */
function requestHost(req: IncomingMessage): string {
  return hostName(req.headers.host ?? '');
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

const elapsed = (since: number): number => Math.round((performance.now() - since) * 1000) / 1000;

/** Malformed requests that Node's parser refuses get a JSON answer too, never a bare close. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // A request was already answered on this connection (e.g. 501 for a coding we do not read, whose
  // body the parser then fails on): a second status line would be garbage; end after the first, as
  // Node itself does (`_httpMessage` is the response in progress on the socket).
  if ((socket as { _httpMessage?: ServerResponse })._httpMessage?.headersSent) {
    socket.end();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  writeRawJson(socket, status, {
    message: status === 431 ? 'request headers too large' : status === 408 ? 'request timed out' : 'malformed request',
  });
}
