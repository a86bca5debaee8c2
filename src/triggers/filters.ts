/**
 * Branch, tag and path filters with GitHub Actions' documented rules, as pure functions that return
 * a verdict in words. Callers may assume:
 *
 * - patterns follow `github-glob.ts`; every list is ordered and the last pattern matching a name
 *   decides (a `!` pattern excludes, a later positive pattern re-includes);
 * - `checkFilterSpec` finds at load time what GitHub refuses (`branches` with `branches-ignore`,
 *   `tags` with `tags-ignore`, `paths` with `paths-ignore`, a list of only `!` patterns, invalid
 *   patterns); the match functions assume a spec that passed it and throw
 *   `TRIGGER_PATTERN_INVALID` on an invalid pattern;
 * - reasons quote the values and the deciding pattern, and never contain more than a few names.
 */
import { inPatternList, globProblems, lastMatch } from './github-glob.ts';

/** The outcome of one clause or one trigger; `note` explains a match that skipped a check. */
export type Verdict =
  { readonly matched: true; readonly note?: string } | { readonly matched: false; readonly reason: string };

export interface RefFilter {
  readonly branches?: readonly string[] | undefined;
  readonly branchesIgnore?: readonly string[] | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly tagsIgnore?: readonly string[] | undefined;
}

export interface PathFilter {
  readonly paths?: readonly string[] | undefined;
  readonly pathsIgnore?: readonly string[] | undefined;
}

/** The Git ref an event affects: a branch, a tag, or neither. */
export interface EventRef {
  readonly branch?: string | undefined;
  readonly tag?: string | undefined;
}

/** One load-time problem; `path` uses the pipeline file's key names (`branches-ignore[1]`). */
export interface FilterProblem {
  readonly path: string;
  readonly message: string;
}

export const MATCHED: { readonly matched: true } = Object.freeze({ matched: true });

const LIST_NAMES = {
  branches: 'branches',
  branchesIgnore: 'branches-ignore',
  tags: 'tags',
  tagsIgnore: 'tags-ignore',
  paths: 'paths',
  pathsIgnore: 'paths-ignore',
} as const;

type ListKey = keyof typeof LIST_NAMES;

const MAX_LISTED = 8;

/** `[main, release/**]`, shortened after a few patterns. */
export function formatList(patterns: readonly string[]): string {
  const shown = patterns.slice(0, MAX_LISTED);
  const more = patterns.length - shown.length;
  return `[${shown.join(', ')}${more > 0 ? `, … ${more} more` : ''}]`;
}

function listProblems(name: string, patterns: readonly string[]): FilterProblem[] {
  const problems: FilterProblem[] = [];
  if (patterns.length === 0) {
    problems.push({ path: name, message: `${name} is empty; list at least one pattern or remove it` });
    return problems;
  }
  patterns.forEach((pattern, i) => {
    for (const message of globProblems(pattern)) {
      problems.push({ path: `${name}[${i}]`, message: `'${pattern}': ${message}` });
    }
  });
  if (patterns.every((p) => p.startsWith('!'))) {
    problems.push({
      path: name,
      message: `${name} has only '!' patterns, which match nothing; add a positive pattern before them`,
    });
  }
  return problems;
}

/** Every problem of a filter spec, empty when it is valid. */
export function checkFilterSpec(filter: RefFilter & PathFilter): FilterProblem[] {
  const problems: FilterProblem[] = [];
  const pairs: [ListKey, ListKey][] = [
    ['branches', 'branchesIgnore'],
    ['tags', 'tagsIgnore'],
    ['paths', 'pathsIgnore'],
  ];
  for (const [include, ignore] of pairs) {
    if (filter[include] !== undefined && filter[ignore] !== undefined) {
      const a = LIST_NAMES[include];
      const b = LIST_NAMES[ignore];
      problems.push({
        path: b,
        message: `${a} and ${b} cannot be used together; use ${a} with '!' patterns to exclude`,
      });
    }
  }
  for (const key of Object.keys(LIST_NAMES) as ListKey[]) {
    const patterns = filter[key];
    if (patterns !== undefined) problems.push(...listProblems(LIST_NAMES[key], patterns));
  }
  return problems;
}

