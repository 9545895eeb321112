/**
 * Issue 4 config keys (ARCHITECTURE.md §5): `policies`, `token_endpoint`, and per access profile
 * `policy`, `allowed_ips`, `expires_in`, `previous_client_secret[_env|_hash]`, `previous_not_after`
 * and `tokens_issued_after`. Each mistake is one `file:line:col path message` line at the node to fix.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { validate } from '../../src/config/schema.js';
import { parseTimestamp } from '../../src/config/timestamp.js';
import { configProblems as problems } from '../helpers/config-file.js';

const HASH = '$pbkdf2-sha256$i=25000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$' + 'A'.repeat(43);

const BASE = `listen: 127.0.0.1:0
domains:
  - host: api.example.com
collections:
  - name: orders
    path: /orders
    upstream: http://127.0.0.1:9001/orders
policies:
  - name: standard
    rate_limit: { requests: 100, window_s: 60 }
    quota: { requests: 100000, window_s: 2592000 }
access_profiles:
  - name: a
    client_id: svc-a
    client_secret: s3cret-a
    collections: [orders]
    policy: standard
`;

/** BASE with `lines` added to the access profile (from line 18 on, indented as its keys). */
const withProfileKeys = (...lines: string[]): string => BASE + lines.map((l) => `    ${l}\n`).join('');

t.test('issue 4: a valid file with every new key -> the config, timestamps as epoch ms', async (t) => {
  const config = parseConfig(
    withProfileKeys(
      'allowed_ips: [10.0.0.0/8, 192.0.2.7, "2001:db8::/32"]',
      'expires_in: 600',
      'previous_client_secret: old-secret',
      'previous_not_after: "2026-12-31T00:00:00Z"',
      'tokens_issued_after: 2026-01-01T00:00:00Z',
    ) + 'token_endpoint: { max_failures_per_client: 5, max_failures_per_ip: 20, failure_window_s: 120 }\n',
    'config.yaml',
  );
  t.strictSame(config.policies, [
    { name: 'standard', rate_limit: { requests: 100, window_s: 60 }, quota: { requests: 100_000, window_s: 2_592_000 } },
  ]);
  t.strictSame(config.token_endpoint, { max_failures_per_client: 5, max_failures_per_ip: 20, failure_window_s: 120 });
  t.match(config.access_profiles[0], {
    policy: 'standard',
    allowed_ips: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'],
    expires_in: 600,
    previous_client_secret: 'old-secret',
    previous_not_after: Date.UTC(2026, 11, 31),
    tokens_issued_after: Date.UTC(2026, 0, 1),
  });
});

t.test('issue 4: defaults: no policies, token_endpoint 10 / 30 / 60', async (t) => {
  const config = parseConfig(
    BASE.replace(/policies:\n[^]*?access_profiles:/, 'access_profiles:').replace('    policy: standard\n', ''),
    'c',
  );
  t.strictSame(config.policies, []);
  t.strictSame(config.token_endpoint, { max_failures_per_client: 10, max_failures_per_ip: 30, failure_window_s: 60 });
  t.equal(config.access_profiles[0]?.policy, undefined);
});

t.test("issue 4: an unknown policy name -> at the profile's policy value", async (t) => {
  t.strictSame(problems(t, BASE.replace('policy: standard', 'policy: premium')), [
    'config.yaml:17:13 access_profiles[0].policy no policy named "premium"',
  ]);
});

const NO_LIMITS = BASE.replace(/    rate_limit: .*\n    quota: .*\n/, '');

t.test('issue 4: a policy with neither rate_limit nor quota -> at the policy', async (t) => {
  t.strictSame(problems(t, NO_LIMITS), ['config.yaml:9:5 policies[0] needs rate_limit, quota or both']);
});

