/**
 * The admin listener (`admin_listen`, never the data-plane port): liveness, readiness and metrics for
 * Kubernetes probes and Prometheus.
 */
import http from 'node:http';
import { sendJson, sendMessage } from '../respond.js';
import type { Metrics } from './metrics.js';

/** What readiness depends on. */
export interface Readiness {
  /** @returns undefined when ready, else why not ("draining", "not listening") */
  notReadyBecause(): string | undefined;
}

const PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Creates the admin server (not yet listening).
 * - `GET /healthz`: 200 while the process serves (liveness);
 * - `GET /readyz`: 200 when the config is loaded and the data plane listens, 503 while draining;
 * - `GET /metrics`: Prometheus text format.
 * Other paths are 404; other methods on these paths 405 (RFC 9110 §15.5.6), HEAD as GET.
 */
export function createAdminServer(metrics: Metrics, readiness: Readiness): http.Server {
  return http.createServer((req, res) => {
    // An http.Server request always has a url.
    const path = req.url!.split('?')[0]!;
    if (!PATHS.has(path)) {
      sendMessage(res, 404, 'no such admin endpoint');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendMessage(res, 405, 'the admin endpoints accept GET only', { Allow: 'GET, HEAD' });
    } else if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      const reason = readiness.notReadyBecause();
      sendJson(res, reason ? 503 : 200, reason ? { status: 'not_ready', reason } : { status: 'ready' });
    } else {
      metrics.render().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
          res.end(body);
        },
        // A collector that throws is a 500 the scraper records, not a hung scrape.
        () => sendMessage(res, 500, 'metrics unavailable'),
      );
    }
  });
}