function matchName(
  kind: 'branch' | 'tag',
  name: string,
  include: readonly string[] | undefined,
  ignore: readonly string[] | undefined,
): Verdict {
  const plural = kind === 'branch' ? 'branches' : 'tags';
  if (include !== undefined) {
    if (inPatternList(include, name)) return MATCHED;
    const last = lastMatch(include, name);
    if (last !== undefined)
      return { matched: false, reason: `${kind} '${name}' excluded by '${last.pattern}'` };
    return { matched: false, reason: `${kind} '${name}' not in ${formatList(include)}` };
  }
  if (ignore !== undefined && inPatternList(ignore, name)) {
    const last = lastMatch(ignore, name);
    return { matched: false, reason: `${kind} '${name}' matches ${plural}-ignore '${last?.pattern ?? ''}'` };
  }
  return MATCHED;
}

/**
 * Matches the ref an event affects against branch and tag filters. Without any ref filter every
 * event matches; with only branch filters a tag (or an event without a ref) does not, and the
 * other way round, as GitHub documents for `push`.
 */
export function matchRefs(filter: RefFilter, ref: EventRef): Verdict {
  const hasBranchFilter = filter.branches !== undefined || filter.branchesIgnore !== undefined;
  const hasTagFilter = filter.tags !== undefined || filter.tagsIgnore !== undefined;
  if (!hasBranchFilter && !hasTagFilter) return MATCHED;
  if (ref.tag !== undefined) {
    if (!hasTagFilter)
      return { matched: false, reason: `tag '${ref.tag}' does not match: only branches are filtered` };
    return matchName('tag', ref.tag, filter.tags, filter.tagsIgnore);
  }
  if (ref.branch !== undefined) {
    if (!hasBranchFilter) {
      return { matched: false, reason: `branch '${ref.branch}' does not match: only tags are filtered` };
    }
    return matchName('branch', ref.branch, filter.branches, filter.branchesIgnore);
  }
  const filtered =
    hasBranchFilter && hasTagFilter ? 'branches and tags' : hasBranchFilter ? 'branches' : 'tags';
  return { matched: false, reason: `event has no branch or tag, and the trigger filters ${filtered}` };
}

/** The note a match carries when the changed files are unknown. */
export const UNKNOWN_FILES_NOTE = 'changed files unknown, path filters not applied';

/**
 * Matches changed files against path filters. `paths`: at least one file must be in the list.
 * `paths-ignore`: at least one file must not be ignored. No files changed → no match. Unknown
 * files (`undefined`, e.g. a diff too large to list) → match, with a note, as GitHub runs a
 * workflow whose diff it could not compute.
 */
export function matchPaths(filter: PathFilter, changedFiles: readonly string[] | undefined): Verdict {
  const { paths, pathsIgnore } = filter;
  if (paths === undefined && pathsIgnore === undefined) return MATCHED;
  if (changedFiles === undefined) return { matched: true, note: UNKNOWN_FILES_NOTE };
  const which = paths !== undefined ? 'paths' : 'paths-ignore';
  if (changedFiles.length === 0)
    return { matched: false, reason: `no files changed, and the trigger filters ${which}` };
  if (paths !== undefined) {
    if (changedFiles.some((file) => inPatternList(paths, file))) return MATCHED;
    if (changedFiles.length === 1) {
      return {
        matched: false,
        reason: `changed file '${changedFiles[0] ?? ''}' does not match paths ${formatList(paths)}`,
      };
    }
    return { matched: false, reason: `no changed file matches paths ${formatList(paths)}` };
  }
  const ignore = pathsIgnore ?? [];
  if (changedFiles.some((file) => !inPatternList(ignore, file))) return MATCHED;
  if (changedFiles.length === 1) {
    return {
      matched: false,
      reason: `the only changed file '${changedFiles[0] ?? ''}' matches paths-ignore ${formatList(ignore)}`,
    };
  }
  return {
    matched: false,
    reason: `all ${changedFiles.length} changed files match paths-ignore ${formatList(ignore)}`,
  };
}
