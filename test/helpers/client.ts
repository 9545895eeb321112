/**
 * Clients for tests: `request` (node:http, headers exactly as given, fresh connection) and `raw`
 * (bytes on a socket, for requests Node's client refuses to send), both parsing the answer.
 */
import http from 'node:http';
import net from 'node:net';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  /** the body parsed as JSON, or undefined */
  json: any;
}

/**
 * Sends one request on a fresh connection.
 * @param headers sent as given; `host` defaults to api.example.com
 */
export function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  body?: string | Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: { host: 'api.example.com', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs a form body to the token endpoint. */
export function tokenRequest(port: number, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return request(port, 'POST', '/oauth2/token', { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body);
}

/** Gets a fresh access token by Basic authentication; fails the test if it cannot. */
export async function getToken(port: number, basic: string): Promise<string> {
  const answer = await tokenRequest(port, 'grant_type=client_credentials', { authorization: basic });
  if (answer.status !== 200) throw new Error(`token request failed: ${answer.status} ${answer.body}`);
  return answer.json.access_token as string;
}

/**
 * Writes raw bytes and collects everything until the server closes or `idleMs` pass with nothing.
 * @returns the raw answer text, and the first response parsed (status, headers, body)
 */
export function raw(
  port: number,
  bytes: string | Buffer,
  idleMs = 500,
): Promise<{ text: string; status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ text, status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    socket.on('end', finish);
    socket.on('error', (err) => (chunks.length ? finish() : reject(err)));
  });
}

/** A raw connection driven step by step (100-continue, upgrades, aborts mid-exchange). */
export interface RawConnection {
  socket: net.Socket;
  /** everything received so far, as latin1 text */
  text(): string;
  /**
   * Waits until the received text matches.
   * @returns the text received so far
   * @throws Error after `ms` without a match, quoting what did arrive
   */
  until(pattern: RegExp | string, ms?: number): Promise<string>;
  /** resolves once the server has closed the connection (end, reset or close) */
  closed: Promise<void>;
}

/** Opens a raw connection to 127.0.0.1:port; nothing is written until the test writes. */
export function connect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const text = (): string => Buffer.concat(chunks).toString('latin1');
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      socket.emit('received');
    });
    socket.on('error', () => {});
    const until = (pattern: RegExp | string, ms = 5000): Promise<string> =>
      new Promise((done, fail) => {
        const matches = (): boolean => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()));
        if (matches()) return done(text());
        const check = (): void => {
          if (!matches()) return;
          cleanup();
          done(text());
        };
        const timer = setTimeout(() => {
          cleanup();
          fail(new Error(`no ${String(pattern)} within ${ms} ms; received ${JSON.stringify(text())}`));
        }, ms);
        const cleanup = (): void => {
          clearTimeout(timer);
          socket.off('received', check);
        };
        socket.on('received', check);
      });
    socket.once('connect', () => resolve({ socket, text, until, closed }));
    socket.once('error', reject);
  });
}
