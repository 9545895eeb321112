/**
 * The shared front of every endpoint a client authenticates to: the token endpoint (RFC 6749 §3.2),
 * introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1). One reading of the request, one
 * client authentication, one way of answering its errors, so the three cannot drift apart.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendMessage } from '../respond.js';
import type { AccessProfile, Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { authenticateClient, presentedCredentials, type ClientGuard, type ClientRegistry } from './client-auth.js';
import { OAuthError, StoreUnavailableError } from './errors.js';
import { readTokenRequestBody, type Params } from './request-body.js';
import { sendTokenError } from './respond.js';
import type { SecretVerifier } from './secret-hash.js';
import type { TokenStore } from './tokens.js';

/** The request facts the composition root has already read. */
export interface ClientRequestFacts {
  /** the query string of the request target, "" or starting with "?" */
  query: string;
  /** how many Authorization field lines the request carried (from rawHeaders) */
  authorizationCount: number;
}

/** What client authentication needs from the running sidecar. */
export interface ClientAuthContext {
  registry: ClientRegistry;
  verifier: SecretVerifier;
  /** time allowed for the request body, ms (default BODY_TIMEOUT_MS) */
  bodyTimeoutMs?: number;
  /** the request's address, failure throttle and wall clock (see authenticateClient) */
  guard?: ClientGuard;
}

/** What introspection and revocation need from the running sidecar. */
export interface TokenManagementContext extends ClientAuthContext {
  config: Config;
  store: TokenStore;
  log: Logger;
  /** the current access profiles by name: a token of a removed or disabled one is inactive */
  profiles: ReadonlyMap<string, AccessProfile>;
}

/** The facts of an introspection or revocation request. */
export interface TokenManagementRequest extends ClientRequestFacts {
  /** the request's host name for the log */
  host: string;
  /** the domain's issuer (RFC 7662 `iss`); undefined when the Host names no host */
  issuer: string | undefined;
}

/**
 * Reads the body and authenticates the client, in the order of RFC 6749 §4.4: the request (URI,
 * headers, body and its media type), then the client's credentials.
 * @param seen filled with the client_id the request presents as soon as it is known, for the log
 *   of a failed request
 * @returns the request parameters and the authenticated client's access profile
 * @throws OAuthError invalid_request (credentials in the URI, two Authorization lines, a bad body;
 *   413/408 for a body too large or too slow), invalid_client, temporarily_unavailable
 */
export async function readClientRequest(
  req: IncomingMessage,
  res: ServerResponse,
  facts: ClientRequestFacts,
  ctx: ClientAuthContext,
  seen: { client_id?: string },
): Promise<{ params: Params; profile: AccessProfile }> {
  // RFC 6749 §2.3.1: credentials never in the request URI, however their names are spelled
  // (client%5Fsecret, a bare client_id); §3.2: the header at most once.
  if (hasUriCredentials(facts.query)) {
    throw new OAuthError('invalid_request', 'client credentials must not be sent in the request URI');
  }
  if (facts.authorizationCount > 1) throw new OAuthError('invalid_request', 'more than one Authorization header');
  const params = await readTokenRequestBody(req, { timeoutMs: ctx.bodyTimeoutMs });
  const presented = presentedCredentials(req.headers.authorization, params);
  seen.client_id = presented.ids[0];
  // A client that leaves while its hashed secret waits for a turn is dropped from the queue. Made
  // only for a hashed secret: an AbortController per request was 7% of the token endpoint's CPU.
  let controller: AbortController | undefined;
  const gone = (): AbortSignal => {
    if (!controller) {
      const aborted = (controller = new AbortController());
      res.once('close', () => {
        if (!res.writableFinished) aborted.abort(new OAuthError('invalid_request', 'the client closed the connection'));
      });
    }
    return controller.signal;
  };
  const profile = await authenticateClient(presented, ctx.registry, ctx.verifier, gone, ctx.guard);
  return { params, profile };
}

