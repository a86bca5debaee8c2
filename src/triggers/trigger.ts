/**
 * One trigger (an entry of a pipeline's `on:` list) matched against one CloudEvent. The clauses are
 * checked in a fixed order (`TRIGGER_CLAUSES`: type, source, subject, refs, paths, if) and the
 * verdict names the first one that fails, in words, for `junction explain`. Matching is pure and
 * never throws: an invalid pattern or a failing `if` is a failed clause. The `if` expression is
 * evaluated by a function the caller injects (compiled once at load by the expression module).
 *
 * Canonical fields read from `event.data` (see docs/triggers.md):
 * - the ref: `branch` or `tag`, else `ref` (`refs/heads/x` → branch x, `refs/tags/y` → tag y);
 *   for `git.pull_request`, the base branch: `base_branch`, else `base_ref`;
 * - the changed files: `changed_files`, an array of paths from the repository root; absent means
 *   unknown (path filters are then not applied). Path filters are not applied to tag events.
 */
import type { CloudEvent } from '../events/index.ts';
import { errorMessage, isJunctionError } from '../errors/index.ts';
import {
  checkFilterSpec,
  matchPaths,
  matchRefs,
  MATCHED,
  type EventRef,
  type FilterProblem,
} from './filters.ts';
import type { Verdict } from './filters.ts';
import { compileGitHubGlob, globProblems } from './github-glob.ts';

export interface TriggerSpec {
  /** Event type: exact (`git.push`) or a type pattern (`git.*`, `pipeline.**`). */
  readonly event: string;
  /** CloudEvents `source`: exact or a filter pattern. */
  readonly source?: string;
  /** CloudEvents `subject`: a filter pattern. */
  readonly subject?: string;
  readonly branches?: readonly string[];
  readonly 'branches-ignore'?: readonly string[];
  readonly tags?: readonly string[];
  readonly 'tags-ignore'?: readonly string[];
  readonly paths?: readonly string[];
  readonly 'paths-ignore'?: readonly string[];
  /** An expression over `event`, evaluated by `MatchOptions.evaluateIf`. */
  readonly if?: string;
}

export const TRIGGER_CLAUSES = ['type', 'source', 'subject', 'refs', 'paths', 'if'] as const;
export type TriggerClause = (typeof TRIGGER_CLAUSES)[number];

/** A trigger's verdict: matched (maybe with a note), or the first failing clause and why. */
export type TriggerVerdict =
  | { readonly matched: true; readonly note?: string }
  | { readonly matched: false; readonly clause: TriggerClause; readonly reason: string };

export interface MatchOptions {
  /** Evaluates the trigger's `if` against the event; a throw or `false` fails the clause. */
  readonly evaluateIf?: (source: string, event: CloudEvent) => boolean;
}

// ---------------------------------------------------------------------------------------------
// Event type patterns: `*` is one dot-separated segment (or part of one), `**` one or more segments.

const typeCache = new Map<string, RegExp>();

/** True when an `event` value is a pattern rather than one exact type. */
export function isTypePattern(pattern: string): boolean {
  return pattern.includes('*');
}

/** Problems of an event type pattern, empty when valid. */
export function typePatternProblems(pattern: string): string[] {
  if (pattern === '') return ['event type is empty'];
  const problems: string[] = [];
  pattern.split('.').forEach((segment, i) => {
    if (segment === '') problems.push(`event type '${pattern}' has an empty segment at position ${i + 1}`);
    else if (segment.includes('**') && segment !== '**') {
      problems.push(`'**' must be a whole segment in event type '${pattern}' (write 'a.**', not 'a**')`);
    }
  });
  return problems;
}

function typeRegex(pattern: string): RegExp {
  const cached = typeCache.get(pattern);
  if (cached !== undefined) return cached;
  const parts = pattern.split('.').map((segment) => {
    if (segment === '**') return '[^.]+(?:\\.[^.]+)*';
    if (segment === '*') return '[^.]+';
    return segment
      .split('*')
      .map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('[^.]*');
  });
  const regex = new RegExp(`^${parts.join('\\.')}$`, 'u');
  if (typeCache.size >= 10_000) typeCache.clear();
  typeCache.set(pattern, regex);
  return regex;
}

/** True when the event type matches the trigger's `event` (exact, or a type pattern). */
export function matchEventType(pattern: string, type: string): boolean {
  if (!isTypePattern(pattern)) return pattern === type;
  if (typePatternProblems(pattern).length > 0) return false;
  return typeRegex(pattern).test(type);
}

// ---------------------------------------------------------------------------------------------
// Canonical fields.

