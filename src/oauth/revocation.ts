/**
 * Token revocation, `POST /oauth2/revoke` (RFC 7009): read body -> authenticate client -> revoke
 * the token if it is this client's -> 200.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendMessage } from '../respond.js';
import {
  readClientRequest,
  sendClientRequestError,
  toOAuthError,
  type TokenManagementContext,
  type TokenManagementRequest,
} from './client-request.js';
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
export async function handleRevocationRequest(
  req: IncomingMessage,
  res: ServerResponse,
  info: TokenManagementRequest,
  ctx: TokenManagementContext,
): Promise<void> {
  const started = performance.now();
  if (req.method !== 'POST') {
    sendMessage(res, 405, 'the revocation endpoint accepts POST only', { Allow: 'POST' });
    return;
  }
  const seen: { client_id?: string } = {};
  try {
    const { params, profile } = await readClientRequest(req, res, info, ctx, seen);
    const token = requiredToken(params);
    const record = await ctx.store.lookup(token);
    const own = record !== undefined && record.client_id === profile.client_id && record.profile === profile.name;
    const revoked = own && (await ctx.store.revoke(token));
    res.writeHead(200, { 'Content-Length': '0', 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.end();
    ctx.log.info({
      event: 'token_revoked',
      host: info.host,
      client_id: profile.client_id,
      access_profile: profile.name,
      revoked,
      status: 200,
      duration_ms: ms(started),
    });
  } catch (caught) {
    const err = toOAuthError(caught);
    sendClientRequestError(res, err, ctx.config.realm);
    ctx.log[err.code === 'server_error' ? 'error' : 'info']({
      event: 'revocation_denied',
      host: info.host,
      client_id: seen.client_id,
      status: err.status,
      error: err.code,
      detail: err.detail ?? err.description,
      duration_ms: ms(started),
    });
  }
}

const ms = (since: number): number => Math.round((performance.now() - since) * 1000) / 1000;
