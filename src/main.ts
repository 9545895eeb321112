#!/usr/bin/env node
/**
 * CLI entry (ARCHITECTURE.md §3, §5):
 *   oauth2-sidecar [--config PATH]      run (config also from CONFIG_FILE; default ./config.yaml)
 *   oauth2-sidecar check-config PATH    validate only; never binds a port
 *   oauth2-sidecar hash-secret          read a secret on stdin, print its client_secret_hash
 * Running: SIGTERM drains (exit 0, or 1 if connections had to be cut), SIGINT stops without the
 * readiness delay, SIGHUP re-reads the config.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createAdminServer } from './admin/server.js';
import { ConfigError } from './config/load.js';
import { ConfigWatcher, readConfig, type LoadedConfig } from './config/watch.js';
import { createLogger, type Logger } from './log.js';
import { hashSecret } from './oauth/secret-hash.js';
import { Sidecar } from './server.js';
import { buildStores } from './store/build.js';

const USAGE = `usage: oauth2-sidecar [--config PATH]
       oauth2-sidecar check-config PATH
       oauth2-sidecar hash-secret < secret.txt
  --config PATH   config file (default: $CONFIG_FILE, else ./config.yaml)
  LOG_LEVEL       pino level; overrides the config's log_level`;

/** The parts of the process main() touches, so tests can run it in-process. */
export interface MainIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stderr: (line: string) => void;
  stdout?: (text: string) => void;
  stdin?: AsyncIterable<Buffer | string>;
  /** where JSON log lines go (default stdout) */
  log?: NodeJS.WritableStream;
}

/** A running sidecar with its admin listener and config watcher. */
export interface Running {
  sidecar: Sidecar;
  admin: http.Server | undefined;
  watcher: ConfigWatcher;
  log: Logger;
  /**
   * Drains and stops everything.
   * @param delay whether to wait `shutdown_delay_ms` first (SIGTERM) or not (SIGINT)
   * @returns the process exit code: 0 when every request finished, 1 when some were cut
   */
  stop(delay: boolean): Promise<number>;
}

/**
 * Runs the CLI.
 * @returns an exit code (2 for usage or config errors, printed as `file:line:col path message`),
 *   or the running sidecar
 */
export async function main(io: MainIo): Promise<number | Running> {
  const [command, ...rest] = io.argv;
  if (command === 'check-config') return checkConfig(rest, io);
  if (command === 'hash-secret') return printHash(rest, io);
  let file = io.env.CONFIG_FILE || './config.yaml';
  for (let i = 0; i < io.argv.length; i++) {
    const arg = io.argv[i]!;
    if (arg === '--config' && io.argv[i + 1] !== undefined) file = io.argv[++i]!;
    else if (arg.startsWith('--config=')) file = arg.slice('--config='.length);
    else return arg === '--help' || arg === '-h' ? help(io) : usage(io, `unknown argument ${JSON.stringify(arg)}`);
  }
  let loaded: LoadedConfig;
  try {
    loaded = await readConfig(file, io.env);
  } catch (err) {
    io.stderr((err as ConfigError).problems.join('\n'));
    return 2;
  }
  return start(file, loaded, io);
}

async function start(file: string, loaded: LoadedConfig, io: MainIo): Promise<Running | number> {
  const levelOf = (l: LoadedConfig): string => io.env.LOG_LEVEL || l.config.log_level;
  const log = createLogger({ level: levelOf(loaded), destination: io.log });
  // The JWT issuer check reads the config in force (it changes on reload).
  const { store, counters } = await buildStores(loaded.config, io.env, log, () => sidecar.config);
  const sidecar: Sidecar = new Sidecar({ config: loaded.config, log, store, counters });
  let address: AddressInfo;
  try {
    address = await sidecar.listen();
  } catch (err) {
    const { host, port } = loaded.config.listen;
    io.stderr(`listen ${host}:${port}: cannot listen: ${(err as NodeJS.ErrnoException).code}`);
    await sidecar.close(0);
    return 1;
  }
  sidecar.metrics.configLoaded(loaded.hash, Date.now());
  // The bound address is logged at every level: with port 0 it is the only way to learn it.
  const always = log.child({}, { level: 'info' });
  always.info({ event: 'listening', address: address.address, port: address.port, config: file });
  let admin: http.Server | undefined;
  const adminListen = loaded.config.admin_listen;
  if (adminListen) {
    admin = createAdminServer(sidecar.metrics, sidecar);
    const failed = await listenOn(admin, adminListen.port, adminListen.host);
    if (failed) {
      // A port in use is no reason to crash with a stack trace: say which listener, stop cleanly.
      io.stderr(`admin_listen ${adminListen.host}:${adminListen.port}: cannot listen: ${failed.code}`);
      await sidecar.close(0);
      return 1;
    }
    const bound = admin.address() as { address: string; port: number };
    always.info({ event: 'admin_listening', address: bound.address, port: bound.port });
  }
  const watcher = new ConfigWatcher(
    file,
    loaded.hash,
    {
      onConfig(next) {
        sidecar.reload(next.config);
        log.level = levelOf(next);
        sidecar.metrics.configReloaded(true);
        sidecar.metrics.configLoaded(next.hash, Date.now());
        log.info({ event: 'config_reloaded', hash: next.hash.slice(0, 12) });
      },
      onInvalid(problems) {
        sidecar.metrics.configReloaded(false);
        log.error({ event: 'config_reload_failed', detail: problems.join('\n') });
      },
    },
    { env: io.env },
  );
  const stop = async (delay: boolean): Promise<number> => {
    watcher.close();
    const { shutdown_delay_ms, shutdown_timeout_ms } = sidecar.config;
    const clean = await sidecar.drain(delay ? shutdown_delay_ms : 0, shutdown_timeout_ms);
    admin?.closeAllConnections();
    await new Promise((resolve) => (admin ? admin.close(resolve) : resolve(undefined)));
    return clean ? 0 : 1;
  };
  return { sidecar, admin, watcher, log, stop };
}

