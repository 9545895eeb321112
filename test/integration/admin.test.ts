/**
 * Issue 3 capability 1, the admin listener (`admin_listen`): liveness, readiness and Prometheus
 * metrics on their own port, started through main() as the binary starts them.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Gauge } from 'prom-client';
import t from 'tap';
import { createAdminServer } from '../../src/admin/server.js';
import { Metrics } from '../../src/admin/metrics.js';
import { createLogger } from '../../src/log.js';
import { main } from '../../src/main.js';
import { Sidecar } from '../../src/server.js';
import { getToken, request, tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { startMain, type InProcessSidecar } from '../helpers/in-process.js';
import { parseExposition, valueOf } from '../helpers/metrics.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let upstream: Upstream;
let sc: InProcessSidecar;
let file: string;
const started = Date.now();
t.before(async () => {
  upstream = await startUpstream();
  file = join(t.testdir({ 'config.yaml': configText(upstream.url) }), 'config.yaml');
  sc = await startMain(t, file);
});
t.teardown(() => upstream.close());

const admin = (method: string, path: string, port = sc.adminPort): Promise<Answer> => request(port, method, path, { host: '127.0.0.1' });
const scrape = async (): Promise<string> => (await admin('GET', '/metrics')).body;
const JSON_NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };

t.test('issue 3 capability 1: GET /healthz is 200 {"status":"ok"} on the admin port', async (t) => {
  const answer = await admin('GET', '/healthz');
  t.equal(answer.status, 200);
  t.match(answer.headers, { ...JSON_NO_STORE, 'content-length': '15' });
  t.equal(answer.body, '{"status":"ok"}');
});

t.test('issue 3 capability 1: GET /readyz is 200 {"status":"ready"} once the config is loaded and the data plane listens', async (t) => {
  const answer = await admin('GET', '/readyz');
  t.equal(answer.status, 200);
  t.match(answer.headers, JSON_NO_STORE);
  t.equal(answer.body, '{"status":"ready"}');
});

t.test('issue 3 capability 1: the admin endpoints are not on the data plane (404 there)', async (t) => {
  t.not(sc.adminPort, sc.port);
  const answer = await request(sc.port, 'GET', '/healthz');
  t.equal(answer.status, 404);
  t.same(answer.json, { message: 'no API collection at this path' });
});

t.test('RFC 9110 §9.3.2: HEAD /healthz is 200 with the headers of GET and no body', async (t) => {
  const answer = await admin('HEAD', '/healthz');
  t.equal(answer.status, 200);
  t.match(answer.headers, { ...JSON_NO_STORE, 'content-length': '15' });
  t.equal(answer.body, '');
});

t.test('issue 3 capability 1: another admin path is 404 with a JSON message', async (t) => {
  for (const path of ['/', '/healthz/', '/metrics/x', '/ready']) {
    const answer = await admin('GET', path);
    t.equal(answer.status, 404, path);
    t.match(answer.headers, JSON_NO_STORE);
    t.same(answer.json, { message: 'no such admin endpoint' }, path);
  }
});

t.test('RFC 9110 §15.5.6: another method on an admin endpoint is 405 with Allow: GET, HEAD', async (t) => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const answer = await admin('POST', path);
    t.equal(answer.status, 405, path);
    t.match(answer.headers, { ...JSON_NO_STORE, allow: 'GET, HEAD' });
    t.same(answer.json, { message: 'the admin endpoints accept GET only' });
  }
});

t.test('RFC 9110 §15.5.5: an unknown admin path is 404 whatever the method', async (t) => {
  const answer = await admin('DELETE', '/nothing');
  t.equal(answer.status, 404);
  t.same(answer.json, { message: 'no such admin endpoint' });
});

t.test('issue 3 capability 1: /readyz ignores a query string', async (t) => {
  const answer = await admin('GET', '/readyz?verbose=1');
  t.equal(answer.status, 200);
  t.equal(answer.body, '{"status":"ready"}');
});

t.test('issue 3 capability 1: GET /metrics is the Prometheus text format, not cached', async (t) => {
  const answer = await admin('GET', '/metrics');
  t.equal(answer.status, 200);
  t.equal(answer.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(answer.headers['cache-control'], 'no-store');
  t.equal(answer.headers['content-length'], String(Buffer.byteLength(answer.body)));
  t.match(answer.body, /^# HELP /);
});

t.test('ARCHITECTURE §5: /metrics names and types every oauth2_sidecar_ metric, with help', async (t) => {
  const { types, help } = parseExposition(await scrape());
  const ours = [...types].filter(([name]) => name.startsWith('oauth2_sidecar_'));
  t.same(Object.fromEntries(ours), {
    oauth2_sidecar_requests_total: 'counter',
    oauth2_sidecar_upstream_duration_seconds: 'histogram',
    oauth2_sidecar_tokens_issued_total: 'counter',
    oauth2_sidecar_tokens_denied_total: 'counter',
    oauth2_sidecar_requests_limited_total: 'counter',
    oauth2_sidecar_client_auth_throttled_total: 'counter',
    oauth2_sidecar_config_reloads_total: 'counter',
    oauth2_sidecar_config_info: 'gauge',
    oauth2_sidecar_config_loaded_timestamp_seconds: 'gauge',
    oauth2_sidecar_tokens_active: 'gauge',
  });
  for (const [name] of ours) t.ok(help.get(name), `${name} has help`);
});

t.test('issue 3 capability 1: Node process metrics are exported too (process_, nodejs_)', async (t) => {
  const text = await scrape();
  t.type(valueOf(text, 'process_resident_memory_bytes'), 'number');
  t.type(valueOf(text, 'nodejs_eventloop_lag_seconds'), 'number');
});

t.test('issue 3 capability 1: requests_total counts a forwarded request by collection and status class', async (t) => {
  const token = await getToken(sc.port, BASIC.aForm);
  const labels = { collection: 'orders', status_class: '2xx' };
  const before = valueOf(await scrape(), 'oauth2_sidecar_requests_total', labels) ?? 0;
  t.equal((await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${token}` })).status, 200);
  t.equal(valueOf(await scrape(), 'oauth2_sidecar_requests_total', labels), before + 1);
});

t.test('issue 3 capability 1: requests_total counts a refused request (401) as 4xx of its collection', async (t) => {
  const labels = { collection: 'public', status_class: '4xx' };
  const before = valueOf(await scrape(), 'oauth2_sidecar_requests_total', labels) ?? 0;
  t.equal((await request(sc.port, 'GET', '/public/x')).status, 401);
  t.equal(valueOf(await scrape(), 'oauth2_sidecar_requests_total', labels), before + 1);
});

t.test('issue 3 capability 1: requests_total counts a request no collection matched under collection=""', async (t) => {
  const labels = { collection: '', status_class: '4xx' };
  const before = valueOf(await scrape(), 'oauth2_sidecar_requests_total', labels) ?? 0;
  t.equal((await request(sc.port, 'GET', '/nowhere')).status, 404);
  t.equal(valueOf(await scrape(), 'oauth2_sidecar_requests_total', labels), before + 1);
});

t.test('issue 3 capability 1: upstream_duration_seconds observes each forwarded request in its buckets', async (t) => {
  const token = await getToken(sc.port, BASIC.aForm);
  const before = await scrape();
  const count = (text: string): number => valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_count', { collection: 'orders' }) ?? 0;
  const inf = (text: string): number =>
    valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_bucket', { collection: 'orders', le: '+Inf' }) ?? 0;
  const sum = (text: string): number => valueOf(text, 'oauth2_sidecar_upstream_duration_seconds_sum', { collection: 'orders' }) ?? 0;
  t.equal((await request(sc.port, 'GET', '/orders/2', { authorization: `Bearer ${token}` })).status, 200);
  const after = await scrape();
  t.equal(count(after), count(before) + 1);
  t.equal(inf(after), inf(before) + 1);
  t.ok(sum(after) > sum(before), 'the sum grows by the request time');
  t.ok(sum(after) - sum(before) < 2, 'seconds, not milliseconds');
});

t.test('issue 3 capability 1: tokens_issued_total counts an issued token', async (t) => {
  const before = valueOf(await scrape(), 'oauth2_sidecar_tokens_issued_total')!;
  await getToken(sc.port, BASIC.b);
  t.equal(valueOf(await scrape(), 'oauth2_sidecar_tokens_issued_total'), before + 1);
});

t.test('RFC 6749 §5.2: tokens_denied_total counts a refusal by its error code', async (t) => {
  const text = await scrape();
  const before = {
    invalid_client: valueOf(text, 'oauth2_sidecar_tokens_denied_total', { error: 'invalid_client' }) ?? 0,
    unsupported_grant_type: valueOf(text, 'oauth2_sidecar_tokens_denied_total', { error: 'unsupported_grant_type' }) ?? 0,
  };
  t.equal((await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.bWrong })).status, 401);
  t.equal((await tokenRequest(sc.port, 'grant_type=password', { authorization: BASIC.b })).status, 400);
  const after = await scrape();
  t.equal(valueOf(after, 'oauth2_sidecar_tokens_denied_total', { error: 'invalid_client' }), before.invalid_client + 1);
  t.equal(valueOf(after, 'oauth2_sidecar_tokens_denied_total', { error: 'unsupported_grant_type' }), before.unsupported_grant_type + 1);
});

t.test('issue 3 capability 1: tokens_active is the number of live tokens held', async (t) => {
  t.equal(valueOf(await scrape(), 'oauth2_sidecar_tokens_active'), sc.running.sidecar.store.size);
  const before = sc.running.sidecar.store.size;
  await getToken(sc.port, BASIC.b);
  t.equal(valueOf(await scrape(), 'oauth2_sidecar_tokens_active'), before + 1);
});

t.test('issue 3 capability 1: config_reloads_total is exported at 0 for ok and failed before any reload', async (t) => {
  const text = await scrape();
  t.equal(valueOf(text, 'oauth2_sidecar_config_reloads_total', { result: 'ok' }), 0);
  t.equal(valueOf(text, 'oauth2_sidecar_config_reloads_total', { result: 'failed' }), 0);
});

t.test('issue 3 capability 1: config_info carries the SHA-256 of the loaded file (12 hex chars), value 1', async (t) => {
  const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
  const info = parseExposition(await scrape()).samples.filter((s) => s.name === 'oauth2_sidecar_config_info');
  t.same(info, [{ name: 'oauth2_sidecar_config_info', labels: { hash }, value: 1 }]);
});

t.test('issue 3 capability 1: config_loaded_timestamp_seconds is when the config was applied, Unix seconds', async (t) => {
  const at = valueOf(await scrape(), 'oauth2_sidecar_config_loaded_timestamp_seconds')!;
  t.ok(at >= Math.floor(started / 1000) && at <= Date.now() / 1000, `${at} within the test's run`);
});

t.test('issue 3 capability 3: /readyz turns 503 draining once drain starts, and stays reachable', async (t) => {
  const dir = t.testdir({ 'config.yaml': configText(upstream.url, { shutdown_delay_ms: 400 }) });
  const other = await startMain(t, join(dir, 'config.yaml'));
  const stopping = other.running.stop(true);
  const readyz = await admin('GET', '/readyz', other.adminPort);
  t.equal(readyz.status, 503);
  t.match(readyz.headers, JSON_NO_STORE);
  t.equal(readyz.body, '{"status":"not_ready","reason":"draining"}');
  const healthz = await admin('GET', '/healthz', other.adminPort);
  t.equal(healthz.status, 200, 'liveness holds while draining');
  t.equal(await stopping, 0);
});

t.test('issue 3 capability 1: /readyz is 503 "not listening" before the data plane listens', async (t) => {
  const sidecar = new Sidecar({ config: testConfig(upstream.url), log: createLogger({ level: 'silent' }) });
  const server = createAdminServer(sidecar.metrics, sidecar);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    await new Promise((resolve) => server.close(resolve));
    await sidecar.close(0);
  });
  const answer = await admin('GET', '/readyz', (server.address() as AddressInfo).port);
  t.equal(answer.status, 503);
  t.equal(answer.body, '{"status":"not_ready","reason":"not listening"}');
});

t.test('issue 3 capability 1: a metric collector that throws makes /metrics a 500 JSON, not a hung scrape', async (t) => {
  const metrics = new Metrics(() => 0);
  new Gauge({
    name: 'broken_collector',
    help: 'throws at scrape time',
    registers: [metrics.registry],
    collect() {
      throw new Error('collector failed');
    },
  });
  const server = createAdminServer(metrics, { notReadyBecause: () => undefined });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const answer = await admin('GET', '/metrics', (server.address() as AddressInfo).port);
  t.equal(answer.status, 500);
  t.match(answer.headers, JSON_NO_STORE);
  t.same(answer.json, { message: 'metrics unavailable' });
});

t.test('issue 3 capability 1: admin_listen on a port in use: exit 1 naming the listener, the data plane closed again', async (t) => {
  const holder = http.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => holder.close(resolve)));
  const busy = (holder.address() as AddressInfo).port;
  const dir = t.testdir({ 'config.yaml': configText(upstream.url, { admin_listen: `127.0.0.1:${busy}` }) });
  const stderr: string[] = [];
  const log = new PassThrough();
  let logged = '';
  log.on('data', (c: Buffer) => (logged += c.toString()));
  const code = await main({ argv: ['--config', join(dir, 'config.yaml')], env: {}, stderr: (line) => stderr.push(line), log });
  t.equal(code, 1);
  t.same(stderr, [`admin_listen 127.0.0.1:${busy}: cannot listen: EADDRINUSE`]);
  const listening = JSON.parse(logged.split('\n').find((l) => l.includes('"listening"'))!) as { port: number };
  await t.rejects(request(listening.port, 'GET', '/public/x'), { code: 'ECONNREFUSED' }, 'the data-plane port is released');
});