function dataOf(event: CloudEvent): Readonly<Record<string, unknown>> {
  const data = event.data;
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : {};
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function refFromFullRef(ref: string | undefined): EventRef {
  if (ref === undefined) return {};
  if (ref.startsWith('refs/heads/')) return { branch: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { tag: ref.slice('refs/tags/'.length) };
  return {};
}

/** The ref an event affects, from its canonical data fields. */
export function eventRef(event: CloudEvent): EventRef {
  const data = dataOf(event);
  if (event.type === 'git.pull_request') {
    const base = nonEmptyString(data['base_branch']);
    if (base !== undefined) return { branch: base };
    const baseRef = nonEmptyString(data['base_ref']);
    if (baseRef === undefined) return {};
    const parsed = refFromFullRef(baseRef);
    return parsed.branch !== undefined || parsed.tag !== undefined ? parsed : { branch: baseRef };
  }
  const tag = nonEmptyString(data['tag']);
  if (tag !== undefined) return { tag };
  const branch = nonEmptyString(data['branch']);
  if (branch !== undefined) return { branch };
  return refFromFullRef(nonEmptyString(data['ref']));
}

/** The changed files of an event, or undefined when the event does not list them all. */
export function eventChangedFiles(event: CloudEvent): readonly string[] | undefined {
  const files = dataOf(event)['changed_files'];
  if (!Array.isArray(files)) return undefined;
  return files.every((f) => typeof f === 'string') ? files : undefined;
}

// ---------------------------------------------------------------------------------------------
// Checking and matching.

/** Every load-time problem of a trigger, with paths in the pipeline file's key names. */
export function checkTriggerSpec(trigger: TriggerSpec): FilterProblem[] {
  const problems: FilterProblem[] = [];
  for (const message of typePatternProblems(trigger.event)) problems.push({ path: 'event', message });
  for (const key of ['source', 'subject'] as const) {
    const pattern = trigger[key];
    if (pattern === undefined) continue;
    if (pattern.startsWith('!')) {
      problems.push({ path: key, message: `${key} '${pattern}' cannot be negated; use if: for exclusions` });
    }
    for (const message of globProblems(pattern))
      problems.push({ path: key, message: `'${pattern}': ${message}` });
  }
  problems.push(...checkFilterSpec(filterOf(trigger)));
  if (trigger.if?.trim() === '')
    problems.push({ path: 'if', message: 'if is empty; write an expression or remove it' });
  return problems;
}

function filterOf(trigger: TriggerSpec) {
  return {
    branches: trigger.branches,
    branchesIgnore: trigger['branches-ignore'],
    tags: trigger.tags,
    tagsIgnore: trigger['tags-ignore'],
    paths: trigger.paths,
    pathsIgnore: trigger['paths-ignore'],
  };
}

function fail(clause: TriggerClause, reason: string): TriggerVerdict {
  return { matched: false, clause, reason };
}

function matchAttribute(
  clause: 'source' | 'subject',
  pattern: string,
  value: string | undefined,
): TriggerVerdict {
  if (value === undefined) return fail(clause, `event has no ${clause}, and the trigger wants '${pattern}'`);
  if (value === pattern || compileGitHubGlob(pattern).regex.test(value)) return MATCHED;
  return fail(clause, `${clause} '${value}' does not match '${pattern}'`);
}

function isTagEvent(event: CloudEvent, ref: EventRef): boolean {
  return event.type === 'git.tag' || ref.tag !== undefined;
}

/** Runs one clause; an invalid pattern (a spec that skipped checkTriggerSpec) fails that clause. */
function guard(clause: TriggerClause, check: () => TriggerVerdict): TriggerVerdict {
  try {
    return check();
  } catch (error) {
    if (isJunctionError(error, 'TRIGGER_PATTERN_INVALID')) return fail(clause, error.message);
    throw error;
  }
}

function matchIf(expression: string, event: CloudEvent, options: MatchOptions): TriggerVerdict {
  if (options.evaluateIf === undefined) return fail('if', `if '${expression}' cannot be evaluated here`);
  let result: boolean;
  try {
    result = options.evaluateIf(expression, event);
  } catch (error) {
    return fail('if', `if '${expression}' failed: ${errorMessage(error)}`);
  }
  return result === true ? MATCHED : fail('if', `if '${expression}' is false`);
}

/**
 * Matches one trigger against one event and returns the verdict: matched, or the first failing
 * clause in `TRIGGER_CLAUSES` order with its reason. Never throws for a bad pattern or a failing
 * `if`; both fail their clause.
 */
export function matchTrigger(
  trigger: TriggerSpec,
  event: CloudEvent,
  options: MatchOptions = {},
): TriggerVerdict {
  if (!matchEventType(trigger.event, event.type)) {
    return fail('type', `type '${event.type}' does not match '${trigger.event}'`);
  }
  const { source, subject } = trigger;
  if (source !== undefined) {
    const verdict = guard('source', () => matchAttribute('source', source, event.source));
    if (!verdict.matched) return verdict;
  }
  if (subject !== undefined) {
    const verdict = guard('subject', () => matchAttribute('subject', subject, event.subject));
    if (!verdict.matched) return verdict;
  }
  const filter = filterOf(trigger);
  const ref = eventRef(event);
  const refs = guard('refs', () => asTriggerVerdict('refs', matchRefs(filter, ref)));
  if (!refs.matched) return refs;
  let note: string | undefined;
  if (!isTagEvent(event, ref)) {
    const paths = guard('paths', () =>
      asTriggerVerdict('paths', matchPaths(filter, eventChangedFiles(event))),
    );
    if (!paths.matched) return paths;
    note = paths.note;
  }
  if (trigger.if !== undefined) {
    const verdict = matchIf(trigger.if, event, options);
    if (!verdict.matched) return verdict;
  }
  return note === undefined ? MATCHED : { matched: true, note };
}

function asTriggerVerdict(clause: TriggerClause, verdict: Verdict): TriggerVerdict {
  return verdict.matched ? verdict : fail(clause, verdict.reason);
}
