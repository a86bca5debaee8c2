/**
 * Re-running a run: a new run for the same event, pipeline and trigger, with `rerunOf` naming the
 * run it repeats. It runs the pipeline spec the original ran (stored on the run), not the file as
 * it is now, so a re-run repeats what ran.
 *
 * What callers may assume:
 * - Only an ended run is re-run: a run still queued, waiting or running is refused with
 *   `RUN_NOT_FINISHED`, an unknown one with `RUN_NOT_FOUND`.
 * - The new run is `queued` when `rerunRun` resolves; the caller kicks the scheduler. Its id is
 *   `run_` and 26 lowercase base32hex characters of a UUIDv7, so ids made later sort later.
 * - With `failedOnly`, jobs whose every row succeeded are copied into the new run as `succeeded`
 *   rows with their outputs, exit codes and times, and the reason `reused from run <id>`; the
 *   scheduler plans only the others, and jobs that need a reused job read its outputs. A matrix job
 *   with any combination that did not succeed runs again whole. A job that needs (directly or not)
 *   a job that runs again runs again too, and so do `finally` jobs when any job runs again, so
 *   nothing reused has seen results the new run changes. A spec that no longer compiles reuses
 *   nothing (the scheduler then fails the run with the reason).
 * - While reused rows are copied, the new run is held as `waiting` without a concurrency group,
 *   which the scheduler's sweep leaves alone; it becomes `queued` once every row is in place. If
 *   copying fails, the new run is ended `failed` with the reason and the error is rethrown.
 */
import { uuidv7 } from '../events/index.ts';
import { JunctionError, errorMessage } from '../errors/index.ts';
import type { JobRecord, NewJob, RunDetail, Store } from '../store/index.ts';
import { compiledRunSpec } from './run-spec.ts';
import { jobRowId } from './scheduler.ts';
import { isStatus, isTerminal } from './states.ts';

export interface RerunOptions {
  /** Reuse the jobs that succeeded; run only the others. */
  readonly failedOnly: boolean;
  /** The new run's id; a fresh one by default. */
  readonly newRunId?: string;
  /**
   * Jobs that run again even though they succeeded; every other job that succeeded is reused as
   * with `failedOnly` (a rollback re-runs only the job that deployed).
   */
  readonly rerunJobs?: readonly string[];
  /** Called while the new run is held, after reused rows are copied and before it is queued. */
  readonly prepare?: (runId: string) => Promise<void>;
}

export interface RerunResult {
  /** The new run. */
  readonly runId: string;
  /** Names of the jobs copied from the original run, in its order. */
  readonly reused: string[];
}

/** RFC 4648 base32hex: its alphabet is in ASCII order, so encoded ids sort as the bytes do. */
const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

