/**
 * Test config builder: the shared fixture of ../shared/cases/public-bug-reports.md in the real
 * config contract. svc-a may call "orders" (/orders), svc-b "public" (/public), on api.example.com;
 * each collection forwards to the same path on the upstream (/public/x -> upstream /public/x).
 */
import { validate, type Config } from '../../src/config/schema.js';

/** svc-a's deliberately hostile secret: @ : + / = % */
export const SECRET_A = 'p@ss:w+rd/=%';
export const SECRET_B = 's3cret';

/** Precomputed Basic values of the case file. */
export const BASIC = {
  b: 'Basic c3ZjLWI6czNjcmV0',
  bWrong: 'Basic c3ZjLWI6d3Jvbmc=',
  aForm: 'Basic c3ZjLWE6cCU0MHNzJTNBdyUyQnJkJTJGJTNEJTI1',
  aRaw: 'Basic c3ZjLWE6cEBzczp3K3JkLz0l',
  bExtra: 'Basic c3ZjLWI6czNjcmV0OmV4dHJh',
  bNoColon: 'Basic c3ZjLWI=',
  aBadEscape: 'Basic c3ZjLWE6JVpa',
  nobody: 'Basic bm9ib2R5Ong=',
} as const;

/**
 * The fixture's two collections ("orders" and "public"), each forwarding to the same path upstream.
 * @param timeout_ms the upstream timeout of both (the fixture's default: 2000)
 */
export function fixtureCollections(upstream: string, timeout_ms = 2000): Record<string, unknown>[] {
  return [
    { name: 'orders', path: '/orders', upstream: `${upstream}/orders`, timeout_ms },
    { name: 'public', path: '/public', upstream: `${upstream}/public`, timeout_ms },
  ];
}

/**
 * Builds a validated config around the fixture.
 * @param upstream base URL of the test upstream, e.g. http://127.0.0.1:40123
 * @param patch raw config keys to override (shallow, before validation)
 * @throws Error listing the issues if the result is invalid
 */
export function testConfig(upstream: string, patch: Record<string, unknown> = {}): Config {
  const raw = {
    listen: '127.0.0.1:0',
    realm: 'api',
    domains: [{ host: 'api.example.com' }],
    tokens: { expires_in: 3600, max_active: 10_000 },
    collections: fixtureCollections(upstream),
    access_profiles: [
      { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
      { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'] },
    ],
    ...patch,
  };
  const result = validate(raw);
  if (result.issues) throw new Error(`test config invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}

/**
 * The fixture's two clients plus "rs", a resource server (`introspection: true`, no collections):
 * the access profiles of the introspection and revocation tests.
 */
export const WITH_RESOURCE_SERVER: Record<string, unknown>[] = [
  { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
  { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'] },
  { name: 'rs', client_id: 'rs', client_secret: 'rs-secret', collections: [], introspection: true },
];
/** HTTP Basic credentials of "rs". */
export const RS_BASIC = `Basic ${Buffer.from('rs:rs-secret').toString('base64')}`;
