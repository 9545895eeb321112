// Token-endpoint helpers for the bench and the soak.

/** HTTP Basic credentials as RFC 6749 §2.3.1 wants them: id and secret form-urlencoded first. */
export function basic(id, secret) {
  return 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
}

export const TOKEN_BODY = 'grant_type=client_credentials';

/** autocannon job for POST /oauth2/token with HTTP Basic. */
export function tokenJob(url, authorization) {
  return { url, method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: TOKEN_BODY };
}

/** Client credentials grant; resolves with the access_token or throws with the answer. */
export async function fetchToken(tokenUrl, authorization) {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: TOKEN_BODY,
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200 || typeof body.access_token !== 'string')
    throw new Error(`token endpoint answered ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
