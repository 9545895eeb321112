/**
 * Interoperability: simple-oauth2 (v5) in header mode (Basic, both its "strict" RFC 6749 §2.3.1
 * encoding and its "loose" raw one) and in body mode (client_secret_post), then a bearer call.
 */
import { ClientCredentials, type ModuleOptions } from 'simple-oauth2';
import t from 'tap';
import { request } from '../helpers/client.js';
import { INTEROP_CLIENTS, startInteropStack } from '../helpers/interop.js';

const { issuer, sc } = await startInteropStack(t);

const modes: [string, ModuleOptions['options']][] = [
  ['header, strict encoding', { authorizationMethod: 'header', credentialsEncodingMode: 'strict' }],
  ['header, loose (raw) encoding', { authorizationMethod: 'header', credentialsEncodingMode: 'loose' }],
  ['body', { authorizationMethod: 'body' }],
];

for (const [kind, c] of Object.entries(INTEROP_CLIENTS)) {
  for (const [mode, options] of modes) {
    t.test(`simple-oauth2 ${mode}, ${kind} secret: token -> bearer call`, async (t) => {
      const oauth = new ClientCredentials({
        client: { id: c.id, secret: c.secret },
        auth: { tokenHost: issuer, tokenPath: '/oauth2/token' },
        options,
      });
      const token = await oauth.getToken({ scope: 'public' });
      t.equal(token.token.token_type, 'bearer');
      t.equal(token.token.scope, 'public');
      t.equal(token.expired(), false);
      const answer = await request(sc.port, 'GET', '/public/x', {
        host: `127.0.0.1:${sc.port}`,
        authorization: `Bearer ${token.token.access_token as string}`,
      });
      t.equal(answer.status, 200);
      t.equal(answer.json.headers['x-client-id'], c.id);
    });
  }
}
