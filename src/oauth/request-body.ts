/**
 * Token-request bodies: `application/x-www-form-urlencoded` (RFC 6749 §4.4.2, Appendix B) and our
 * JSON extension. The Content-Type must match the body; a parameter may appear once (§3.2); a
 * parameter without a value counts as omitted (§3.1).
 */
import type { IncomingMessage } from 'node:http';
import { OAuthError } from './errors.js';

/** Largest token-request body read, in bytes; a real one is under 1 KiB. */
export const MAX_BODY_BYTES = 16 * 1024;
/** How long a client may take to send the whole body, in ms, before it gets 408. */
export const BODY_TIMEOUT_MS = 10_000;

/** Parameters of a token request: name -> value, each name at most once. */
export type Params = Map<string, string>;

/** Limits of one body read; tests shorten them. */
export interface BodyLimits {
  /** largest body read, in bytes (default MAX_BODY_BYTES) */
  maxBytes?: number;
  /** time for the whole body to arrive, in ms (default BODY_TIMEOUT_MS) */
  timeoutMs?: number;
}

/**
 * Reads and parses a token request body.
 * @returns the parameters, empty values dropped (RFC 6749 §3.1)
 * @throws OAuthError invalid_request: wrong or missing media type, bad encoding, repeated parameter,
 *   body over `maxBytes` (status 413) or not received within `timeoutMs` (status 408)
 */
export async function readTokenRequestBody(req: IncomingMessage, limits: BodyLimits = {}): Promise<Params> {
  const type = mediaType(req.headers['content-type']);
  const body = await readBody(req, limits.maxBytes ?? MAX_BODY_BYTES, limits.timeoutMs ?? BODY_TIMEOUT_MS);
  if (type === 'application/x-www-form-urlencoded') return parseForm(utf8(body));
  if (type === 'application/json') return parseJson(utf8(body));
  if (type === undefined && body.length === 0) return new Map();
  throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded or application/json', {
    detail: `content-type ${JSON.stringify(req.headers['content-type'] ?? null)}`,
  });
}

/**
 * The media type of a Content-Type value, lower-cased (RFC 9110 §8.3.1: case-insensitive). A charset
 * parameter other than UTF-8 (or US-ASCII, its subset) makes the type unusable.
 * @returns e.g. "application/json", or "unsupported" for a non-UTF-8 charset, or undefined if absent
 */
export function mediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const [type = '', ...params] = value.split(';');
  for (const param of params) {
    const [name = '', raw = ''] = param.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = raw
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') return 'unsupported';
  }
  return type.trim().toLowerCase();
}

function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    return Promise.reject(new OAuthError('invalid_request', 'request body too large', { status: 413 }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      fail(new OAuthError('invalid_request', 'request body not received in time', { status: 408 }));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.resume(); // let the rest drain; the response closes the connection
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) fail(new OAuthError('invalid_request', 'request body too large', { status: 413 }));
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      clearTimeout(timer);
      // One chunk (nearly every body) is used as it is: Buffer.concat takes a slice of Node's shared
      // Buffer pool, and a slice alive across a young-generation GC holds its whole slab (64 KiB on Node
      // 24) until a full one. With the Basic-credential and digest slices (client-auth.ts), that left
      // malloc's heap about 20 MiB larger after 1,000,000 token requests.
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    // The client went away mid-body: its request, not the server, failed.
    req.once('error', (err) => fail(new OAuthError('invalid_request', 'request body not received', { detail: err.message })));
  });
}

/**
 * Parses `application/x-www-form-urlencoded` (WHATWG URL §5.1: `+` is a space, %XX escapes, UTF-8).
 * @throws OAuthError invalid_request on a bad escape, invalid UTF-8 or a repeated parameter
 */
export function parseForm(text: string): Params {
  const params: Params = new Map();
  const seen = new Set<string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeFormComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeFormComponent(pair.slice(eq + 1));
    addParam(params, seen, name, value);
  }
  return params;
}

/**
 * Decodes one form-urlencoded component.
 * @returns the decoded text, or undefined if it has a bad %-escape or is not UTF-8
 */
export function tryDecodeForm(s: string): string | undefined {
  // Nothing to decode (the usual client_id, secret and grant_type): no regex, no decoder call.
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined; // URIError: a lone "%" or an escape that is not UTF-8
  }
}

function decodeFormComponent(s: string): string {
  const decoded = tryDecodeForm(s);
  if (decoded === undefined) throw new OAuthError('invalid_request', 'malformed form-urlencoded body');
  return decoded;
}

// One decoder for every call: without `stream: true` each decode() starts afresh, and a fatal error
// leaves nothing behind.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes strict UTF-8 (RFC 3629): bytes that are not UTF-8 are an error, never U+FFFD.
 * @returns the text, or undefined if the bytes are not UTF-8
 */
export function tryDecodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

// RFC 6749 Appendix B and RFC 8259 §8.1: both body types are UTF-8.
function utf8(body: Buffer): string {
  const text = tryDecodeUtf8(body);
  if (text === undefined) throw new OAuthError('invalid_request', 'the body is not UTF-8');
  return text;
}

function parseJson(text: string): Params {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OAuthError('invalid_request', 'malformed JSON body');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OAuthError('invalid_request', 'the JSON body must be an object');
  }
  const params: Params = new Map();
  const seen = new Set<string>();
  // JSON.parse keeps the last of two equal names (RFC 8259 §4): find repeats in the text itself.
  for (const name of topLevelKeys(text)) addParam(params, seen, name, '');
  params.clear();
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string') {
      if (v !== '') params.set(name, v);
    } else if (KNOWN.has(name) && v !== null) {
      throw new OAuthError('invalid_request', `${name} must be a string`);
    }
  }
  return params;
}

// The parameters this endpoint reads; a non-string value for one of them is an error, not "absent".
const KNOWN = new Set(['grant_type', 'client_id', 'client_secret', 'scope']);

function addParam(params: Params, seen: Set<string>, name: string, value: string): void {
  if (seen.has(name)) {
    const shown = KNOWN.has(name) ? `${name} ` : '';
    throw new OAuthError('invalid_request', `parameter ${shown}included more than once`, {
      detail: `repeated parameter ${JSON.stringify(name.slice(0, 64))}`,
    });
  }
  seen.add(name);
  if (value !== '') params.set(name, value);
}

/** The member names of the top-level object of valid JSON text, in order, repeats included. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}
