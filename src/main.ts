#!/usr/bin/env node
/**
 * CLI entry: `oauth2-sidecar [--config PATH]` (or CONFIG_FILE; default ./config.yaml). Loads the
 * config, listens, logs the bound address, and on SIGTERM/SIGINT drains and exits 0.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger, flushLogger } from './log.js';
import { Sidecar } from './server.js';

const USAGE = `usage: oauth2-sidecar [--config PATH]
  --config PATH   config file (default: $CONFIG_FILE, else ./config.yaml)
  LOG_LEVEL       pino level (default info)`;

/** The parts of the process main() touches, so tests can run it in-process. */
export interface MainIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stderr: (line: string) => void;
  log?: NodeJS.WritableStream;
}

/**
 * Runs the CLI.
 * @returns exit code 2 for usage or config errors (every problem printed as `file:line:col path
 *   message`), or the running sidecar
 */
export async function main(io: MainIo): Promise<number | Sidecar> {
  const args = io.argv;
  let file = io.env.CONFIG_FILE || './config.yaml';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config' && args[i + 1] !== undefined) file = args[++i]!;
    else if (arg.startsWith('--config=')) file = arg.slice('--config='.length);
    else {
      io.stderr(arg === '--help' || arg === '-h' ? USAGE : `unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
      return 2;
    }
  }
  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    /* c8 ignore next - loadConfig throws ConfigError only */
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(err.problems.join('\n'));
    return 2;
  }
  const log = createLogger({ level: io.env.LOG_LEVEL, destination: io.log });
  const sidecar = new Sidecar({ config, log });
  const address = await sidecar.listen();
  log.info({ event: 'listening', address: address.address, port: address.port, config: file });
  return sidecar;
}

/* c8 ignore start - process wiring, exercised by the CLI tests in a child process */
function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const result = await main({ argv: process.argv.slice(2), env: process.env, stderr: (line) => console.error(line) });
  if (typeof result === 'number') {
    process.exitCode = result;
  } else {
    const stop = (signal: string): void => {
      result.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
      console.error(`oauth2-sidecar: ${signal}, draining`);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }
}
/* c8 ignore stop */
