/**
 * B03: the token request's Content-Type is matched as a media type (RFC 9110 §8.3.1: type, subtype
 * and parameter names case-insensitive, the charset value too), and must match the body: a body
 * whose declared type is not form or JSON, or is absent, or does not parse as declared, is 400
 * invalid_request and never yields a token.
 */
import t from 'tap';
import { request } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectInvalidRequest, expectToken } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const FORM = 'grant_type=client_credentials';
const JSON_BODY = '{"grant_type":"client_credentials","client_id":"svc-b","client_secret":"s3cret"}';
const WRONG_TYPE = 'the body must be application/x-www-form-urlencoded or application/json';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

const post = (headers: Record<string, string>, body: string) => request(sc.port, 'POST', '/oauth2/token', headers, body);

t.test('B03 1 RFC 9110 §8.3.1: application/x-www-form-urlencoded;charset=UTF-8 -> 200', async (t) => {
  expectToken(t, await post({ 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', authorization: BASIC.b }, FORM));
});

t.test('B03 2 RFC 9110 §8.3.1: application/x-www-form-urlencoded; charset="utf-8" (quoted) -> 200', async (t) => {
  expectToken(t, await post({ 'content-type': 'application/x-www-form-urlencoded; charset="utf-8"', authorization: BASIC.b }, FORM));
});

t.test('B03 3 RFC 9110 §8.3.1: APPLICATION/X-WWW-FORM-URLENCODED -> 200', async (t) => {
  expectToken(t, await post({ 'content-type': 'APPLICATION/X-WWW-FORM-URLENCODED', authorization: BASIC.b }, FORM));
});

t.test('B03 4 RFC 9110 §8.3.1: application/json; charset=utf-8 with body credentials -> 200', async (t) => {
  expectToken(t, await post({ 'content-type': 'application/json; charset=utf-8' }, JSON_BODY));
});

t.test('B03 5 RFC 9110 §8.3.1: Application/JSON with body credentials -> 200', async (t) => {
  expectToken(t, await post({ 'content-type': 'Application/JSON' }, JSON_BODY));
});

t.test('B03 6 RFC 6749 §4.4.2: text/plain with a form body -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await post({ 'content-type': 'text/plain', authorization: BASIC.b }, FORM), WRONG_TYPE);
});

t.test('B03 7 RFC 6749 §4.4.2: no Content-Type with a form body -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await post({ authorization: BASIC.b }, FORM), WRONG_TYPE);
});

t.test('B03 8 RFC 6749 §4.4.2: application/json with a form body (type does not match the body) -> 400 invalid_request', async (t) => {
  expectInvalidRequest(t, await post({ 'content-type': 'application/json', authorization: BASIC.b }, FORM), 'malformed JSON body');
});

// The whole kind: a charset other than UTF-8 declares bytes we would misread (RFC 6749 Appendix B).
t.test('B03 RFC 6749 Appendix B: application/x-www-form-urlencoded; charset=ISO-8859-1 -> 400 invalid_request', async (t) => {
  expectInvalidRequest(
    t,
    await post({ 'content-type': 'application/x-www-form-urlencoded; charset=ISO-8859-1', authorization: BASIC.b }, FORM),
    WRONG_TYPE,
  );
});
