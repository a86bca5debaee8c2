/**
 * The run-state half of the SQLite store: runs outside routing, jobs with leases, steps, log
 * lines, concurrency holders and sealed secrets (the contract is in ../store.ts).
 *
 * What callers may assume beyond the contract: every method is one statement or one
 * `BEGIN IMMEDIATE` transaction on the store's single connection, so within one process calls
 * never interleave; `claimJob` selects and updates in one transaction, which makes it exclusive
 * across processes sharing the file too.
 */
import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { JunctionError } from '../../errors/index.ts';
import { nowIso } from '../paging.ts';
import type {
  ConcurrencyGroupState,
  JobPatch,
  JobRecord,
  LogLine,
  RunDetail,
  RunPatch,
  RunRecord,
  SecretInfo,
  StepRecord,
  Store,
} from '../store.ts';
import { integer, jsonObject, optionalInteger, optionalText, text, type Row } from './rows.ts';

export interface StoreContext {
  readonly run: <T>(operation: string, fn: () => T) => Promise<T>;
  readonly write: <T>(operation: string, fn: () => T) => Promise<T>;
  readonly cached: (sql: string) => StatementSync;
}

type RunStateMethods = Pick<
  Store,
  | 'createRun'
  | 'getRunDetail'
  | 'listActiveRuns'
  | 'updateRun'
  | 'createJobs'
  | 'getJob'
  | 'listJobs'
  | 'updateJob'
  | 'claimJob'
  | 'renewLease'
  | 'listExpiredLeases'
  | 'saveStep'
  | 'listSteps'
  | 'appendLogs'
  | 'readLogs'
  | 'getConcurrencyGroup'
  | 'setConcurrencyHolder'
  | 'listConcurrencyGroups'
  | 'putSecret'
  | 'getSecrets'
  | 'listSecrets'
  | 'deleteSecret'
>;

const RUN_DETAIL = `SELECT r.rowid AS seq, r.*, e.seq AS event_seq FROM runs r JOIN events e ON e.id = r.event_id`;

const RUN_FIELDS: Readonly<Record<keyof RunPatch, string>> = {
  status: 'status',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  reason: 'reason',
  outputs: 'outputs',
  concurrencyGroup: 'concurrency_group',
  concurrencyMode: 'concurrency_mode',
  cancelRequested: 'cancel_requested',
  waitUntil: 'wait_until',
};

const JOB_FIELDS: Readonly<Record<keyof JobPatch, string>> = {
  status: 'status',
  attempt: 'attempt',
  availableAt: 'available_at',
  leaseOwner: 'lease_owner',
  leaseExpiresAt: 'lease_expires_at',
  queuedAt: 'queued_at',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  exitCode: 'exit_code',
  reason: 'reason',
  outputs: 'outputs',
};

/** Longest reason text kept on a run, job or step. */
const MAX_REASON = 2_000;

function columnValue(value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'string' || typeof value === 'number') return value;
  throw new JunctionError('INTERNAL', `cannot store a ${typeof value} in a column`);
}

/** `SET a = ?, b = ?` and its parameters for the fields present in `patch`. */
function assignments<P extends object>(
  patch: P,
  fields: Readonly<Record<keyof P, string>>,
): { sql: string; params: SQLInputValue[] } {
  const parts: string[] = [];
  const params: SQLInputValue[] = [];
  for (const key of Object.keys(fields) as (keyof P)[]) {
    if (!(key in patch) || patch[key] === undefined) continue;
    parts.push(`${fields[key]} = ?`);
    const value =
      key === 'reason' && typeof patch[key] === 'string' ? patch[key].slice(0, MAX_REASON) : patch[key];
    params.push(columnValue(value));
  }
  return { sql: parts.join(', '), params };
}

