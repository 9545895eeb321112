/**
 * Token introspection, `POST /oauth2/introspect` (RFC 7662): read body -> authenticate client ->
 * look the token up -> may this client see it? -> answer.
 */
import { cutOff } from './bearer.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessProfile } from '../config/schema.js';
import { sendJson } from '../respond.js';
import { serveClientRequest, type TokenManagementContext, type TokenManagementRequest } from './client-request.js';
import { OAuthError } from './errors.js';
import type { Params } from './request-body.js';
import { scopeString } from './scope.js';
import type { TokenRecord } from './tokens.js';

/** The path of the introspection endpoint on every domain. */
export const INTROSPECTION_PATH = '/oauth2/introspect';

/**
 * Handles `POST /oauth2/introspect` (RFC 7662 §2.1-§2.3). Client authentication is the token
 * endpoint's (§2.1). A client sees its own tokens; an access profile with `introspection: true` (a
 * resource server) sees every client's. Unknown, expired, revoked, evicted tokens, tokens of removed
 * or disabled profiles and tokens the client may not see all answer exactly `{"active":false}` (§2.2).
 * `token_type_hint` is ignored: there is one kind of token (§2.1 lets the server search further).
 * Never throws; logs `token_introspected` without the token.
 */
export function handleIntrospectionRequest(
  req: IncomingMessage,
  res: ServerResponse,
  info: TokenManagementRequest,
  ctx: TokenManagementContext,
): Promise<void> {
  return serveClientRequest(req, res, info, ctx, {
    name: 'introspection',
    denied: 'introspection_denied',
    async work(params, profile) {
      const record = await ctx.store.lookup(requiredToken(params));
      const owner = record && liveProfile(record, ctx.profiles);
      const visible = owner !== undefined && (record!.client_id === profile.client_id || profile.introspection);
      sendJson(res, 200, visible ? activeAnswer(record!, owner, info.issuer) : { active: false });
      return { event: 'token_introspected', active: visible, token_client_id: visible ? record!.client_id : undefined };
    },
  });
}

/**
 * The `token` parameter of introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1).
 * @throws OAuthError invalid_request when it is missing or empty
 */
export function requiredToken(params: Params): string {
  const token = params.get('token');
  if (token === undefined) throw new OAuthError('invalid_request', 'the token parameter is required');
  return token;
}

/**
 * The access profile a token still belongs to: it exists, is enabled and keeps the token's
 * client_id, as in the bearer check; else undefined (the token is no longer active).
 */
function liveProfile(record: TokenRecord, profiles: ReadonlyMap<string, AccessProfile>): AccessProfile | undefined {
  const profile = profiles.get(record.profile);
  // The bearer check's rules: gone, disabled, re-identified or cut off by tokens_issued_after.
  return profile && profile.enabled && profile.client_id === record.client_id && !cutOff(record, profile) ? profile : undefined;
}

/** RFC 7662 §2.2: what an active token stands for. Times are wall-clock epoch seconds. */
function activeAnswer(record: TokenRecord, owner: AccessProfile, issuer: string | undefined): Record<string, unknown> {
  return {
    active: true,
    // A reload narrows a live token's scope to its profile's current collections (as the bearer check does).
    scope: scopeString(record.scope.filter((s) => owner.collections.includes(s))),
    client_id: record.client_id,
    token_type: 'bearer',
    exp: record.issuedAt + record.lifetime,
    iat: record.issuedAt,
    sub: record.client_id, // the client credentials grant acts for the client itself (RFC 9068 §2.2)
    ...(issuer === undefined ? {} : { iss: issuer }),
  };
}
