/**
 * The import rules of ARCHITECTURE.md §1-§2: one-way arrows between areas, and each third-party
 * package behind its one file, so it can be swapped in one place.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';

const SRC = new URL('../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const sources = files(SRC).map((path) => {
  const text = readFileSync(path, 'utf8');
  const imports = [...text.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
  return { file: relative(SRC, path), imports };
});

/** Resolves a relative import to a path under src/ ("oauth/errors.js"). */
function target(file: string, spec: string): string {
  return relative(SRC, join(SRC, file, '..', spec));
}

t.test('ARCHITECTURE §2: oauth/ and proxy/ never import each other', async (t) => {
  for (const { file, imports } of sources) {
    for (const spec of imports.filter((s) => s.startsWith('.'))) {
      const to = target(file, spec);
      if (file.startsWith('oauth/')) t.notOk(to.startsWith('proxy/'), `${file} imports ${spec}`);
      if (file.startsWith('proxy/')) t.notOk(to.startsWith('oauth/'), `${file} imports ${spec}`);
    }
  }
});

t.test('ARCHITECTURE §2: config/ and the shared modules import nothing above them', async (t) => {
  for (const { file, imports } of sources) {
    const local = imports.filter((s) => s.startsWith('.')).map((s) => target(file, s));
    if (file.startsWith('config/'))
      t.same(
        local.filter((to) => !to.startsWith('config/')),
        [],
        `${file}`,
      );
    if (file === 'log.ts' || file === 'respond.ts' || file === 'addresses.ts') t.same(local, [], `${file}`);
    if (file !== 'server.ts' && file !== 'main.ts') t.notOk(local.includes('server.js'), `${file} imports server`);
  }
});

t.test('ARCHITECTURE §2: policy/ (counters and limits) imports nothing from the other areas', async (t) => {
  for (const { file, imports } of sources.filter((s) => s.file.startsWith('policy/'))) {
    const local = imports.filter((s) => s.startsWith('.')).map((s) => target(file, s));
    t.same(
      local.filter((to) => !to.startsWith('policy/')),
      [],
      `${file}`,
    );
  }
});

t.test('ARCHITECTURE §1.5: each third-party package lives behind one file', async (t) => {
  const home: Record<string, string> = {
    yaml: 'config/load.ts',
    zod: 'config/schema.ts',
    'lru-cache': 'oauth/tokens.ts',
    'http-proxy': 'proxy/forward.ts',
    undici: 'proxy/forward.ts',
    pino: 'log.ts',
    'prom-client': 'admin/metrics.ts',
    ioredis: 'store/redis.ts',
    jose: 'oauth/jwt-tokens.ts',
  };
  for (const { file, imports } of sources) {
    for (const spec of imports.filter((s) => !s.startsWith('.') && !s.startsWith('node:'))) {
      t.equal(home[spec], file, `${spec} imported by ${file}`);
    }
  }
});
