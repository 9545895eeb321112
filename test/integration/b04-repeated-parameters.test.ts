/**
 * B04 rows 1-5: a token request whose parameters repeat, or that carries two Authorization field
 * lines, is refused with 400 invalid_request (RFC 6749 §3.2, §5.2), never answered from one of the
 * copies. (Row 6, the proxied request, is tested with the forwarding cases.)
 */
import t from 'tap';
import { raw, request, tokenRequest } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { expectInvalidRequest } from '../helpers/expect.js';
import { startSidecar } from '../helpers/sidecar.js';

const sc = await startSidecar(testConfig('http://127.0.0.1:9'));
t.teardown(() => sc.close());

t.test('B04 1 RFC 6749 §3.2: grant_type twice (Basic svc-b) -> 400 invalid_request', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=client_credentials&grant_type=client_credentials', { authorization: BASIC.b });
  expectInvalidRequest(t, answer, 'parameter grant_type included more than once');
});

t.test('B04 2 RFC 6749 §3.2: client_secret twice (s3cret, wrong) -> 400 invalid_request', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=client_credentials&client_id=svc-b&client_secret=s3cret&client_secret=wrong');
  expectInvalidRequest(t, answer, 'parameter client_secret included more than once');
});

t.test('B04 3 RFC 6749 §3.2: client_id twice (svc-a, svc-b) -> 400 invalid_request', async (t) => {
  const answer = await tokenRequest(sc.port, 'grant_type=client_credentials&client_id=svc-a&client_id=svc-b&client_secret=s3cret');
  expectInvalidRequest(t, answer, 'parameter client_id included more than once');
});

t.test('B04 4 RFC 8259 §4 + RFC 6749 §3.2: JSON with client_id twice -> 400 invalid_request, no token for svc-b', async (t) => {
  const body = '{"grant_type":"client_credentials","client_id":"svc-a","client_id":"svc-b","client_secret":"s3cret"}';
  const answer = await request(sc.port, 'POST', '/oauth2/token', { 'content-type': 'application/json' }, body);
  expectInvalidRequest(t, answer, 'parameter client_id included more than once');
});

t.test('B04 5 RFC 6749 §5.2: two Authorization field lines (wrong then right, and right then wrong) -> 400 invalid_request', async (t) => {
  for (const [first, second] of [
    [BASIC.bWrong, BASIC.b],
    [BASIC.b, BASIC.bWrong],
  ]) {
    const answer = await raw(
      sc.port,
      'POST /oauth2/token HTTP/1.1\r\nHost: api.example.com\r\n' +
        `Authorization: ${first}\r\nAuthorization: ${second}\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\nConnection: close\r\n\r\n' +
        'grant_type=client_credentials',
    );
    expectInvalidRequest(
      t,
      { status: answer.status, headers: answer.headers, json: JSON.parse(answer.body) },
      'more than one Authorization header',
    );
  }
});
