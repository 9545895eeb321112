/**
 * B02: Basic credentials split on the first colon only (RFC 7617 §2), the scheme matched
 * case-insensitively (RFC 9110 §11.1), and every malformed header answered as JSON 401
 * invalid_client with a Basic challenge (RFC 6749 §5.2), never a 500 or HTML.
 */
import t from 'tap';
import { tokenRequest } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectInvalidClient, expectToken } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const GRANT = 'grant_type=client_credentials';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

t.test('B02 RFC 7617 §2: svc-b:s3cret:extra is the password "s3cret:extra" -> 401 invalid_client', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.bExtra }));
});

t.test('B02 RFC 7617 §2: a raw secret containing ":" is the whole of p@ss:w+rd/=% (as B01(b)) -> 200', async (t) => {
  expectToken(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.aRaw }));
});

t.test('B02 RFC 7617 §2: Basic c3ZjLWI= (no colon) -> 401 invalid_client', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: BASIC.bNoColon }));
});

t.test('B02 RFC 7617 §2: Basic !!!notbase64 -> 401 invalid_client JSON, no 500', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: 'Basic !!!notbase64' }));
});

t.test('B02 RFC 7617 §2: Basic without credentials -> 401 invalid_client JSON', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: 'Basic' }));
});

t.test('B02 RFC 9110 §11.1: lower-case scheme "basic c3ZjLWI6czNjcmV0" -> 200', async (t) => {
  expectToken(t, await tokenRequest(sc.port, GRANT, { authorization: 'basic c3ZjLWI6czNjcmV0' }));
});

// The whole kind: Buffer's base64 decoder drops what it cannot use, so "<svc-b:s3cret>x" used to
// authenticate as svc-b:s3cret.
t.test('B02 RFC 7617 §2 + RFC 4648 §4: non-canonical base64 (a dangling character after svc-b:s3cret) -> 401 invalid_client', async (t) => {
  expectInvalidClient(t, await tokenRequest(sc.port, GRANT, { authorization: `${BASIC.b}x` }));
});
