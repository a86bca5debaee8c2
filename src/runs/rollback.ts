/**
 * Rolling back: putting the version deployed before the current one (or a named earlier one)
 * back into an environment, by re-running the job that deployed it. The new run repeats the run
 * that deployed the target version (same event, same pipeline spec), re-runs only that job (jobs
 * it needs are reused with their outputs), and records its deployment as a rollback of the
 * current one; when it succeeds the scheduler publishes `deployment.rolled_back`.
 *
 * Guards, each refused with its own error code and a message that says what to do:
 * - nothing deployed, or nothing earlier to go back to (`ROLLBACK_NO_TARGET`);
 * - a named version that was never deployed there successfully (`ROLLBACK_VERSION_UNKNOWN`), or
 *   that is the one deployed now (`ROLLBACK_NO_TARGET`);
 * - a rollback of the service already waiting or running in the environment (`ROLLBACK_IN_PROGRESS`);
 * - automatic rollbacks only: the current deployment is itself a rollback
 *   (`ROLLBACK_OF_ROLLBACK`), or the same cause (an alert's fingerprint) already rolled back
 *   within the window (`ROLLBACK_ALREADY_DONE`).
 */
import { JunctionError } from '../errors/index.ts';
import type { DeploymentRecord, Store } from '../store/index.ts';
import { deploymentIdOf } from './deployments.ts';
import { rerunRun } from './rerun.ts';
import { jobRowId } from './scheduler.ts';

export interface RollbackRequest {
  readonly environment: string;
  readonly service: string;
  /** The version to go back to; default the last successful one before the current. */
  readonly to?: string;
  /** Who asked: a token name, `local`, or the run of a `rollback` step. */
  readonly actor: string;
  /** What asked: `manual`, `alert:<fingerprint>`, `step:<run id>`. */
  readonly cause: string;
  /** The run whose `rollback` step asks; links the rollback run under it in a trace. */
  readonly requestedByRun?: string;
  /** Asked by automation (a `rollback` step), not a person: the automatic guards apply. */
  readonly automatic: boolean;
  /** For automatic rollbacks: one per cause within this many milliseconds. Default 1 hour. */
  readonly windowMs?: number;
  readonly now?: Date;
}

export interface RollbackResult {
  readonly runId: string;
  readonly deploymentId: string;
  readonly from: DeploymentRecord;
  readonly to: DeploymentRecord;
}

const HISTORY = 1000;

export async function requestRollback(store: Store, request: RollbackRequest): Promise<RollbackResult> {
  const { environment, service } = request;
  const now = request.now ?? new Date();
  const where = `${service} in ${environment}`;
  const current = await store.currentDeployment(environment, service);
  if (current === undefined) {
    throw new JunctionError(
      'ROLLBACK_NO_TARGET',
      `no successful deployment of ${where} is recorded, so there is nothing to roll back (junction deployments ${environment} ${service} lists the history)`,
    );
  }
  const active = await store.listDeployments({ environment, service, active: true, isRollback: true }, 1);
  if (active.length > 0) {
    throw new JunctionError(
      'ROLLBACK_IN_PROGRESS',
      `a rollback of ${where} is already ${active[0]!.status} (run ${active[0]!.runId}); wait for it to end`,
    );
  }
  if (request.automatic) {
    // A repeat of the same alert first: it was handled, not a new problem.
    const windowMs = request.windowMs ?? 60 * 60 * 1000;
    const since = new Date(now.getTime() - windowMs).toISOString();
    const recent = await store.listDeployments({ cause: request.cause, isRollback: true, since }, 1);
    if (recent.length > 0) {
      throw new JunctionError(
        'ROLLBACK_ALREADY_DONE',
        `${request.cause} already rolled back ${recent[0]!.service} in ${recent[0]!.environment} at ${recent[0]!.createdAt} (run ${recent[0]!.runId}); one automatic rollback per cause within ${Math.round(windowMs / 60000)} min`,
      );
    }
    if (current.isRollback) {
      throw new JunctionError(
        'ROLLBACK_OF_ROLLBACK',
        `the deployment of ${where} (version ${current.version}) is itself a rollback; an automatic rollback does not roll back a rollback — decide by hand with junction rollback ${environment} ${service} --to VERSION`,
      );
    }
  }
  const history = await store.listDeployments({ environment, service, status: ['succeeded'] }, HISTORY);
  let target: DeploymentRecord | undefined;
  if (request.to !== undefined) {
    if (request.to === current.version) {
      throw new JunctionError(
        'ROLLBACK_NO_TARGET',
        `version ${request.to} is the one deployed in ${environment} now; name an earlier one (junction deployments ${environment} ${service})`,
      );
    }
    target = history.find((d) => d.version === request.to);
    if (target === undefined) {
      throw new JunctionError(
        'ROLLBACK_VERSION_UNKNOWN',
        `version ${JSON.stringify(request.to.slice(0, 80))} of ${service} was never deployed to ${environment} successfully; junction deployments ${environment} ${service} lists the versions`,
      );
    }
  } else {
    // The newest success before the current one that put a different version in place.
    target = history.find((d) => d.seq < current.seq && d.version !== current.version);
    if (target === undefined) {
      throw new JunctionError(
        'ROLLBACK_NO_TARGET',
        `no earlier successful deployment of ${where} with another version than ${current.version}; there is nothing to roll back to`,
      );
    }
  }
  const chosen = target;
  let deploymentId = '';
  const result = await rerunRun(store, chosen.runId, {
    failedOnly: false,
    rerunJobs: [chosen.jobName],
    prepare: async (runId) => {
      const jobId = jobRowId(runId, chosen.jobName, '');
      const run = await store.getRunDetail(runId);
      await store.createJobs([
        {
          id: jobId,
          runId,
          name: chosen.jobName,
          matrixKey: '',
          matrix: null,
          status: 'waiting',
          needs: (await store.getJob(chosen.jobId))?.needs ?? [],
        },
      ]);
      deploymentId = deploymentIdOf(jobId);
      await store.createDeployment({
        id: deploymentId,
        environment,
        service,
        version: chosen.version,
        url: chosen.url,
        runId,
        jobId,
        eventId: run?.eventId ?? chosen.eventId,
        pipeline: chosen.pipeline,
        jobName: chosen.jobName,
        status: 'waiting',
        isRollback: true,
        rollbackOf: current.id,
        cause: request.cause,
        actor: request.actor,
        requestedByRun: request.requestedByRun ?? null,
        createdAt: now.toISOString(),
      });
    },
  });
  return { runId: result.runId, deploymentId, from: current, to: chosen };
}
