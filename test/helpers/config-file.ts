/**
 * Config files for tests that go through a real file (the CLI, reloads): the fixture of
 * `config.ts` as text. JSON is YAML 1.2, so `JSON.stringify` writes a valid config file.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { SECRET_A, SECRET_B, fixtureCollections } from './config.js';

/**
 * The fixture config as file text: svc-a ("a") may call "orders", svc-b ("b") "public", on
 * api.example.com; the data plane and the admin listener on 127.0.0.1:0.
 * @param upstream base URL of the upstream of both collections
 * @param patch top-level keys to override (shallow)
 */
export function configText(upstream: string, patch: Record<string, unknown> = {}): string {
  return JSON.stringify(
    {
      listen: '127.0.0.1:0',
      admin_listen: '127.0.0.1:0',
      domains: [{ host: 'api.example.com' }],
      collections: fixtureCollections(upstream),
      access_profiles: [
        { name: 'a', client_id: 'svc-a', client_secret: SECRET_A, collections: ['orders'] },
        { name: 'b', client_id: 'svc-b', client_secret: SECRET_B, collections: ['public'] },
      ],
      ...patch,
    },
    null,
    2,
  );
}

/** Replaces `file` by an atomic rename of a new file written beside it (editors, config tools). */
export function renameOver(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Writes `text` as config.yaml in the test's directory and loads it, expecting a refusal.
 * @returns the problem lines, with the file's path shortened to "config.yaml"
 * @throws Error if the config was accepted
 */
export function configProblems(t: Test, text: string): string[] {
  const path = join(t.testdir({ 'config.yaml': text }), 'config.yaml');
  try {
    loadConfig(path);
  } catch (err) {
    t.ok(err instanceof ConfigError, 'a ConfigError');
    return (err as ConfigError).problems.map((p) => p.split(path).join('config.yaml'));
  }
  throw new Error('expected the config to be refused');
}
