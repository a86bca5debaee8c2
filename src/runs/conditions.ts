/**
 * What `if:` means on jobs and steps, as GitHub Actions defines it, without evaluating CEL.
 *
 * - An `if` that calls none of the status functions is implicitly `success() && (<expr>)`; an
 *   absent `if` is `success()`. An `if` that calls any of them is taken as written.
 * - `success()`: for a job, every job it `needs` succeeded (a failure or time-out of a need with
 *   `continue-on-error` counts as success; a skipped or cancelled need does not). For a step,
 *   no earlier step of the job failed, timed out or was cancelled (continue-on-error failures
 *   count as success; a skipped step, whose own `if` was false, breaks nothing). In both cases
 *   `success()` is false once the run was cancelled.
 * - `failure()`: for a job, some job it depends on, directly or through others, failed or timed
 *   out without continue-on-error (so a notifier at the end of a chain sees a failure three jobs
 *   up, as on GitHub). For a step, some earlier step failed or timed out without it.
 * - `cancelled()`: the run was cancelled.
 * - `always()`: true.
 *
 * The expression itself is evaluated by the caller (src/expr); this module says whether the
 * expression is consulted at all and what the status functions return. Pure.
 */
import { isFailure, type StatusItem } from './states.ts';

export const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;
export type StatusFunction = (typeof STATUS_FUNCTIONS)[number];

/** What the status functions return for one job or step. `always()` is always true. */
export interface StatusContext {
  readonly success: boolean;
  readonly failure: boolean;
  readonly cancelled: boolean;
}

/** Evaluates a job's or step's `if` (already known to exist) under a status context. */
export type ConditionEvaluator = (id: string, context: StatusContext) => boolean;

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/**
 * Whether an expression calls `success()`, `failure()`, `always()` or `cancelled()`, outside
 * string literals and `//` comments, and not as a member (`x.success()` is someone else's
 * function). CEL string forms are understood: '…', "…", '''…''', """…""", with `r`/`b` prefixes.
 */
export function usesStatusFunction(expr: string): boolean {
  return statusFunctionsUsed(expr).length > 0;
}

/** The status functions an expression calls, in order of first use, each once. */
export function statusFunctionsUsed(expr: string): StatusFunction[] {
  const found: StatusFunction[] = [];
  let i = 0;
  let previousSignificant = '';
  while (i < expr.length) {
    const ch = expr[i]!;
    if (ch === '/' && expr[i + 1] === '/') {
      const end = expr.indexOf('\n', i);
      i = end === -1 ? expr.length : end + 1;
      continue;
    }
    if (ch === '"' || ch === "'") {
      i = skipString(expr, i, /[rR]/.test(stringPrefix(expr, i)));
      previousSignificant = ch;
      continue;
    }
    if (IDENT_START.test(ch)) {
      let end = i + 1;
      while (end < expr.length && IDENT_PART.test(expr[end]!)) end += 1;
      const word = expr.slice(i, end);
      let after = end;
      while (after < expr.length && /\s/.test(expr[after]!)) after += 1;
      if (
        expr[after] === '(' &&
        previousSignificant !== '.' &&
        (STATUS_FUNCTIONS as readonly string[]).includes(word) &&
        !found.includes(word as StatusFunction)
      ) {
        found.push(word as StatusFunction);
      }
      previousSignificant = word;
      i = end;
      continue;
    }
    if (!/\s/.test(ch)) previousSignificant = ch;
    i += 1;
  }
  return found;
}

/** The `r`/`b` prefix letters written right before a quote (`rb'…'`), or ''. */
function stringPrefix(expr: string, quoteAt: number): string {
  const match = /(?:^|[^A-Za-z0-9_])([rRbB]{1,2})$/.exec(expr.slice(Math.max(0, quoteAt - 3), quoteAt));
  return match?.[1] ?? '';
}

/** The index just past the string literal that starts at `start`. An unterminated one runs to the end. */
function skipString(expr: string, start: number, raw: boolean): number {
  const quote = expr[start]!;
  const triple = expr.startsWith(quote.repeat(3), start);
  const closing = triple ? quote.repeat(3) : quote;
  let i = start + closing.length;
  while (i < expr.length) {
    if (!raw && expr[i] === '\\') {
      i += 2;
      continue;
    }
    if (expr.startsWith(closing, i)) return i + closing.length;
    if (!triple && expr[i] === '\n') return i + 1;
    i += 1;
  }
  return expr.length;
}

/**
 * The condition as it is evaluated: `success()` when there is none, `success() && (<expr>)` when
 * it calls no status function, else the expression unchanged.
 */
export function effectiveCondition(expr: string | undefined): string {
  const trimmed = expr?.trim() ?? '';
  if (trimmed === '') return 'success()';
  if (usesStatusFunction(trimmed)) return trimmed;
  return `success() && (${trimmed})`;
}

/** The values of the four status functions, for binding into an expression environment. */
export function statusFunctionValues(context: StatusContext): Readonly<Record<StatusFunction, boolean>> {
  return { success: context.success, failure: context.failure, always: true, cancelled: context.cancelled };
}

function counts(item: StatusItem): 'ok' | 'failed' | 'skipped' | 'cancelled' | 'pending' {
  if (item.status === 'succeeded') return 'ok';
  if (isFailure(item.status)) return item.continueOnError === true ? 'ok' : 'failed';
  if (item.status === 'skipped') return 'skipped';
  if (item.status === 'cancelled') return 'cancelled';
  return 'pending';
}

/**
 * The status context of a job. `needs` are its direct needs; `ancestors` every job it depends on
 * directly or transitively (needs included). Both are expected terminal.
 */
export function jobStatusContext(
  needs: readonly StatusItem[],
  ancestors: readonly StatusItem[],
  runCancelled: boolean,
): StatusContext {
  return {
    success: !runCancelled && needs.every((need) => counts(need) === 'ok'),
    failure: ancestors.some((item) => counts(item) === 'failed'),
    cancelled: runCancelled,
  };
}

/** The status context of a step from the steps before it in the same job. */
export function stepStatusContext(previous: readonly StatusItem[], runCancelled: boolean): StatusContext {
  const outcomes = previous.map(counts);
  return {
    success: !runCancelled && outcomes.every((o) => o === 'ok' || o === 'skipped'),
    failure: outcomes.includes('failed'),
    cancelled: runCancelled,
  };
}

export type ConditionDecision = { readonly run: true } | { readonly run: false; readonly reason: string };

/**
 * Whether a job or step runs. Without a status function the implicit `success()` is checked
 * first and the expression (if any) only when it holds; `implicitFailureReason` says why it did
 * not hold. With one, the expression alone decides. `evaluate` is not called when there is no
 * expression. A throwing evaluator is the caller's to catch.
 */
export function decideCondition(options: {
  readonly id: string;
  readonly hasCondition: boolean;
  readonly usesStatusFunction: boolean;
  readonly context: StatusContext;
  readonly evaluate: ConditionEvaluator;
  readonly implicitFailureReason: () => string;
}): ConditionDecision {
  if (!options.usesStatusFunction && !options.context.success) {
    return { run: false, reason: options.implicitFailureReason() };
  }
  if (!options.hasCondition) return { run: true };
  return options.evaluate(options.id, options.context)
    ? { run: true }
    : { run: false, reason: 'its if condition is false' };
}
