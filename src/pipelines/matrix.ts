/**
 * Expansion of a job's `strategy.matrix` into combinations, with GitHub Actions' documented
 * semantics, and the names and keys of combinations. The loader uses it to check a matrix's size;
 * runs use it to create one job instance per combination.
 *
 * Expansion:
 * 1. The cartesian product of the axes, in declaration order: the first axis varies slowest
 *    (`os: [a, b]`, `node: [1, 2]` → a/1, a/2, b/1, b/2). No axes, or an axis with no values,
 *    gives no combinations from the product.
 * 2. `exclude` removes every combination that matches all the keys a row gives (a partial match
 *    suffices). A row naming a key the combination lacks does not match it.
 * 3. `include`, row by row: the row's pairs are added to every combination whose original (axis)
 *    values it does not contradict; values added by earlier rows may be overwritten, original
 *    values never. A row that fits no combination becomes a new combination of its own, appended
 *    in order; later rows never extend such new combinations.
 * Values compare by structure (`{a: 1}` equals `{a: 1}`). The order is stable: product order, then
 * new combinations in `include` order. The input is never modified.
 *
 * More than `cap` combinations is an overflow: `matrixOverflow` reports it, `expandMatrix` throws
 * PIPELINE_MATRIX_TOO_LARGE naming the count and the cap. Pure.
 */
import { JunctionError } from '../errors/index.ts';
import type { MatrixSpec, MatrixValue } from './types.ts';

/** One combination: axis (and `include`) key → value, in the order described above. */
export type MatrixCombination<V = MatrixValue> = Readonly<Record<string, V>>;

/** A matrix with more combinations than allowed. */
export interface MatrixOverflow {
  /** The number of combinations, or a lower bound when `exact` is false. */
  readonly count: number;
  readonly exact: boolean;
}

/** Past this many product entries counting stops and the count is given as a lower bound. */
const COUNT_LIMIT = 1_000_000;

/** Canonical JSON: object keys sorted, so equal structures give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Strings, booleans and finite numbers: their canonical text is equal exactly when they are. */
const isPlainScalar = (value: unknown): boolean =>
  typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isPlainScalar(a) && isPlainScalar(b)) return false;
  return canonical(a) === canonical(b);
}

/** True when `combination` has every pair of `row` (given as its entries). */
function matchesAll(
  combination: Readonly<Record<string, unknown>>,
  row: readonly (readonly [string, unknown])[],
): boolean {
  return row.every(([key, value]) => Object.hasOwn(combination, key) && sameValue(combination[key], value));
}

/** The combinations, or the overflow when there are more than `cap`. */
function expand<V>(matrix: MatrixSpec<V>, cap: number): MatrixCombination<V>[] | MatrixOverflow {
  const axes = Object.entries(matrix.axes);
  const exclude = matrix.exclude.map((row) => Object.entries(row));
  const base: Record<string, V>[] = [];
  let kept = 0;
  let exact = true;
  const product = axes.length === 0 ? 0 : axes.reduce((n, [, values]) => n * values.length, 1);
  const indexes = axes.map(() => 0);
  for (let n = 0; n < product; n += 1) {
    if (n >= COUNT_LIMIT) {
      exact = false;
      break;
    }
    const combination: Record<string, V> = {};
    axes.forEach(([key, values], a) => {
      combination[key] = values[indexes[a]!]!;
    });
    for (let a = axes.length - 1; a >= 0; a -= 1) {
      indexes[a]! += 1;
      if (indexes[a]! < axes[a]![1].length) break;
      indexes[a] = 0;
    }
    if (exclude.some((row) => matchesAll(combination, row))) continue;
    kept += 1;
    if (kept <= cap) base.push(combination);
  }
  if (kept > cap) return { count: kept, exact };

  const axisKeys = new Set(axes.map(([key]) => key));
  const added: Record<string, V>[] = [];
  for (const row of matrix.include) {
    let extended = false;
    for (const combination of base) {
      const fits = Object.entries(row).every(
        ([key, value]) => !axisKeys.has(key) || sameValue(combination[key], value),
      );
      if (!fits) continue;
      Object.assign(combination, row);
      extended = true;
    }
    if (!extended) added.push({ ...row });
  }
  const total = base.length + added.length;
  if (total > cap) return { count: total, exact: true };
  return [...base, ...added];
}

/** The overflow when `matrix` has more than `cap` combinations, else undefined. */
export function matrixOverflow<V>(matrix: MatrixSpec<V>, cap: number): MatrixOverflow | undefined {
  const result = expand(matrix, cap);
  return Array.isArray(result) ? undefined : result;
}

/**
 * Every combination of `matrix` (see the module comment). More than `cap` throws
 * PIPELINE_MATRIX_TOO_LARGE; `jobId` only names the job in the error.
 */
export function expandMatrix<V = MatrixValue>(
  matrix: MatrixSpec<V>,
  cap: number,
  jobId?: string,
): MatrixCombination<V>[] {
  const result = expand(matrix, cap);
  if (Array.isArray(result)) return result;
  const what = jobId === undefined ? 'matrix' : `matrix of job '${jobId}'`;
  const amount = result.exact ? `${result.count}` : `more than ${result.count}`;
  throw new JunctionError(
    'PIPELINE_MATRIX_TOO_LARGE',
    `${what} has ${amount} combinations; at most ${cap} are allowed`,
    {
      details: { count: result.count, cap, exact: result.exact },
    },
  );
}

function show(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return canonical(value);
}

/**
 * A readable name for one combination: `test (node=20, os=linux)`, keys in the combination's own
 * order (axes first, then keys added by `include`). A job without a matrix keeps its id.
 */
export function combinationName(jobId: string, combination: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(combination).map(([key, value]) => `${key}=${show(value)}`);
  return parts.length === 0 ? jobId : `${jobId} (${parts.join(', ')})`;
}

/**
 * A stable identity for one combination: canonical JSON with sorted keys, equal for equal
 * combinations whatever the key order in the file.
 */
export function combinationKey(combination: Readonly<Record<string, unknown>>): string {
  return canonical(combination);
}
