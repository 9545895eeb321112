/**
 * Redis for tests: the shared server at REDIS_URL (default redis://127.0.0.1:6379; `.ci/run` starts
 * one), a fresh key prefix per test so tests never see each other's keys, and private redis-server
 * processes on free ports for tests that stop and start Redis (never the shared one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../src/log.js';

/** The shared Redis of the test run. */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A key prefix no other test uses. */
export const freshPrefix = (): string => `oauth2-sidecar-test:${randomUUID()}:`;

/** Whether a Redis answers PING at `url` within 1 s. */
export async function pings(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
    socket.write('PING\r\n');
  });
}

/**
 * Fails (never skips) the test when the shared Redis is missing: the scale-out tests need the real thing.
 * @throws Error naming REDIS_URL
 */
export async function requireRedis(): Promise<void> {
  if (!(await pings(REDIS_URL)))
    throw new Error(`no Redis at ${REDIS_URL}: start one (redis-server --port 6379 --save '' --appendonly no)`);
}

/** A logger whose lines are kept for assertions. */
export function memoryLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface PrivateRedis {
  url: string;
  /** stops the server (SIGKILL: like a crash) and waits for its exit */
  stop(): Promise<void>;
  /** starts it again on the same port, empty, and waits until it answers */
  start(): Promise<void>;
}

/** Starts a private, empty redis-server on a free port; stopped at the test's end. */
export async function privateRedis(t: { teardown(fn: () => unknown): void }): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(await pings(url)); i++) await sleep(25);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  t.teardown(stop);
  await start();
  return { url, stop, start };
}
