/**
 * B01: Basic client authentication with reserved characters in the secret. RFC 6749 §2.3.1 asks
 * clients to form-urlencode id and secret before base64; many send them raw. Our decision
 * (compatible mode): both readings are compared in constant time, so both authenticate; a reading
 * that cannot be decoded is compared raw and is never a 500.
 */
import t from 'tap';
import { request, tokenRequest } from '../helpers/client.js';
import { BASIC, SECRET_A, testConfig } from '../helpers/config.js';
import { expectInvalidClient, expectToken } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const GRANT = 'grant_type=client_credentials';
const basic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

t.test('B01(a) RFC 6749 §2.3.1: Basic with the form-urlencoded secret svc-a:p%40ss%3Aw%2Brd%2F%3D%25 -> 200 token', async (t) => {
  t.equal(BASIC.aForm, basic(`svc-a:${encodeURIComponent(SECRET_A)}`));
  expectToken(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.aForm }));
});

t.test('B01(b) RFC 6749 §2.3.1, compatible mode: Basic with the raw secret svc-a:p@ss:w+rd/=% -> 200 token', async (t) => {
  expectToken(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.aRaw }));
});

t.test('B01(c) RFC 6749 §2.3.1: body client_secret=p%40ss%3Aw%2Brd%2F%3D%25 -> 200 token', async (t) => {
  const body = `${GRANT}&client_id=svc-a&client_secret=p%40ss%3Aw%2Brd%2F%3D%25`;
  expectToken(t, await tokenRequest(sc.port, body));
});

t.test('B01(d) RFC 6749 §5.2: Basic svc-a:%ZZ (not a valid escape) -> 401 invalid_client with Basic challenge, not 500', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.aBadEscape }));
});

t.test('B01 RFC 6749 §2.3.1: the same request as JSON with the raw Basic secret -> 200 token', async (t) => {
  const answer = await request(
    sc.port,
    'POST',
    '/oauth2/token',
    { 'content-type': 'application/json', authorization: BASIC.aRaw },
    '{"grant_type":"client_credentials"}',
  );
  expectToken(t, answer);
});

// The whole kind: "+" is a space once form-decoded, so a raw "+" must still be compared raw, and a
// "+" that stands for a space (the RFC reading) must be compared decoded.
const WHOLE_KIND = testConfig('http://127.0.0.1:9', {
  access_profiles: [
    { name: 'plus', client_id: 'svc-plus', client_secret: 'x+y=', collections: [] },
    { name: 'space', client_id: 'svc space', client_secret: 'x y', collections: [] },
  ],
});

t.test('B01 RFC 6749 §2.3.1, compatible mode: a raw "+" in a Basic secret is compared raw (x+y= and x%2By%3D both -> 200)', async (t) => {
  const other = await startSidecar(WHOLE_KIND);
  t.teardown(() => other.close());
  expectToken(t, await tokenRequest(other.port, GRANT, { authorization: basic('svc-plus:x+y=') }));
  expectToken(t, await tokenRequest(other.port, GRANT, { authorization: basic('svc-plus:x%2By%3D') }));
});

t.test('B01 RFC 6749 Appendix B: a form-encoded space ("+" or %20) in a Basic id and secret is compared decoded -> 200', async (t) => {
  const other = await startSidecar(WHOLE_KIND);
  t.teardown(() => other.close());
  expectToken(t, await tokenRequest(other.port, GRANT, { authorization: basic('svc+space:x+y') }));
  expectToken(t, await tokenRequest(other.port, GRANT, { authorization: basic('svc%20space:x%20y') }));
});

t.test('B01 RFC 6749 §5.2: a space is not a "+": Basic svc-plus:"x y=" -> 401 invalid_client', async (t) => {
  const other = await startSidecar(WHOLE_KIND);
  t.teardown(() => other.close());
  expectInvalidClient(t, await tokenRequest(other.port, GRANT, { authorization: basic('svc-plus:x y=') }));
});
