import t from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC, testConfig } from '../helpers/config.js';
import { startSidecar } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

t.test('RFC 6749 §4.4 + RFC 6750 §2.1: a token from the token endpoint opens the collection', async (t) => {
  const upstream = await startUpstream();
  const sc = await startSidecar(testConfig(upstream.url));
  t.teardown(async () => {
    await sc.close();
    await upstream.close();
  });
  const token = await getToken(sc.port, BASIC.b);
  t.match(token, /^[0-9a-f]{64}$/);
  const answer = await request(sc.port, 'GET', '/public/docs?q=1', { authorization: `Bearer ${token}` });
  t.equal(answer.status, 200);
  t.equal(answer.json.url, '/public/docs?q=1');
  t.equal(answer.json.headers.authorization, undefined);
  t.equal(answer.json.headers['x-client-id'], 'svc-b');
});
