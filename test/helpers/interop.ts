/**
 * The bench of the interoperability tests: a sidecar on 127.0.0.1:0 (domain "127.0.0.1", so the
 * issuer is http://127.0.0.1:<port>) in front of the echo upstream, with two clients: one with an
 * ordinary secret and one whose secret is full of reserved characters.
 */
import { testConfig } from './config.js';
import { startSidecar, type RunningSidecar } from './sidecar.js';
import { startUpstream, type Upstream } from './upstream.js';

/** A client of the interop bench: its id, secret and the collections its profile may call. */
export interface InteropClient {
  id: string;
  secret: string;
}

/** The clients every interop test runs with, by name. */
export const INTEROP_CLIENTS: Record<'ordinary' | 'reserved', InteropClient> = {
  ordinary: { id: 'svc-plain', secret: 's3cret-Plain_1' },
  // RFC 6749 §2.3.1: every character that form-urlencoding and Basic treat specially.
  reserved: { id: 'svc-reserved', secret: 'p@ss:w/rd+%&=?#' },
};

export interface InteropStack {
  sc: RunningSidecar;
  upstream: Upstream;
  /** the issuer: http://127.0.0.1:<port> */
  issuer: string;
}

/** Starts the bench; both clients may call "orders" and "public". Closed when the test ends. */
export async function startInteropStack(t: { teardown(fn: () => unknown): void }): Promise<InteropStack> {
  const upstream = await startUpstream();
  const config = testConfig(upstream.url, {
    domains: [{ host: '127.0.0.1' }],
    access_profiles: Object.entries(INTEROP_CLIENTS).map(([name, c]) => ({
      name,
      client_id: c.id,
      client_secret: c.secret,
      collections: ['orders', 'public'],
    })),
  });
  const sc = await startSidecar(config);
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  return { sc, upstream, issuer: `http://127.0.0.1:${sc.port}` };
}
