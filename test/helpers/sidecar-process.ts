/**
 * The sidecar as a real child process (signals, exit codes, the process wiring of main.ts). Started
 * with this process's execArgv, so tap's TypeScript loader and coverage follow it into the child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** The project root: children run src/main.ts from here. */
export const ROOT = new URL('../..', import.meta.url).pathname;

export interface SidecarProcess {
  child: ChildProcess;
  /** the data-plane port, from the `listening` log line */
  port: number;
  /** the admin port, from the `admin_listening` log line (0 when there is no admin listener) */
  adminPort: number;
  /** every JSON log line written to stdout so far */
  logs(): Record<string, unknown>[];
  /** resolves with the first log line of this event (already written or to come) */
  logged(event: string, ms?: number): Promise<Record<string, unknown>>;
  /** resolves when the process has exited: its exit code (null if killed) and when (performance.now()) */
  exited: Promise<{ code: number | null; at: number }>;
}

/**
 * Writes `config` to `file` and starts a process on it; waits for its listening line(s).
 * @param opts.command the program and its arguments (default: src/main.ts --config FILE)
 * @param opts.env the environment (default: this process's)
 * @param opts.cwd the working directory (default: the project root)
 * @param opts.uid run as this user id (and its group), e.g. a container's non-root user; needs root
 */
export async function spawnSidecar(
  t: { teardown(fn: () => unknown): void },
  file: string,
  config: string,
  opts: { command?: string[]; env?: NodeJS.ProcessEnv; cwd?: string; uid?: number } = {},
): Promise<SidecarProcess> {
  writeFileSync(file, config);
  const [program, ...args] = opts.command ?? [process.execPath, ...process.execArgv, 'src/main.ts', '--config', file];
  const ids = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid };
  const child = spawn(program!, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  let out = '';
  let err = '';
  const lines: Record<string, unknown>[] = [];
  const waiting = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const complete = out.split('\n');
    out = complete.pop()!;
    for (const line of complete) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    for (const wake of waiting) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => {
    child.once('exit', (code) => {
      const at = performance.now();
      for (const wake of waiting) wake();
      resolve({ code, at });
    });
  });
  // A process still running at the end is stopped by SIGINT, so that it writes its coverage; SIGKILL
  // if it does not exit within 5 s.
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  const logged = (event: string, ms = 10_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no "${event}" log line within ${ms} ms; stderr: ${err}`)), ms);
      const done = (error?: Error, line?: Record<string, unknown>): void => {
        clearTimeout(timer);
        waiting.delete(check);
        if (error) reject(error);
        else resolve(line!);
      };
      const check = (): void => {
        const line = lines.find((l) => l.event === event);
        if (line) done(undefined, line);
        else if (child.exitCode !== null || child.signalCode !== null)
          done(new Error(`exited ${child.exitCode} before "${event}"; stderr: ${err}`));
      };
      waiting.add(check);
      check();
    });
  const listening = await logged('listening', 30_000);
  const admin = /^admin_listen:/m.test(config) ? await logged('admin_listening', 30_000) : { port: 0 };
  return { child, port: listening.port as number, adminPort: admin.port as number, logs: () => lines, logged, exited };
}
