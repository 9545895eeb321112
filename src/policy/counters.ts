/**
 * Request counters in fixed windows aligned to the epoch, behind an interface so that a shared store
 * (Redis, a later issue) can serve several replicas: aligned windows mean every replica agrees on
 * where a window starts and ends. Used by access policies (rate limits, quotas) and by the token
 * endpoint's failure throttle.
 */

/** Where counters live. Async so that a shared store can implement it. */
export interface CounterStore {
  /**
   * Counts one hit against `key` in the fixed window of `windowS` seconds that contains now (wall
   * clock; windows start at multiples of `windowS` since the Unix epoch). A hit that would take the
   * count over `limit` is not counted, so `limit` 0 reads the count without changing it.
   * @param limit the most hits allowed in one window
   * @param windowS the window length, seconds (a whole number >= 1)
   * @returns whether the hit was allowed (and counted), the count in this window after the hit, and
   *   the whole seconds until the window resets (1 to `windowS`, rounded up)
   */
  hit(key: string, limit: number, windowS: number): Promise<{ allowed: boolean; count: number; resetS: number }>;
  /** stops background work (the sweep timer) */
  close(): void;
}

/** A wall clock in ms since the Unix epoch (Date.now by default; tests inject one). */
export type WallClock = () => number;

interface Window {
  /** when this window ends, epoch ms */
  endsAt: number;
  count: number;
}

/**
 * Counters in this process's memory. At most `maxKeys` keys are held: ended windows are dropped
 * first, then the oldest keys (a key set by attacker-chosen values, such as a client_id, cannot grow
 * memory without bound; losing a key only forgets its count).
 */
export class MemoryCounterStore implements CounterStore {
  readonly #windows = new Map<string, Window>();
  readonly #now: WallClock;
  readonly #maxKeys: number;
  readonly #timer: NodeJS.Timeout;

  /**
   * @param opts.now wall clock, epoch ms
   * @param opts.maxKeys the most keys held at once (default 100000)
   * @param opts.sweepIntervalMs how often ended windows are dropped (ms, default 60000)
   */
  constructor(opts: { now?: WallClock; maxKeys?: number; sweepIntervalMs?: number } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#timer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000).unref();
  }

  async hit(key: string, limit: number, windowS: number): Promise<{ allowed: boolean; count: number; resetS: number }> {
    const now = this.#now();
    const windowMs = windowS * 1000;
    const endsAt = (Math.floor(now / windowMs) + 1) * windowMs;
    let window = this.#windows.get(key);
    if (!window || window.endsAt !== endsAt) {
      if (!window) this.#makeRoom();
      window = { endsAt, count: 0 };
      this.#windows.set(key, window);
    }
    const allowed = window.count < limit;
    if (allowed) window.count++;
    return { allowed, count: window.count, resetS: Math.ceil((endsAt - now) / 1000) };
  }

  /** number of keys held */
  get size(): number {
    return this.#windows.size;
  }

  /** Drops every window that has ended (also runs on a timer). */
  sweep(): void {
    const now = this.#now();
    for (const [key, window] of this.#windows) if (window.endsAt <= now) this.#windows.delete(key);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Before a new key: if full, drop ended windows, then the oldest keys (Map order is insertion order). */
  #makeRoom(): void {
    if (this.#windows.size < this.#maxKeys) return;
    this.sweep();
    for (const key of this.#windows.keys()) {
      if (this.#windows.size < this.#maxKeys) break;
      this.#windows.delete(key);
    }
  }
}
