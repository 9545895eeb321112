/**
 * Token revocation, `POST /oauth2/revoke` (RFC 7009): read body -> authenticate client -> revoke
 * the token if it is this client's -> 200.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveClientRequest, type TokenManagementContext, type TokenManagementRequest } from './client-request.js';
import { requiredToken } from './introspection.js';

/** The path of the revocation endpoint on every domain. */
export const REVOCATION_PATH = '/oauth2/revoke';

/**
 * Handles `POST /oauth2/revoke` (RFC 7009 §2.1, §2.2). Client authentication is the token
 * endpoint's. A client revokes only tokens issued to it (§2.1), whatever its `introspection` flag;
 * another client's token is left alone and the answer is the same `200` with an empty body as for
 * an unknown, expired or already revoked token (§2.2), so the endpoint never tells whether a
 * token it did not issue to the caller is live. `token_type_hint` is ignored (one kind of token).
 * Never throws; logs `token_revoked` without the token.
 */
export function handleRevocationRequest(
  req: IncomingMessage,
  res: ServerResponse,
  info: TokenManagementRequest,
  ctx: TokenManagementContext,
): Promise<void> {
  return serveClientRequest(req, res, info, ctx, {
    name: 'revocation',
    denied: 'revocation_denied',
    async work(params, profile) {
      const token = requiredToken(params);
      const record = await ctx.store.lookup(token);
      const own = record !== undefined && record.client_id === profile.client_id && record.profile === profile.name;
      const revoked = own && (await ctx.store.revoke(token));
      res.writeHead(200, { 'Content-Length': '0', 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      res.end();
      return { event: 'token_revoked', revoked };
    },
  });
}
