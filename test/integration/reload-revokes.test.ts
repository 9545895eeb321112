/**
 * Issue 3 capability 2/4: a reload that removes or disables an access profile, or gives it another
 * client_id, revokes its live tokens: enabling it again does not bring them back.
 */
import t from 'tap';
import type { Config } from '../../src/config/schema.js';
import { request } from '../helpers/client.js';
import { startStack } from '../helpers/stack.js';

const withProfileB = (config: Config, patch: Record<string, unknown> | undefined): Config => ({
  ...config,
  access_profiles: config.access_profiles.flatMap((p) => (p.name !== 'b' ? [p] : patch ? [{ ...p, ...patch }] : [])),
});

for (const [change, patch] of [
  ['disabled', { enabled: false }],
  ['removed', undefined],
  ['given another client_id', { client_id: 'svc-b2' }],
] as const) {
  t.test(`a profile ${change} by reload loses its tokens for good; re-enabling it does not revive them`, async (t) => {
    const { sc, tokenA, tokenB } = await startStack(t);
    const original = sc.sidecar.config;
    sc.sidecar.reload(withProfileB(original, patch));
    const during = await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${tokenB}` });
    t.equal(during.status, 401);
    sc.sidecar.reload(original);
    const after = await request(sc.port, 'GET', '/public/x', { authorization: `Bearer ${tokenB}` });
    t.equal(after.status, 401);
    t.match(after.headers['www-authenticate'], /error="invalid_token"/);
    const other = await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA}` });
    t.equal(other.status, 200, "an unchanged profile's token keeps working");
    t.equal(sc.sidecar.store.size, 1, 'the revoked token no longer counts as live');
  });
}

t.test('issue 3 capability 2: a reload that changes listen or tokens.max_active warns that it applies at the next start', async (t) => {
  const { sc } = await startStack(t);
  const original = sc.sidecar.config;
  sc.sidecar.reload({ ...original, listen: { host: '127.0.0.1', port: 1 }, tokens: { ...original.tokens, max_active: 7 } });
  sc.sidecar.reload({ ...original, admin_listen: { host: '127.0.0.1', port: 2 } });
  sc.sidecar.reload({ ...original, tokens: { ...original.tokens, expires_in: 60 } });
  await new Promise((resolve) => setImmediate(resolve));
  const warnings = sc.logs.filter((l) => l.event === 'config_needs_restart').map((l) => l.detail);
  const warn = (key: string): string => `${key} changed: it applies at the next start`;
  // Each reload is compared with the one before it; expires_in alone applies at once, silently.
  t.same(warnings, [
    warn('listen'),
    warn('tokens.max_active'),
    warn('listen'),
    warn('admin_listen'),
    warn('tokens.max_active'),
    warn('admin_listen'),
  ]);
});
