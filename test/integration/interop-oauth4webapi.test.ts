/**
 * Interoperability: oauth4webapi follows the challenge of a protected request to its resource
 * metadata (RFC 9728 §5.1, §3.3), then the authorization server metadata (RFC 8414), gets a token
 * with client_secret_basic and client_secret_post and calls the collection.
 */
import * as oauth from 'oauth4webapi';
import t from 'tap';
import { INTEROP_CLIENTS, startInteropStack } from '../helpers/interop.js';

const { issuer } = await startInteropStack(t);
const insecure = { [oauth.allowInsecureRequests]: true };
const resource = new URL(`${issuer}/orders`);

/** The bearer challenge of a call to /orders/1 that fails (oauth4webapi throws it as an error). */
async function challengeOf(token: string): Promise<oauth.WWWAuthenticateChallenge> {
  try {
    await oauth.protectedResourceRequest(token, 'GET', new URL(`${issuer}/orders/1`), undefined, undefined, insecure);
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) return err.cause.find((c) => c.scheme === 'bearer')!;
    throw err;
  }
  throw new Error('expected a challenge');
}

/** RFC 9728 §5.1 -> §3 -> RFC 8414 §3: from a 401 to the authorization server's metadata. */
async function discoverFromChallenge(): Promise<oauth.AuthorizationServer> {
  const challenge = await challengeOf('0'.repeat(64));
  const prm = await fetch(challenge.parameters.resource_metadata!);
  // RFC 9728 §3.3: the document must name the resource its URL was built from.
  const rs = await oauth.processResourceDiscoveryResponse(resource, prm);
  const as = new URL(rs.authorization_servers![0]!);
  return oauth.processDiscoveryResponse(as, await oauth.discoveryRequest(as, { algorithm: 'oauth2', ...insecure }));
}

const methods = { client_secret_basic: oauth.ClientSecretBasic, client_secret_post: oauth.ClientSecretPost };

for (const [kind, c] of Object.entries(INTEROP_CLIENTS)) {
  for (const [method, auth] of Object.entries(methods)) {
    t.test(`oauth4webapi ${method}, ${kind} secret: challenge -> metadata -> token -> bearer call`, async (t) => {
      const as = await discoverFromChallenge();
      t.equal(as.issuer, issuer);
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        { client_id: c.id },
        auth(c.secret),
        new URLSearchParams({ scope: 'orders' }),
        insecure,
      );
      const tokens = await oauth.processClientCredentialsResponse(as, { client_id: c.id }, response);
      t.equal(tokens.scope, 'orders');
      const answer = await oauth.protectedResourceRequest(
        tokens.access_token,
        'GET',
        new URL(`${issuer}/orders/1`),
        undefined,
        undefined,
        insecure,
      );
      t.equal(answer.status, 200);
      t.match(await answer.json(), { url: '/orders/1', headers: { 'x-client-id': c.id } });
    });
  }
}

t.test('oauth4webapi: RFC 9728 §3.1 resource discovery straight from the resource URL', async (t) => {
  const rs = await oauth.processResourceDiscoveryResponse(resource, await oauth.resourceDiscoveryRequest(resource, insecure));
  t.strictSame(rs, {
    resource: resource.href.replace(/\/$/, ''),
    authorization_servers: [issuer],
    scopes_supported: ['orders'],
    bearer_methods_supported: ['header'],
  });
});

t.test('oauth4webapi: introspection and revocation responses are processed as conformant', async (t) => {
  const as = await discoverFromChallenge();
  const { id, secret } = INTEROP_CLIENTS.ordinary;
  const auth = oauth.ClientSecretPost(secret);
  const tokens = await oauth.processClientCredentialsResponse(
    as,
    { client_id: id },
    await oauth.clientCredentialsGrantRequest(as, { client_id: id }, auth, new URLSearchParams(), insecure),
  );
  const introspected = await oauth.processIntrospectionResponse(
    as,
    { client_id: id },
    await oauth.introspectionRequest(as, { client_id: id }, auth, tokens.access_token, insecure),
  );
  t.equal(introspected.active, true);
  t.equal(introspected.sub, id);
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, { client_id: id }, auth, tokens.access_token, insecure));
  t.equal((await challengeOf(tokens.access_token)).parameters.error, 'invalid_token', 'revoked: RFC 6750 §3.1 invalid_token');
});
