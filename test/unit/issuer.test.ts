/**
 * The issuer of a domain (RFC 8414 §2) and the URLs built on it (RFC 8414 §3.1, RFC 9728 §3.1).
 */
import t from 'tap';
import type { Collection, Domain } from '../../src/config/schema.js';
import { issuerOf, issuerPath, resourceMetadataUrl, resourcePath } from '../../src/oauth/issuer.js';

const domain = (patch: Partial<Domain> = {}): Domain => ({ host: '*', ...patch }) as Domain;
const collection = (path: string): Collection => ({ name: 'c', path }) as Collection;

t.test('RFC 8414 §2: a configured issuer wins over Host and X-Forwarded-Proto', async (t) => {
  t.equal(issuerOf(domain({ issuer: 'https://apim.example.com' }), 'other.example', 'http'), 'https://apim.example.com');
});

t.test('without issuer: <scheme>://<Host>, lower-cased, a default port dropped', async (t) => {
  t.equal(issuerOf(domain(), 'API.Example.com:8080', undefined), 'http://api.example.com:8080');
  t.equal(issuerOf(domain(), 'api.example.com:443', 'https'), 'https://api.example.com');
  t.equal(issuerOf(domain(), '[::1]:8080', undefined), 'http://[::1]:8080');
});

t.test('a missing or unusable Host gives no issuer (never a URL built on quotes, "/" or "@")', async (t) => {
  for (const host of [undefined, '', 'a"b', 'a/b', 'u@a', 'a b', 'a:99999', '[1:2]', '[zz]']) {
    t.equal(issuerOf(domain(), host, undefined), undefined, String(host));
  }
});

t.test('RFC 8414 §3.1: the issuer path without its trailing "/"', async (t) => {
  t.equal(issuerPath('https://a.example'), '');
  t.equal(issuerPath('https://a.example/auth'), '/auth');
});

t.test('RFC 9728 §3.1: a collection resource is base_path + path; a lone "/" is dropped', async (t) => {
  t.equal(resourcePath(domain(), collection('/orders')), '/orders');
  t.equal(resourcePath(domain({ base_path: '/demo' }), collection('/orders')), '/demo/orders');
  t.equal(resourcePath(domain({ base_path: '/demo' }), collection('/')), '/demo');
  t.equal(resourcePath(domain(), collection('/')), '');
});

t.test('RFC 9728 §3.1: the well-known path goes between the host and the resource path', async (t) => {
  t.equal(resourceMetadataUrl('http://api.example.com', '/orders'), 'http://api.example.com/.well-known/oauth-protected-resource/orders');
  t.equal(
    resourceMetadataUrl('https://gw.example/auth', '/demo/orders'),
    'https://gw.example/.well-known/oauth-protected-resource/auth/demo/orders',
  );
  t.equal(resourceMetadataUrl('http://api.example.com', ''), 'http://api.example.com/.well-known/oauth-protected-resource');
});