/** A client-authenticated endpoint as `serveClientRequest` runs it. */
export interface ClientEndpoint {
  /** its name in the 405 answer: "token", "introspection", "revocation" */
  name: string;
  /** the log event of a refused request, e.g. `token_denied` */
  denied: string;
  /**
   * Answers an authenticated request.
   * @returns the success log line's `event` and extra fields (never a token or secret)
   * @throws OAuthError (or anything else: server_error) to be answered and logged as `denied`
   */
  work(params: Params, profile: AccessProfile): Promise<{ event: string } & Record<string, unknown>>;
  /** told of every request answered after the method check: `error` undefined on success */
  onAnswered?: (error?: string) => void;
}

/**
 * The frame of every client-authenticated endpoint: POST only (405 with Allow), the request read and
 * the client authenticated (`readClientRequest`), then the endpoint's own work; a failure answered as
 * an OAuth error (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1) and logged as `denied` with the
 * client_id presented. One log line per request, with `duration_ms` in ms. Never throws.
 */
export async function serveClientRequest(
  req: IncomingMessage,
  res: ServerResponse,
  facts: ClientRequestFacts & { host: string },
  ctx: ClientAuthContext & { config: Config; log: Logger },
  endpoint: ClientEndpoint,
): Promise<void> {
  const started = performance.now();
  if (req.method !== 'POST') {
    sendMessage(res, 405, `the ${endpoint.name} endpoint accepts POST only`, { Allow: 'POST' });
    return;
  }
  const seen: { client_id?: string } = {};
  try {
    const { params, profile } = await readClientRequest(req, res, facts, ctx, seen);
    const { event, ...fields } = await endpoint.work(params, profile);
    endpoint.onAnswered?.();
    ctx.log.info({
      event,
      host: facts.host,
      client_id: profile.client_id,
      access_profile: profile.name,
      ...fields,
      status: 200,
      duration_ms: ms(started),
    });
  } catch (caught) {
    const err = toOAuthError(caught);
    sendClientRequestError(res, err, ctx.config.realm);
    endpoint.onAnswered?.(err.code);
    const level = err.code === 'server_error' || caught instanceof StoreUnavailableError ? 'error' : 'info';
    ctx.log[level]({
      event: endpoint.denied,
      host: facts.host,
      client_id: seen.client_id,
      status: err.status,
      error: err.code,
      detail: err.detail ?? err.description,
      duration_ms: ms(started),
    });
  }
}

const ms = (since: number): number => Math.round((performance.now() - since) * 1000) / 1000;

/** Anything caught while answering: an OAuthError as is, anything else `server_error` (its text only logged). */
export function toOAuthError(caught: unknown): OAuthError {
  if (caught instanceof OAuthError) return caught;
  // A shared token store (Redis) that does not answer: 503, retry later (issue 5).
  if (caught instanceof StoreUnavailableError) {
    return new OAuthError('temporarily_unavailable', 'the token store is unavailable, retry later', { detail: caught.message });
  }
  return new OAuthError('server_error', 'internal error', { detail: String(caught) });
}

/**
 * Answers an error of a client-authenticated endpoint (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1):
 * JSON, a Basic challenge on 401; a body we stopped reading (413, 408) closes the connection, and
 * an overloaded verifier (503) says when to retry.
 */
export function sendClientRequestError(res: ServerResponse, err: OAuthError, realm: string): void {
  if (err.status === 413 || err.status === 408) res.setHeader('Connection', 'close');
  if (err.status === 503) res.setHeader('Retry-After', '1');
  sendTokenError(res, err, realm);
}

/** Whether a query string ("" or "?...") names client_id or client_secret, once decoded. */
function hasUriCredentials(query: string): boolean {
  if (query === '') return false; // the usual token request: no URLSearchParams to build
  for (const name of new URLSearchParams(query).keys()) if (name === 'client_id' || name === 'client_secret') return true;
  return false;
}