t.test('issue 4: either limit alone is a policy', async (t) => {
  const rateOnly = parseConfig(BASE.replace(/    quota: .*\n/, ''), 'c');
  t.strictSame(rateOnly.policies[0], { name: 'standard', rate_limit: { requests: 100, window_s: 60 } });
  const quotaOnly = parseConfig(BASE.replace(/    rate_limit: .*\n/, ''), 'c');
  t.strictSame(quotaOnly.policies[0], { name: 'standard', quota: { requests: 100_000, window_s: 2_592_000 } });
});

t.test('issue 4: a duplicate policy name -> at the second name', async (t) => {
  t.strictSame(
    problems(t, BASE.replace('access_profiles:', '  - name: standard\n    quota: { requests: 1, window_s: 1 }\naccess_profiles:')),
    ['config.yaml:12:11 policies[1].name duplicate policy name "standard"'],
  );
});

t.test('issue 4: a policy without a name -> "is required" at the policy, and no reference can find it', async (t) => {
  t.strictSame(problems(t, BASE.replace('  - name: standard\n    rate_limit', '  - rate_limit')), [
    'config.yaml:9:5 policies[0].name is required',
    'config.yaml:16:13 access_profiles[0].policy no policy named "standard"',
  ]);
});

t.test('issue 4: limits are whole numbers >= 1; a window is at most 366 days', async (t) => {
  const text = BASE.replace('requests: 100,', 'requests: 0,').replace('window_s: 2592000', 'window_s: 31622401');
  t.strictSame(problems(t, text), [
    'config.yaml:10:29 policies[0].rate_limit.requests Too small: expected number to be >=1',
    'config.yaml:11:42 policies[0].quota.window_s Too big: expected number to be <=31622400',
  ]);
});

t.test('issue 4: an unknown key in a policy or a limit -> at the key', async (t) => {
  const text = BASE.replace('window_s: 60 }', 'window_s: 60, burst: 5 }').replace('  - name: standard', '  - name: standard\n    scope: x');
  t.strictSame(problems(t, text), [
    'config.yaml:10:5 policies[0].scope unknown key',
    'config.yaml:11:48 policies[0].rate_limit.burst unknown key',
  ]);
});

t.test('issue 4: token_endpoint: an unknown key and out-of-range values -> at each', async (t) => {
  const text = BASE + 'token_endpoint:\n  max_failures_per_client: 0\n  failure_window_s: 86401\n  lockout_s: 5\n';
  t.strictSame(problems(t, text), [
    'config.yaml:19:28 token_endpoint.max_failures_per_client Too small: expected number to be >=1',
    'config.yaml:20:21 token_endpoint.failure_window_s Too big: expected number to be <=86400',
    'config.yaml:21:3 token_endpoint.lockout_s unknown key',
  ]);
});

t.test('issue 4: allowed_ips: a bad entry -> at the entry; an empty list -> at the key', async (t) => {
  t.strictSame(problems(t, withProfileKeys('allowed_ips: [10.0.0.0/8, 10.0.0.0/33, example.com]')), [
    'config.yaml:18:31 access_profiles[0].allowed_ips[1] must be an IP address or CIDR block',
    'config.yaml:18:44 access_profiles[0].allowed_ips[2] must be an IP address or CIDR block',
  ]);
  t.strictSame(problems(t, withProfileKeys('allowed_ips: []')), [
    'config.yaml:18:18 access_profiles[0].allowed_ips must list at least one address or CIDR block (leave the key out to allow any)',
  ]);
});

t.test('issue 4: a profile expires_in has the bounds of tokens.expires_in', async (t) => {
  t.strictSame(problems(t, withProfileKeys('expires_in: 0')), [
    'config.yaml:18:17 access_profiles[0].expires_in Too small: expected number to be >=1',
  ]);
  t.strictSame(problems(t, withProfileKeys('expires_in: 31536001')), [
    'config.yaml:18:17 access_profiles[0].expires_in Too big: expected number to be <=31536000',
  ]);
  t.strictSame(problems(t, withProfileKeys('expires_in: 1.5')), [
    'config.yaml:18:17 access_profiles[0].expires_in Invalid input: expected int, received number',
  ]);
});

