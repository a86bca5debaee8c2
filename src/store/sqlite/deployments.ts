/**
 * The deployment half of the SQLite store: deployments recorded by jobs that declare an
 * `environment`, and approval decisions on gated jobs (the contract is in ../store.ts).
 *
 * What callers may assume beyond the contract: `startDeployment` checks and takes the
 * (environment, service) slot in one `BEGIN IMMEDIATE` transaction, so two schedulers sharing the
 * file never start two deployments of one service into one environment at once. Queue order is
 * insertion order (the table's rowid).
 */
import type { SQLInputValue } from 'node:sqlite';
import type {
  ApprovalRecord,
  DeploymentFilter,
  DeploymentPatch,
  DeploymentRecord,
  NewApproval,
  NewDeployment,
  Store,
} from '../store.ts';
import { integer, optionalText, text, type Row } from './rows.ts';
import type { StoreContext } from './run-state.ts';

type DeploymentMethods = Pick<
  Store,
  | 'createDeployment'
  | 'getDeployment'
  | 'updateDeployment'
  | 'startDeployment'
  | 'listDeployments'
  | 'currentDeployment'
  | 'addApproval'
  | 'listApprovals'
>;

const MAX_REASON = 2000;

const FIELDS: Readonly<Record<keyof DeploymentPatch, string>> = {
  status: 'status',
  reason: 'reason',
  version: 'version',
  url: 'url',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
};

function toDeployment(row: Row): DeploymentRecord {
  return {
    seq: integer(row, 'seq'),
    id: text(row, 'id'),
    environment: text(row, 'environment'),
    service: text(row, 'service'),
    version: text(row, 'version'),
    url: optionalText(row, 'url'),
    runId: text(row, 'run_id'),
    jobId: text(row, 'job_id'),
    eventId: text(row, 'event_id'),
    eventSeq: integer(row, 'event_seq'),
    pipeline: text(row, 'pipeline'),
    jobName: text(row, 'job_name'),
    status: text(row, 'status'),
    reason: optionalText(row, 'reason'),
    isRollback: integer(row, 'is_rollback') === 1,
    rollbackOf: optionalText(row, 'rollback_of'),
    cause: optionalText(row, 'cause'),
    actor: optionalText(row, 'actor'),
    requestedByRun: optionalText(row, 'requested_by_run'),
    createdAt: text(row, 'created_at'),
    startedAt: optionalText(row, 'started_at'),
    finishedAt: optionalText(row, 'finished_at'),
  };
}

function toApproval(row: Row): ApprovalRecord {
  return {
    id: integer(row, 'id'),
    runId: text(row, 'run_id'),
    jobId: optionalText(row, 'job_id'),
    decision: text(row, 'decision') as ApprovalRecord['decision'],
    author: text(row, 'author'),
    comment: optionalText(row, 'comment'),
    at: text(row, 'at'),
  };
}

const SELECT = `SELECT d.rowid AS seq, d.*, e.seq AS event_seq FROM deployments d JOIN events e ON e.id = d.event_id`;
/** Statuses that hold or wait for an (environment, service) slot. */
const ACTIVE = `('waiting', 'running')`;

