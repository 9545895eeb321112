/**
 * Prometheus metrics (ARCHITECTURE.md §5), `oauth2_sidecar_` prefix. The only file that imports
 * prom-client. Labels are bounded by the config (collections, RFC error codes), never by requests.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The sidecar's metrics and their registry. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'oauth2_sidecar_requests_total',
    help: 'Protected requests answered, by API collection ("" when none matched) and status class.',
    labelNames: ['collection', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly #upstream = new Histogram({
    name: 'oauth2_sidecar_upstream_duration_seconds',
    help: 'Time from forwarding a request to the end of the upstream response, seconds.',
    labelNames: ['collection'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly #requestChildren = new Map<string, { inc(): void }>();
  readonly #upstreamChildren = new Map<string, { observe(v: number): void }>();
  readonly #issued = new Counter({ name: 'oauth2_sidecar_tokens_issued_total', help: 'Access tokens issued.', registers: [this.registry] });
  readonly #denied = new Counter({
    name: 'oauth2_sidecar_tokens_denied_total',
    help: 'Token requests refused, by RFC 6749 §5.2 error code.',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });
  readonly #limited = new Counter({
    name: 'oauth2_sidecar_requests_limited_total',
    help: 'Protected requests refused with 429 by an access policy, by policy and limit (rate_limit, quota).',
    labelNames: ['policy', 'limit'] as const,
    registers: [this.registry],
  });
  readonly #throttled = new Counter({
    name: 'oauth2_sidecar_client_auth_throttled_total',
    help: 'Client authentications refused with 429 before any secret check, by what was over its failure limit (client_id, ip).',
    labelNames: ['by'] as const,
    registers: [this.registry],
  });
  readonly #reloads = new Counter({
    name: 'oauth2_sidecar_config_reloads_total',
    help: 'Config reloads, by result (ok, failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly #configInfo = new Gauge({
    name: 'oauth2_sidecar_config_info',
    help: 'The loaded config: 1 for its SHA-256 (first 12 hex chars).',
    labelNames: ['hash'] as const,
    registers: [this.registry],
  });
  readonly #configTime = new Gauge({
    name: 'oauth2_sidecar_config_loaded_timestamp_seconds',
    help: 'When the loaded config was applied, Unix seconds.',
    registers: [this.registry],
  });

  /**
   * @param activeTokens reads the number of live tokens at scrape time
   */
  constructor(activeTokens: () => number) {
    new Gauge({
      name: 'oauth2_sidecar_tokens_active',
      help: 'Live access tokens held by this process.',
      registers: [this.registry],
      collect() {
        this.set(activeTokens());
      },
    });
    collectDefaultMetrics({ register: this.registry });
    for (const result of ['ok', 'failed']) this.#reloads.inc({ result }, 0);
  }

  /**
   * Counts a protected request.
   * @param collection the API collection name, "" if none matched
   * @param upstreamSeconds time spent on the upstream exchange, seconds, if it was forwarded
   */
  requestAnswered(collection: string, status: number, upstreamSeconds?: number): void {
    const statusClass = status === 0 ? 'none' : `${Math.floor(status / 100)}xx`;
    // Labelled children are looked up once per (collection, class), not hashed on every request.
    const key = `${collection}\0${statusClass}`;
    let counter = this.#requestChildren.get(key);
    if (!counter) this.#requestChildren.set(key, (counter = this.#requests.labels(collection, statusClass)));
    counter.inc();
    if (upstreamSeconds === undefined) return;
    let histogram = this.#upstreamChildren.get(collection);
    if (!histogram) this.#upstreamChildren.set(collection, (histogram = this.#upstream.labels(collection)));
    histogram.observe(upstreamSeconds);
  }

  /** Counts a token request: issued when `error` is undefined, else denied with that RFC code. */
  tokenAnswered(error?: string): void {
    if (error === undefined) this.#issued.inc();
    else this.#denied.inc({ error });
  }

  /** Counts a protected request refused by an access policy (`limit`: rate_limit or quota). */
  requestLimited(policy: string, limit: string): void {
    this.#limited.inc({ policy, limit });
  }

  /** Counts a client authentication refused by the failure throttle (`by`: client_id or ip). */
  clientAuthThrottled(by: string): void {
    this.#throttled.inc({ by });
  }

  /** Records a config reload attempt. */
  configReloaded(ok: boolean): void {
    this.#reloads.inc({ result: ok ? 'ok' : 'failed' });
  }

  /**
   * Records the config now serving.
   * @param hash SHA-256 hex of the config text; `at` Unix time in ms
   */
  configLoaded(hash: string, at: number): void {
    this.#configInfo.reset();
    this.#configInfo.set({ hash: hash.slice(0, 12) }, 1);
    this.#configTime.set(Math.floor(at / 1000));
  }

  /** @returns the Prometheus text exposition and its content type */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
