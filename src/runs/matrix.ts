/**
 * The fail-fast / max-parallel plan of a matrix job, with GitHub Actions' documented semantics.
 * Expansion of `strategy.matrix` (and the names and keys of combinations) lives in src/pipelines
 * and is re-exported here under the names runs use. Pure.
 */
import {
  combinationKey,
  combinationName,
  expandMatrix,
  type MatrixCombination,
  type MatrixSpec,
  type MatrixValue,
} from '../pipelines/index.ts';
import { isFailure, isTerminal, type Status } from './states.ts';

export { combinationKey, combinationName, expandMatrix };
export type { MatrixValue };
/** One combination of a matrix job. */
export type Combination = MatrixCombination;
/** A job's matrix: axes, `include` and `exclude`. */
export type MatrixStrategy = MatrixSpec;

export interface MatrixMember {
  /** The combination's instance id (for example its name). */
  readonly id: string;
  readonly status: Status;
  /** `continue-on-error` for this combination: its failure does not trigger fail-fast. */
  readonly continueOnError?: boolean;
}

export interface MatrixPlanOptions {
  /** `strategy.fail-fast`; GitHub's default is true. */
  readonly failFast: boolean;
  /** `strategy.max-parallel`: most combinations running at once. Default: no limit. */
  readonly maxParallel?: number;
}

export interface MatrixPlan {
  /** Queued combinations to start now, in matrix order. */
  readonly start: string[];
  /** Combinations to cancel: queued ones never start, running ones are stopped. */
  readonly cancel: string[];
}

/**
 * The next step of a matrix job whose own needs are met. With fail-fast on, once a combination
 * without continue-on-error has failed or timed out, every queued, waiting or running combination
 * is cancelled and nothing more starts (GitHub cancels in-progress and queued matrix jobs alike).
 * Otherwise queued combinations start in matrix order while fewer than `maxParallel` run
 * (a value below 1 counts as 1).
 */
export function planMatrix(members: readonly MatrixMember[], options: MatrixPlanOptions): MatrixPlan {
  const failed = members.some((m) => isFailure(m.status) && m.continueOnError !== true);
  if (options.failFast && failed) {
    return { start: [], cancel: members.filter((m) => !isTerminal(m.status)).map((m) => m.id) };
  }
  const limit =
    options.maxParallel === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(1, Math.floor(options.maxParallel));
  let running = members.filter((m) => m.status === 'running').length;
  const start: string[] = [];
  for (const member of members) {
    if (running >= limit) break;
    if (member.status !== 'queued') continue;
    start.push(member.id);
    running += 1;
  }
  return { start, cancel: [] };
}