export function deploymentMethods({ run, write, cached }: StoreContext): DeploymentMethods {
  const get = (id: string): DeploymentRecord | undefined => {
    const row = cached(`${SELECT} WHERE d.id = ?`).get(id) as Row | undefined;
    return row === undefined ? undefined : toDeployment(row);
  };
  return {
    createDeployment: (deployment: NewDeployment) =>
      write('createDeployment', () => {
        cached(
          `INSERT INTO deployments (id, environment, service, version, url, run_id, job_id, event_id,
             pipeline, job_name, status, reason, is_rollback, rollback_of, cause, actor, requested_by_run, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        ).run(
          deployment.id,
          deployment.environment,
          deployment.service,
          deployment.version,
          deployment.url ?? null,
          deployment.runId,
          deployment.jobId,
          deployment.eventId,
          deployment.pipeline,
          deployment.jobName,
          deployment.status,
          deployment.reason?.slice(0, MAX_REASON) ?? null,
          deployment.isRollback === true ? 1 : 0,
          deployment.rollbackOf ?? null,
          deployment.cause ?? null,
          deployment.actor ?? null,
          deployment.requestedByRun ?? null,
          deployment.createdAt ?? new Date().toISOString(),
        );
        return get(deployment.id)!;
      }),
    getDeployment: (id) => run('getDeployment', () => get(id)),
    updateDeployment: (id, patch, expect) =>
      write('updateDeployment', () => {
        const parts: string[] = [];
        const params: SQLInputValue[] = [];
        for (const key of Object.keys(FIELDS) as (keyof DeploymentPatch)[]) {
          const value = patch[key];
          if (value === undefined) continue;
          parts.push(`${FIELDS[key]} = ?`);
          params.push(key === 'reason' && typeof value === 'string' ? value.slice(0, MAX_REASON) : value);
        }
        if (parts.length === 0) return false;
        let where = 'id = ?';
        params.push(id);
        if (expect !== undefined && expect.length > 0) {
          where += ` AND status IN (${expect.map(() => '?').join(', ')})`;
          params.push(...expect);
        }
        return cached(`UPDATE deployments SET ${parts.join(', ')} WHERE ${where}`).run(...params).changes > 0;
      }),
    startDeployment: (id, at) =>
      write('startDeployment', () => {
        const row = cached(
          `SELECT rowid AS seq, environment, service, status FROM deployments WHERE id = ?`,
        ).get(id) as Row | undefined;
        if (row === undefined) return { started: false };
        if (text(row, 'status') === 'running') return { started: true };
        if (text(row, 'status') !== 'waiting') return { started: false };
        // Someone ahead: a deployment of the same service into the same environment that runs, or
        // that waits and was recorded first.
        const ahead = cached(
          `SELECT id FROM deployments WHERE environment = ? AND service = ? AND id != ?
             AND (status = 'running' OR (status = 'waiting' AND rowid < ?))
           ORDER BY status = 'running' DESC, rowid LIMIT 1`,
        ).get(text(row, 'environment'), text(row, 'service'), id, integer(row, 'seq')) as Row | undefined;
        if (ahead !== undefined) return { started: false, behind: text(ahead, 'id') };
        cached(`UPDATE deployments SET status = 'running', started_at = ? WHERE id = ?`).run(at, id);
        return { started: true };
      }),
    listDeployments: (filter: DeploymentFilter, limit) =>
      run('listDeployments', () => {
        const where: string[] = [];
        const params: SQLInputValue[] = [];
        if (filter.environment !== undefined) {
          where.push('d.environment = ?');
          params.push(filter.environment);
        }
        if (filter.service !== undefined) {
          where.push('d.service = ?');
          params.push(filter.service);
        }
        if (filter.status !== undefined && filter.status.length > 0) {
          where.push(`d.status IN (${filter.status.map(() => '?').join(', ')})`);
          params.push(...filter.status);
        }
        if (filter.active === true) where.push(`d.status IN ${ACTIVE}`);
        if (filter.cause !== undefined) {
          where.push('d.cause = ?');
          params.push(filter.cause);
        }
        if (filter.requestedByRun !== undefined) {
          where.push('d.requested_by_run = ?');
          params.push(filter.requestedByRun);
        }
        if (filter.isRollback !== undefined) {
          where.push('d.is_rollback = ?');
          params.push(filter.isRollback ? 1 : 0);
        }
        if (filter.since !== undefined) {
          where.push('d.created_at >= ?');
          params.push(filter.since);
        }
        const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
        const order = filter.order === 'asc' ? 'ASC' : 'DESC';
        const rows = cached(`${SELECT} ${clause} ORDER BY d.rowid ${order} LIMIT ?`).all(
          ...params,
          Math.max(1, Math.min(limit, 10_000)),
        ) as Row[];
        return rows.map(toDeployment);
      }),
    currentDeployment: (environment, service) =>
      run('currentDeployment', () => {
        const row = cached(
          `${SELECT} WHERE d.environment = ? AND d.service = ? AND d.status = 'succeeded'
           ORDER BY d.finished_at DESC, d.rowid DESC LIMIT 1`,
        ).get(environment, service) as Row | undefined;
        return row === undefined ? undefined : toDeployment(row);
      }),
    addApproval: (approval: NewApproval) =>
      write('addApproval', () => {
        const result = cached(
          `INSERT INTO approvals (run_id, job_id, decision, author, comment, at) VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(
          approval.runId,
          approval.jobId,
          approval.decision,
          approval.author,
          approval.comment?.slice(0, MAX_REASON) ?? null,
          approval.at ?? new Date().toISOString(),
        );
        const row = cached(`SELECT * FROM approvals WHERE id = ?`).get(Number(result.lastInsertRowid)) as Row;
        return toApproval(row);
      }),
    listApprovals: (runId) =>
      run('listApprovals', () =>
        (cached(`SELECT * FROM approvals WHERE run_id = ? ORDER BY id`).all(runId) as Row[]).map(toApproval),
      ),
  };
}
