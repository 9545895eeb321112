/**
 * The one file that imports `ioredis` (ARCHITECTURE.md §1.5): a connection shared by the Redis token
 * store and the Redis counter store. Commands never queue while Redis is away: they fail at once with
 * `StoreUnavailableError`, so requests fail closed (503) instead of hanging, and the client reconnects
 * in the background with a capped backoff, so the sidecar recovers without a restart.
 */
import { Redis, ReplyError } from 'ioredis';
import type { Logger } from '../log.js';
import { StoreUnavailableError } from '../oauth/errors.js';

/** The key prefix of everything the sidecar keeps in Redis (several sidecars may share one Redis). */
export const DEFAULT_PREFIX = 'oauth2-sidecar:';

/** A Redis connection with fail-fast commands and logged availability transitions. */
export class RedisConnection {
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #scripts = new Map<string, string>();
  #available = false;
  #reported = false;
  #closed = false;

  /**
   * Connects in the background (see `ready`).
   * @param url a `redis://` or `rediss://` URL (from the environment variable `store.url_env` names)
   * @param opts.commandTimeoutMs a command without an answer this long fails (ms, default 1000)
   */
  constructor(url: string, log: Logger, opts: { commandTimeoutMs?: number } = {}) {
    this.#log = log;
    this.#redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 1000,
      connectTimeout: 2000,
      // Reconnect for ever, at most once a second: recovery needs no restart.
      retryStrategy: (times: number) => Math.min(times * 50, 1000),
    });
    this.#redis.on('ready', () => this.#recovered());
    // ioredis emits 'error' on every failed (re)connect: log the first of each outage only.
    this.#redis.on('error', (err: Error) => this.#lost(err.message));
    this.#redis.on('close', () => this.#lost('connection closed'));
  }

  /**
   * Waits until the connection is ready, or `timeoutMs` has passed (it keeps trying after that).
   * @returns whether it is ready
   */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.#redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#redis.off('ready', done);
        resolve(this.#redis.status === 'ready');
      };
      const timer = setTimeout(done, timeoutMs);
      this.#redis.once('ready', done);
    });
  }

  /** For /readyz: undefined when Redis answers, else why not. */
  notReadyBecause(): string | undefined {
    return this.#available ? undefined : 'redis unavailable';
  }

  /**
   * Runs a Lua script (EVALSHA, loaded on first use). Scripts are atomic in Redis: no other
   * replica's command runs between their steps.
   * @throws StoreUnavailableError when Redis is unreachable or slow; a Redis error reply (a bug) as is
   */
  async script(lua: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    let name = this.#scripts.get(lua);
    if (!name) {
      name = `sidecar${this.#scripts.size}`;
      this.#redis.defineCommand(name, { numberOfKeys: keys.length, lua });
      this.#scripts.set(lua, name);
    }
    const command = (this.#redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!;
    return this.#guard(command.call(this.#redis, ...keys, ...args));
  }

  /**
   * Runs one Redis command.
   * @throws StoreUnavailableError when Redis is unreachable or slow; a Redis error reply as is
   */
  async command(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.#guard(this.#redis.call(name, ...args));
  }

  /** Closes the connection; no reconnect. */
  close(): void {
    this.#closed = true;
    this.#redis.disconnect();
  }

  async #guard<T>(pending: Promise<T>): Promise<T> {
    try {
      const result = await pending;
      if (!this.#available) this.#recovered(); // a timed-out command, then an answer: Redis is back
      return result;
    } catch (err) {
      if (err instanceof ReplyError) throw err;
      this.#lost((err as Error).message);
      throw new StoreUnavailableError((err as Error).message);
    }
  }

  #recovered(): void {
    this.#available = true;
    if (this.#reported) this.#log.warn({ event: 'store_recovered', store: 'redis' });
    this.#reported = false;
  }

  #lost(detail: string): void {
    this.#available = false;
    if (this.#closed) return;
    if (this.#reported) return;
    this.#reported = true;
    this.#log.error({ event: 'store_unavailable', store: 'redis', detail });
  }
}
