/**
 * Access policies (ARCHITECTURE.md §5): an access profile's `rate_limit` and `quota`, counted per
 * access profile across every token and every collection, with the RateLimit-* fields of
 * draft-ietf-httpapi-ratelimit-headers (Limit, Remaining, Reset = seconds until the window resets).
 */
import type { CounterStore } from './counters.js';

/** One limit of a policy: `requests` per fixed window of `window_s` seconds. */
export interface Limit {
  requests: number;
  window_s: number;
}

/** An access policy as configured. */
export interface Policy {
  name: string;
  rate_limit?: Limit;
  quota?: Limit;
}

/** The verdict on one request: the fields to send, and for a refusal the 429 message. */
export type PolicyVerdict =
  | { allowed: true; headers: Record<string, string> }
  | { allowed: false; headers: Record<string, string>; message: string; limit: 'rate_limit' | 'quota' };

/**
 * Counts one request of `profile` against its policy. The rate limit is counted first and the quota
 * only if the rate limit allowed the request, so requests refused for speed never spend the quota.
 * Counters are keyed by profile, policy, kind and window length: after a reload a changed
 * `requests` applies at once to the current count, a changed window (or another policy) starts a
 * new count.
 * @returns allowed, with the RateLimit-* fields of the tightest limit (fewest requests remaining;
 *   on a tie the one that resets later); or refused, with `Retry-After` and the fields of the limit
 *   that refused (Remaining 0)
 */
export async function checkPolicy(store: CounterStore, profile: string, policy: Policy): Promise<PolicyVerdict> {
  let tightest: Record<string, string> = {};
  let best: { remaining: number; resetS: number } | undefined;
  for (const kind of ['rate_limit', 'quota'] as const) {
    const limit = policy[kind];
    if (!limit) continue;
    const key = `policy\0${profile}\0${policy.name}\0${kind}\0${limit.window_s}`;
    const { allowed, count, resetS } = await store.hit(key, limit.requests, limit.window_s);
    if (!allowed) {
      const what = kind === 'quota' ? 'quota' : 'rate limit';
      return {
        allowed: false,
        limit: kind,
        message: `${what} exceeded: ${limit.requests} requests per ${limit.window_s} s`,
        headers: { 'Retry-After': String(resetS), ...fields(limit.requests, 0, resetS) },
      };
    }
    const remaining = limit.requests - count; // >= 0: a counted hit never passes the limit
    if (!best || remaining < best.remaining || (remaining === best.remaining && resetS > best.resetS)) {
      best = { remaining, resetS };
      tightest = fields(limit.requests, remaining, resetS);
    }
  }
  return { allowed: true, headers: tightest };
}

function fields(limit: number, remaining: number, resetS: number): Record<string, string> {
  return { 'RateLimit-Limit': String(limit), 'RateLimit-Remaining': String(remaining), 'RateLimit-Reset': String(resetS) };
}
