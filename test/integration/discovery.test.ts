/**
 * Discovery on every domain: authorization server metadata (RFC 8414) and protected resource
 * metadata (RFC 9728), reached from the challenge of a protected request (RFC 9728 §5.1).
 */
import t, { type Test } from 'tap';
import { raw, request, type Answer } from '../helpers/client.js';
import { testConfig } from '../helpers/config.js';
import { resourceMetadataAttr } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startStack } from '../helpers/stack.js';

const AS = '/.well-known/oauth-authorization-server';
const PR = '/.well-known/oauth-protected-resource';
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

/** The authorization server metadata the sidecar publishes for `issuer` on the fixture config. */
const asMetadata = (issuer: string) => ({
  issuer,
  token_endpoint: `${issuer}/oauth2/token`,
  introspection_endpoint: `${issuer}/oauth2/introspect`,
  revocation_endpoint: `${issuer}/oauth2/revoke`,
  grant_types_supported: ['client_credentials'],
  response_types_supported: [],
  token_endpoint_auth_methods_supported: AUTH_METHODS,
  introspection_endpoint_auth_methods_supported: AUTH_METHODS,
  revocation_endpoint_auth_methods_supported: AUTH_METHODS,
  scopes_supported: ['orders', 'public'],
});
const prMetadata = (resource: string, authorizationServer: string, scopes: string[]) => ({
  resource,
  authorization_servers: [authorizationServer],
  scopes_supported: scopes,
  bearer_methods_supported: ['header'],
});

function expectMetadata(t: Test, answer: Answer, body: unknown, vary: string | undefined): void {
  t.equal(answer.status, 200, answer.body);
  t.equal(answer.headers['content-type'], 'application/json');
  t.equal(answer.headers['cache-control'], 'public, max-age=300');
  t.equal(answer.headers.pragma, undefined);
  t.equal(answer.headers.vary, vary);
  t.strictSame(answer.json, body);
}

const { upstream, sc } = await startStack(t);
const get = (path: string, headers: Record<string, string> = {}): Promise<Answer> => request(sc.port, 'GET', path, headers);

t.test('RFC 8414 §3: GET /.well-known/oauth-authorization-server -> the metadata of the issuer scheme://Host', async (t) => {
  expectMetadata(t, await get(AS), asMetadata('http://api.example.com'), 'X-Forwarded-Proto');
});

t.test('RFC 8414 §2: the issuer keeps the port of the Host the client used', async (t) => {
  const answer = await get(AS, { host: 'API.example.com:8443' });
  t.equal(answer.json.issuer, 'http://api.example.com:8443');
  t.equal(answer.json.token_endpoint, 'http://api.example.com:8443/oauth2/token');
});

t.test('B24: X-Forwarded-Proto from a peer that is not a trusted proxy does not change the issuer', async (t) => {
  t.equal((await get(AS, { 'x-forwarded-proto': 'https' })).json.issuer, 'http://api.example.com');
});

t.test('RFC 8414 §3.2: HEAD answers the same headers without a body', async (t) => {
  const answer = await request(sc.port, 'HEAD', AS);
  const full = await get(AS);
  t.equal(answer.status, 200);
  t.equal(answer.body, '');
  t.equal(answer.headers['content-length'], full.headers['content-length']);
  t.equal(answer.headers['cache-control'], 'public, max-age=300');
});

t.test('RFC 9110 §15.5.6: other methods on a metadata document -> 405 with Allow: GET, HEAD', async (t) => {
  for (const [method, path] of [
    ['POST', AS],
    ['PUT', `${PR}/orders`],
  ] as const) {
    const answer = await request(sc.port, method, path, { 'content-type': 'application/json' }, '{}');
    t.equal(answer.status, 405, `${method} ${path}`);
    t.equal(answer.headers.allow, 'GET, HEAD');
    t.strictSame(answer.json, { message: 'metadata documents answer GET and HEAD only' });
  }
});

t.test('RFC 8414 §3.1: an issuer without a path has no path-suffixed document -> 404 {"message"}', async (t) => {
  const answer = await get(`${AS}/orders`);
  t.equal(answer.status, 404);
  t.strictSame(answer.json, { message: 'no metadata document at this path' });
});

t.test('RFC 9728 §3: the domain as a whole is a protected resource with every collection as scope', async (t) => {
  expectMetadata(
    t,
    await get(PR),
    prMetadata('http://api.example.com', 'http://api.example.com', ['orders', 'public']),
    'X-Forwarded-Proto',
  );
});

