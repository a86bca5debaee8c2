/**
 * The state machine shared by runs, jobs and steps, and the rule that folds many statuses into
 * one (a run from its jobs, a matrix job from its combinations).
 *
 * Statuses:
 * - `queued`: created, not started yet (a job whose needs are not done is `queued`).
 * - `waiting`: held by something outside the graph: a run by its concurrency group, a job by an
 *   approval. Leaves `waiting` for `queued` or `running` when released.
 * - `running`: started; for a job, claimed by a worker.
 * - `succeeded`, `failed`, `cancelled`, `skipped`, `timed-out`: terminal. Nothing leaves them; a
 *   re-run creates a new run.
 *
 * `running → queued` exists for work that is handed back (a worker lost its lease, or a retry is
 * scheduled); every other backwards move is refused. A move to the same status is not a
 * transition (`canTransition(s, s)` is false); callers treat a repeated report as a no-op.
 *
 * Pure: no I/O. Callers may assume the tables here are complete for every status.
 */

export const STATUSES = [
  'queued',
  'waiting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'timed-out',
] as const;

export type Status = (typeof STATUSES)[number];

export type TerminalStatus = 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'timed-out';

const TERMINAL: ReadonlySet<Status> = new Set<Status>([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
  'timed-out',
]);

const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  queued: ['waiting', 'running', 'cancelled', 'skipped', 'timed-out', 'failed'],
  waiting: ['queued', 'running', 'cancelled', 'skipped', 'timed-out'],
  running: ['queued', 'succeeded', 'failed', 'cancelled', 'timed-out'],
  succeeded: [],
  failed: [],
  cancelled: [],
  skipped: [],
  'timed-out': [],
};

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

export function isTerminal(status: Status): status is TerminalStatus {
  return TERMINAL.has(status);
}

/** Whether a run, job or step may move from `from` to `to`. */
export function canTransition(from: Status, to: Status): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A status that counts as a failure unless the item continues on error. */
export function isFailure(status: Status): boolean {
  return status === 'failed' || status === 'timed-out';
}

export interface StatusItem {
  readonly status: Status;
  /** `continue-on-error`: a failure or time-out of this item does not fail the whole. */
  readonly continueOnError?: boolean;
}

/**
 * One status for a set of items: a run from its jobs, a matrix job from its combinations.
 *
 * - `running` while any item is not terminal (the caller holds the run's own `queued`/`waiting`);
 * - else `failed` if any item without continue-on-error failed or timed out;
 * - else `cancelled` if any item was cancelled;
 * - else `succeeded`. Skipped items never fail the whole, and an empty set, or a set where every
 *   item was skipped, succeeds.
 */
export function combineStatuses(items: readonly StatusItem[]): Status {
  if (items.some((item) => !isTerminal(item.status))) return 'running';
  if (items.some((item) => isFailure(item.status) && item.continueOnError !== true)) return 'failed';
  if (items.some((item) => item.status === 'cancelled')) return 'cancelled';
  return 'succeeded';
}

/** A run's overall status from its jobs' statuses (see `combineStatuses`). */
export function runStatusFromJobs(jobs: readonly StatusItem[]): Status {
  return combineStatuses(jobs);
}
