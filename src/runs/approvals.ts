/**
 * Deciding on deployments that wait for approval (environment-policy.ts), for the API and CLI.
 *
 * `decideApproval` records one decision after checking, in order: the run exists
 * (`RUN_NOT_FOUND`); the job is `waiting` with a deployment in `waiting` to an environment with
 * `protection` (`APPROVAL_NOT_WAITING`); approving needs fewer approvals than asked so far (a
 * rejection stays possible while the deployment waits, for a freeze window or its turn); the
 * author has not decided on it yet (`APPROVAL_DUPLICATE`); the author is allowed by the
 * environment's `approvers` (`API_FORBIDDEN`). The caller examines the run afterwards (the
 * scheduler's kick), so the decision takes effect at once.
 *
 * The author is the API token's name, or `local` for a request without a token on a loopback
 * server that has no tokens. Approvals count distinct authors: two tokens of one name count once.
 * Decisions on one run are taken one at a time in this process, so an author cannot decide twice
 * by sending two requests together.
 */
import { JunctionError } from '../errors/index.ts';
import type { EnvironmentConfig } from '../config/index.ts';
import type { ApprovalRecord, DeploymentRecord, JobRecord, Store } from '../store/index.ts';
import { deploymentIdOf } from './deployments.ts';
import {
  LOCAL_AUTHOR,
  TIMEOUT_AUTHOR,
  describeApprovers,
  isAllowedApprover,
  tallyApprovals,
} from './environment-policy.ts';

/** Longest comment kept; longer ones are refused by the API and CLI, and cut here. */
export const MAX_APPROVAL_COMMENT = 1000;

export type ApprovalDecision = 'approved' | 'rejected';

export interface ApprovalRequest {
  readonly runId: string;
  /** The job's name (or its row id). */
  readonly job: string;
  readonly decision: ApprovalDecision;
  /** The API token's name; undefined for an anonymous request on a local server without tokens. */
  readonly tokenName?: string | undefined;
  readonly comment?: string | undefined;
  readonly now?: Date;
}

export interface ApprovalState {
  readonly runId: string;
  readonly job: string;
  readonly jobId: string;
  readonly jobStatus: string;
  readonly environment: string;
  readonly service: string;
  readonly version: string;
  readonly deploymentId: string;
  readonly deploymentStatus: string;
  /** Approvals needed; 0 when the environment has no protection. */
  readonly required: number;
  /** Distinct allowed approvers so far. */
  readonly approvedBy: readonly string[];
  /** The token names allowed to approve, or null for any token with the `approve` scope. */
  readonly approvers: readonly string[] | null;
  /** Who is asked, in words. */
  readonly asked: string;
  /** `waiting` (for approval), `approved` (enough approvals), `rejected`, or `none` (not protected). */
  readonly state: 'waiting' | 'approved' | 'rejected' | 'none';
  /** The job's reason as the gate last gave it (why it waits, or why it failed); a decision just taken shows at the next examination. */
  readonly reason: string | null;
  readonly decisions: readonly {
    readonly decision: ApprovalDecision;
    readonly author: string;
    readonly comment: string | null;
    readonly at: string;
  }[];
}

function runNotFound(runId: string): JunctionError {
  return new JunctionError('RUN_NOT_FOUND', `no run with id '${runId.slice(0, 80)}'`);
}

function notWaiting(message: string): JunctionError {
  return new JunctionError('APPROVAL_NOT_WAITING', message);
}

const shown = (text: string): string => JSON.stringify(text.slice(0, 80));

interface Located {
  readonly row: JobRecord;
  readonly deployment: DeploymentRecord;
  readonly environment: EnvironmentConfig | undefined;
}

async function locate(
  store: Store,
  environments: readonly EnvironmentConfig[],
  runId: string,
  job: string,
): Promise<Located> {
  const run = await store.getRun(runId);
  if (run === undefined) throw runNotFound(runId);
  const rows = (await store.listJobs(run.id)).filter((r) => r.name === job || r.id === job);
  if (rows.length === 0) {
    const names = [...new Set((await store.listJobs(run.id)).map((r) => r.name))];
    throw notWaiting(
      `run '${run.id}' has no job ${shown(job)}${names.length === 0 ? '' : ` (its jobs: ${names.slice(0, 20).join(', ')})`}`,
    );
  }
  for (const row of rows) {
    const deployment = await store.getDeployment(deploymentIdOf(row.id));
    if (deployment !== undefined) {
      return { row, deployment, environment: environments.find((e) => e.name === deployment.environment) };
    }
  }
  const first = rows[0]!;
  throw notWaiting(
    `job ${shown(first.name)} of run '${run.id}' has no deployment (it is ${first.status}); only jobs that deploy to an environment with 'protection' wait for approval`,
  );
}

