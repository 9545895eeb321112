/**
 * Store selection (src/store/build.ts): the JWT issuer check against the config's domains.
 */
import t from 'tap';
import { issuerAccepted } from '../../src/store/build.js';
import { testConfig } from '../helpers/config.js';

t.test('RFC 9068 §4: iss must name a configured domain (any host with "*"); a non-URL iss is refused', async (t) => {
  const config = testConfig('http://127.0.0.1:9');
  t.equal(issuerAccepted(config, 'http://api.example.com'), true);
  t.equal(issuerAccepted(config, 'https://API.example.com.:8443'), true, 'case, trailing dot and port ignored');
  t.equal(issuerAccepted(config, 'http://evil.example'), false);
  t.equal(issuerAccepted(config, 'not a url'), false);
  t.equal(issuerAccepted(testConfig('http://127.0.0.1:9', { domains: [{ host: '*' }] }), 'http://anything.example'), true);
});
