/**
 * The token endpoint: the client credentials grant of RFC 6749 §4.4, end to end.
 * read body -> authenticate client -> check grant_type -> grant scope (RFC 6749 §3.3) -> issue -> respond.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { sendJson } from '../respond.js';
import { serveClientRequest, type ClientAuthContext, type ClientRequestFacts } from './client-request.js';
import { OAuthError } from './errors.js';
import { grantScope, scopeString } from './scope.js';
import type { TokenStore } from './tokens.js';

/** The path of the token endpoint on every domain (ARCHITECTURE.md §4). */
export const TOKEN_PATH = '/oauth2/token';

/** What the token endpoint needs from the running sidecar. */
export interface TokenEndpointContext extends ClientAuthContext {
  config: Config;
  store: TokenStore;
  log: Logger;
  /** the issuer URL of the domain answered on (JWT `iss`, RFC 9068 §2.2) */
  issuer?: string;
  /** told of every answered token request: `error` undefined when a token was issued */
  onAnswered?: (error?: string) => void;
}

/** The request facts the composition root has already read. */
export interface TokenRequestInfo extends ClientRequestFacts {
  /** the request's host name for the log */
  host: string;
}

/**
 * Handles `POST /oauth2/token` (RFC 6749 §4.4.2, §4.4.3, §5.1, §5.2). Never throws: every failure is
 * answered as JSON and logged as `token_denied`, success as `token_issued`.
 */
export function handleTokenRequest(
  req: IncomingMessage,
  res: ServerResponse,
  info: TokenRequestInfo,
  ctx: TokenEndpointContext,
): Promise<void> {
  return serveClientRequest(req, res, info, ctx, {
    name: 'token',
    denied: 'token_denied',
    onAnswered: ctx.onAnswered,
    async work(params, profile) {
      const grantType = params.get('grant_type');
      if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
      if (grantType !== 'client_credentials') {
        throw new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported');
      }
      const requested = params.get('scope');
      const scope = grantScope(requested, profile.collections);
      const { access_token, expires_in } = await ctx.store.issue({
        profile: profile.name,
        client_id: profile.client_id,
        scope,
        lifetime: profile.expires_in ?? ctx.config.tokens.expires_in,
        issuer: ctx.issuer,
      });
      // RFC 6749 §5.1: scope is sent whenever the client asked for one (the granted, normalised value);
      // a request without scope gets the profile's collections and the answer it always had.
      const granted = requested === undefined ? {} : { scope: scopeString(scope) };
      sendJson(res, 200, { access_token, token_type: 'bearer', expires_in, ...granted });
      return { event: 'token_issued', scope: scopeString(scope) };
    },
  });
}
