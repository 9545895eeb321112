import t from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { startStack } from '../helpers/stack.js';

t.test('RFC 6749 §4.4 + RFC 6750 §2.1: a token from the token endpoint opens the collection', async (t) => {
  const { sc } = await startStack(t);
  const token = await getToken(sc.port, BASIC.b);
  t.match(token, /^[0-9a-f]{64}$/);
  const answer = await request(sc.port, 'GET', '/public/docs?q=1', { authorization: `Bearer ${token}` });
  t.equal(answer.status, 200);
  t.equal(answer.json.url, '/public/docs?q=1');
  t.equal(answer.json.headers.authorization, undefined);
  t.equal(answer.json.headers['x-client-id'], 'svc-b');
});
