/**
 * Problems found while loading a configuration: how paths are written, how values are quoted in
 * messages (never a secret), the nearest-key suggestion for typos, and the one-line-per-problem
 * rendering the CLI prints. Pure functions.
 */
import { isJunctionError } from '../errors/index.ts';
import type { ConfigProblem } from './types.ts';

export type PathSegment = string | number;

/** `['sources', 1, 'name']` → `sources[1].name`; `[]` → ''. */
export function formatPath(segments: readonly PathSegment[]): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path === '' ? segment : `.${segment}`;
  }
  return path;
}

/** Whether `path` is `ancestor` or lies below it. */
export function isPathWithin(path: string, ancestor: string): boolean {
  if (ancestor === '' || path === ancestor) return true;
  return path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[`);
}

/**
 * Levenshtein distance with adjacent transpositions counted as one edit (optimal string
 * alignment), so `prot` is one edit from `port`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

const normalizeKey = (key: string): string => key.toLowerCase().replace(/[-_\s]/g, '');

/**
 * The known key closest to `key`, when it is close enough to be a likely typo: the same key
 * written in another case or with dashes/underscores, or within an edit distance of a third of
 * its length (at least 1).
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const normalized = normalizeKey(key);
  const exact = known.find((k) => normalizeKey(k) === normalized);
  if (exact !== undefined) return exact;
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(normalized, normalizeKey(candidate));
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { key: candidate, distance };
  }
  return best?.key;
}

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@,]*:)([^\s/?#@,]*)@/gi;

/** `text` with every URL password (`scheme://user:password@host`) replaced by `***`. */
export function redactUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, (_match, head: string) => `${head}***@`);
}

/** Every URL password found in `text`, as written and percent-decoded. */
export function urlPasswordsIn(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(URL_PASSWORD)) {
    const password = match[2] ?? '';
    if (password === '') continue;
    found.push(password);
    try {
      const decoded = decodeURIComponent(password);
      if (decoded !== password) found.push(decoded);
    } catch {
      // A password with a stray '%' is only masked as written; nothing else to add.
      continue;
    }
  }
  return found;
}

/** A value as quoted in a message: strings in single quotes (URL passwords hidden), short. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const shown = redactUrlPasswords(value);
    return `'${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}'`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/** Problems sorted by position (file problems first, in document order), duplicates dropped. */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}\u0000${p.origin ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      (a.line ?? Infinity) - (b.line ?? Infinity) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      a.path.localeCompare(b.path),
  );
}

/** Where in the file a problem is, as the first word of its line: `junction.yaml:4:9 `. */
function locationOf(problem: ConfigProblem): string {
  if (problem.file === undefined) return '';
  if (problem.line === undefined) return `${problem.file} `;
  return `${problem.file}:${problem.line}:${problem.column ?? 1} `;
}

/** The problems carried by a CONFIG_INVALID / CONFIG_ENV_MISSING error, or an empty list. */
export function configProblemsOf(err: unknown): readonly ConfigProblem[] {
  if (!isJunctionError(err)) return [];
  const problems = err.details?.['problems'];
  return Array.isArray(problems) ? (problems as ConfigProblem[]) : [];
}

/**
 * One line per problem, `junction.yaml:4:9 server.port: must be <= 65535`; problems from the
 * environment or command line have no file position and name their origin in the message. Accepts the error
 * `loadConfig` throws or a list of problems; an error without problems renders as its message.
 */
export function formatConfigProblems(err: unknown): string {
  const problems = Array.isArray(err) ? (err as ConfigProblem[]) : configProblemsOf(err);
  if (problems.length === 0) return err instanceof Error ? err.message : '';
  return problems
    .map((p) => `${locationOf(p)}${p.path === '' ? '(top level)' : p.path}: ${p.message}`)
    .join('\n');
}
