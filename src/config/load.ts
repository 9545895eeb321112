/**
 * Reads the config file: YAML with positions, then `validate()`; every problem becomes one line
 * `file:line:col path message` so ops can jump to it. The only file that imports `yaml`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Alias, type Document, type Node } from 'yaml';
import { validate, type Config, type ConfigIssue } from './schema.js';

/** Thrown when a config file cannot be used; `problems` holds one formatted line per problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid config:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Loads and validates a config file as a whole (ARCHITECTURE.md §3).
 * @param file path of the YAML file; it appears as given in every problem line
 * @returns the frozen config
 * @throws ConfigError listing every problem, each as `file:line:col path message`
 */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // readFileSync's errors all carry a code: ENOENT, EACCES, EISDIR, ERR_INVALID_ARG_VALUE, ...
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code}`]);
  }
  return parseConfig(text, file);
}

/**
 * Parses and validates config text; see {@link loadConfig}.
 * @param text YAML source
 * @param file name used in problem lines
 * @param env where `client_secret_env` variables are read (default process.env)
 * @throws ConfigError listing every problem
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lineCounter = new LineCounter();
  // logLevel error: yaml's warnings (e.g. a map used as a key) would go to the process, not to ops.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${at(e.pos[0])} ${e.message.split('\n')[0]}`));
  }
  const result = validate(toData(doc, at), env);
  if (result.issues) {
    const located = result.issues.map((issue) => ({ offset: offsetOf(doc.contents as Node | null, issue), issue }));
    located.sort((a, b) => a.offset - b.offset);
    throw new ConfigError(located.map(({ offset, issue }) => `${at(offset)} ${formatPath(issue.path)} ${issue.message}`));
  }
  return result.config;
}

/**
 * The document as plain data. Some faults yaml reports only here, by throwing: an alias used before
 * its anchor (reported at the alias), aliases expanding past maxAliasCount (a "billion laughs"
 * config) and, under `%YAML 1.1`, a bad `<<` merge source (no single node to blame: the start).
 */
function toData(doc: Document, at: (offset: number) => string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    let unresolved: Alias | undefined;
    visit(doc, { Alias: (_key, node) => void (unresolved ??= node.resolve(doc) === undefined ? node : undefined) });
    throw new ConfigError([`${at(unresolved?.range?.[0] ?? 0)} ${(err as Error).message}`]);
  }
}

/**
 * The source offset of the deepest node on the issue's path that the document has. A problem with a
 * key (unknown key), or with a value that is absent or empty (`key:`), points at the key. Nodes of a
 * parsed document have ranges; the pairs of a `!!pairs` list (YAML 1.1) do not, and stop the walk.
 */
function offsetOf(root: Node | null, issue: ConfigIssue): number {
  let node: unknown = root;
  let offset = root?.range?.[0] ?? 0;
  for (const segment of issue.path) {
    if (isMap(node)) {
      // Data keys are strings: a YAML key 1 or true is the data key "1" or "true".
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      const value = pair.value as Node | null;
      node = value;
      const absent = !value?.range || value.range[0] === value.range[1];
      offset = issue.message === 'unknown key' || absent ? (pair.key as Node).range![0] : value.range![0];
    } else if (isSeq(node) && isNode(node.items[segment as number])) {
      node = node.items[segment as number];
      offset = (node as Node).range![0];
    } else {
      break;
    }
  }
  return offset;
}

/** ["access_profiles", 1, "collections", 0] -> "access_profiles[1].collections[0]" */
function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(root)';
}
