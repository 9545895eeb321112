/**
 * B10: token responses carry `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1,
 * RFC 9111 §5.2.2.5), and so do token-endpoint errors; nothing a cache could key on (ETag) or a
 * browser could keep (Set-Cookie).
 */
import t, { type Test } from 'tap';
import { tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { startSidecar } from '../helpers/sidecar.js';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

function expectUncacheable(t: Test, answer: Answer, status: number): void {
  t.equal(answer.status, status);
  t.equal(answer.headers['cache-control'], 'no-store');
  t.equal(answer.headers.pragma, 'no-cache');
  t.equal(answer.headers['content-type'], 'application/json');
  t.equal(answer.headers['set-cookie'], undefined, 'no Set-Cookie');
  t.equal(answer.headers.etag, undefined, 'no ETag');
  t.equal(answer.headers['last-modified'], undefined, 'no Last-Modified');
}

t.test('B10 RFC 6749 §5.1: a token response is 200 with Cache-Control: no-store and Pragma: no-cache', async (t) => {
  expectUncacheable(t, await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.b }), 200);
});

t.test(
  'B10 RFC 6749 §5.1 (recommended for errors): an invalid_client response is 401 with Cache-Control: no-store and Pragma: no-cache',
  async (t) => {
    expectUncacheable(t, await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.bWrong }), 401);
  },
);
