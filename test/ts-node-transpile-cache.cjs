/**
 * A ts-node transpiler (tsconfig.json "ts-node".transpiler) that is ts-node's own transpile-only
 * TypeScript emit, remembered on disk. Every test file and every child process that runs
 * src/main.ts under tap starts a fresh ts-node, and transpiling src/ with a cold TypeScript costs
 * about a second of CPU each time: the bulk of `npm test` on a 2-core machine. The output and its
 * source map are exactly what ts-node would produce (the same function, the same options); only a
 * file whose text, path, compiler options, module kind and TypeScript version were all seen before
 * is answered from the cache. A result with diagnostics is never cached.
 *
 * The cache lives in node_modules/.cache/oauth2-sidecar-ts/ (delete it at will); entries are written
 * to a temporary file and renamed, so parallel test processes never read half an entry.
 */
'use strict';
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const TS_NODE = dirname(require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/package.json'));
const DIR = join(__dirname, '..', 'node_modules', '.cache', 'oauth2-sidecar-ts');

/** @param {{ service: { config: { options: object }, projectLocalResolveHelper: (name: string, relative: boolean) => string }, nodeModuleEmitKind?: string }} createOptions */
exports.create = function create(createOptions) {
  const { service, nodeModuleEmitKind } = createOptions;
  const compilerOptions = service.config.options;
  const tsPath = service.projectLocalResolveHelper('typescript', true);
  const tsVersion = JSON.parse(readFileSync(join(dirname(dirname(tsPath)), 'package.json'), 'utf8')).version;
  const base = createHash('sha256')
    .update(JSON.stringify([tsVersion, nodeModuleEmitKind ?? null, compilerOptions]))
    .digest();
  let transpileModule; // ts-node's, created on the first miss only
  return {
    transpile(input, { fileName }) {
      const key = createHash('sha256').update(base).update(fileName).update('\0').update(input).digest('hex');
      const file = join(DIR, `${key}.json`);
      try {
        return JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // not cached yet (or unreadable): transpile
      }
      if (!transpileModule) {
        const { createTsTranspileModule } = require(join(TS_NODE, 'dist', 'ts-transpile-module.js'));
        transpileModule = createTsTranspileModule(require(tsPath), { compilerOptions, reportDiagnostics: true });
      }
      // As ts-node's own transpile-only path calls it (dist/index.js, createTranspileOnlyGetOutputFunction).
      const result = transpileModule(input, { fileName }, nodeModuleEmitKind === 'nodeesm' ? 'module' : 'commonjs');
      if (!result.diagnostics || result.diagnostics.length === 0) {
        const entry = { outputText: result.outputText, sourceMapText: result.sourceMapText };
        try {
          mkdirSync(DIR, { recursive: true });
          const tmp = `${file}.${process.pid}.tmp`;
          writeFileSync(tmp, JSON.stringify(entry));
          renameSync(tmp, file);
        } catch {
          // a read-only tree: no cache, same output
        }
      }
      return result;
    },
  };
};
