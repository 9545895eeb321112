/**
 * A test upstream on port 0 that records what reaches it: every parsed request and the raw bytes of
 * every connection, so tests can assert that a header or token never arrived.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface Upstream {
  url: string;
  port: number;
  requests: Recorded[];
  /** all bytes received on all connections, in arrival order */
  raw(): string;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

/** Default handler: 200 JSON echo of method, url and headers. */
export function echo(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const payload = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body_bytes: body.length });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * Starts the upstream.
 * @param handler answers each request once its body has been read (default: echo); with
 *   `streaming: true` it is called at once with the body unread
 * @param opts.upgrade answers upgrade handshakes (recorded like requests); without it Node closes them
 */
export async function startUpstream(
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void = echo,
  opts: { streaming?: boolean; upgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void } = {},
): Promise<Upstream> {
  const requests: Recorded[] = [];
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    if (opts.streaming) {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) });
      handler(req, res, Buffer.alloc(0));
      return;
    }
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const all = Buffer.concat(body);
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: all });
      handler(req, res, all);
    });
  });
  const upgrade = opts.upgrade;
  if (upgrade) {
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) });
      upgrade(req, socket, head);
    });
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    sockets,
    raw: () => Buffer.concat(chunks).toString('latin1'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        // Upgraded sockets are no longer the HTTP server's to close.
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Starts a TCP "upstream" that speaks whatever `onSocket` writes (broken or non-HTTP answers); it
 * records raw bytes like `startUpstream`, and `requests` stays empty.
 */
export async function startRawUpstream(onSocket: (socket: Socket) => void): Promise<Upstream> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: [],
    sockets,
    raw: () => Buffer.concat(chunks).toString('latin1'),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A local port nothing listens on (bound, then released): an upstream that refuses connections. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Two upstreams, A and B, each answering `{"upstream":"A"|"B","url":...}`, started before the file's
 * tests and closed after them: a reload that moves a collection shows on the wire as A -> B.
 */
export function namedUpstreams(t: { before(fn: () => unknown): void; teardown(fn: () => unknown): void }): { A: Upstream; B: Upstream } {
  const upstreams = {} as { A: Upstream; B: Upstream };
  const named = (name: string) =>
    startUpstream((req, res) => {
      const body = JSON.stringify({ upstream: name, url: req.url });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  t.before(async () => {
    upstreams.A = await named('A');
    upstreams.B = await named('B');
  });
  t.teardown(async () => {
    await upstreams.A.close();
    await upstreams.B.close();
  });
  return upstreams;
}
