/**
 * Problems found in a YAML file, shared by every loader that validates one: the problem shape
 * (file, line, column, key path, message, optional suggestion), how key paths are written, how
 * problems are ordered, and the one-line-per-problem rendering. Pure functions.
 */

/** One key (string) or list index (number) on the way from the document root to a value. */
export type PathSegment = string | number;

/** One thing wrong with a YAML file, located as precisely as possible. */
export interface YamlProblem {
  /** Dotted key path with list indexes: `jobs.build.steps[0].run`; '' for the whole document. */
  readonly path: string;
  readonly message: string;
  /** 1-based, in `file`. */
  readonly line?: number;
  /** 1-based, in `file`. */
  readonly column?: number;
  /** The file, as shown to the user. */
  readonly file?: string;
  /** A likely intended value or key, shown as `(did you mean 'x'?)`. */
  readonly suggestion?: string;
}

/** `['sources', 1, 'name']` → `sources[1].name`; `[]` → ''. */
export function formatPath(segments: readonly PathSegment[]): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path === '' ? segment : `.${segment}`;
  }
  return path;
}

/**
 * Problems of one file in line and column order (unpositioned ones last), duplicates (same path
 * and message, and the same `identity`) dropped.
 */
export function sortProblems<P extends YamlProblem>(problems: readonly P[], identity = (_p: P) => ''): P[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}\u0000${identity(p)}`;
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

/**
 * The segments of a JSON Pointer into `data` (an ajv `instancePath`), with list indexes as numbers
 * (found by walking `data`, so a key that looks like a number stays a key).
 */
export function segmentsOfPointer(instancePath: string, data: unknown): PathSegment[] {
  if (instancePath === '') return [];
  const segments: PathSegment[] = [];
  let current = data;
  for (const raw of instancePath.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      const index = Number(key);
      segments.push(index);
      current = current[index] as unknown;
    } else {
      segments.push(key);
      current =
        current !== null && typeof current === 'object'
          ? (current as Record<string, unknown>)[key]
          : undefined;
    }
  }
  return segments;
}

/** Where in the file a problem is, as the first word of its line: `ci.yaml:4:9 `. */
function locationOf(problem: YamlProblem): string {
  if (problem.file === undefined) return '';
  if (problem.line === undefined) return `${problem.file} `;
  return `${problem.file}:${problem.line}:${problem.column ?? 1} `;
}

/** `ci.yaml:4:9 jobs.test.needs[0]: job 'test' needs unknown job 'buld' (did you mean 'build'?)`. */
export function formatProblem(problem: YamlProblem): string {
  const hint = problem.suggestion === undefined ? '' : ` (did you mean '${problem.suggestion}'?)`;
  return `${locationOf(problem)}${problem.path === '' ? '(top level)' : problem.path}: ${problem.message}${hint}`;
}