/** Lowercase base32hex without padding. */
function base32hex(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32HEX[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32HEX[(buffer << (5 - bits)) & 31];
  return out;
}

/** A new, time-ordered run id: `run_` and the 26 base32hex characters of a UUIDv7. */
export function newRunId(): string {
  return `run_${base32hex(Buffer.from(uuidv7().replaceAll('-', ''), 'hex'))}`;
}

function isEnded(status: string): boolean {
  return !isStatus(status) || isTerminal(status);
}

/** The names of the jobs a failed-only re-run copies, in a fixed order (see the module comment). */
export function reusableJobs(
  run: RunDetail,
  rows: readonly JobRecord[],
  force: ReadonlySet<string> = new Set(),
): Set<string> {
  let jobs: { name: string; needs: readonly string[]; isFinally: boolean }[];
  try {
    jobs = [...compiledRunSpec(run).jobs.values()].map((job) => ({
      name: job.spec.id,
      needs: job.spec.needs,
      isFinally: job.spec.isFinally,
    }));
  } catch {
    // The scheduler fails the new run with the same error and its message.
    return new Set();
  }
  const succeeded = new Set<string>();
  for (const job of jobs) {
    const own = rows.filter((row) => row.name === job.name);
    if (force.has(job.name)) continue;
    if (own.length > 0 && own.every((row) => row.status === 'succeeded')) succeeded.add(job.name);
  }
  const reusable = new Set<string>();
  const regular = jobs.filter((job) => !job.isFinally);
  // Fixpoint: a job is reusable when it succeeded and everything it needs is reusable.
  for (let round = 0; round <= regular.length; round += 1) {
    const before = reusable.size;
    for (const job of regular) {
      if (succeeded.has(job.name) && job.needs.every((need) => reusable.has(need))) reusable.add(job.name);
    }
    if (reusable.size === before) break;
  }
  if (regular.every((job) => reusable.has(job.name))) {
    for (const job of jobs) if (job.isFinally && succeeded.has(job.name)) reusable.add(job.name);
  }
  return reusable;
}

function copiedRow(row: JobRecord, runId: string, from: string): NewJob {
  return {
    id: jobRowId(runId, row.name, row.matrixKey),
    runId,
    name: row.name,
    matrixKey: row.matrixKey,
    matrix: row.matrix,
    status: 'succeeded',
    needs: row.needs,
    reason: `reused from run ${from}`,
    finishedAt: row.finishedAt ?? new Date().toISOString(),
  };
}

export async function rerunRun(store: Store, runId: string, options: RerunOptions): Promise<RerunResult> {
  const original = await store.getRunDetail(runId);
  if (original === undefined) {
    throw new JunctionError('RUN_NOT_FOUND', `no run with id '${runId.slice(0, 80)}'`);
  }
  if (!isEnded(original.status)) {
    throw new JunctionError(
      'RUN_NOT_FINISHED',
      `run '${original.id}' is still ${original.status}; cancel it first or wait for it to end`,
    );
  }
  const id = options.newRunId ?? newRunId();
  const reuse = options.failedOnly || options.rerunJobs !== undefined;
  const rows = reuse ? await store.listJobs(original.id) : [];
  const reusable = reuse ? reusableJobs(original, rows, new Set(options.rerunJobs ?? [])) : new Set<string>();
  const copied = rows.filter((row) => reusable.has(row.name));
  const held = copied.length > 0 || options.prepare !== undefined;
  const created = await store.createRun(original.eventId, {
    id,
    pipeline: original.pipeline,
    triggerIndex: original.triggerIndex,
    status: held ? 'waiting' : 'queued',
    pipelineDigest: original.pipelineDigest,
    spec: original.spec,
    rerunOf: original.id,
  });
  if (!created) {
    throw new JunctionError('INTERNAL', `cannot create re-run '${id}': a run with that id exists`);
  }
  if (held) await prepareHeld(store, id, original.id, copied, options.prepare);
  return { runId: id, reused: [...new Set(copied.map((row) => row.name))] };
}

/**
 * Copies reused rows into the held new run and lets the caller prepare it, then queues it; ends
 * it failed when either fails.
 */
async function prepareHeld(
  store: Store,
  runId: string,
  from: string,
  rows: readonly JobRecord[],
  prepare: ((runId: string) => Promise<void>) | undefined,
): Promise<void> {
  try {
    if (rows.length > 0) await store.createJobs(rows.map((row) => copiedRow(row, runId, from)));
    for (const row of rows) {
      await store.updateJob(jobRowId(runId, row.name, row.matrixKey), {
        outputs: row.outputs,
        exitCode: row.exitCode,
        startedAt: row.startedAt,
        queuedAt: row.queuedAt,
      });
    }
    await prepare?.(runId);
    await store.updateRun(runId, { status: 'queued' }, ['waiting']);
  } catch (error) {
    await store
      .updateRun(
        runId,
        {
          status: 'failed',
          finishedAt: new Date().toISOString(),
          reason: `the re-run of run ${from} could not be prepared: ${errorMessage(error)}`,
        },
        ['waiting'],
      )
      .catch(() => false);
    throw error;
  }
}