t.test('RFC 9728 §3.1: each collection is a resource at its path, with its name as its only scope', async (t) => {
  expectMetadata(
    t,
    await get(`${PR}/orders`),
    prMetadata('http://api.example.com/orders', 'http://api.example.com', ['orders']),
    'X-Forwarded-Proto',
  );
  t.strictSame((await get(`${PR}/public?x=1`)).json.scopes_supported, ['public']);
});

t.test('RFC 9728 §3.1: a suffix that names no resource -> 404, and nothing is forwarded', async (t) => {
  const before = upstream.requests.length;
  for (const path of [`${PR}/orders/1`, `${PR}/`, `${PR}/nothing`]) {
    const answer = await get(path);
    t.equal(answer.status, 404, path);
    t.strictSame(answer.json, { message: 'no metadata document at this path' });
  }
  t.equal(upstream.requests.length, before);
});

t.test('RFC 9728 §5.1: a 401 names the collection metadata; that document describes the URL called (§3.3)', async (t) => {
  const answer = await get('/orders/1');
  t.equal(answer.status, 401);
  t.equal(answer.headers['www-authenticate'], `Bearer realm="api", ${resourceMetadataAttr('orders')}`);
  const url = new URL(/resource_metadata="([^"]+)"/.exec(answer.headers['www-authenticate']!)![1]!);
  const metadata = await get(url.pathname);
  t.equal(metadata.json.resource, 'http://api.example.com/orders');
  t.ok('http://api.example.com/orders/1'.startsWith(metadata.json.resource as string));
  t.strictSame(metadata.json.authorization_servers, ['http://api.example.com']);
});

t.test('RFC 9728 §5.1: 403 insufficient_scope names the metadata of the collection called too', async (t) => {
  const stack = await startStack(t);
  const answer = await request(stack.sc.port, 'GET', '/orders/1', { authorization: `Bearer ${stack.tokenB}` });
  t.equal(answer.status, 403);
  t.match(answer.headers['www-authenticate'], new RegExp(`scope="orders", ${resourceMetadataAttr('orders')}$`));
});

t.test('a Host that names no host (the "*" domain) -> 400 on metadata, and challenges leave resource_metadata out', async (t) => {
  const star = await startSidecar(testConfig(upstream.url, { domains: [{ host: '*' }] }));
  t.teardown(() => star.close());
  const answer = await request(star.port, 'GET', AS, { host: 'bad_host' });
  t.equal(answer.status, 400);
  t.strictSame(answer.json, { message: 'the Host header names no host, so there is no issuer to describe' });
  const challenge = await request(star.port, 'GET', '/orders/1', { host: 'bad_host' });
  t.equal(challenge.headers['www-authenticate'], 'Bearer realm="api"');
  const http10 = await raw(star.port, `GET ${AS} HTTP/1.0\r\n\r\n`);
  t.equal(http10.status, 400, 'HTTP/1.0 without Host');
});

t.test('B24: X-Forwarded-Proto from a trusted proxy sets the issuer scheme', async (t) => {
  const trusted = await startSidecar(testConfig(upstream.url, { trusted_proxies: ['127.0.0.1'] }));
  t.teardown(() => trusted.close());
  const answer = await request(trusted.port, 'GET', AS, { 'x-forwarded-proto': 'https' });
  expectMetadata(t, answer, asMetadata('https://api.example.com'), 'X-Forwarded-Proto');
  const challenge = await request(trusted.port, 'GET', '/public/x', { 'x-forwarded-proto': 'https' });
  t.equal(
    challenge.headers['www-authenticate'],
    'Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/public"',
  );
  t.equal((await request(trusted.port, 'GET', AS, { 'x-forwarded-proto': 'gopher' })).json.issuer, 'http://api.example.com');
});

t.test('RFC 8414 §2: a configured issuer (TLS terminated in front) is used as is, with no Vary', async (t) => {
  const config = testConfig(upstream.url, { domains: [{ host: 'api.example.com', issuer: 'https://apim.example.com/' }] });
  const configured = await startSidecar(config);
  t.teardown(() => configured.close());
  expectMetadata(
    t,
    await request(configured.port, 'GET', AS, { host: 'api.example.com:8080' }),
    asMetadata('https://apim.example.com'),
    undefined,
  );
  const challenge = await request(configured.port, 'GET', '/orders');
  t.equal(
    challenge.headers['www-authenticate'],
    'Bearer realm="api", resource_metadata="https://apim.example.com/.well-known/oauth-protected-resource/orders"',
  );
});

