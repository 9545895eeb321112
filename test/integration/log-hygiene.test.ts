/**
 * Security: logs never carry a token, a secret or an Authorization value (RFC 6750 §5.3, RFC 6749
 * §10.3), on success and on every failure path, and the query string is not logged either.
 */
import t from 'tap';
import { getToken, request, tokenRequest } from '../helpers/client.js';
import { BASIC, SECRET_A, SECRET_B } from '../helpers/config.js';
import { startStack } from '../helpers/stack.js';

t.test('RFC 6750 §5.3: no token, secret, Basic value or query string reaches the log', async (t) => {
  const { sc } = await startStack(t);
  const tokenA = await getToken(sc.port, BASIC.aForm);
  const tokenB = await getToken(sc.port, BASIC.b);
  await tokenRequest(sc.port, 'grant_type=client_credentials', { authorization: BASIC.bWrong });
  await tokenRequest(sc.port, `grant_type=client_credentials&client_id=svc-b&client_secret=${SECRET_B}x`);
  await request(sc.port, 'GET', '/orders/1?api_key=sekrit-query', { authorization: `Bearer ${tokenA}` });
  await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenB}` }); // 403
  await request(sc.port, 'GET', '/orders/1', { authorization: `Bearer ${tokenA.slice(0, -1)}0` }); // 401
  const text = sc.logText();
  t.match(text, /"event":"token_issued"/);
  t.match(text, /"event":"token_denied"/);
  t.match(text, /"event":"request_forwarded"/);
  t.match(text, /"event":"access_denied"/);
  for (const secret of [tokenA, tokenB, tokenA.slice(0, 32), SECRET_A, SECRET_B, 'c3ZjLWI6', 'sekrit-query', 'Bearer', 'Basic']) {
    t.notOk(text.includes(secret), `log does not contain ${secret.slice(0, 12)}...`);
  }
});

t.test('log lines name the event, client_id, collection and status of each request', async (t) => {
  const { sc } = await startStack(t);
  const token = await getToken(sc.port, BASIC.b);
  await request(sc.port, 'GET', '/public/docs?x=1', { authorization: `Bearer ${token}` });
  const forwarded = sc.logs.find((l) => l.event === 'request_forwarded')!;
  t.match(forwarded, {
    level: 'info',
    method: 'GET',
    host: 'api.example.com',
    path: '/public/docs',
    collection: 'public',
    access_profile: 'b',
    client_id: 'svc-b',
    status: 200,
    upstream_status: 200,
  });
  t.type(forwarded.duration_ms, 'number');
  t.type(forwarded.bytes, 'number');
});
