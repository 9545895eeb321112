/**
 * Token-request bodies (src/oauth/request-body.ts): media types (RFC 9110 §8.3.1), the form parser
 * (RFC 6749 Appendix B), repeated parameters (§3.2), JSON duplicate names (RFC 8259 §4), prototype
 * keys, UTF-8, and the size (413) and time (408) limits, the last read from real sockets.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { OAuthError } from '../../src/oauth/errors.js';
import {
  mediaType,
  parseForm,
  readTokenRequestBody,
  tryDecodeForm,
  tryDecodeUtf8,
  type BodyLimits,
  type Params,
} from '../../src/oauth/request-body.js';
import { request } from '../helpers/client.js';

type Outcome = { params: Record<string, string> } | { error: string; description: string; status: number; detail: string | undefined };

/**
 * A server whose every request body goes through readTokenRequestBody; each outcome is answered as
 * JSON and also queued for `next()` (for clients that never read the answer).
 */
async function bodyServer(t: Test, limits?: BodyLimits) {
  const outcomes: Outcome[] = [];
  const waiters: ((o: Outcome) => void)[] = [];
  const server = http.createServer((req, res) => {
    readTokenRequestBody(req, limits).then(
      (params: Params) => settle(res, { params: Object.fromEntries(params) }),
      (err: OAuthError) => settle(res, { error: err.code, description: err.description, status: err.status, detail: err.detail }),
    );
  });
  const settle = (res: http.ServerResponse, outcome: Outcome): void => {
    const waiter = waiters.shift();
    if (waiter) waiter(outcome);
    else outcomes.push(outcome);
    res.setHeader('Connection', 'close');
    res.end(JSON.stringify(outcome));
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    next: (): Promise<Outcome> => new Promise((resolve) => (outcomes.length ? resolve(outcomes.shift()!) : waiters.push(resolve))),
    post: async (contentType: string | undefined, body: string | Buffer): Promise<Outcome> => {
      const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
      return (await request(port, 'POST', '/oauth2/token', headers, body)).json as Outcome;
    },
  };
}

const invalid = (description: string, status = 400) => ({ error: 'invalid_request', description, status });
const WRONG_TYPE = 'the body must be application/x-www-form-urlencoded or application/json';

t.test('mediaType: RFC 9110 §8.3.1', async (t) => {
  t.test('absent -> undefined', async (t) => t.equal(mediaType(undefined), undefined));
  t.test('type and subtype are lower-cased', async (t) => t.equal(mediaType('Application/JSON'), 'application/json'));
  t.test('whitespace around the type is ignored', async (t) => t.equal(mediaType(' application/json ;charset=utf-8'), 'application/json'));
  t.test('charset UTF-8, "utf-8" (quoted), utf8 and US-ASCII are usable', async (t) => {
    for (const v of ['a/b; charset=UTF-8', 'a/b; charset="utf-8"', 'a/b;charset=utf8', 'a/b; CHARSET=us-ascii'])
      t.equal(mediaType(v), 'a/b', v);
  });
  t.test('any other charset makes the type "unsupported"', async (t) =>
    t.equal(mediaType('application/json; charset=ISO-8859-1'), 'unsupported'),
  );
  t.test('a charset parameter without a value is "unsupported"', async (t) =>
    t.equal(mediaType('application/json; charset'), 'unsupported'),
  );
  t.test('other parameters are ignored', async (t) => t.equal(mediaType('application/json; profile=x; q'), 'application/json'));
  t.test('an empty value is the empty type', async (t) => t.equal(mediaType(''), ''));
});

t.test('tryDecodeForm: RFC 6749 Appendix B', async (t) => {
  t.test('"+" is a space, %2B a plus, UTF-8 escapes decode', async (t) => t.equal(tryDecodeForm('a+b%2B%C3%A9'), 'a b+é'));
  t.test('a lone "%" -> undefined, never a URIError', async (t) => t.equal(tryDecodeForm('p@ss:w+rd/=%'), undefined));
  t.test('an escape that is not UTF-8 (%FF) -> undefined', async (t) => t.equal(tryDecodeForm('%FF'), undefined));
});

t.test('tryDecodeUtf8: RFC 3629, one decoder shared by every call', async (t) => {
  t.test('bytes that are not UTF-8 -> undefined, never U+FFFD', async (t) => t.equal(tryDecodeUtf8(Buffer.from([0x61, 0xff])), undefined));
  t.test('a truncated sequence, then valid bytes: the failure leaves nothing behind', async (t) => {
    t.equal(tryDecodeUtf8(Buffer.from([0xc3])), undefined);
    t.equal(tryDecodeUtf8(Buffer.from([0xa9, 0x61])), undefined, 'the dangling 0xC3 is not joined to the next call');
    t.equal(tryDecodeUtf8(Buffer.from('é-ok')), 'é-ok');
  });
});

