/**
 * Client authentication (src/oauth/client-auth.ts): RFC 6749 §2.3 (one method), §2.3.1 (Basic with
 * form-urlencoded id and secret, or body credentials), RFC 7617 §2 (first colon), constant-time
 * comparison of every reading, and one answer for every failure.
 */
import t from 'tap';
import { authenticateClient as authenticate, buildClientRegistry, parseBasic, presentedCredentials } from '../../src/oauth/client-auth.js';
import { SecretVerifier } from '../../src/oauth/secret-hash.js';
import { BASIC, SECRET_A, testConfig } from '../helpers/config.js';

const b64 = (s: string | Buffer): string => `Basic ${Buffer.from(s).toString('base64')}`;
const params = (entries: Record<string, string> = {}) => new Map(Object.entries(entries));
const failed = (detail: string) => ({ code: 'invalid_client', description: 'client authentication failed', status: 401, detail });

const config = testConfig('http://127.0.0.1:9', {
  access_profiles: [
    { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
    { name: 'b', client_id: 'svc-b', client_secret: 's3cret', collections: ['public'] },
    { name: 'off', client_id: 'svc-off', client_secret: 'off-secret', collections: [], enabled: false },
  ],
});
const registry = buildClientRegistry(config);
const verifier = new SecretVerifier();
const authenticateClient = (p: Parameters<typeof authenticate>[0], r: typeof registry) => authenticate(p, r, verifier);

t.test('buildClientRegistry: one entry per client_id, holding its access profile', async (t) => {
  t.strictSame([...registry.keys()], ['svc-a', 'svc-b', 'svc-off']);
  t.equal(registry.get('svc-b')?.profile.name, 'b');
  t.equal(registry.get('svc-b')?.digest?.length, 32, 'a SHA-256 digest, not the secret');
});

t.test('parseBasic: RFC 7617 §2 and RFC 6749 §2.3.1', async (t) => {
  t.test('RFC 6749 §2.3.1: form-urlencoded credentials -> the decoded reading first, then the raw one', async (t) => {
    t.strictSame(parseBasic(BASIC.aForm), {
      method: 'client_secret_basic',
      ids: ['svc-a'],
      secrets: [SECRET_A, 'p%40ss%3Aw%2Brd%2F%3D%25'],
    });
  });
  t.test('a raw secret that cannot be form-decoded (ends in "%") has only its raw reading', async (t) => {
    t.strictSame(parseBasic(BASIC.aRaw).secrets, [SECRET_A]);
  });
  t.test('a raw "+" has both readings: a space (decoded) and the "+" itself', async (t) => {
    t.strictSame(parseBasic(b64('svc+x:a+b')), { method: 'client_secret_basic', ids: ['svc x', 'svc+x'], secrets: ['a b', 'a+b'] });
  });
  t.test('RFC 7617 §2: only the first colon separates id and password', async (t) => {
    t.strictSame(parseBasic(BASIC.bExtra).secrets, ['s3cret:extra']);
  });
  t.test('RFC 7617 §2: an empty password is a password', async (t) => t.strictSame(parseBasic(b64('svc-b:')).secrets, ['']));
  t.test('RFC 9110 §11.1: the scheme is case-insensitive; spaces after it and at the end are allowed', async (t) => {
    for (const value of ['basic c3ZjLWI6czNjcmV0', 'BASIC   c3ZjLWI6czNjcmV0', 'Basic c3ZjLWI6czNjcmV0  '])
      t.strictSame(parseBasic(value).ids, ['svc-b'], value);
  });
  t.test('RFC 4648 §3.2: base64 without its "=" padding is read', async (t) => {
    t.strictSame(parseBasic('Basic c3ZjLWI6d3Jvbmc').secrets, ['wrong']);
  });
  t.test('RFC 7617 §2: no colon -> invalid_client', async (t) => {
    t.throws(() => parseBasic(BASIC.bNoColon), failed('Basic credentials have no user-id or no colon'));
  });
  t.test('RFC 7617 §2: an empty user-id (":s3cret") -> invalid_client', async (t) => {
    t.throws(() => parseBasic(b64(':s3cret')), failed('Basic credentials have no user-id or no colon'));
  });
  t.test('another scheme, no credentials, or characters outside base64 -> invalid_client', async (t) => {
    for (const value of [
      'Bearer c3ZjLWI6czNjcmV0',
      'Basic',
      'Basic ',
      'Basic !!!notbase64',
      'Basic c3Zj LWI6',
      'Basic\tc3ZjLWI6czNjcmV0',
      'Basic c3ZjLWI6czNjcmV0===',
    ]) {
      t.throws(() => parseBasic(value), failed('Authorization is not Basic with base64 credentials'), value);
    }
  });
  t.test('RFC 4648 §3.5: non-canonical base64 (a dangling character, non-zero pad bits) -> invalid_client', async (t) => {
    for (const value of [`${BASIC.b}x`, 'Basic c3ZjLWI6czNjcmV0O', 'Basic QR=='])
      t.throws(() => parseBasic(value), failed('Basic credentials are not canonical base64'), value);
  });
  t.test('credentials that are not UTF-8 -> invalid_client', async (t) => {
    t.throws(() => parseBasic(b64(Buffer.from([0xff, 0x3a, 0x61]))), failed('Basic credentials are not UTF-8'));
  });
  // parseBasic decodes into one reused 1,536-byte buffer (2,048 base64 characters), and into a new one beyond.
  t.test('long credentials: 1,536 bytes (the reused buffer, full) and 1,537 (a buffer of their own) are read whole', async (t) => {
    for (const bytes of [1536, 1537]) {
      const secret = 's'.repeat(bytes - 'svc-b:'.length);
      t.strictSame(
        parseBasic(b64(`svc-b:${secret}`)),
        { method: 'client_secret_basic', ids: ['svc-b'], secrets: [secret] },
        `${bytes} bytes`,
      );
    }
  });
  t.test('credentials read after longer ones (the same reused buffer) are read at their own length', async (t) => {
    parseBasic(b64(`svc-a:${'x'.repeat(100)}`));
    t.strictSame(parseBasic(b64('b:c')), { method: 'client_secret_basic', ids: ['b'], secrets: ['c'] });
  });
});

t.test('presentedCredentials: RFC 6749 §2.3, one method per request', async (t) => {
  t.test('Basic alone -> client_secret_basic', async (t) => {
    t.strictSame(presentedCredentials(BASIC.b, params({ grant_type: 'client_credentials' })), {
      method: 'client_secret_basic',
      ids: ['svc-b'],
      secrets: ['s3cret'],
    });
  });
  t.test('RFC 6749 §3.2.1: Basic with a body client_id naming the same client -> client_secret_basic', async (t) => {
    t.strictSame(presentedCredentials(BASIC.b, params({ client_id: 'svc-b' })).ids, ['svc-b']);
  });
  t.test('RFC 6749 §3.2.1: the body client_id may match either reading of the Basic id', async (t) => {
    t.strictSame(presentedCredentials(b64('svc+x:s'), params({ client_id: 'svc+x' })).ids, ['svc x', 'svc+x']);
  });
  t.test('RFC 6749 §2.3: Basic and a body client_secret -> invalid_request', async (t) => {
    t.throws(() => presentedCredentials(BASIC.b, params({ client_secret: 's3cret' })), {
      code: 'invalid_request',
      status: 400,
      description: 'use one client authentication method, not Basic and body credentials',
    });
  });
  t.test('RFC 6749 §3.2.1: Basic and a body client_id naming another client -> invalid_request', async (t) => {
    t.throws(() => presentedCredentials(BASIC.b, params({ client_id: 'svc-a' })), {
      code: 'invalid_request',
      description: 'client_id in the body does not match the Authorization header',
    });
  });
  t.test('a malformed Basic header is invalid_client even when the body also has credentials', async (t) => {
    t.throws(
      () => presentedCredentials('Basic', params({ client_id: 'svc-b', client_secret: 's3cret' })),
      failed('Authorization is not Basic with base64 credentials'),
    );
  });
  t.test('RFC 6749 §2.3.1: body client_id and client_secret -> client_secret_post', async (t) => {
    t.strictSame(presentedCredentials(undefined, params({ client_id: 'svc-b', client_secret: 's3cret' })), {
      method: 'client_secret_post',
      ids: ['svc-b'],
      secrets: ['s3cret'],
    });
  });
  t.test('a body client_id without client_secret -> invalid_client', async (t) => {
    t.throws(() => presentedCredentials(undefined, params({ client_id: 'svc-b' })), failed('no client_secret'));
  });
  t.test('a body client_secret without client_id -> invalid_client', async (t) => {
    t.throws(() => presentedCredentials(undefined, params({ client_secret: 's3cret' })), failed('no client credentials'));
  });
  t.test('no credentials at all -> invalid_client', async (t) => {
    t.throws(() => presentedCredentials(undefined, params()), failed('no client credentials'));
  });
});

t.test('authenticateClient: RFC 6749 §2.3.1, §5.2', async (t) => {
  t.test('the right secret -> the access profile', async (t) => {
    t.equal((await authenticateClient({ method: 'client_secret_post', ids: ['svc-b'], secrets: ['s3cret'] }, registry)).name, 'b');
  });
  t.test('compatible mode: any reading of the secret may match (the raw one here)', async (t) => {
    t.equal(
      (await authenticateClient({ method: 'client_secret_basic', ids: ['svc-a'], secrets: ['p@ss:w rd/=%', SECRET_A] }, registry)).name,
      'a',
    );
  });
  t.test('any reading of the id may name the client (the raw one here)', async (t) => {
    t.equal(
      (await authenticateClient({ method: 'client_secret_basic', ids: ['svc b', 'svc-b'], secrets: ['s3cret'] }, registry)).name,
      'b',
    );
  });
  t.test('a wrong secret -> invalid_client', async (t) => {
    await t.rejects(
      authenticateClient({ method: 'client_secret_post', ids: ['svc-b'], secrets: ['wrong'] }, registry),
      failed('wrong client_secret'),
    );
  });
  t.test('B08: an unknown client_id -> the same invalid_client (the detail is for the log only)', async (t) => {
    await t.rejects(
      authenticateClient({ method: 'client_secret_post', ids: ['nobody'], secrets: ['s3cret'] }, registry),
      failed('unknown client_id'),
    );
  });
  t.test('an unknown client_id whose secret equals the dummy digest input still fails', async (t) => {
    await t.rejects(
      authenticateClient({ method: 'client_secret_post', ids: ['nobody'], secrets: ['no client has this secret'] }, registry),
      failed('unknown client_id'),
    );
  });
  t.test("one client's secret does not open another client", async (t) => {
    await t.rejects(
      authenticateClient({ method: 'client_secret_post', ids: ['svc-a'], secrets: ['s3cret'] }, registry),
      failed('wrong client_secret'),
    );
  });
  t.test('a disabled access profile -> invalid_client, also with the right secret', async (t) => {
    await t.rejects(
      authenticateClient({ method: 'client_secret_post', ids: ['svc-off'], secrets: ['off-secret'] }, registry),
      failed('access profile disabled'),
    );
  });
});

// Node 24's Buffer pool (README, design notes): a pooled slice per request held 64 KiB slabs past a
// young-generation GC and left malloc's heap fragmented. Only calls made from client-auth.ts count.
t.test('Node 24 Buffer pool: reading Basic credentials and comparing a plain secret take no pooled Buffer', async (t) => {
  const pooled: string[] = [];
  const original = { from: Buffer.from, concat: Buffer.concat };
  const spy =
    <F extends (...args: never[]) => unknown>(name: string, f: F) =>
    (...args: Parameters<F>) => {
      if (new Error().stack?.includes('client-auth.ts')) pooled.push(name);
      return f.apply(Buffer, args);
    };
  Buffer.from = spy('Buffer.from', original.from) as typeof Buffer.from;
  Buffer.concat = spy('Buffer.concat', original.concat) as typeof Buffer.concat;
  t.teardown(() => Object.assign(Buffer, original));
  const profile = await authenticateClient(presentedCredentials(b64('svc-b:s3cret'), params()), registry);
  t.equal(profile.name, 'b');
  t.strictSame(pooled, []);
});
