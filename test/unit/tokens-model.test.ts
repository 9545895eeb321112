/**
 * The in-memory token store (src/oauth/tokens.ts) against a plain model of its rules, over generated
 * sequences of issue, lookup, revoke, revokeProfile, sweep and clock steps on a small store: every
 * answer and the size must match. The rules: dead at the expiry instant (RFC 7519 §4.1.4 by analogy),
 * at most max_active, and when full the access profile holding the most tokens loses its least
 * recently used one, on a tie the issuing profile (B27).
 */
import fc from 'fast-check';
import t from 'tap';
import { MemoryTokenStore, type TokenRecord } from '../../src/oauth/tokens.js';

interface ModelToken {
  token: string;
  profile: string;
  client_id: string;
  scope: readonly string[];
  expiresAt: number;
  lifetime: number;
  /** larger = more recently used */
  used: number;
}

/** The rules, as directly as they can be written. */
class Model {
  tokens: ModelToken[] = [];
  /** profiles holding tokens, in the order they came to hold one (the store's tie-break among others) */
  order: string[] = [];
  #tick = 0;
  constructor(readonly maxActive: number) {}

  count(profile: string): number {
    return this.tokens.filter((x) => x.profile === profile).length;
  }

  remove(victim: ModelToken): void {
    this.tokens = this.tokens.filter((x) => x !== victim);
    if (this.count(victim.profile) === 0) this.order = this.order.filter((p) => p !== victim.profile);
  }

  issue(token: Omit<ModelToken, 'used'>): void {
    if (this.tokens.length >= this.maxActive) {
      let largest = this.order.includes(token.profile) ? token.profile : undefined;
      for (const p of this.order) if (largest === undefined || this.count(p) > this.count(largest)) largest = p;
      const own = this.tokens.filter((x) => x.profile === largest);
      this.remove(own.reduce((a, b) => (b.used < a.used ? b : a)));
    }
    this.tokens.push({ ...token, used: ++this.#tick });
    if (!this.order.includes(token.profile)) this.order.push(token.profile);
  }

  lookup(token: string, now: number): Omit<TokenRecord, 'issuedAt'> | undefined {
    const found = this.tokens.find((x) => x.token === token);
    if (!found) return undefined;
    if (now >= found.expiresAt) {
      this.remove(found);
      return undefined;
    }
    found.used = ++this.#tick;
    return { profile: found.profile, client_id: found.client_id, scope: found.scope, expiresAt: found.expiresAt, lifetime: found.lifetime };
  }

  revoke(token: string, now: number): boolean {
    const found = this.tokens.find((x) => x.token === token);
    if (!found) return false;
    this.remove(found);
    return now < found.expiresAt;
  }

  revokeProfile(profile: string): void {
    for (const x of this.tokens.filter((x) => x.profile === profile)) this.remove(x);
  }

  sweep(now: number): void {
    for (const x of this.tokens.filter((x) => now >= x.expiresAt)) this.remove(x);
  }
}

const profile = fc.constantFrom('a', 'b', 'c');
const op = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('issue' as const),
      profile,
      scope: fc.constantFrom(['x'], ['x', 'y']),
      lifetime: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('lookup' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revokeProfile' as const), profile }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
);

t.test('B27, B12: the store answers as the model over generated operation sequences', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 120 }), async (maxActive, ops) => {
      let now = 1_000_000;
      const store = new MemoryTokenStore({ maxActive, now: () => now, sweepIntervalMs: 3_600_000 });
      const model = new Model(maxActive);
      const issued: string[] = [];
      try {
        for (const o of ops) {
          if (o.kind === 'issue') {
            const client_id = `svc-${o.profile}`;
            const { access_token } = await store.issue({ profile: o.profile, client_id, scope: o.scope, lifetime: o.lifetime });
            issued.push(access_token);
            model.issue({
              token: access_token,
              profile: o.profile,
              client_id,
              scope: o.scope,
              expiresAt: now + o.lifetime * 1000,
              lifetime: o.lifetime,
            });
          } else if (o.kind === 'lookup' || o.kind === 'revoke') {
            if (issued.length === 0) continue;
            const token = issued[o.pick % issued.length]!;
            if (o.kind === 'revoke') {
              if ((await store.revoke(token)) !== model.revoke(token, now)) return false;
            } else {
              const record = await store.lookup(token);
              const { issuedAt, ...rest } = record ?? { issuedAt: 0 };
              if (!Number.isInteger(issuedAt)) return false;
              const expected = model.lookup(token, now);
              if (JSON.stringify(record ? rest : undefined) !== JSON.stringify(expected)) return false;
            }
          } else if (o.kind === 'revokeProfile') {
            await store.revokeProfile(o.profile);
            model.revokeProfile(o.profile);
          } else if (o.kind === 'sweep') {
            store.sweep();
            model.sweep(now);
          } else now += o.ms;
          if (store.size !== model.tokens.length) return false;
        }
        return true;
      } finally {
        store.close();
      }
    }),
    { numRuns: 300 },
  );
  t.pass('held');
});
