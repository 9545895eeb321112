/**
 * Interoperability: curl, as the README shows it: `-u id:secret` (raw Basic, not form-urlencoded)
 * and `--data-urlencode` body credentials, then `-H "Authorization: Bearer ..."`.
 */
import { spawn } from 'node:child_process';
import t from 'tap';
import { INTEROP_CLIENTS, startInteropStack } from '../helpers/interop.js';

const { issuer } = await startInteropStack(t);

/** Runs curl; resolves with its stdout, rejects on a non-zero exit. */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code}: ${err}`))));
  });
}

/** Calls /orders/1 with the token: status line code and body, as curl -w prints them. */
async function bearerCall(token: string): Promise<{ status: number; body: Record<string, any> }> {
  const out = await curl(['-w', '\n%{http_code}', '-H', `Authorization: Bearer ${token}`, `${issuer}/orders/1`]);
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: JSON.parse(out.slice(0, i)) as Record<string, any> };
}

for (const [kind, c] of Object.entries(INTEROP_CLIENTS)) {
  t.test(`curl -u, ${kind} secret: token -> bearer call`, async (t) => {
    const out = await curl([
      '-u',
      `${c.id}:${c.secret}`,
      '-d',
      'grant_type=client_credentials',
      '-d',
      'scope=orders',
      `${issuer}/oauth2/token`,
    ]);
    const answer = JSON.parse(out) as Record<string, unknown>;
    t.match(answer, { token_type: 'bearer', expires_in: 3599, scope: 'orders' });
    const called = await bearerCall(answer.access_token as string);
    t.equal(called.status, 200);
    t.equal(called.body.headers['x-client-id'], c.id);
  });

  t.test(`curl --data-urlencode (client_secret_post), ${kind} secret: token -> bearer call`, async (t) => {
    const out = await curl([
      '-d',
      'grant_type=client_credentials',
      '--data-urlencode',
      `client_id=${c.id}`,
      '--data-urlencode',
      `client_secret=${c.secret}`,
      `${issuer}/oauth2/token`,
    ]);
    const answer = JSON.parse(out) as Record<string, unknown>;
    t.match(answer, { token_type: 'bearer', expires_in: 3599 });
    t.notOk('scope' in answer, 'no scope requested, none echoed');
    t.equal((await bearerCall(answer.access_token as string)).status, 200);
  });
}

t.test('curl: introspection and revocation as the README shows them', async (t) => {
  const { id, secret } = INTEROP_CLIENTS.reserved;
  const token = (
    JSON.parse(await curl(['-u', `${id}:${secret}`, '-d', 'grant_type=client_credentials', `${issuer}/oauth2/token`])) as Record<
      string,
      string
    >
  ).access_token!;
  const introspected = JSON.parse(await curl(['-u', `${id}:${secret}`, '-d', `token=${token}`, `${issuer}/oauth2/introspect`])) as Record<
    string,
    unknown
  >;
  t.match(introspected, { active: true, client_id: id, scope: 'orders public' });
  t.equal(await curl(['-u', `${id}:${secret}`, '-d', `token=${token}`, `${issuer}/oauth2/revoke`]), '');
  t.equal((await bearerCall(token)).status, 401);
});

t.test('curl: discovery from the issuer URL', async (t) => {
  const metadata = JSON.parse(await curl([`${issuer}/.well-known/oauth-authorization-server`])) as Record<string, unknown>;
  t.equal(metadata.issuer, issuer);
  t.equal(metadata.token_endpoint, `${issuer}/oauth2/token`);
});