/** Listens; resolves with the error instead of throwing it (EADDRINUSE, EACCES, EADDRNOTAVAIL). */
function listenOn(server: http.Server, port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(port, host, () => {
      server.off('error', resolve);
      resolve(undefined);
    });
  });
}

/** `check-config PATH`: exit 0, or 2 with every problem; binds nothing. */
async function checkConfig(args: string[], io: MainIo): Promise<number> {
  if (args.length === 0) return usage(io, 'check-config needs a PATH');
  if (args.length > 1) return usage(io, `unknown argument ${JSON.stringify(args[1])}`);
  try {
    await readConfig(args[0]!, io.env);
  } catch (err) {
    io.stderr((err as ConfigError).problems.join('\n'));
    return 2;
  }
  io.stdout?.(`${args[0]}: ok\n`);
  return 0;
}

/** `hash-secret`: the secret on stdin (one trailing newline ignored) -> its `client_secret_hash`. */
async function printHash(args: string[], io: MainIo): Promise<number> {
  if (args.length > 0) return usage(io, `unknown argument ${JSON.stringify(args[0])}`);
  if (!io.stdin) return usage(io, 'hash-secret reads the secret on stdin');
  let text = '';
  for await (const chunk of io.stdin) text += chunk.toString();
  const secret = text.replace(/\r?\n$/, '');
  if (!/^[\x20-\x7e]+$/.test(secret)) {
    io.stderr('hash-secret: the secret must be 1+ printable ASCII characters (RFC 6749 Appendix A)');
    return 2;
  }
  io.stdout?.(`${await hashSecret(secret)}\n`);
  return 0;
}

/** Prints what went wrong and the usage; exit 2. */
function usage(io: MainIo, problem: string): number {
  io.stderr(`${problem}\n${USAGE}`);
  return 2;
}

/** `--help`: the usage on stdout (stderr when there is none), exit 0. */
function help(io: MainIo): number {
  (io.stdout ?? io.stderr)(`${USAGE}\n`);
  return 0;
}

/**
 * Whether this module is the program node was started with (not imported by a test or a tool);
 * realpath, because `npx oauth2-sidecar` starts it through a symlink in node_modules/.bin.
 */
function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1]!) === fileURLToPath(import.meta.url);
  } catch {
    return false; // no argv[1], or one naming no file: `node -e '…' [ARGS]`
  }
}

// Process wiring, tested in child processes (test/integration/cli.test.ts, drain.test.ts,
// process-wiring.test.ts).
if (isEntryPoint()) {
  const result = await main({
    argv: process.argv.slice(2),
    env: process.env,
    stderr: (line) => console.error(line),
    stdout: (text) => process.stdout.write(text),
    stdin: process.stdin,
  });
  if (typeof result === 'number') {
    process.exitCode = result;
  } else {
    let stopping = false;
    // One shutdown per process: a signal during a drain is ignored. If stop() ever rejected, the
    // unhandled rejection would end the process with exit code 1, which is what we want.
    const stop = (delay: boolean): void => {
      if (stopping) return;
      stopping = true;
      void result.stop(delay).then((code) => process.exit(code));
    };
    process.on('SIGTERM', () => stop(true));
    process.on('SIGINT', () => stop(false));
    process.on('SIGHUP', () => void result.watcher.check());
  }
}
