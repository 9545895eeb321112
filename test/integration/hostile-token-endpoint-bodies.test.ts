/**
 * Issue 6, hostile input: token request bodies built to hurt a parser (RFC 6749 §4.4.2, RFC 8259):
 * JSON bombs, `__proto__` and `constructor` members, escaped duplicate names, values of the wrong
 * type, bytes that are not UTF-8. Each gets its exact OAuth answer, nothing is forwarded, no
 * prototype is polluted, and the sidecar keeps serving.
 */
import t, { type Test } from 'tap';
import { request, type Answer } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { expectInvalidClient, expectInvalidRequest, expectToken } from '../helpers/expect.js';
import { expectNothingForwarded, hostileBench, stillServing, type Bench } from '../helpers/hostile.js';

/** POSTs `body` with `type` to the token endpoint as svc-b (Basic), or with no Authorization (`null`). */
function post(bench: Bench, type: string, body: string | Buffer, basic: string | null = BASIC.b): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': type };
  if (basic) headers.authorization = basic;
  return request(bench.port, 'POST', '/oauth2/token', headers, body);
}
const JSON_TYPE = 'application/json';
const FORM = 'application/x-www-form-urlencoded';

/** Asserts no prototype gained a member from a body. */
function expectNoPollution(t: Test): void {
  const probe: Record<string, unknown> = {};
  t.equal(probe.grant_type, undefined, 'Object.prototype has no grant_type');
  t.equal(probe.polluted, undefined, 'Object.prototype has no polluted');
}

t.test('RFC 8259 §9: a top-level array nested 5000 deep is 400 invalid_request, no stack overflow', async (t) => {
  const bench = await hostileBench(t);
  expectInvalidRequest(t, await post(bench, JSON_TYPE, '['.repeat(5000) + ']'.repeat(5000)), 'the JSON body must be an object');
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 6749 §3.2: a member nested 2500 deep (within 16 KiB) is an unknown parameter, ignored: 200 token', async (t) => {
  const bench = await hostileBench(t);
  const body = `{"grant_type":"client_credentials","x":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`;
  expectToken(t, await post(bench, JSON_TYPE, body));
  expectNothingForwarded(t, bench);
  await stillServing(t, bench);
});

t.test('RFC 6749 §3.2: grant_type repeated as the 1500th member of a wide object is still found: 400', async (t) => {
  const bench = await hostileBench(t);
  const members = Array.from({ length: 1500 }, (_, i) => `"k${i}":0`).join(',');
  const answer = await post(bench, JSON_TYPE, `{"grant_type":"client_credentials",${members},"grant_type":"client_credentials"}`);
  expectInvalidRequest(t, answer, 'parameter grant_type included more than once');
  await stillServing(t, bench);
});

t.test('RFC 8259 §7: a duplicate name spelled with a \\u escape ("gr\\u0061nt_type") is a repeated parameter: 400', async (t) => {
  const bench = await hostileBench(t);
  const answer = await post(bench, JSON_TYPE, '{"grant_type":"password","gr\\u0061nt_type":"client_credentials"}');
  expectInvalidRequest(t, answer, 'parameter grant_type included more than once');
  await stillServing(t, bench);
});

t.test('RFC 8259 §6: a number too large for a double (1e999999) in an unknown member is ignored: 200 token', async (t) => {
  const bench = await hostileBench(t);
  expectToken(t, await post(bench, JSON_TYPE, '{"grant_type":"client_credentials","n":1e999999}'));
  await stillServing(t, bench);
});

t.test('prototype pollution: a JSON "__proto__" member carrying grant_type is not a parameter: 400 grant_type is required', async (t) => {
  const bench = await hostileBench(t);
  const answer = await post(bench, JSON_TYPE, '{"__proto__":{"grant_type":"client_credentials","polluted":"yes"}}');
  expectInvalidRequest(t, answer, 'grant_type is required');
  expectNoPollution(t);
  await stillServing(t, bench);
});

t.test('prototype pollution: "constructor"."prototype" with body credentials is not a parameter: 400 grant_type is required', async (t) => {
  const bench = await hostileBench(t);
  const answer = await post(
    bench,
    JSON_TYPE,
    '{"client_id":"svc-b","client_secret":"s3cret","constructor":{"prototype":{"grant_type":"client_credentials","polluted":"yes"}}}',
    null,
  );
  expectInvalidRequest(t, answer, 'grant_type is required');
  expectNoPollution(t);
  await stillServing(t, bench);
});

t.test('prototype pollution: form parameters named __proto__ and constructor are ignored: 200 token', async (t) => {
  const bench = await hostileBench(t);
  expectToken(t, await post(bench, FORM, '__proto__=x&constructor=y&__proto__%5Bpolluted%5D=yes&grant_type=client_credentials'));
  expectNoPollution(t);
  await stillServing(t, bench);
});

t.test('prototype pollution: a form "__proto__[grant_type]" is not grant_type: 400 grant_type is required', async (t) => {
  const bench = await hostileBench(t);
  expectInvalidRequest(t, await post(bench, FORM, '__proto__%5Bgrant_type%5D=client_credentials'), 'grant_type is required');
  expectNoPollution(t);
  await stillServing(t, bench);
});

t.test('RFC 6749 §4.4.2: grant_type as a JSON array is 400, not read as its first element', async (t) => {
  const bench = await hostileBench(t);
  expectInvalidRequest(t, await post(bench, JSON_TYPE, '{"grant_type":["client_credentials"]}'), 'grant_type must be a string');
  await stillServing(t, bench);
});

t.test('RFC 6749 §2.3.1: client_secret as a JSON object with a toString is 400, never coerced', async (t) => {
  const bench = await hostileBench(t);
  const answer = await post(
    bench,
    JSON_TYPE,
    '{"grant_type":"client_credentials","client_id":"svc-b","client_secret":{"toString":"s3cret"}}',
    null,
  );
  expectInvalidRequest(t, answer, 'client_secret must be a string');
  await stillServing(t, bench);
});

t.test('RFC 6749 Appendix B: a form body with a byte that is not UTF-8 is 400 invalid_request', async (t) => {
  const bench = await hostileBench(t);
  const body = Buffer.from('grant_type=client_credentials&x=caf\xe9', 'latin1');
  expectInvalidRequest(t, await post(bench, FORM, body), 'the body is not UTF-8');
  await stillServing(t, bench);
});

t.test('RFC 6749 §2.3.1: a client_id with a lone surrogate (\\ud800) is an unknown client: 401 invalid_client, no 500', async (t) => {
  const bench = await hostileBench(t);
  const answer = await post(
    bench,
    JSON_TYPE,
    '{"grant_type":"client_credentials","client_id":"svc-b\\ud800","client_secret":"s3cret\\u0000"}',
    null,
  );
  expectInvalidClient(t, answer);
  await stillServing(t, bench);
});
