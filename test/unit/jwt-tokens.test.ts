/**
 * JWT access tokens (src/oauth/jwt-tokens.ts): RFC 9068 claims and header, verification rules,
 * `kid` rotation, and the JWKS. Two stores with the same keys stand for two replicas.
 */
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import t from 'tap';
import { loadSigningKeys, type SigningKey } from '../../src/config/scale-out.js';
import { JwtTokenStore } from '../../src/oauth/jwt-tokens.js';
import type { TokenGrant } from '../../src/oauth/tokens.js';
import { hsSecret, privateKeyJwk, privateKeyPem } from '../helpers/keys.js';

const ISS = 'http://api.example.com';
const grant = (profile = 'b', lifetime = 3600): TokenGrant => ({
  profile,
  client_id: `svc-${profile}`,
  scope: ['public', 'orders'],
  lifetime,
  issuer: ISS,
});
const env = {
  EC: privateKeyPem('ec'),
  EC2: privateKeyJwk('ec'),
  ED: privateKeyPem('ed25519'),
  HS: hsSecret(),
};
const keys = (...spec: [string, string][]): SigningKey[] =>
  loadSigningKeys(
    spec.map(([kid, name]) => (name === 'HS' ? { kid, secret_env: name } : { kid, private_key_env: name })),
    env,
  );

function wallClock(start = 1_800_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const part = (jwt: string, i: number): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[i]!, 'base64url').toString());

t.test('RFC 9068 §2.1, §2.2: header typ at+jwt with alg and kid; claims iss, aud, sub, client_id, scope, iat, exp, jti', async (t) => {
  const clock = wallClock();
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: clock.now });
  const issued = await store.issue(grant('b', 600));
  t.equal(issued.expires_in, 599);
  t.strictSame(part(issued.access_token, 0), { alg: 'ES256', typ: 'at+jwt', kid: 'k1' });
  const claims = part(issued.access_token, 1);
  t.match(claims, {
    iss: ISS,
    aud: ISS,
    sub: 'svc-b',
    client_id: 'svc-b',
    scope: 'public orders',
    access_profile: 'b',
    iat: 1_800_000_000,
    exp: 1_800_000_600,
    jti: /^[0-9a-f-]{36}$/,
  });
  t.not(part((await store.issue(grant())).access_token, 1).jti, claims.jti, 'a new jti each time');
});

t.test('scale-out: a token signed by one replica verifies on another holding the same key', async (t) => {
  const clock = wallClock();
  const a = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: clock.now });
  const b = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: clock.now });
  const { access_token } = await a.issue(grant());
  t.strictSame(await b.lookup(access_token), {
    profile: 'b',
    client_id: 'svc-b',
    scope: ['public', 'orders'],
    expiresAt: 1_800_003_600_000,
    issuedAt: 1_800_000_000,
    lifetime: 3600,
  });
  t.equal(b.size, 1, 'the verification result is cached');
  t.ok(await b.lookup(access_token), 'from the cache');
});

t.test('kid rotation: the old key verifies until it is removed; the first key signs', async (t) => {
  const old = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10 });
  const rotated = new JwtTokenStore(keys(['k2', 'EC2'], ['k1', 'EC']), { maxCached: 10 });
  const removed = new JwtTokenStore(keys(['k2', 'EC2']), { maxCached: 10 });
  const before = await old.issue(grant());
  t.ok(await rotated.lookup(before.access_token), 'an old token verifies with the old key still listed');
  const after = await rotated.issue(grant());
  t.equal(part(after.access_token, 0).kid, 'k2');
  t.ok((await old.lookup(after.access_token)) === undefined, 'a replica without k2 yet cannot verify it');
  t.equal(await removed.lookup(before.access_token), undefined, 'the old key removed: its tokens end');
  t.ok(await removed.lookup(after.access_token));
});

t.test('EdDSA and HS256 keys sign and verify; the JWKS publishes public keys only', async (t) => {
  const store = new JwtTokenStore(keys(['ed', 'ED'], ['hs', 'HS'], ['ec', 'EC']), { maxCached: 10 });
  const { access_token } = await store.issue(grant());
  t.equal(part(access_token, 0).alg, 'EdDSA');
  t.ok(await store.lookup(access_token));
  const hs = new JwtTokenStore(keys(['hs', 'HS']), { maxCached: 10 });
  const shared = await hs.issue(grant());
  t.equal(part(shared.access_token, 0).alg, 'HS256');
  t.ok(await store.lookup(shared.access_token), 'HS256 verifies with the shared secret');
  const jwks = store.jwks();
  t.same(
    jwks.keys.map((k) => [k.kid, k.alg, k.use, k.kty]),
    [
      ['ed', 'EdDSA', 'sig', 'OKP'],
      ['ec', 'ES256', 'sig', 'EC'],
    ],
  );
  t.notOk(
    jwks.keys.some((k) => 'd' in k),
    'no private part',
  );
  t.notOk(JSON.stringify(jwks).includes(env.HS), 'never the HS256 secret');
});

