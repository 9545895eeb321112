/**
 * Live config reload. Kubernetes updates a mounted ConfigMap by writing a new timestamped directory
 * and swapping the `..data` symlink to it, which a watch on the file itself never sees: so the
 * file's directory is watched, SIGHUP (wired by main.ts) asks for a check too, and a slow poll
 * covers file systems without inotify. A check reloads only when the file's bytes changed.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError, parseConfig } from './load.js';
import type { Config } from './schema.js';

/** A config read from its file, with the SHA-256 (hex) of its bytes. */
export interface LoadedConfig {
  config: Config;
  hash: string;
}

/** What a watcher reports. */
export interface WatchHandlers {
  /** a new valid config, to apply */
  onConfig(loaded: LoadedConfig): void;
  /** a changed file that is not a valid config: the last good one keeps serving */
  onInvalid(problems: string[]): void;
}

/**
 * Reads and validates a config file, with its hash.
 * @throws ConfigError with every problem as `file:line:col path message`
 */
export async function readConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code}`]);
  }
  return { config: parseConfig(text, file, env), hash: hashOf(text) };
}

/** Watches one config file; see the module comment. */
export class ConfigWatcher {
  #hash: string;
  /** the problem last reported for an unreadable file, so a poll does not report it again */
  #unreadable: string | undefined;
  #watcher: FSWatcher | undefined;
  readonly #poll: NodeJS.Timeout;
  #debounce: NodeJS.Timeout | undefined;
  #checking: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #env: NodeJS.ProcessEnv;

  /**
   * @param file the config file; its directory is watched
   * @param hash the hash of the config now serving
   * @param opts.debounceMs wait after a change event before reading (ms, default 100): a swap is
   *   several events
   * @param opts.pollMs how often the file is checked anyway (ms, default 10000)
   * @param opts.env where `*_env` variables of a reloaded file are read, as at start-up (default process.env)
   */
  constructor(
    readonly file: string,
    hash: string,
    private readonly handlers: WatchHandlers,
    opts: { debounceMs?: number; pollMs?: number; env?: NodeJS.ProcessEnv } = {},
  ) {
    this.#hash = hash;
    this.#env = opts.env ?? process.env;
    const debounceMs = opts.debounceMs ?? 100;
    try {
      this.#watcher = watch(dirname(file), () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => void this.check(), debounceMs);
      });
      /* c8 ignore next - libuv reports inotify failures (queue overflow) here; the poll takes over */
      this.#watcher.on('error', () => this.#watcher?.close());
    } catch {
      // The directory cannot be watched (gone, not permitted, no inotify): the poll alone reloads.
      this.#watcher = undefined;
    }
    this.#poll = setInterval(() => void this.check(), opts.pollMs ?? 10_000).unref();
  }

  /** Whether the file's directory is watched (false: only SIGHUP and the poll notice changes). */
  get watching(): boolean {
    return this.#watcher !== undefined;
  }

  /**
   * Reads the file now; applies it if its bytes changed and it is valid, reports it if invalid.
   * Checks never overlap, and an `onConfig` that throws is reported through `onInvalid` rather than
   * stopping later checks. Resolves when this check is done; after close() it does nothing.
   */
  check(): Promise<void> {
    this.#checking = this.#checking.then(() => this.#check()).catch((err: unknown) => this.#report(problemsOf(err, this.file)));
    return this.#checking;
  }

  async #check(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Mid-swap the file may briefly not exist: a later event or poll reads the new one.
      if (code === 'ENOENT') return;
      const problem = `${this.file}: cannot read: ${code}`;
      // An unreadable file is reported once, not at every poll, like an invalid one.
      if (problem !== this.#unreadable) this.#report([problem]);
      this.#unreadable = problem;
      return;
    }
    this.#unreadable = undefined;
    const hash = hashOf(text);
    if (hash === this.#hash) return;
    this.#hash = hash; // an invalid version is reported once, not at every poll
    const config = parseConfig(text, this.file, this.#env);
    if (!this.#closed) this.handlers.onConfig({ config, hash });
  }

  #report(problems: string[]): void {
    if (!this.#closed) this.handlers.onInvalid(problems);
  }

  /** Stops watching; a check in progress applies nothing. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
  }
}

function problemsOf(err: unknown, file: string): string[] {
  return err instanceof ConfigError ? err.problems : [`${file}: ${String(err)}`];
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