const NOT_AFTER = 'previous_not_after: "2099-01-01T00:00:00Z"';

t.test('issue 4 secret rotation: a previous secret without previous_not_after -> at the previous secret', async (t) => {
  t.strictSame(problems(t, withProfileKeys('previous_client_secret: old-secret')), [
    'config.yaml:18:29 access_profiles[0].previous_client_secret needs previous_not_after: a previous secret is accepted until then',
  ]);
});

t.test('issue 4 secret rotation: previous_not_after without a previous secret -> at previous_not_after', async (t) => {
  t.strictSame(problems(t, withProfileKeys(NOT_AFTER)), [
    'config.yaml:18:25 access_profiles[0].previous_not_after needs a previous_client_secret, _env or _hash',
  ]);
});

t.test('issue 4 secret rotation: two forms of the previous secret -> at the second', async (t) => {
  t.strictSame(problems(t, withProfileKeys('previous_client_secret: old-secret', `previous_client_secret_hash: "${HASH}"`, NOT_AFTER)), [
    'config.yaml:19:34 access_profiles[0].previous_client_secret_hash only one of previous_client_secret, previous_client_secret_hash may be given',
  ]);
});

t.test('issue 4 secret rotation: previous_client_secret_env unset -> at the key; a bad hash or secret -> at the value', async (t) => {
  t.strictSame(problems(t, withProfileKeys('previous_client_secret_env: OAUTH2_SIDECAR_TEST_UNSET_OLD', NOT_AFTER)), [
    'config.yaml:18:33 access_profiles[0].previous_client_secret_env environment variable OAUTH2_SIDECAR_TEST_UNSET_OLD is not set or empty',
  ]);
  t.strictSame(problems(t, withProfileKeys('previous_client_secret_hash: nope', NOT_AFTER)), [
    'config.yaml:18:34 access_profiles[0].previous_client_secret_hash must be $pbkdf2-sha256$i=<iterations>,l=32$<salt base64>$<hash base64> (see oauth2-sidecar hash-secret)',
  ]);
  t.strictSame(problems(t, withProfileKeys('previous_client_secret: "tab\\there"', NOT_AFTER)), [
    'config.yaml:18:29 access_profiles[0].previous_client_secret must be 1+ printable ASCII characters (RFC 6749 Appendix A)',
  ]);
});

t.test('issue 4 secret rotation: previous_client_secret_env -> previous_client_secret filled from the variable', async (t) => {
  const raw = {
    domains: [{ host: 'api.example.com' }],
    collections: [],
    access_profiles: [
      {
        name: 'a',
        client_id: 'svc-a',
        client_secret: 'new',
        collections: [],
        previous_client_secret_env: 'OLD',
        previous_not_after: '2099-01-01',
      },
    ],
  };
  t.equal(validate(raw, { OLD: 'old-secret' }).config?.access_profiles[0]?.previous_client_secret, 'old-secret');
  t.strictSame(validate(raw, { OLD: 'tab\there' }).issues, [
    {
      path: ['access_profiles', 0, 'previous_client_secret_env'],
      message: 'environment variable OLD must hold printable ASCII only (RFC 6749 Appendix A)',
    },
  ]);
});

