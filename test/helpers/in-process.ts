/**
 * The CLI's `main()` run in this process on a real config file: the same wiring as the binary
 * (admin listener, config watcher, metrics) without a child process, logs captured.
 */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { main, type Running } from '../../src/main.js';
import { eventually } from './wait.js';

export interface InProcessSidecar {
  running: Running;
  /** the data-plane port */
  port: number;
  /** the admin port (0 when the config has no admin_listen) */
  adminPort: number;
  /** every JSON log line written so far */
  logs(): Record<string, unknown>[];
  /** the log lines of one event so far */
  events(event: string): Record<string, unknown>[];
  /**
   * Waits until `count` lines of `event` have been logged.
   * @returns the last of them
   * @throws Error after `ms` without them
   */
  logged(event: string, count?: number, ms?: number): Promise<Record<string, unknown>>;
}

/**
 * Runs `main(['--config', file])` and registers `stop(false)` as teardown.
 * @param env the environment main() sees (default: none, so LOG_LEVEL is unset)
 * @throws Error with main's stderr if it returns an exit code instead of a running sidecar
 */
export async function startMain(
  t: { teardown(fn: () => unknown): void },
  file: string,
  env: NodeJS.ProcessEnv = {},
): Promise<InProcessSidecar> {
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  const log = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = partial + chunk.toString('utf8');
      const complete = text.split('\n');
      partial = complete.pop()!;
      for (const line of complete) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const stderr: string[] = [];
  const result = await main({ argv: ['--config', file], env, stderr: (line) => stderr.push(line), log });
  if (typeof result === 'number') throw new Error(`main exited ${result}: ${stderr.join('\n')}`);
  t.teardown(() => result.stop(false));
  const events = (event: string): Record<string, unknown>[] => lines.filter((l) => l.event === event);
  return {
    running: result,
    port: (result.sidecar.server.address() as AddressInfo).port,
    adminPort: result.admin ? (result.admin.address() as AddressInfo).port : 0,
    logs: () => lines,
    events,
    async logged(event, count = 1, ms = 3000) {
      if (!(await eventually(() => events(event).length >= count, ms))) {
        throw new Error(`${events(event).length} "${event}" log lines within ${ms} ms, wanted ${count}`);
      }
      return events(event)[count - 1]!;
    },
  };
}
