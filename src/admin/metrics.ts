/**
 * Prometheus metrics (ARCHITECTURE.md §5), `oauth2_sidecar_` prefix. The only file that imports
 * prom-client. Labels are bounded by the config (collections, RFC error codes), never by requests.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';

/**
 * How often the event-loop delay behind `nodejs_eventloop_lag_p50_seconds` and its siblings is
 * sampled, ms: ten samples a second, 150 per 15 s scrape.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** The sidecar's metrics and their registry. */
export class Metrics {
  readonly registry = new Registry();
  /** protected requests per API collection, counted on the hot path without prom-client (see `CollectionCounts`) */
  readonly #collections = new Map<string, CollectionCounts>();
  readonly #requests = new Counter({
    name: 'oauth2_sidecar_requests_total',
    help: 'Protected requests answered, by API collection ("" when none matched) and status class.',
    labelNames: ['collection', 'status_class'] as const,
    registers: [this.registry],
    // Read from the plain counts at scrape time: the totals replace what the last scrape set.
    collect: () => {
      this.#requests.reset();
      for (const [collection, counts] of this.#collections) {
        for (let i = 0; i < STATUS_CLASSES.length; i++) {
          const n = counts.byClass[i]!;
          if (n > 0) this.#requests.inc({ collection, status_class: STATUS_CLASSES[i]! }, n);
        }
      }
    },
  });
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
    this.registry.registerMetric(upstreamHistogram(this.#collections));
    // prom-client samples event-loop delay with a timer every 10 ms by default: 100 wake-ups a second
    // in an idle sidecar, about 6 ms of CPU a second (schedstat), against 1 ms at 100 ms. Every pod pays it.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    for (const result of ['ok', 'failed']) this.#reloads.inc({ result }, 0);
  }

  /**
   * Counts a protected request: a few array increments, no label hashing (it runs on every request).
   * @param collection the API collection name, "" if none matched
   * @param status the status sent, 0 if the client left before one was
   * @param upstreamSeconds time spent on the upstream exchange, seconds, if it was forwarded
   */
  requestAnswered(collection: string, status: number, upstreamSeconds?: number): void {
    let counts = this.#collections.get(collection);
    if (!counts) this.#collections.set(collection, (counts = new CollectionCounts()));
    counts.byClass[Math.floor(status / 100)]!++; // 0 -> "none"; Node sends statuses 100-999
    if (upstreamSeconds === undefined) return;
    let i = 0;
    while (i < UPSTREAM_BUCKETS.length && upstreamSeconds > UPSTREAM_BUCKETS[i]!) i++;
    counts.buckets[i]!++;
    counts.sum += upstreamSeconds;
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

/** Upper bounds of the upstream-duration buckets, seconds. */
const UPSTREAM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** `status_class` by hundreds digit of the status: 0 for a client gone before any status. */
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx', '7xx', '8xx', '9xx'];

/**
 * One API collection's protected requests in plain numbers. prom-client's labelled `inc()` and
 * `observe()` validate and hash their labels and look each bucket up by its bound as a string key on
 * every call: counting through them took about 11,000 instructions per forwarded request (callgrind,
 * sidecar with and without it), 5% of the sidecar's own. At scrape time requests_total reads these
 * counts through its public `collect()`; the histogram, whose buckets prom-client offers no way to
 * set, through `upstreamHistogram`.
 */
class CollectionCounts {
  /** requests by the hundreds digit of their status (index 0: none) */
  readonly byClass = new Float64Array(STATUS_CLASSES.length);
  /** upstream durations per bucket, not cumulative; the last slot is above the highest bound */
  readonly buckets = new Float64Array(UPSTREAM_BUCKETS.length + 1);
  /** sum of the upstream durations, seconds */
  sum = 0;
}

/**
 * `oauth2_sidecar_upstream_duration_seconds`, a Prometheus histogram by API collection, exposed from
 * the plain counts: the object prom-client's registry reads a metric through (`get()`, which its own
 * Histogram implements), with the same series, labels and order that Histogram renders.
 */
function upstreamHistogram(collections: ReadonlyMap<string, CollectionCounts>): Metric {
  const name = 'oauth2_sidecar_upstream_duration_seconds';
  const metric = {
    name,
    help: 'Time from forwarding a request to the end of the upstream response, seconds.',
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [collection, counts] of collections) {
        const count = counts.buckets.reduce((a, b) => a + b, 0);
        if (count === 0) continue; // refused requests only: no upstream exchange to report
        let below = 0;
        for (let i = 0; i < UPSTREAM_BUCKETS.length; i++) {
          below += counts.buckets[i]!;
          values.push({ labels: { le: UPSTREAM_BUCKETS[i]!, collection }, value: below, metricName: `${name}_bucket` });
        }
        values.push(
          { labels: { le: '+Inf', collection }, value: count, metricName: `${name}_bucket` },
          { labels: { collection }, value: counts.sum, metricName: `${name}_sum` },
          { labels: { collection }, value: count, metricName: `${name}_count` },
        );
      }
      return { name, help: metric.help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
  // The registry's typings name prom-client's own classes; at run time it calls get() and reads these fields.
  return metric as unknown as Metric;
}