t.test('parseForm: RFC 6749 Appendix B and §3.2', async (t) => {
  t.test('decodes names and values', async (t) => {
    t.strictSame(Object.fromEntries(parseForm('grant_type=client_credentials&client_secret=p%40ss+%2B')), {
      grant_type: 'client_credentials',
      client_secret: 'p@ss +',
    });
  });
  t.test('empty pairs are skipped', async (t) => t.strictSame(Object.fromEntries(parseForm('&a=1&&b=2&')), { a: '1', b: '2' }));
  t.test('RFC 6749 §3.1: a parameter without a value, or with an empty one, counts as omitted', async (t) => {
    t.strictSame(Object.fromEntries(parseForm('scope&client_id=&a=1')), { a: '1' });
  });
  t.test('a value may contain "="', async (t) =>
    t.strictSame(Object.fromEntries(parseForm('client_secret=a=b==')), { client_secret: 'a=b==' }),
  );
  t.test('RFC 6749 §3.2: a repeated known parameter -> invalid_request naming it', async (t) => {
    t.throws(() => parseForm('grant_type=a&grant_type=a'), {
      code: 'invalid_request',
      description: 'parameter grant_type included more than once',
    });
  });
  t.test('RFC 6749 §3.2: a repeat counts even when one copy is empty', async (t) => {
    t.throws(() => parseForm('client_id=&client_id=svc-b'), {
      code: 'invalid_request',
      description: 'parameter client_id included more than once',
    });
  });
  t.test('RFC 6749 §3.2: a repeated unknown parameter -> invalid_request; its name only in the detail', async (t) => {
    t.throws(() => parseForm('x<y>=1&x%3Cy%3E=2'), {
      code: 'invalid_request',
      description: 'parameter included more than once',
      detail: 'repeated parameter "x<y>"',
    });
  });
  t.test('a name spelled with escapes is the same name (client%5Fid)', async (t) => {
    t.throws(() => parseForm('client_id=a&client%5Fid=b'), {
      code: 'invalid_request',
      description: 'parameter client_id included more than once',
    });
  });
  t.test('a bad escape in a value -> invalid_request', async (t) => {
    t.throws(() => parseForm('client_secret=%ZZ'), { code: 'invalid_request', description: 'malformed form-urlencoded body', status: 400 });
  });
  t.test('a non-UTF-8 escape in a name -> invalid_request', async (t) => {
    t.throws(() => parseForm('%FF=1'), { code: 'invalid_request', description: 'malformed form-urlencoded body' });
  });
  t.test('__proto__ and constructor are ordinary names: no prototype is touched', async (t) => {
    const params = parseForm('__proto__=x&constructor=y&toString=z');
    t.strictSame(
      [...params],
      [
        ['__proto__', 'x'],
        ['constructor', 'y'],
        ['toString', 'z'],
      ],
    );
    t.equal(({} as Record<string, unknown>).x, undefined);
  });
});

