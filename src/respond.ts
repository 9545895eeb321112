/**
 * JSON answers shared by every area: the body shapes of ARCHITECTURE.md §4. Imports nothing from src.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Sends a JSON body with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1; also on
 * errors, so no cache keeps an answer about credentials).
 * @param headers extra headers, e.g. WWW-Authenticate or Allow
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    ...headers,
  });
  res.end(payload);
}

/** Sends a non-OAuth error (404, 405, 413, 502, 504, ...) as `{"message": "…"}` (ARCHITECTURE.md §4). */
export function sendMessage(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { message }, headers);
}

/**
 * Writes a whole JSON response on a raw socket and closes it: for the moments Node hands us a socket
 * instead of a response (parse errors, CONNECT, refused upgrades).
 */
export function writeRawJson(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status]!}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nCache-Control: no-store\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${payload}`);
}