function stateOf(located: Located, records: readonly ApprovalRecord[]): ApprovalState {
  const { row, deployment, environment } = located;
  const protection = environment?.protection;
  const decisions = records
    .filter((r) => r.jobId === row.id)
    .map((r) => ({ decision: r.decision, author: r.author, comment: r.comment, at: r.at }));
  const tally = protection === undefined ? undefined : tallyApprovals(protection, records, deployment.jobId);
  const state =
    protection === undefined || tally === undefined
      ? 'none'
      : tally.rejection !== undefined
        ? 'rejected'
        : tally.approvedBy.length >= protection.approvals
          ? 'approved'
          : 'waiting';
  return {
    runId: row.runId,
    job: row.name,
    jobId: row.id,
    jobStatus: row.status,
    environment: deployment.environment,
    service: deployment.service,
    version: deployment.version,
    deploymentId: deployment.id,
    deploymentStatus: deployment.status,
    required: protection?.approvals ?? 0,
    approvedBy: tally?.approvedBy ?? [],
    approvers: protection?.approvers ?? null,
    asked:
      protection === undefined ? 'nobody: the environment has no protection' : describeApprovers(protection),
    state,
    reason: row.reason,
    decisions,
  };
}

/** Where a job's deployment stands with its approvals. */
export async function approvalState(
  store: Store,
  environments: readonly EnvironmentConfig[],
  runId: string,
  job: string,
): Promise<ApprovalState> {
  const located = await locate(store, environments, runId, job);
  return stateOf(located, await store.listApprovals(located.row.runId));
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `task` after every earlier task for the same key has settled. */
async function oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const current = before.then(task, task);
  const settled = current.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  try {
    return await current;
  } finally {
    if (queues.get(key) === settled) queues.delete(key);
  }
}

/** Records a decision on a job's deployment; resolves to the approval state after it. */
export function decideApproval(
  store: Store,
  environments: readonly EnvironmentConfig[],
  request: ApprovalRequest,
): Promise<ApprovalState> {
  return oneAtATime(request.runId, async () => {
    const located = await locate(store, environments, request.runId, request.job);
    const { row, deployment, environment } = located;
    const protection = environment?.protection;
    if (protection === undefined) {
      throw notWaiting(
        `environment '${deployment.environment}' asks for no approvals (no 'protection' in junction.yaml), so job '${row.name}' does not wait for one`,
      );
    }
    if (row.status !== 'waiting' || deployment.status !== 'waiting') {
      throw notWaiting(
        `job '${row.name}' of run '${row.runId}' is not waiting for approval: the job is ${row.status}, its deployment ${deployment.status}`,
      );
    }
    const records = await store.listApprovals(row.runId);
    const before = stateOf(located, records);
    if (before.state === 'rejected') {
      throw notWaiting(
        `job '${row.name}' of run '${row.runId}' was already rejected; nothing is left to decide`,
      );
    }
    if (request.decision === 'approved' && before.state === 'approved') {
      throw notWaiting(
        `job '${row.name}' of run '${row.runId}' already has the ${protection.approvals} approval${protection.approvals === 1 ? '' : 's'} it needs (${before.approvedBy.join(', ')}); it waits only for ${row.reason ?? 'its turn'}`,
      );
    }
    const author = request.tokenName ?? LOCAL_AUTHOR;
    if (author === TIMEOUT_AUTHOR || !isAllowedApprover(protection, author)) {
      throw new JunctionError(
        'API_FORBIDDEN',
        `${request.tokenName === undefined ? 'a request without a token' : `token '${author.slice(0, 64)}'`} may not decide deployments to '${deployment.environment}': it asks ${describeApprovers(protection)}`,
      );
    }
    const earlier = records.find((r) => r.jobId === row.id && r.author === author);
    if (earlier !== undefined) {
      throw new JunctionError(
        'APPROVAL_DUPLICATE',
        `'${author.slice(0, 64)}' already ${earlier.decision} job '${row.name}' of run '${row.runId}' at ${earlier.at}; approvals count distinct token names, so another approver must decide`,
      );
    }
    const comment =
      request.comment === undefined || request.comment.trim() === ''
        ? null
        : request.comment.trim().slice(0, MAX_APPROVAL_COMMENT);
    await store.addApproval({
      runId: row.runId,
      jobId: row.id,
      decision: request.decision,
      author,
      comment,
      at: (request.now ?? new Date()).toISOString(),
    });
    return stateOf(located, await store.listApprovals(row.runId));
  });
}