t.test('RFC 9728 §3.1: on a domain with base_path, resources are the domain, base_path and base_path + path', async (t) => {
  const config = testConfig(upstream.url, { domains: [{ host: 'api.example.com', base_path: '/demo' }] });
  const based = await startSidecar(config);
  t.teardown(() => based.close());
  const get = (path: string) => request(based.port, 'GET', path);
  const issuer = 'http://api.example.com';
  t.strictSame((await get(AS)).json, asMetadata(issuer), 'RFC 8414: the token endpoint stays at the root, so does the issuer');
  t.strictSame((await get(PR)).json, prMetadata(issuer, issuer, ['orders', 'public']));
  t.strictSame((await get(`${PR}/demo`)).json, prMetadata(`${issuer}/demo`, issuer, ['orders', 'public']));
  t.strictSame((await get(`${PR}/demo/orders`)).json, prMetadata(`${issuer}/demo/orders`, issuer, ['orders']));
  t.equal((await get(`${PR}/orders`)).status, 404, 'the collection path without base_path is not a resource here');
  t.equal(
    (await get('/demo/public/x')).headers['www-authenticate'],
    'Bearer realm="api", resource_metadata="http://api.example.com/.well-known/oauth-protected-resource/demo/public"',
  );
});

t.test('RFC 8414 §3.1, RFC 9728 §3.1: an issuer with a path is described at the suffixed URLs, with or without its path', async (t) => {
  const config = testConfig(upstream.url, { domains: [{ host: 'api.example.com', issuer: 'https://gw.example/auth' }] });
  const prefixed = await startSidecar(config);
  t.teardown(() => prefixed.close());
  const get = (path: string) => request(prefixed.port, 'GET', path);
  const issuer = 'https://gw.example/auth';
  t.strictSame((await get(`${AS}/auth`)).json, asMetadata(issuer));
  t.strictSame((await get(AS)).json, asMetadata(issuer), 'a gateway that strips its prefix');
  t.equal((await get(`${AS}/other`)).status, 404);
  t.strictSame((await get(`${PR}/auth/orders`)).json, prMetadata(`${issuer}/orders`, issuer, ['orders']));
  t.strictSame((await get(`${PR}/orders`)).json, prMetadata(`${issuer}/orders`, issuer, ['orders']));
  t.strictSame((await get(`${PR}/auth`)).json, prMetadata(issuer, issuer, ['orders', 'public']));
  t.equal(
    (await get('/orders/1')).headers['www-authenticate'],
    'Bearer realm="api", resource_metadata="https://gw.example/.well-known/oauth-protected-resource/auth/orders"',
  );
});

t.test('the well-known paths are reserved: a collection mounted at "/" never sees them', async (t) => {
  const config = testConfig(upstream.url, {
    collections: [{ name: 'root', path: '/', upstream: `${upstream.url}/root` }],
    access_profiles: [{ name: 'a', client_id: 'svc-a', client_secret: 's3cret-a', collections: ['root'] }],
  });
  const rooted = await startSidecar(config);
  t.teardown(() => rooted.close());
  const before = upstream.requests.length;
  const answer = await request(rooted.port, 'GET', PR);
  t.strictSame(answer.json, prMetadata('http://api.example.com', 'http://api.example.com', ['root']));
  t.equal(upstream.requests.length, before);
  t.equal(
    (await request(rooted.port, 'GET', '/x')).headers['www-authenticate'],
    'Bearer realm="api", resource_metadata="http://api.example.com/.well-known/oauth-protected-resource"',
  );
});

t.test('RFC 9728 §3.1: base_path "/" is no prefix at all', async (t) => {
  const config = testConfig(upstream.url, { domains: [{ host: 'api.example.com', base_path: '/' }] });
  const slash = await startSidecar(config);
  t.teardown(() => slash.close());
  const issuer = 'http://api.example.com';
  t.strictSame((await request(slash.port, 'GET', PR)).json, prMetadata(issuer, issuer, ['orders', 'public']));
  t.strictSame((await request(slash.port, 'GET', `${PR}/orders`)).json, prMetadata(`${issuer}/orders`, issuer, ['orders']));
});
