/**
 * The metrics of ARCHITECTURE.md §5 (issue 3 capability 1) as Prometheus renders them: each
 * recording method moves exactly its series.
 */
import t from 'tap';
import { Metrics } from '../../src/admin/metrics.js';
import { parseExposition, valueOf } from '../helpers/metrics.js';

const rendered = async (metrics: Metrics): Promise<string> => (await metrics.render()).body;

t.test('render() answers the Prometheus text content type', async (t) => {
  t.equal((await new Metrics(() => 0).render()).contentType, 'text/plain; version=0.0.4; charset=utf-8');
});

t.test('requestAnswered: the status class is the hundreds digit (2xx, 4xx, 5xx)', async (t) => {
  const metrics = new Metrics(() => 0);
  for (const status of [200, 204, 404, 502]) metrics.requestAnswered('orders', status);
  const text = await rendered(metrics);
  t.equal(valueOf(text, 'oauth2_sidecar_requests_total', { collection: 'orders', status_class: '2xx' }), 2);
  t.equal(valueOf(text, 'oauth2_sidecar_requests_total', { collection: 'orders', status_class: '4xx' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_requests_total', { collection: 'orders', status_class: '5xx' }), 1);
});

t.test('requestAnswered: a client gone before any status (0) is counted as status_class="none"', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.requestAnswered('orders', 0, 0.2);
  t.equal(valueOf(await rendered(metrics), 'oauth2_sidecar_requests_total', { collection: 'orders', status_class: 'none' }), 1);
});

t.test('requestAnswered: upstream seconds go into the histogram of the collection; none when not forwarded', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.requestAnswered('orders', 200, 0.003);
  metrics.requestAnswered('orders', 401);
  const text = await rendered(metrics);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_count', { collection: 'orders' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_sum', { collection: 'orders' }), 0.003);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_bucket', { collection: 'orders', le: '0.0025' }), 0);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_bucket', { collection: 'orders', le: '0.005' }), 1);
});

t.test('requestAnswered: an upstream time above the highest bound (30 s) counts in le="+Inf" only', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.requestAnswered('orders', 504, 31);
  const text = await rendered(metrics);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_bucket', { collection: 'orders', le: '30' }), 0);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_bucket', { collection: 'orders', le: '+Inf' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_count', { collection: 'orders' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_sum', { collection: 'orders' }), 31);
});

t.test('requestAnswered: a collection with refused requests only has no upstream_duration series', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.requestAnswered('orders', 401);
  t.equal(valueOf(await rendered(metrics), 'oauth2_sidecar_upstream_duration_seconds_count', { collection: 'orders' }), undefined);
});

t.test('tokenAnswered: issued without an error, denied by RFC 6749 §5.2 code', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.tokenAnswered();
  metrics.tokenAnswered('invalid_client');
  metrics.tokenAnswered('invalid_client');
  const text = await rendered(metrics);
  t.equal(valueOf(text, 'oauth2_sidecar_tokens_issued_total'), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_tokens_denied_total', { error: 'invalid_client' }), 2);
});

t.test('tokens_active reads the live token count at scrape time', async (t) => {
  let live = 3;
  const metrics = new Metrics(() => live);
  t.equal(valueOf(await rendered(metrics), 'oauth2_sidecar_tokens_active'), 3);
  live = 7;
  t.equal(valueOf(await rendered(metrics), 'oauth2_sidecar_tokens_active'), 7);
});

t.test('configReloaded: counts ok and failed reloads apart', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.configReloaded(true);
  metrics.configReloaded(false);
  metrics.configReloaded(false);
  const text = await rendered(metrics);
  t.equal(valueOf(text, 'oauth2_sidecar_config_reloads_total', { result: 'ok' }), 1);
  t.equal(valueOf(text, 'oauth2_sidecar_config_reloads_total', { result: 'failed' }), 2);
});

t.test('configLoaded: one config_info series, of the config now serving; the timestamp in seconds', async (t) => {
  const metrics = new Metrics(() => 0);
  metrics.configLoaded('a'.repeat(64), 1_700_000_000_999);
  metrics.configLoaded('b'.repeat(64), 1_800_000_000_500);
  const text = await rendered(metrics);
  const info = parseExposition(text).samples.filter((s) => s.name === 'oauth2_sidecar_config_info');
  t.same(info, [{ name: 'oauth2_sidecar_config_info', labels: { hash: 'bbbbbbbbbbbb' }, value: 1 }]);
  t.equal(valueOf(text, 'oauth2_sidecar_config_loaded_timestamp_seconds'), 1_800_000_000);
});

t.test('two instances keep apart registries (one process may run several sidecars)', async (t) => {
  const one = new Metrics(() => 0);
  const two = new Metrics(() => 0);
  one.tokenAnswered();
  t.equal(valueOf(await rendered(one), 'oauth2_sidecar_tokens_issued_total'), 1);
  t.equal(valueOf(await rendered(two), 'oauth2_sidecar_tokens_issued_total'), 0);
});
