/**
 * Reads the config file: YAML with positions, then `validate()`; every problem becomes one line
 * `file:line:col path message` so ops can jump to it. The only file that imports `yaml`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
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
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseConfig(text, file);
}

/**
 * Parses and validates config text; see {@link loadConfig}.
 * @param text YAML source
 * @param file name used in problem lines
 * @throws ConfigError listing every problem
 */
export function parseConfig(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${at(e.pos[0])} ${e.message.split('\n')[0]}`));
  }
  const result = validate(doc.toJS({ maxAliasCount: 100 }));
  if (result.issues) {
    const located = result.issues.map((issue) => ({ offset: offsetOf(doc.contents, issue), issue }));
    located.sort((a, b) => a.offset - b.offset);
    throw new ConfigError(located.map(({ offset, issue }) => `${at(offset)} ${formatPath(issue.path)} ${issue.message}`));
  }
  return result.config;
}

/** The source offset of the deepest node that exists on the issue's path (the key itself for unknown keys). */
function offsetOf(root: unknown, issue: ConfigIssue): number {
  let node = root as Node | null;
  let offset = node?.range?.[0] ?? 0;
  for (const segment of issue.path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as Node | null)?.toJSON?.() === segment);
      if (!pair) break;
      const key = pair.key as Node;
      node = pair.value as Node | null;
      // A problem with a key, or with a value that is absent, points at the key.
      offset = issue.message === 'unknown key' || !node?.range ? (key.range?.[0] ?? offset) : node.range[0];
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
      node = node.items[segment] as Node;
      offset = node.range?.[0] ?? offset;
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
