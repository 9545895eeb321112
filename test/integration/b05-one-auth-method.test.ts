/**
 * B05: one client authentication method per request (RFC 6749 §2.3), a body client_id only as the
 * identifier of the client the header authenticates (§3.2.1), and credentials never in the request
 * URI (§2.3.1). Our decisions: rows 3 and 5 -> 400 invalid_request.
 */
import t from 'tap';
import { request, tokenRequest } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectInvalidRequest, expectToken } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const GRANT = 'grant_type=client_credentials';
const TWO_METHODS = 'use one client authentication method, not Basic and body credentials';
const IN_URI = 'client credentials must not be sent in the request URI';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

t.test('B05 1 RFC 6749 §3.2.1: Basic svc-b:s3cret + body client_id=svc-b (identifier) -> 200', async (t) => {
  expectToken(t, await tokenRequest(sc.port, `${GRANT}&client_id=svc-b`, { authorization: BASIC.b }));
});

t.test('B05 2 RFC 6749 §2.3: Basic svc-b:s3cret + body client_id and client_secret (two methods) -> 400 invalid_request', async (t) => {
  const answer = await tokenRequest(sc.port, `${GRANT}&client_id=svc-b&client_secret=s3cret`, { authorization: BASIC.b });
  expectInvalidRequest(t, answer, TWO_METHODS);
});

t.test('B05 3 RFC 6749 §3.2.1: Basic svc-b:s3cret + body client_id=svc-a -> 400 invalid_request, no token for svc-a', async (t) => {
  const answer = await tokenRequest(sc.port, `${GRANT}&client_id=svc-a`, { authorization: BASIC.b });
  expectInvalidRequest(t, answer, 'client_id in the body does not match the Authorization header');
});

t.test(
  'B05 4 RFC 6749 §2.3: Basic svc-b:wrong + body credentials svc-b:s3cret -> 400 invalid_request, the body does not rescue the header',
  async (t) => {
    const answer = await tokenRequest(sc.port, `${GRANT}&client_id=svc-b&client_secret=s3cret`, { authorization: BASIC.bWrong });
    expectInvalidRequest(t, answer, TWO_METHODS);
  },
);

t.test('B05 5 RFC 6749 §2.3.1: /oauth2/token?client_id=svc-b&client_secret=s3cret -> 400 invalid_request', async (t) => {
  const answer = await request(
    sc.port,
    'POST',
    '/oauth2/token?client_id=svc-b&client_secret=s3cret',
    { 'content-type': 'application/x-www-form-urlencoded' },
    GRANT,
  );
  expectInvalidRequest(t, answer, IN_URI);
});

// The whole kind: the names are refused however they are spelled, and also next to a valid header.
t.test(
  'B05 RFC 6749 §2.3.1: percent-encoded or value-less credential names in the URI (client%5Fsecret, ?client_id) -> 400 invalid_request',
  async (t) => {
    for (const target of ['/oauth2/token?client%5Fsecret=s3cret', '/oauth2/token?x=1&client_id']) {
      const answer = await request(
        sc.port,
        'POST',
        target,
        { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
        GRANT,
      );
      expectInvalidRequest(t, answer, IN_URI);
    }
  },
);

t.test('B05 RFC 6749 §3.2: other query parameters on the token endpoint URI are allowed -> 200', async (t) => {
  const answer = await request(
    sc.port,
    'POST',
    '/oauth2/token?tenant=x',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC.b },
    GRANT,
  );
  expectToken(t, answer);
});
