/**
 * Issue 3 capability 6: deploy/grafana-dashboard.json queries only metrics the sidecar really
 * exports. Every PromQL expression of the dashboard (panels, annotations, variables) is read, its
 * metric names extracted, and each is looked up in the /metrics of a sidecar started by main().
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { getToken, request, tokenRequest } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { startMain } from '../helpers/in-process.js';
import { parseExposition } from '../helpers/metrics.js';
import { startUpstream } from '../helpers/upstream.js';

const DASHBOARD = new URL('../../deploy/grafana-dashboard.json', import.meta.url);
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Record<string, any>;

/** Every PromQL expression in the dashboard: panel targets, annotations, variable queries. */
function expressions(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) expressions(item, into);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'expr' || key === 'definition') && typeof value === 'string') into.push(value);
      else expressions(value, into);
    }
  }
  return into;
}

// PromQL words that are not metric names (aggregation modifiers, set and comparison keywords).
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: what is left once strings, label matchers, ranges,
 * grouping label lists, Grafana variables, numbers and function names are removed. Grafana's
 * `label_values(metric, label)` names a metric in its first argument only.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/label_values\(\s*([a-zA-Z_:][\w:]*)[^)]*\)/g, '$1')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const before = stripped[m.index - 1] ?? ' ';
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (/[\d.]/.test(before) || after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

const used = [...new Set(expressions(dashboard).flatMap(metricNames))].sort();

t.test('the extractor finds metric names and nothing else in PromQL', async (t) => {
  t.same(
    metricNames('histogram_quantile(0.99, sum by (le, collection) (rate(a_seconds_bucket{x=~"$x",le!="1e3"}[$__rate_interval]))) > 1e3'),
    ['a_seconds_bucket'],
  );
  t.same(metricNames('sum(rate(b_total[5m] offset 1h)) / on (job) group_left sum(c) and d unless time() - e'), ['b_total', 'c', 'd', 'e']);
  t.same(metricNames('label_values(f_info{y="1"}, instance)'), ['f_info']);
});

t.test(
  'issue 3 capability 6: the dashboard charts every oauth2_sidecar_ metric (ARCHITECTURE §5, access policies, the failure throttle)',
  async (t) => {
    const base = new Set(used.map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    for (const name of [
      'oauth2_sidecar_requests_total',
      'oauth2_sidecar_upstream_duration_seconds',
      'oauth2_sidecar_tokens_issued_total',
      'oauth2_sidecar_tokens_denied_total',
      'oauth2_sidecar_tokens_active',
      'oauth2_sidecar_config_reloads_total',
      'oauth2_sidecar_config_info',
      'oauth2_sidecar_config_loaded_timestamp_seconds',
      'oauth2_sidecar_requests_limited_total',
      'oauth2_sidecar_client_auth_throttled_total',
    ]) {
      t.ok(base.has(name), name);
    }
  },
);

t.test('issue 3 capability 6: every metric the dashboard queries is exported by a running sidecar, with samples', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  // One request a minute for svc-a and one failed authentication per client: the second of each is
  // refused, so the policy and throttle counters have samples too.
  const config = JSON.parse(
    configText(upstream.url, {
      policies: [{ name: 'one-a-minute', rate_limit: { requests: 1, window_s: 60 } }],
      token_endpoint: { max_failures_per_client: 1, max_failures_per_ip: 1000, failure_window_s: 60 },
    }),
  ) as { access_profiles: Record<string, unknown>[] };
  config.access_profiles[0]!.policy = 'one-a-minute';
  const sc = await startMain(t, join(t.testdir({ 'config.yaml': JSON.stringify(config) }), 'config.yaml'));
  // Labelled series appear at their first observation: one of each, so every name has a sample.
  const token = await getToken(sc.port, BASIC.aForm);
  await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.bWrong });
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.bWrong })).status, 429);
  await request(sc.port, 'GET', '/orders/x', { authorization: `Bearer ${token}` });
  t.equal((await request(sc.port, 'GET', '/orders/x', { authorization: `Bearer ${token}` })).status, 429);
  const { types, samples } = parseExposition((await request(sc.adminPort, 'GET', '/metrics')).body);
  const sampled = new Set(samples.map((s) => s.name));
  t.ok(used.length >= 12, `${used.length} metric names in the dashboard: ${used.join(', ')}`);
  for (const name of used) {
    const suffix = /_(bucket|sum|count)$/.exec(name);
    const family = suffix && types.get(name.slice(0, -suffix[0].length)) === 'histogram' ? name.slice(0, -suffix[0].length) : name;
    t.ok(types.has(family), `${name}: # TYPE ${family} exported`);
    t.ok(sampled.has(name), `${name}: a sample is exported`);
  }
});

t.test('issue 3 capability 6: Grafana schema 39, every query on the ${datasource} Prometheus variable', async (t) => {
  t.equal(dashboard.schemaVersion, 39);
  const variable = dashboard.templating.list.find((v: Record<string, unknown>) => v.name === 'datasource');
  t.match(variable, { type: 'datasource', query: 'prometheus' });
  const panels = (dashboard.panels as Record<string, any>[]).filter((p) => p.type !== 'row');
  t.ok(panels.length >= 8, `${panels.length} panels`);
  for (const panel of panels) {
    t.same(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, `${panel.title}: datasource`);
    for (const target of panel.targets) t.same(target.datasource, panel.datasource, `${panel.title} ${target.refId}`);
  }
});

t.test('issue 3 capability 6: panel ids are unique and every panel has a place on the grid', async (t) => {
  const panels = dashboard.panels as Record<string, any>[];
  t.equal(new Set(panels.map((p) => p.id)).size, panels.length);
  for (const panel of panels) t.match(panel.gridPos, { h: Number, w: Number, x: Number, y: Number }, panel.title);
});

t.test('issue 3 capability 6: upstream latency is charted as p50, p95 and p99 by histogram_quantile', async (t) => {
  const exprs = expressions(dashboard).filter((e) => e.includes('oauth2_sidecar_upstream_duration_seconds_bucket'));
  const quantiles = exprs.map((e) => /histogram_quantile\((0\.\d+),/.exec(e)?.[1]).sort();
  t.same(quantiles, ['0.5', '0.95', '0.99']);
});
