/**
 * Issue 4 config keys: `domains[].issuer` (RFC 8414 §2) and `access_profiles[].introspection`.
 */
import t from 'tap';
import { validate, type ConfigIssue } from '../../src/config/schema.js';

const doc = (domain: Record<string, unknown>, profile: Record<string, unknown> = {}): Record<string, unknown> => ({
  domains: [{ host: 'api.example.com', ...domain }],
  collections: [{ name: 'orders', path: '/orders', upstream: 'http://127.0.0.1:9001/orders' }],
  access_profiles: [{ name: 'a', client_id: 'svc-a', client_secret: 's', collections: ['orders'], ...profile }],
});

function issuesOf(raw: unknown): ConfigIssue[] {
  const result = validate(raw);
  if (!result.issues) throw new Error('expected the document to be refused');
  return result.issues;
}

t.test('RFC 8414 §2: issuer is kept as an origin or origin + path, without a trailing "/"', async (t) => {
  const cases: [string, string][] = [
    ['https://apim.example.com', 'https://apim.example.com'],
    ['https://APIM.example.com/', 'https://apim.example.com'],
    ['https://apim.example.com:443/auth/', 'https://apim.example.com/auth'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
  ];
  for (const [issuer, kept] of cases) t.equal(validate(doc({ issuer })).config?.domains[0]?.issuer, kept, issuer);
});

t.test('a domain without issuer has none (it is derived from each request)', async (t) => {
  t.equal(validate(doc({})).config?.domains[0]?.issuer, undefined);
});

t.test('RFC 8414 §2: issuer must be an absolute http(s) URL', async (t) => {
  const at = ['domains', 0, 'issuer'];
  t.strictSame(issuesOf(doc({ issuer: 'apim.example.com' })), [{ path: at, message: 'must be an absolute https:// or http:// URL' }]);
  t.strictSame(issuesOf(doc({ issuer: 'ftp://apim.example.com' })), [{ path: at, message: 'must use https:// or http://' }]);
});

t.test('RFC 8414 §2: issuer has no query or fragment (not even empty ones) and no credentials', async (t) => {
  for (const issuer of [
    'https://a.example/?x=1',
    'https://a.example/?',
    'https://a.example/#f',
    'https://a.example#',
    'https://u@a.example',
    'https://:p@a.example',
  ]) {
    t.strictSame(
      issuesOf(doc({ issuer })),
      [{ path: ['domains', 0, 'issuer'], message: 'must not carry a query, fragment or credentials' }],
      issuer,
    );
  }
});

t.test('introspection defaults to false and must be a boolean', async (t) => {
  t.equal(validate(doc({})).config?.access_profiles[0]?.introspection, false);
  t.equal(validate(doc({}, { introspection: true })).config?.access_profiles[0]?.introspection, true);
  t.match(issuesOf(doc({}, { introspection: 'yes' })), [{ path: ['access_profiles', 0, 'introspection'] }]);
});
