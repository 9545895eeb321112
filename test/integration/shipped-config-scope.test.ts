/**
 * The shipped config.yaml's README examples for issue 4, against a live sidecar on it (its upstream
 * swapped for a test upstream on port 0): scoped tokens, a profile limited to one collection,
 * introspection by a resource server, discovery.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { request, tokenRequest } from '../helpers/client.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

const upstream = await startUpstream();
const text = readFileSync(new URL('../../config.yaml', import.meta.url), 'utf8').replaceAll('http://127.0.0.1:3000', upstream.url);
const file = join(t.testdir({ 'config.yaml': text }), 'config.yaml');
const sc = await startSidecar(loadConfig(file));
t.teardown(async () => {
  await sc.close();
  await upstream.close();
});

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const DEMO = basic('demo-client', 'demo-secret');
const host = { host: 'localhost:8080' };
const get = (path: string, token: string) => request(sc.port, 'GET', path, { ...host, authorization: `Bearer ${token}` });

t.test('README quick start: a token without scope opens both demo collections', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=client_credentials', { ...host, authorization: DEMO });
  t.strictSame(Object.keys(answer.json), ['access_token', 'token_type', 'expires_in']);
  t.equal((await get('/echo/hello?x=1', answer.json.access_token)).json.url, '/v1/hello?x=1');
  t.equal((await get('/status', answer.json.access_token)).status, 200);
});

t.test('config.yaml comment: -d scope=echo gives a token for echo only', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=client_credentials&scope=echo', { ...host, authorization: DEMO });
  t.equal(answer.json.scope, 'echo');
  t.equal((await get('/echo/hello', answer.json.access_token)).status, 200);
  t.equal((await get('/status', answer.json.access_token)).status, 403);
});

t.test('config.yaml: monitor-client is limited to status; gateway-client introspects its token', async (t) => {
  const monitor = await tokenRequest(sc.port, 'grant_type=client_credentials', {
    ...host,
    authorization: basic('monitor-client', 'monitor-secret'),
  });
  t.equal((await get('/echo/x', monitor.json.access_token)).status, 403);
  const introspected = await request(
    sc.port,
    'POST',
    '/oauth2/introspect',
    { ...host, 'content-type': 'application/x-www-form-urlencoded', authorization: basic('gateway-client', 'gateway-secret') },
    `token=${monitor.json.access_token}`,
  );
  t.match(introspected.json, { active: true, client_id: 'monitor-client', scope: 'status', iss: 'http://localhost:8080' });
});

t.test('README: discovery from http://localhost:8080', async (t) => {
  const metadata = await request(sc.port, 'GET', '/.well-known/oauth-authorization-server', host);
  t.match(metadata.json, { issuer: 'http://localhost:8080', scopes_supported: ['echo', 'status'] });
  const unauthenticated = await request(sc.port, 'GET', '/echo/hello', host);
  t.equal(
    unauthenticated.headers['www-authenticate'],
    'Bearer realm="api", resource_metadata="http://localhost:8080/.well-known/oauth-protected-resource/echo"',
  );
});
