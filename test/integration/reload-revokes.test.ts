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