function inList(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

export function toRun(row: Row): RunRecord {
  return {
    id: text(row, 'id'),
    eventId: text(row, 'event_id'),
    pipeline: text(row, 'pipeline'),
    triggerIndex: integer(row, 'trigger_index'),
    status: text(row, 'status'),
    pipelineDigest: optionalText(row, 'pipeline_digest'),
    createdAt: text(row, 'created_at'),
    startedAt: optionalText(row, 'started_at'),
    finishedAt: optionalText(row, 'finished_at'),
    reason: optionalText(row, 'reason'),
  };
}

export function toRunDetail(row: Row): RunDetail {
  return {
    ...toRun(row),
    eventSeq: integer(row, 'event_seq'),
    spec: optionalText(row, 'spec'),
    concurrencyGroup: optionalText(row, 'concurrency_group'),
    concurrencyMode: optionalText(row, 'concurrency_mode'),
    outputs: jsonObject<Record<string, string>>(row, 'outputs'),
    cancelRequested: integer(row, 'cancel_requested') === 1,
    rerunOf: optionalText(row, 'rerun_of'),
    waitUntil: optionalText(row, 'wait_until'),
  };
}

function toJob(row: Row): JobRecord {
  return {
    id: text(row, 'id'),
    runId: text(row, 'run_id'),
    name: text(row, 'name'),
    matrixKey: text(row, 'matrix_key'),
    matrix: jsonObject<Record<string, unknown>>(row, 'matrix'),
    status: text(row, 'status'),
    needs: JSON.parse(text(row, 'needs')) as string[],
    attempt: integer(row, 'attempt'),
    availableAt: optionalText(row, 'available_at'),
    leaseOwner: optionalText(row, 'lease_owner'),
    leaseExpiresAt: optionalText(row, 'lease_expires_at'),
    createdAt: text(row, 'created_at'),
    queuedAt: optionalText(row, 'queued_at'),
    startedAt: optionalText(row, 'started_at'),
    finishedAt: optionalText(row, 'finished_at'),
    exitCode: optionalInteger(row, 'exit_code'),
    reason: optionalText(row, 'reason'),
    outputs: jsonObject<Record<string, string>>(row, 'outputs'),
  };
}

function toStep(row: Row): StepRecord {
  return {
    id: text(row, 'id'),
    jobId: text(row, 'job_id'),
    attempt: integer(row, 'attempt'),
    index: integer(row, 'idx'),
    try: integer(row, 'try_number'),
    name: text(row, 'name'),
    status: text(row, 'status'),
    exitCode: optionalInteger(row, 'exit_code'),
    startedAt: optionalText(row, 'started_at'),
    finishedAt: optionalText(row, 'finished_at'),
    reason: optionalText(row, 'reason'),
    outputs: jsonObject<Record<string, string>>(row, 'outputs'),
  };
}

function toLogLine(row: Row): LogLine {
  return {
    id: integer(row, 'id'),
    runId: text(row, 'run_id'),
    jobId: text(row, 'job_id'),
    stepId: optionalText(row, 'step_id'),
    attempt: integer(row, 'attempt'),
    stream: text(row, 'stream') as LogLine['stream'],
    ts: text(row, 'ts'),
    text: text(row, 'text'),
  };
}

export function runStateMethods(ctx: StoreContext): RunStateMethods {
  const { run, write, cached } = ctx;

  function groupState(name: string): ConcurrencyGroupState {
    const holder = cached(
      `SELECT h.run_id, h.acquired_at, e.seq FROM concurrency_holders h
         JOIN runs r ON r.id = h.run_id JOIN events e ON e.id = r.event_id WHERE h.group_name = ?`,
    ).get(name);
    const waiting = cached(
      `SELECT r.id, e.seq FROM runs r JOIN events e ON e.id = r.event_id
         WHERE r.concurrency_group = ? AND r.status = 'waiting' ORDER BY e.seq, r.rowid`,
    ).all(name);
    return {
      name,
      holder:
        holder === undefined
          ? null
          : {
              runId: text(holder, 'run_id'),
              seq: integer(holder, 'seq'),
              since: text(holder, 'acquired_at'),
            },
      waiting: waiting.map((row) => ({ runId: text(row, 'id'), seq: integer(row, 'seq') })),
    };
  }

  return {
    createRun: (eventId, r) =>
      write('createRun', () => {
        if (cached('SELECT 1 AS found FROM events WHERE id = ?').get(eventId) === undefined) {
          throw new JunctionError('EVENT_NOT_FOUND', `no event with id '${eventId.slice(0, 80)}'`);
        }
        const changes = cached(
          `INSERT INTO runs (id, event_id, pipeline, trigger_index, status, pipeline_digest, spec, created_at, rerun_of)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        ).run(
          r.id,
          eventId,
          r.pipeline,
          r.triggerIndex,
          r.status,
          r.pipelineDigest,
          r.spec,
          nowIso(),
          r.rerunOf ?? null,
        ).changes;
        return changes > 0;
      }),

    getRunDetail: (id) =>
      run('getRunDetail', () => {
        const row = cached(`${RUN_DETAIL} WHERE r.id = ?`).get(id);
        return row === undefined ? undefined : toRunDetail(row);
      }),

    listActiveRuns: (limit) =>
      run('listActiveRuns', () =>
        cached(
          `${RUN_DETAIL} WHERE r.status IN ('queued', 'waiting', 'running') ORDER BY e.seq, r.rowid LIMIT ?`,
        )
          .all(limit)
          .map(toRunDetail),
      ),

    updateRun: (id, patch, expect) =>
      write('updateRun', () => {
        const { sql, params } = assignments(patch, RUN_FIELDS);
        if (sql === '') return false;
        let where = 'id = ?';
        params.push(id);
        if (expect !== undefined) {
          where += ` AND status IN (${inList(expect.length)})`;
          params.push(...expect);
        }
        return cached(`UPDATE runs SET ${sql} WHERE ${where}`).run(...params).changes > 0;
      }),

    createJobs: (jobs) =>
      write('createJobs', () => {
        const at = nowIso();
        const insert = cached(
          `INSERT INTO jobs (id, run_id, name, matrix_key, matrix, status, needs, available_at, created_at, queued_at, finished_at, reason)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        );
        const inserted: string[] = [];
        for (const job of jobs) {
          const changes = insert.run(
            job.id,
            job.runId,
            job.name,
            job.matrixKey,
            columnValue(job.matrix),
            job.status,
            JSON.stringify(job.needs),
            job.availableAt ?? null,
            at,
            job.status === 'queued' ? at : null,
            job.finishedAt ?? null,
            job.reason?.slice(0, MAX_REASON) ?? null,
          ).changes;
          if (changes > 0) inserted.push(job.id);
        }
        return inserted;
      }),

    getJob: (id) =>
      run('getJob', () => {
        const row = cached('SELECT * FROM jobs WHERE id = ?').get(id);
        return row === undefined ? undefined : toJob(row);
      }),

    listJobs: (runId) =>
      run('listJobs', () =>
        cached('SELECT * FROM jobs WHERE run_id = ? ORDER BY rowid').all(runId).map(toJob),
      ),

    updateJob: (id, patch, expect) =>
      write('updateJob', () => {
        const { sql, params } = assignments(patch, JOB_FIELDS);
        if (sql === '') return false;
        let where = 'id = ?';
        params.push(id);
        if (expect?.status !== undefined) {
          where += ` AND status IN (${inList(expect.status.length)})`;
          params.push(...expect.status);
        }
        if (expect?.leaseOwner !== undefined) {
          where += ' AND lease_owner = ?';
          params.push(expect.leaseOwner);
        }
        return cached(`UPDATE jobs SET ${sql} WHERE ${where}`).run(...params).changes > 0;
      }),

    claimJob: (owner, leaseMs, now = new Date()) =>
      write('claimJob', () => {
        const at = now.toISOString();
        const row = cached(
          `SELECT * FROM jobs WHERE status = 'queued' AND (available_at IS NULL OR available_at <= ?)
             ORDER BY queued_at, rowid LIMIT 1`,
        ).get(at);
        if (row === undefined) return undefined;
        const expires = new Date(now.getTime() + leaseMs).toISOString();
        cached(
          `UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?, started_at = ? WHERE id = ?`,
        ).run(owner, expires, at, text(row, 'id'));
        return {
          ...toJob(row),
          status: 'running',
          leaseOwner: owner,
          leaseExpiresAt: expires,
          startedAt: at,
        };
      }),

    renewLease: (jobId, owner, leaseMs) =>
      write('renewLease', () => {
        const expires = new Date(Date.now() + leaseMs).toISOString();
        return (
          cached(
            `UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'`,
          ).run(expires, jobId, owner).changes > 0
        );
      }),

    listExpiredLeases: (now) =>
      run('listExpiredLeases', () =>
        cached(
          `SELECT * FROM jobs WHERE status = 'running' AND lease_owner IS NOT NULL AND lease_expires_at < ?
             ORDER BY lease_expires_at`,
        )
          .all(now.toISOString())
          .map(toJob),
      ),

    saveStep: (step) =>
      write('saveStep', () => {
        cached(
          `INSERT INTO steps (id, job_id, attempt, idx, try_number, name, status, exit_code, started_at, finished_at, reason, outputs)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, exit_code = excluded.exit_code,
               started_at = excluded.started_at, finished_at = excluded.finished_at,
               reason = excluded.reason, outputs = excluded.outputs, name = excluded.name`,
        ).run(
          step.id,
          step.jobId,
          step.attempt,
          step.index,
          step.try,
          step.name,
          step.status,
          step.exitCode,
          step.startedAt,
          step.finishedAt,
          step.reason?.slice(0, MAX_REASON) ?? null,
          columnValue(step.outputs),
        );
      }),

    listSteps: (runId) =>
      run('listSteps', () =>
        cached(
          `SELECT s.* FROM steps s JOIN jobs j ON j.id = s.job_id WHERE j.run_id = ?
             ORDER BY j.rowid, s.attempt, s.idx, s.try_number`,
        )
          .all(runId)
          .map(toStep),
      ),

    appendLogs: (runId, jobId, lines) => {
      if (lines.length === 0) return run('appendLogs', () => 0);
      return write('appendLogs', () => {
        const insert = cached(
          `INSERT INTO log_chunks (run_id, job_id, step_id, attempt, stream, ts, text) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        );
        let last = 0;
        for (const line of lines) {
          last = Number(
            insert.run(runId, jobId, line.stepId, line.attempt, line.stream, line.ts, line.text)
              .lastInsertRowid,
          );
        }
        return last;
      });
    },

    readLogs: (filter, limit) =>
      run('readLogs', () => {
        const clauses = ['run_id = ?'];
        const params: SQLInputValue[] = [filter.runId];
        if (filter.jobId !== undefined) {
          clauses.push('job_id = ?');
          params.push(filter.jobId);
        }
        if (filter.stepId !== undefined) {
          clauses.push('step_id = ?');
          params.push(filter.stepId);
        }
        if (filter.afterId !== undefined) {
          clauses.push('id > ?');
          params.push(filter.afterId);
        }
        params.push(Math.max(1, Math.min(10_000, Math.trunc(limit))));
        return cached(`SELECT * FROM log_chunks WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`)
          .all(...params)
          .map(toLogLine);
      }),

    getConcurrencyGroup: (name) => run('getConcurrencyGroup', () => groupState(name)),

    setConcurrencyHolder: (name, runId) =>
      write('setConcurrencyHolder', () => {
        if (runId === null) {
          cached('DELETE FROM concurrency_holders WHERE group_name = ?').run(name);
          return;
        }
        cached(
          `INSERT INTO concurrency_holders (group_name, run_id, acquired_at) VALUES (?, ?, ?)
             ON CONFLICT (group_name) DO UPDATE SET run_id = excluded.run_id, acquired_at = excluded.acquired_at`,
        ).run(name, runId, nowIso());
      }),

    listConcurrencyGroups: () =>
      run('listConcurrencyGroups', () => {
        const names = cached(
          `SELECT group_name AS name FROM concurrency_holders
           UNION SELECT concurrency_group AS name FROM runs WHERE status = 'waiting' AND concurrency_group IS NOT NULL
           ORDER BY name`,
        ).all();
        return names.map((row) => groupState(text(row, 'name')));
      }),

    putSecret: (name, sealed) =>
      write('putSecret', () => {
        const at = nowIso();
        const existed = cached('SELECT 1 AS found FROM secrets WHERE name = ?').get(name) !== undefined;
        cached(
          `INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
        ).run(name, sealed, at, at);
        return existed ? ('updated' as const) : ('created' as const);
      }),

    getSecrets: (names) =>
      run('getSecrets', () => {
        const found = new Map<string, string>();
        const select = cached('SELECT sealed FROM secrets WHERE name = ?');
        for (const name of new Set(names)) {
          const row = select.get(name);
          if (row !== undefined) found.set(name, text(row, 'sealed'));
        }
        return found;
      }),

    listSecrets: () =>
      run('listSecrets', () =>
        cached('SELECT name, created_at, updated_at FROM secrets ORDER BY name')
          .all()
          .map((row): SecretInfo => ({
            name: text(row, 'name'),
            createdAt: text(row, 'created_at'),
            updatedAt: text(row, 'updated_at'),
          })),
      ),

    deleteSecret: (name) =>
      write('deleteSecret', () => cached('DELETE FROM secrets WHERE name = ?').run(name).changes > 0),
  };
}