t.test('readTokenRequestBody over a socket', async (t) => {
  const srv = await bodyServer(t);

  t.test('RFC 6749 §4.4.2: a form body -> its parameters', async (t) => {
    t.strictSame(await srv.post('application/x-www-form-urlencoded', 'grant_type=client_credentials&scope=a'), {
      params: { grant_type: 'client_credentials', scope: 'a' },
    });
  });
  t.test('JSON: string members become parameters; empty strings count as omitted', async (t) => {
    t.strictSame(await srv.post('application/json', '{"grant_type":"client_credentials","client_id":"svc-b","scope":""}'), {
      params: { grant_type: 'client_credentials', client_id: 'svc-b' },
    });
  });
  t.test('JSON: non-string members we do not read are ignored; null for one we read is omitted', async (t) => {
    t.strictSame(await srv.post('application/json', '{"grant_type":"client_credentials","extra":{"a":[1,2]},"n":5,"scope":null}'), {
      params: { grant_type: 'client_credentials' },
    });
  });
  t.test('JSON: a non-string client_id -> invalid_request', async (t) => {
    t.match(await srv.post('application/json', '{"client_id":42}'), invalid('client_id must be a string'));
  });
  t.test('RFC 8259 §4: JSON with a repeated top-level name -> invalid_request', async (t) => {
    t.match(
      await srv.post('application/json', '{"client_id":"svc-a","client_id":"svc-b"}'),
      invalid('parameter client_id included more than once'),
    );
  });
  t.test('RFC 8259 §7: a repeated name spelled with a \\u escape is still a repeat', async (t) => {
    t.match(
      await srv.post('application/json', '{"client_id":"svc-a","client\\u005fid":"svc-b"}'),
      invalid('parameter client_id included more than once'),
    );
  });
  t.test('RFC 8259 §4: a repeated unknown top-level name -> invalid_request', async (t) => {
    t.match(await srv.post('application/json', '{"x":1,"x":2}'), invalid('parameter included more than once'));
  });
  t.test('JSON: repeated names inside nested values are not parameters and pass', async (t) => {
    const body = '{"grant_type":"client_credentials","meta":{"a":1,"a":2},"list":[{"b":1},{"b":2}],"s":"{\\"grant_type\\":1,","t":"\\\\"}';
    t.strictSame(await srv.post('application/json', body), {
      params: { grant_type: 'client_credentials', s: '{"grant_type":1,', t: '\\' },
    });
  });
  t.test('JSON: an own "__proto__" member is an ordinary parameter and pollutes nothing', async (t) => {
    const body = '{"__proto__":"x","grant_type":"client_credentials"}';
    t.strictSame(await srv.post('application/json', body), { params: JSON.parse(body) });
    t.strictSame(await srv.post('application/json', '{"__proto__":{"client_id":"svc-b"}}'), { params: {} });
    t.equal(({} as Record<string, unknown>).client_id, undefined);
  });
  t.test('JSON: malformed text -> invalid_request', async (t) => {
    t.match(await srv.post('application/json', '{"grant_type":'), invalid('malformed JSON body'));
  });
  t.test('JSON: an array, null or a string at the top -> invalid_request', async (t) => {
    for (const body of ['[]', 'null', '"client_credentials"'])
      t.match(await srv.post('application/json', body), invalid('the JSON body must be an object'), body);
  });
  t.test('RFC 8259 §8.1: a JSON body that is not UTF-8 -> invalid_request', async (t) => {
    t.match(await srv.post('application/json', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), invalid('the body is not UTF-8'));
  });
  t.test('RFC 6749 Appendix B: a form body with a raw non-UTF-8 byte -> invalid_request', async (t) => {
    t.match(
      await srv.post('application/x-www-form-urlencoded', Buffer.from('client_secret=\xe9', 'latin1')),
      invalid('the body is not UTF-8'),
    );
  });
  t.test('no Content-Type and no body -> no parameters', async (t) => {
    t.strictSame(await srv.post(undefined, ''), { params: {} });
  });
  t.test('no Content-Type with a body -> invalid_request', async (t) => {
    t.match(await srv.post(undefined, 'grant_type=client_credentials'), { ...invalid(WRONG_TYPE), detail: 'content-type null' });
  });
  t.test('text/plain -> invalid_request, the type in the detail', async (t) => {
    t.match(await srv.post('text/plain', 'grant_type=client_credentials'), { ...invalid(WRONG_TYPE), detail: 'content-type "text/plain"' });
  });
  t.test('a form type with a charset that is not UTF-8 -> invalid_request', async (t) => {
    t.match(await srv.post('application/x-www-form-urlencoded; charset=latin1', 'a=b'), invalid(WRONG_TYPE));
  });
  t.test('a body of exactly the limit is read', async (t) => {
    const body = `a=${'x'.repeat(16 * 1024 - 2)}`;
    t.same(await srv.post('application/x-www-form-urlencoded', body), { params: { a: body.slice(2) } });
  });
  t.test('RFC 9110 §15.5.14: a declared Content-Length over the limit -> 413 before reading', async (t) => {
    t.match(await srv.post('application/x-www-form-urlencoded', `a=${'x'.repeat(16 * 1024 - 1)}`), invalid('request body too large', 413));
  });
});

t.test('RFC 9110 §15.5.14: a chunked body that grows over the limit -> 413 while reading', async (t) => {
  const srv = await bodyServer(t, { maxBytes: 64 });
  const socket = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write(
    'POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  socket.write(`40\r\n${'a'.repeat(64)}\r\n`);
  socket.write(`1\r\nb\r\n`);
  t.match(await srv.next(), invalid('request body too large', 413));
});

t.test('RFC 9112 §7.1: a body in three chunks is read whole and in order', async (t) => {
  const srv = await bodyServer(t);
  const socket = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const chunks = ['grant_type=', 'client_credentials', '&scope=a%20b'].map((part) => `${part.length.toString(16)}\r\n${part}\r\n`);
  socket.write(
    'POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n' +
      chunks.join('') +
      '0\r\n\r\n',
  );
  t.same(await srv.next(), { params: { grant_type: 'client_credentials', scope: 'a b' } });
});

// Node 24's Buffer pool (README, design notes): only Buffer.concat calls made from request-body.ts count.
t.test('Node 24 Buffer pool: a body that arrived in one chunk is not copied into a pooled Buffer', async (t) => {
  const srv = await bodyServer(t);
  const concat = Buffer.concat;
  let copies = 0;
  Buffer.concat = (...args: Parameters<typeof concat>) => {
    if (new Error().stack?.includes('request-body.ts')) copies++;
    return concat.apply(Buffer, args);
  };
  t.teardown(() => {
    Buffer.concat = concat;
  });
  t.same(await srv.post('application/x-www-form-urlencoded', 'grant_type=client_credentials'), {
    params: { grant_type: 'client_credentials' },
  });
  t.equal(copies, 0);
});

t.test('RFC 9110 §15.5.9: a body not received within the time limit -> 408', async (t) => {
  const srv = await bodyServer(t, { timeoutMs: 50 });
  const socket = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write(
    'POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\ngrant_type=',
  );
  t.match(await srv.next(), invalid('request body not received in time', 408));
});

t.test('a client that goes away mid-body -> invalid_request (a client failure, not a server_error)', async (t) => {
  const srv = await bodyServer(t);
  const socket = net.connect(srv.port, '127.0.0.1');
  socket.write(
    'POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\ngrant_type=',
    () => {
      setTimeout(() => socket.destroy(), 20);
    },
  );
  t.match(await srv.next(), { ...invalid('request body not received'), detail: 'aborted' });
});
