/**
 * RouteTable and hostName: (Host, path) -> domain + collection + upstream path (ARCHITECTURE.md §3).
 */
import t from 'tap';
import { validate, type Config } from '../../src/config/schema.js';
import { hostName, RouteTable } from '../../src/proxy/routes.js';

function config(domains: Record<string, unknown>[], collections: Record<string, unknown>[]): Config {
  const result = validate({ domains, collections, access_profiles: [] });
  if (result.issues) throw new Error(JSON.stringify(result.issues));
  return result.config;
}

const ORDERS = { name: 'orders', path: '/orders', upstream: 'http://127.0.0.1:9001/orders' };
const table = new RouteTable(config([{ host: 'api.example.com' }, { host: '[::1]' }, { host: '127.0.0.1' }], [ORDERS]));

t.test('RFC 9110 §4.2.3: the host is matched case-insensitively', async (t) => {
  t.equal(table.domainOf('API.Example.COM')?.host, 'api.example.com');
});

t.test('ARCHITECTURE §3: the port of the Host header is ignored', async (t) => {
  t.equal(table.domainOf('api.example.com:8080')?.host, 'api.example.com');
  t.equal(table.domainOf('127.0.0.1:8080')?.host, '127.0.0.1');
});

t.test('RFC 1034 §3.1: a trailing dot (fully qualified name) is ignored, with or without a port', async (t) => {
  t.equal(table.domainOf('api.example.com.')?.host, 'api.example.com');
  t.equal(table.domainOf('Api.Example.Com.:443')?.host, 'api.example.com');
});

t.test('RFC 3986 §3.2.2: an IPv6 literal is matched in brackets, port ignored', async (t) => {
  t.equal(table.domainOf('[::1]:8080')?.host, '[::1]');
  t.equal(table.domainOf('[::1]')?.host, '[::1]');
});

t.test('ARCHITECTURE §4: an unknown host has no domain (404)', async (t) => {
  t.equal(table.domainOf('evil.example'), undefined);
  t.equal(table.domainOf('api.example.com.evil.example'), undefined);
});

t.test('ARCHITECTURE §4: a request without Host has no domain unless "*" is configured', async (t) => {
  t.equal(table.domainOf(undefined), undefined);
});

t.test('ARCHITECTURE §3: "*" answers any host no other domain names', async (t) => {
  const any = new RouteTable(config([{ host: 'api.example.com', base_path: '/named' }, { host: '*' }], [ORDERS]));
  t.equal(any.domainOf('other.example')?.host, '*');
  t.equal(any.domainOf(undefined)?.host, '*');
  t.equal(any.domainOf('API.example.com:80')?.host, 'api.example.com', 'a named domain wins over "*"');
});

t.test('hostName: lower-cases and drops the port and a trailing dot', async (t) => {
  t.equal(hostName('API.Example.com.:8080'), 'api.example.com');
  t.equal(hostName('[::FFFF:7f00:1]:8080'), '[::ffff:7f00:1]');
  t.equal(hostName(''), '');
});

const domain = table.domainOf('api.example.com')!;

t.test('ARCHITECTURE §3: a collection matches at its exact mount path', async (t) => {
  const route = table.match(domain, '/orders', '')!;
  t.equal(route.domain, domain);
  t.equal(route.collection.name, 'orders');
  t.equal(route.upstreamPath, '/orders');
});

t.test('ARCHITECTURE §3: a collection matches below its mount path', async (t) => {
  t.equal(table.match(domain, '/orders/1/items', '')!.upstreamPath, '/orders/1/items');
  t.equal(table.match(domain, '/orders/', '')!.upstreamPath, '/orders/');
});

t.test('ARCHITECTURE §3: prefixes match on segment boundaries only', async (t) => {
  t.equal(table.match(domain, '/ordersX', ''), undefined);
  t.equal(table.match(domain, '/orders-admin/1', ''), undefined);
  t.equal(table.match(domain, '/order', ''), undefined);
});

t.test('ARCHITECTURE §4: a path no collection is mounted at has no route (404)', async (t) => {
  t.equal(table.match(domain, '/', ''), undefined);
  t.equal(table.match(domain, '/public/x', ''), undefined);
});

