/**
 * The token endpoint: the client credentials grant of RFC 6749 §4.4, end to end.
 * read body -> authenticate client -> check grant_type -> grant scope -> issue -> respond.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { sendJson, sendMessage } from '../respond.js';
import { authenticateClient, presentedCredentials, type ClientRegistry } from './client-auth.js';
import { OAuthError, StoreUnavailableError } from './errors.js';
import { readTokenRequestBody } from './request-body.js';
import { sendTokenError } from './respond.js';
import type { SecretVerifier } from './secret-hash.js';
import type { TokenStore } from './tokens.js';

/** The path of the token endpoint on every domain (ARCHITECTURE.md §4). */
export const TOKEN_PATH = '/oauth2/token';

/** What the token endpoint needs from the running sidecar. */
export interface TokenEndpointContext {
  config: Config;
  registry: ClientRegistry;
  store: TokenStore;
  verifier: SecretVerifier;
  log: Logger;
  /** time allowed for the request body, ms (default BODY_TIMEOUT_MS) */
  bodyTimeoutMs?: number;
  /** the issuer URL of the domain answered on (JWT `iss`, RFC 9068 §2.2) */
  issuer?: string;
  /** told of every answered token request: `error` undefined when a token was issued */
  onAnswered?: (error?: string) => void;
}

/** The request facts the composition root has already read. */
export interface TokenRequestInfo {
  host: string;
  /** the query string of the request target, "" or starting with "?" */
  query: string;
  /** how many Authorization field lines the request carried (from rawHeaders) */
  authorizationCount: number;
}

/**
 * Handles `POST /oauth2/token` (RFC 6749 §4.4.2, §4.4.3, §5.1, §5.2). Never throws: every failure is
 * answered as JSON and logged as `token_denied`, success as `token_issued`.
 */
export async function handleTokenRequest(
  req: IncomingMessage,
  res: ServerResponse,
  info: TokenRequestInfo,
  ctx: TokenEndpointContext,
): Promise<void> {
  const started = performance.now();
  if (req.method !== 'POST') {
    sendMessage(res, 405, 'the token endpoint accepts POST only', { Allow: 'POST' });
    return;
  }
  let clientId: string | undefined;
  try {
    // RFC 6749 §2.3.1: credentials never in the request URI, however their names are spelled
    // (client%5Fsecret, a bare client_id); §3.2: the header at most once.
    if (hasUriCredentials(info.query)) {
      throw new OAuthError('invalid_request', 'client credentials must not be sent in the request URI');
    }
    if (info.authorizationCount > 1) throw new OAuthError('invalid_request', 'more than one Authorization header');
    const params = await readTokenRequestBody(req, { timeoutMs: ctx.bodyTimeoutMs });
    const presented = presentedCredentials(req.headers.authorization, params);
    clientId = presented.ids[0];
    // A client that leaves while its hashed secret waits for a turn is dropped from the queue.
    const gone = new AbortController();
    res.once('close', () => gone.abort(new OAuthError('invalid_request', 'the client closed the connection')));
    const profile = await authenticateClient(presented, ctx.registry, ctx.verifier, gone.signal);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported');
    }
    const { access_token, expires_in } = await ctx.store.issue({
      profile: profile.name,
      client_id: profile.client_id,
      scope: profile.collections,
      lifetime: ctx.config.tokens.expires_in,
      issuer: ctx.issuer,
    });
    sendJson(res, 200, { access_token, token_type: 'bearer', expires_in });
    ctx.onAnswered?.();
    ctx.log.info({
      event: 'token_issued',
      host: info.host,
      client_id: profile.client_id,
      access_profile: profile.name,
      status: 200,
      duration_ms: ms(started),
    });
  } catch (caught) {
    const err =
      caught instanceof OAuthError
        ? caught
        : caught instanceof StoreUnavailableError
          ? new OAuthError('temporarily_unavailable', 'the token store is unavailable, retry later', { detail: caught.message })
          : new OAuthError('server_error', 'internal error', { detail: String(caught) });
    // A body we stopped reading (too large, too slow) is not drained: close the connection instead.
    if (err.status === 413 || err.status === 408) res.setHeader('Connection', 'close');
    if (err.status === 503) res.setHeader('Retry-After', '1');
    sendTokenError(res, err, ctx.config.realm);
    ctx.onAnswered?.(err.code);
    const level = err.code === 'server_error' || caught instanceof StoreUnavailableError ? 'error' : 'info';
    ctx.log[level]({
      event: 'token_denied',
      host: info.host,
      client_id: clientId,
      status: err.status,
      error: err.code,
      detail: err.detail ?? err.description,
      duration_ms: ms(started),
    });
  }
}

/** Whether a query string ("" or "?...") names client_id or client_secret, once decoded. */
function hasUriCredentials(query: string): boolean {
  for (const name of new URLSearchParams(query).keys()) if (name === 'client_id' || name === 'client_secret') return true;
  return false;
}

const ms = (since: number): number => Math.round((performance.now() - since) * 1000) / 1000;
