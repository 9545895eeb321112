/**
 * B08: a failed client authentication is 401 invalid_client with `WWW-Authenticate: Basic
 * realm="api"` (RFC 6749 §5.2, RFC 9110 §15.5.2), and an unknown client looks exactly like a wrong
 * secret. Our decisions: body credentials that fail (c) and no credentials at all (d) get the same
 * 401 with the Basic challenge.
 */
import t from 'tap';
import { tokenRequest, type Answer } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectInvalidClient } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const GRANT = 'grant_type=client_credentials';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

t.test('B08(a) RFC 6749 §5.2: Basic svc-b:wrong -> 401 invalid_client with Basic challenge', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.bWrong }));
});

t.test('B08(b) RFC 6749 §5.2: Basic nobody:x (unknown client) -> 401 invalid_client with Basic challenge', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.nobody }));
});

t.test('B08(a)=(b) RFC 6749 §5.2: unknown client and wrong secret answer byte-identical status, headers and body', async (t) => {
  const comparable = (a: Answer) => ({ status: a.status, headers: { ...a.headers, date: undefined }, body: a.body });
  const wrong = await tokenRequest(sc.port, GRANT, { authorization: BASIC.bWrong });
  const unknown = await tokenRequest(sc.port, GRANT, { authorization: BASIC.nobody });
  t.strictSame(comparable(unknown), comparable(wrong));
});

t.test('B08(c) RFC 6749 §5.2: body client_id=svc-b&client_secret=wrong -> 401 invalid_client with Basic challenge', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, `${GRANT}&client_id=svc-b&client_secret=wrong`));
});

t.test('B08(d) RFC 6749 §5.2: no credentials at all -> 401 invalid_client with Basic challenge', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT));
});

t.test('B08 RFC 6749 §5.2: a body client_id without client_secret -> 401 invalid_client with Basic challenge', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, `${GRANT}&client_id=svc-b`));
});
