/**
 * Interoperability: openid-client (v6) discovers the sidecar from the issuer URL alone (RFC 8414,
 * `algorithm: 'oauth2'`), gets a scoped token with client_secret_basic (it form-urlencodes the
 * credentials, RFC 6749 §2.3.1) and client_secret_post, calls a collection, introspects and revokes.
 */
import * as client from 'openid-client';
import t from 'tap';
import { INTEROP_CLIENTS, startInteropStack } from '../helpers/interop.js';

const { issuer } = await startInteropStack(t);

/** openid-client needs https, except with allowInsecureRequests (http://127.0.0.1 here). */
const discover = (id: string, secret: string, auth: client.ClientAuth): Promise<client.Configuration> =>
  client.discovery(new URL(issuer), id, secret, auth, { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });

const methods = {
  client_secret_basic: client.ClientSecretBasic,
  client_secret_post: client.ClientSecretPost,
};

for (const [kind, c] of Object.entries(INTEROP_CLIENTS)) {
  for (const [method, auth] of Object.entries(methods)) {
    t.test(`openid-client ${method}, ${kind} secret: discovery -> scoped token -> bearer call`, async (t) => {
      const config = await discover(c.id, c.secret, auth(c.secret));
      t.equal(config.serverMetadata().token_endpoint, `${issuer}/oauth2/token`);
      const tokens = await client.clientCredentialsGrant(config, { scope: 'orders' });
      t.equal(tokens.token_type, 'bearer');
      t.equal(tokens.scope, 'orders');
      t.equal(tokens.expires_in, 3599);
      const answer = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${issuer}/orders/1?x=1`), 'GET');
      t.equal(answer.status, 200);
      t.match(await answer.json(), { url: '/orders/1?x=1', headers: { 'x-client-id': c.id } });
      // RFC 6750 §3.1: the scope-narrowed token does not open "public"; openid-client throws the challenge.
      const refused = client.fetchProtectedResource(config, tokens.access_token, new URL(`${issuer}/public/1`), 'GET');
      await t.rejects(refused, {
        status: 403,
        cause: [{ scheme: 'bearer', parameters: { error: 'insufficient_scope', scope: 'public' } }],
      });
    });
  }
}

t.test('openid-client: introspection (RFC 7662) and revocation (RFC 7009) from the discovered endpoints', async (t) => {
  const { id, secret } = INTEROP_CLIENTS.reserved;
  const config = await discover(id, secret, client.ClientSecretBasic(secret));
  const tokens = await client.clientCredentialsGrant(config);
  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  t.match(introspected, { active: true, client_id: id, scope: 'orders public', token_type: 'bearer', iss: issuer });
  await client.tokenRevocation(config, tokens.access_token);
  t.strictSame({ ...(await client.tokenIntrospection(config, tokens.access_token)) }, { active: false });
});
