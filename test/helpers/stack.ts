/**
 * The usual forwarding test bench: an upstream, a sidecar in front of it and a fresh token for each
 * fixture client, all closed when the test ends.
 */
import type { Config } from '../../src/config/schema.js';
import type { TokenStore } from '../../src/oauth/tokens.js';
import { getToken } from './client.js';
import { BASIC, testConfig } from './config.js';
import { startSidecar, type RunningSidecar } from './sidecar.js';
import { startUpstream, type Upstream } from './upstream.js';

export interface Stack {
  upstream: Upstream;
  sc: RunningSidecar;
  /** a live token of svc-a (collection "orders") */
  tokenA: string;
  /** a live token of svc-b (collection "public") */
  tokenB: string;
}

/**
 * Starts the bench and registers its teardown.
 * @param opts.upstream an upstream already started (default: the echo upstream)
 * @param opts.config builds the config from the upstream URL (default: `testConfig(url)`)
 * @param opts.store a token store other than the default
 */
export async function startStack(
  t: { teardown(fn: () => unknown): void },
  opts: { upstream?: Upstream; config?: (upstreamUrl: string) => Config; store?: TokenStore } = {},
): Promise<Stack> {
  const upstream = opts.upstream ?? (await startUpstream());
  const sc = await startSidecar((opts.config ?? testConfig)(upstream.url), { store: opts.store });
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  return { upstream, sc, tokenA: await getToken(sc.port, BASIC.aForm), tokenB: await getToken(sc.port, BASIC.b) };
}