t.test('issue 4 timestamps: quoted, unquoted, a date, %YAML 1.1 and !!timestamp all mean the same instant', async (t) => {
  const at = (text: string): number | undefined => parseConfig(text, 'c').access_profiles[0]?.tokens_issued_after;
  const midnight = Date.UTC(2026, 0, 1);
  t.equal(at(withProfileKeys('tokens_issued_after: "2026-01-01T00:00:00Z"')), midnight, 'quoted');
  t.equal(at(withProfileKeys('tokens_issued_after: 2026-01-01T00:00:00Z')), midnight, 'unquoted (a string in YAML 1.2)');
  t.equal(at(withProfileKeys('tokens_issued_after: 2026-01-01')), midnight, 'a date: midnight UTC');
  t.equal(at(withProfileKeys('tokens_issued_after: 2026-01-01T01:00:00+01:00')), midnight, 'an offset');
  t.equal(at(`%YAML 1.1\n---\n${withProfileKeys('tokens_issued_after: 2026-01-01T00:00:00Z')}`), midnight, 'YAML 1.1: a Date');
  t.equal(at(withProfileKeys('tokens_issued_after: !!timestamp 2026-01-01T00:00:00Z')), midnight, '!!timestamp: a Date');
});

t.test('issue 4 timestamps: no time zone, an impossible date, a number -> at the value', async (t) => {
  const message = 'must be a timestamp such as 2026-12-31T00:00:00Z (RFC 3339, with Z or an offset) or a date';
  t.strictSame(problems(t, withProfileKeys('tokens_issued_after: 2026-01-01T00:00:00')), [
    `config.yaml:18:26 access_profiles[0].tokens_issued_after ${message}`,
  ]);
  t.strictSame(problems(t, withProfileKeys('previous_client_secret: old-secret', 'previous_not_after: 2026-02-30T00:00:00Z')), [
    `config.yaml:19:25 access_profiles[0].previous_not_after ${message}`,
  ]);
  t.strictSame(problems(t, withProfileKeys('tokens_issued_after: 1767225600')), [
    `config.yaml:18:26 access_profiles[0].tokens_issued_after ${message}`,
  ]);
});

t.test('issue 4: tokens_issued_after in the future -> refused (every token, new ones too, would be refused)', async (t) => {
  t.strictSame(problems(t, withProfileKeys('tokens_issued_after: 2999-01-01T00:00:00Z')), [
    'config.yaml:18:26 access_profiles[0].tokens_issued_after is in the future: tokens issued until then, new ones too, would be refused',
  ]);
});

t.test('parseTimestamp: RFC 3339 forms and a date; fields checked against the calendar', async (t) => {
  const message = 'must be a timestamp such as 2026-12-31T00:00:00Z (RFC 3339, with Z or an offset) or a date';
  t.equal(parseTimestamp('2026-12-31t00:00:00.5z'), Date.UTC(2026, 11, 31, 0, 0, 0, 500), 'lower-case t and z, a fraction');
  t.equal(parseTimestamp('2026-12-31 00:00:00-05:00'), Date.UTC(2026, 11, 31, 5), 'a space for T (YAML), an offset');
  t.equal(parseTimestamp(new Date(0)), 0, 'a Date');
  for (const bad of [
    '2026-13-01',
    '2026-12-31T24:00:00Z',
    '2026-12-31T23:60:00Z',
    '2026-12-31T23:59:60Z',
    '2026-12-31T00:00:00+24:00',
    'soon',
  ])
    t.equal(parseTimestamp(bad), message, bad);
});

t.test('the shipped config.yaml: the demo profile has a policy, and its commented issue 4 examples are valid uncommented', async (t) => {
  const text = readFileSync('config.yaml', 'utf8');
  t.equal(parseConfig(text, 'config.yaml').access_profiles[0]?.policy, 'demo');
  const keys = /^ {4}# (allowed_ips|expires_in|previous_client_secret|previous_not_after|tokens_issued_after):/gm;
  const uncommented = text.replace(keys, '    $1:');
  t.equal([...text.matchAll(keys)].length, 5, 'five commented keys');
  t.match(parseConfig(uncommented, 'config.yaml').access_profiles[0], {
    allowed_ips: ['127.0.0.1', '10.0.0.0/8'],
    expires_in: 600,
    previous_client_secret: 'old-demo-secret',
    previous_not_after: Date.UTC(2026, 11, 31),
    tokens_issued_after: Date.UTC(2026, 10, 30),
  });
});
