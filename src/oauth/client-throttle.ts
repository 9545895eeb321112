/**
 * Throttling of failed client authentications (issue 4; ARCHITECTURE.md §5 `token_endpoint`): per
 * client_id and per source address, in fixed windows of a shared CounterStore. The check runs before
 * any secret is verified, so a throttled guess costs no PBKDF2 work and its answer time says nothing
 * about whether the client_id exists.
 */
import type { CounterStore } from '../policy/counters.js';
import { OAuthError } from './errors.js';

/** The `token_endpoint` config block. */
export interface ThrottleLimits {
  max_failures_per_client: number;
  max_failures_per_ip: number;
  failure_window_s: number;
}

/** Counts failed client authentications and refuses clients and addresses over their limit. */
export class FailureThrottle {
  /**
   * @param store where failures are counted (shared by replicas when the store is)
   * @param limits read at every call, so a reload applies at once
   * @param onThrottled told of every refusal: `by` is "client_id" or "ip" (the client_id when both)
   */
  constructor(
    private readonly store: CounterStore,
    private readonly limits: () => ThrottleLimits,
    private readonly onThrottled: (by: 'client_id' | 'ip') => void,
  ) {}

  /**
   * Refuses a client_id or address that has used up its failures in the current window. Reads the
   * counts without counting (`hit` with limit 0).
   * @throws OAuthError `temporarily_unavailable`, status 429, `retryAfterS` the seconds until the
   *   window ends
   */
  async check(clientId: string, address: string): Promise<void> {
    const limits = this.limits();
    // Both reads at once: one round trip, not two, when the counters are shared (Redis).
    const [byClient, byAddress] = await Promise.all([
      this.store.hit(clientKey(clientId, limits), 0, limits.failure_window_s),
      this.store.hit(addressKey(address, limits), 0, limits.failure_window_s),
    ]);
    const clientBlocked = byClient.count >= limits.max_failures_per_client;
    const addressBlocked = byAddress.count >= limits.max_failures_per_ip;
    if (!clientBlocked && !addressBlocked) return;
    // Both counts share one window length, so their windows end together.
    const retryAfterS = byClient.resetS;
    this.onThrottled(clientBlocked ? 'client_id' : 'ip');
    throw new OAuthError('temporarily_unavailable', 'too many failed client authentications, retry later', {
      status: 429,
      retryAfterS,
      detail: clientBlocked ? 'too many failures for this client_id' : 'too many failures from this address',
    });
  }

  /**
   * Counts one failed authentication against the client_id (unless undefined) and the address.
   */
  async failed(clientId: string | undefined, address: string): Promise<void> {
    const limits = this.limits();
    if (clientId !== undefined) await this.store.hit(clientKey(clientId, limits), limits.max_failures_per_client, limits.failure_window_s);
    await this.store.hit(addressKey(address, limits), limits.max_failures_per_ip, limits.failure_window_s);
  }
}

// The window length is part of the key: a reload that changes it starts new counts.
const clientKey = (id: string, l: ThrottleLimits): string => `auth-fail\0client\0${l.failure_window_s}\0${id}`;
const addressKey = (address: string, l: ThrottleLimits): string => `auth-fail\0ip\0${l.failure_window_s}\0${address}`;