t.test('RFC 7519 §4.1.4: a token is dead at its exp instant', async (t) => {
  const clock = wallClock();
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: clock.now });
  const other = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: clock.now });
  const { access_token } = await store.issue(grant('b', 10));
  t.ok(await store.lookup(access_token), 'cached');
  clock.advance(9_999);
  t.ok(await store.lookup(access_token));
  clock.advance(1);
  t.equal(await store.lookup(access_token), undefined, 'from the cache: dead at exp');
  t.equal(await other.lookup(access_token), undefined, 'by verification: dead at exp');
});

t.test("RFC 8725 §3.1: a token whose alg is not its key's is refused (HS256 under an ES256 kid)", async (t) => {
  const hs = new JwtTokenStore(keys(['k1', 'HS']), { maxCached: 10 });
  const ec = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10 });
  t.equal(await ec.lookup((await hs.issue(grant())).access_token), undefined);
});

t.test('RFC 9068 §4: wrong typ, unknown or missing kid, a bad signature, garbage: all invalid', async (t) => {
  const ecKey = createPrivateKey(env.EC);
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10 });
  const base = () =>
    new SignJWT({ client_id: 'svc-b', scope: 'public', access_profile: 'b' })
      .setIssuer(ISS)
      .setAudience(ISS)
      .setSubject('svc-b')
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti('x');
  t.ok(await store.lookup(await base().setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).sign(ecKey)), 'the control');
  t.equal(await store.lookup(await base().setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'k1' }).sign(ecKey)), undefined, 'typ JWT');
  t.equal(
    await store.lookup(await base().setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k9' }).sign(ecKey)),
    undefined,
    'unknown kid',
  );
  t.equal(await store.lookup(await base().setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(ecKey)), undefined, 'no kid');
  const good = (await store.issue(grant())).access_token;
  const [h, p, s] = good.split('.');
  const flipped = `${h}.${p}.${s!.slice(0, -2)}${s!.endsWith('AA') ? 'BA' : 'AA'}`;
  t.equal(await store.lookup(flipped), undefined, 'a bad signature');
  t.equal(await store.lookup('a.b.c'), undefined, 'garbage');
  t.equal(await store.lookup('0'.repeat(64)), undefined, 'an opaque token');
});

t.test('RFC 9068 §4: iss must be accepted and be the aud; client_id, scope and access_profile must be strings', async (t) => {
  const ecKey = createPrivateKey(env.EC);
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, acceptIssuer: (iss) => iss === ISS });
  const sign = (claims: Record<string, unknown>, iss = ISS, aud = ISS) =>
    new SignJWT({ client_id: 'svc-b', scope: 'public', access_profile: 'b', ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(iss)
      .setAudience(aud)
      .setSubject('svc-b')
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti('x')
      .sign(ecKey);
  t.ok(await store.lookup(await sign({})), 'the control');
  t.equal(await store.lookup(await sign({}, 'http://evil.example')), undefined, 'another issuer');
  t.equal(await store.lookup(await sign({}, ISS, 'http://upstream.example')), undefined, 'aud is not the issuer');
  t.equal(await store.lookup(await sign({ scope: 1 })), undefined, 'scope not a string');
  t.equal(await store.lookup(await sign({ access_profile: undefined })), undefined, 'no access_profile');
  t.equal(await store.lookup(await sign({ client_id: 7 })), undefined, 'client_id not a string');
});

t.test('revokeProfile: tokens of the profile issued up to now end; later ones and other profiles live', async (t) => {
  const clock = wallClock();
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: clock.now });
  const b = await store.issue(grant('b'));
  const c = await store.issue(grant('c'));
  t.ok(await store.lookup(b.access_token), 'cached');
  await store.revokeProfile('b');
  t.equal(await store.lookup(b.access_token), undefined);
  t.ok(await store.lookup(c.access_token));
  clock.advance(1000);
  t.ok(await store.lookup((await store.issue(grant('b'))).access_token), 'issued a second later');
  t.equal(await store.revoke(c.access_token), false, 'RFC 7009: a self-contained token cannot be revoked alone');
  store.close();
});

t.test('revokeProfile: a token issued in the second of the revocation is issued in the next one, not born revoked', async (t) => {
  // Half a second into a second, moving with real time: the store waits out the other half.
  const since = performance.now();
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 10, now: () => 1_800_000_000_500 + (performance.now() - since) });
  await store.revokeProfile('b');
  const issued = await store.issue(grant('b'));
  t.equal(part(issued.access_token, 1).iat, 1_800_000_001);
  t.ok(await store.lookup(issued.access_token));
  store.close();
});

t.test('the verification cache holds at most max_active tokens', async (t) => {
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 2 });
  for (let i = 0; i < 3; i++) t.ok(await store.lookup((await store.issue(grant())).access_token));
  t.equal(store.size, 2);
});

t.test('without an issuer in the grant, iss is http://localhost', async (t) => {
  const store = new JwtTokenStore(keys(['k1', 'EC']), { maxCached: 2 });
  const { issuer: _, ...rest } = grant();
  t.equal(part((await store.issue(rest)).access_token, 1).iss, 'http://localhost');
});
