/**
 * Problems found while loading a configuration: how paths are written, how values are quoted in
 * messages (never a secret) and the one-line-per-problem rendering the CLI prints (the generic
 * parts live in src/yaml). Pure functions.
 */
import { isJunctionError } from '../errors/index.ts';
import { formatProblem, sortProblems as sortYamlProblems } from '../yaml/index.ts';
import type { ConfigProblem } from './types.ts';

export { formatPath, type PathSegment } from '../yaml/index.ts';

/** Whether `path` is `ancestor` or lies below it. */
export function isPathWithin(path: string, ancestor: string): boolean {
  if (ancestor === '' || path === ancestor) return true;
  return path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[`);
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
  return sortYamlProblems(problems, (p) => p.origin ?? '');
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
  return problems.map(formatProblem).join('\n');
}
