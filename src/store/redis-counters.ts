/**
 * Rate-limit and quota counters shared by every replica through Redis (the scale-out issue). One Lua
 * script reads, checks and increments a window's counter atomically, so N replicas together never
 * admit more than the limit. The window is taken from the Redis server's clock (TIME), so replicas
 * whose clocks disagree still count into the same window.
 */
import { DEFAULT_PREFIX, type RedisConnection } from './redis.js';
import type { CounterStore } from '../policy/counters.js';

// KEYS[1] the counter's key without its window; ARGV[1] limit, ARGV[2] window in seconds.
// -> { 1 allowed / 0 refused, count in this window, whole seconds until the window resets }
const HIT = `local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local w = tonumber(ARGV[2])
local start = math.floor(now / w) * w
local k = KEYS[1] .. ':' .. string.format('%d', start)
local reset = math.ceil(start + w - now)
local c = tonumber(redis.call('GET', k) or '0')
if c >= tonumber(ARGV[1]) then return { 0, c, reset } end
c = redis.call('INCR', k)
if c == 1 then redis.call('EXPIREAT', k, start + w + 1) end
return { 1, c, reset }`;

/** A `CounterStore` in Redis: fixed windows aligned to the Unix epoch, one atomic script per hit. */
export class RedisCounterStore implements CounterStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;

  /** @param opts.prefix key prefix (default `oauth2-sidecar:`); counters live under `<prefix>c:` */
  constructor(redis: RedisConnection, opts: { prefix?: string } = {}) {
    this.#redis = redis;
    this.#prefix = opts.prefix ?? DEFAULT_PREFIX;
  }

  /**
   * Counts one hit (see `CounterStore.hit`); `windowS` in seconds.
   * @throws StoreUnavailableError when Redis is unreachable
   */
  async hit(key: string, limit: number, windowS: number): Promise<{ allowed: boolean; count: number; resetS: number }> {
    const [allowed, count, resetS] = (await this.#redis.script(HIT, [`${this.#prefix}c:${key}`], [limit, windowS])) as [
      number,
      number,
      number,
    ];
    return { allowed: allowed === 1, count, resetS };
  }

  close(): void {
    this.#redis.close();
  }
}