t.test('B25: the query is appended to the upstream path verbatim', async (t) => {
  t.equal(table.match(domain, '/orders/1', '?next=//x/../y&a=%2f')!.upstreamPath, '/orders/1?next=//x/../y&a=%2f');
});

t.test('ARCHITECTURE §3: the longest mount prefix wins', async (t) => {
  const nested = new RouteTable(
    config(
      [{ host: 'api.example.com' }],
      [
        { name: 'api', path: '/api', upstream: 'http://127.0.0.1:9001/v1' },
        { name: 'admin', path: '/api/admin', upstream: 'http://127.0.0.1:9002/admin' },
      ],
    ),
  );
  const d = nested.domainOf('api.example.com')!;
  t.equal(nested.match(d, '/api/admin/users', '')!.collection.name, 'admin');
  t.equal(nested.match(d, '/api/admin/users', '')!.upstreamPath, '/admin/users');
  t.equal(nested.match(d, '/api/administrators', '')!.collection.name, 'api');
  t.equal(nested.match(d, '/api/administrators', '')!.upstreamPath, '/v1/administrators');
});

t.test('ARCHITECTURE §3: base_path mounts the collections under it on that domain only', async (t) => {
  const based = new RouteTable(config([{ host: 'localhost', base_path: '/demo' }, { host: 'api.example.test' }], [ORDERS]));
  const demo = based.domainOf('localhost')!;
  const custom = based.domainOf('api.example.test')!;
  t.equal(based.match(demo, '/demo/orders/1', '?q')!.upstreamPath, '/orders/1?q');
  t.equal(based.match(demo, '/orders/1', ''), undefined);
  t.equal(based.match(demo, '/demoorders/1', ''), undefined);
  t.equal(based.match(custom, '/orders/1', '')!.upstreamPath, '/orders/1');
});

t.test('ARCHITECTURE §3: a collection mounted at "/" takes every path of its domain', async (t) => {
  const root = new RouteTable(config([{ host: 'api.example.com' }], [{ name: 'all', path: '/', upstream: 'http://127.0.0.1:9001/v1' }]));
  const d = root.domainOf('api.example.com')!;
  t.equal(root.match(d, '/', '')!.upstreamPath, '/v1/');
  t.equal(root.match(d, '/x/y', '?q=1')!.upstreamPath, '/v1/x/y?q=1');
});

t.test('ARCHITECTURE §3: a collection at "/" under a base_path is mounted at the base_path', async (t) => {
  const root = new RouteTable(
    config([{ host: 'localhost', base_path: '/demo' }], [{ name: 'all', path: '/', upstream: 'http://127.0.0.1:9001' }]),
  );
  const d = root.domainOf('localhost')!;
  t.equal(root.match(d, '/demo', '')!.upstreamPath, '/');
  t.equal(root.match(d, '/demo/x', '')!.upstreamPath, '/x');
  t.equal(root.match(d, '/demox', ''), undefined);
});

t.test('ARCHITECTURE §3: the rest of the path is appended to the upstream base path', async (t) => {
  const joins = new RouteTable(
    config(
      [{ host: 'api.example.com' }],
      [
        { name: 'bare', path: '/bare', upstream: 'http://127.0.0.1:9001' },
        { name: 'slash', path: '/slash', upstream: 'http://127.0.0.1:9001/v1/' },
        { name: 'deep', path: '/deep', upstream: 'http://127.0.0.1:9001/a/b' },
      ],
    ),
  );
  const d = joins.domainOf('api.example.com')!;
  t.equal(joins.match(d, '/bare', '')!.upstreamPath, '/', 'no base path and no rest: "/"');
  t.equal(joins.match(d, '/bare', '?q')!.upstreamPath, '/?q');
  t.equal(joins.match(d, '/bare/x', '')!.upstreamPath, '/x');
  t.equal(joins.match(d, '/slash', '')!.upstreamPath, '/v1', 'a trailing "/" of the upstream is not doubled');
  t.equal(joins.match(d, '/slash/x', '')!.upstreamPath, '/v1/x');
  t.equal(joins.match(d, '/deep/x/', '')!.upstreamPath, '/a/b/x/');
});

t.test("match: a domain this table does not hold (another config's) has no routes here", async (t) => {
  const other = new RouteTable(config([{ host: 'other.example' }], [ORDERS]));
  t.equal(table.match(other.domainOf('other.example')!, '/orders/1', ''), undefined);
});
