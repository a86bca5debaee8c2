/**
 * The scheduler: moves runs through their lives. It admits a queued run into its concurrency
 * group, starts it, decides which jobs start, are skipped or are cancelled as jobs end (the DAG
 * planner in dag.ts, the matrix planner in matrix.ts), queues jobs for the workers, and ends the
 * run with its status and outputs, publishing `pipeline.*` result events through intake.
 *
 * What callers may assume:
 * - All state is in the store; the scheduler keeps none that a restart would lose. `start()`
 *   re-examines every run that is not terminal, so a run interrupted by a stop carries on.
 * - Runs are examined one at a time (`kick(runId)` marks a run for examination; examinations never
 *   overlap), and every write that moves a run or job out of a state is compare-and-set on that
 *   state, so a repeated examination changes nothing.
 * - Job rows are created with deterministic ids (run id, job id, matrix combination), so a
 *   decision taken twice inserts nothing twice.
 * - A job's `if` that fails to evaluate fails that job with the message; a concurrency group that
 *   fails to evaluate, or a pipeline spec that no longer compiles, fails the run with the message.
 *   The scheduler itself does not stop on a run's error: it logs it and examines the run again
 *   after `retryMs`.
 * - Cancelling a run (`cancel`) is recorded first (`cancel_requested`), then queued jobs are
 *   cancelled and running ones are asked to stop through `cancelJobs`; `finally` jobs and jobs
 *   whose `if` says `always()` or `cancelled()` still run.
 * - Concurrency groups follow concurrency.ts: the holder is stored per group; waiting runs are
 *   runs in status `waiting` with the group's name, in event order. A waiting run that passed its
 *   `max-wait` fails. An operator can release a group (`releaseGroup`): the next waiting run starts.
 */
import { createHash } from 'node:crypto';
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import { errorMessage, isJunctionError } from '../errors/index.ts';
import type { Logger } from '../observability/index.ts';
import type { JobSpec } from '../pipelines/index.ts';
import type { DeploymentRecord, JobRecord, NewJob, RunDetail, Store } from '../store/index.ts';
import { admit, isConcurrencyMode, release, withdraw, type GroupState } from './concurrency.ts';
import { nextActions, type JobGraph } from './dag.ts';
import { evaluateIf, renderTemplates, type CompiledPipeline, type ExpressionContext } from './expressions.ts';
import {
  deploymentEvent,
  endDeployment,
  gateDeployment,
  targetProblem,
  type DeploymentEventKind,
  type DeploymentTarget,
  type EnvironmentPolicy,
} from './deployments.ts';
import { combinationKey, expandMatrix, planMatrix } from './matrix.ts';
import { runEvent, type RunEventKind } from './result-events.ts';
import { compiledRunSpec } from './run-spec.ts';
import { combineStatuses, isStatus, isTerminal, type Status } from './states.ts';

/** Most combinations a matrix may expand to (the loader refuses more). */
const MATRIX_CAP = 256;
/** The declared outputs of a run, together, at most. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

export interface SchedulerOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Publishes a result event through intake. */
  readonly publish: (event: CloudEvent) => Promise<void>;
  /** Jobs became claimable. */
  readonly onJobsQueued?: () => void;
  /** Asks the workers running these jobs to stop. */
  readonly cancelJobs?: (jobIds: readonly string[]) => void;
  /** A run reached a terminal status. */
  readonly onRunFinished?: (run: RunDetail) => void;
  /** How often waiting runs are checked for `max-wait`. Default 1000 ms. */
  readonly sweepEveryMs?: number;
  /** Wait before examining a run again after an error. Default 1000 ms. */
  readonly retryMs?: number;
  /** Approvals and freeze windows of environments (deployments.ts); none when absent. */
  readonly environmentPolicy?: EnvironmentPolicy;
}

export interface Scheduler {
  /** Examines every run that is not terminal, then keeps examining runs as they are kicked. */
  start(): Promise<void>;
  /** Marks a run for examination (a new run, a job that ended, a cancel). */
  kick(runId: string): void;
  /** Requests cancellation; false when the run does not exist or has ended. */
  cancel(runId: string, reason?: string): Promise<boolean>;
  /** Releases a concurrency group by force: the next waiting run starts. */
  releaseGroup(name: string): Promise<string | undefined>;
  /** Resolves when no run is waiting for examination. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** The id of a job row: stable per run, job and matrix combination. */
export function jobRowId(runId: string, name: string, matrixKey: string): string {
  if (matrixKey === '') return `${runId}.${name}`;
  const digest = createHash('sha256').update(matrixKey).digest('hex').slice(0, 10);
  return `${runId}.${name}.${digest}`;
}

/** One job of the pipeline with its rows (one, or one per matrix combination). */
interface JobState {
  readonly spec: JobSpec;
  readonly rows: readonly JobRecord[];
}

function statusOf(value: string): Status {
  return isStatus(value) ? value : 'failed';
}

/** A job's status as the DAG sees it: no rows yet is `queued`; rows not all ended is `running`. */
function dagStatus(state: JobState): Status {
  if (state.rows.length === 0) return 'queued';
  const combined = combineStatuses(state.rows.map((row) => ({ status: statusOf(row.status) })));
  return combined;
}

/** `jobs.<id>` for expressions: outputs (a matrix job's combinations merged) and result. */
export function jobsContext(
  states: ReadonlyMap<string, JobState> | ReadonlyMap<string, readonly JobRecord[]>,
  names: Iterable<string>,
): Record<string, { outputs: Record<string, string>; result: string }> {
  const context: Record<string, { outputs: Record<string, string>; result: string }> = {};
  for (const name of names) {
    const entry = states.get(name);
    if (entry === undefined) continue;
    const rows: readonly JobRecord[] = 'rows' in entry ? entry.rows : entry;
    const outputs: Record<string, string> = {};
    for (const row of rows) Object.assign(outputs, row.outputs ?? {});
    const result =
      rows.length === 0 ? 'queued' : combineStatuses(rows.map((r) => ({ status: statusOf(r.status) })));
    context[name] = { outputs, result };
  }
  return context;
}

/** `run` as expressions see it. */
function runContext(run: RunDetail): Record<string, unknown> {
  return { id: run.id, pipeline: run.pipeline, attempt: 1, eventId: run.eventId };
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { store, logger, publish } = options;
  const sweepEveryMs = options.sweepEveryMs ?? 1000;
  const retryMs = options.retryMs ?? 1000;
  const dirty = new Set<string>();
  let draining: Promise<void> | undefined;
  let idleWaiters: (() => void)[] = [];
  let sweeper: NodeJS.Timeout | undefined;
  let stopped = false;
  const retryTimers = new Set<NodeJS.Timeout>();

  function kick(runId: string): void {
    if (stopped) return;
    dirty.add(runId);
    draining ??= drain().finally(() => {
      draining = undefined;
      if (dirty.size > 0 && !stopped) kick(dirty.values().next().value!);
      else {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
  }

  async function drain(): Promise<void> {
    // Let the caller's turn finish, so kicks made together are examined together.
    await Promise.resolve();
    while (dirty.size > 0 && !stopped) {
      const runId = dirty.values().next().value!;
      dirty.delete(runId);
      try {
        await examine(runId);
      } catch (error) {
        logger.error(
          { code: isJunctionError(error) ? error.code : 'INTERNAL', runId, err: errorMessage(error) },
          'scheduler: examining a run failed; trying again',
        );
        const timer = setTimeout(() => {
          retryTimers.delete(timer);
          kick(runId);
        }, retryMs);
        retryTimers.add(timer);
      }
    }
  }

  async function emit(kind: RunEventKind, run: RunDetail, trigger: StoredEvent): Promise<void> {
    try {
      await publish(
        runEvent(kind, {
          runId: run.id,
          pipeline: run.pipeline,
          status: run.status,
          trigger,
          reason: run.reason,
          outputs: run.outputs,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          rerunOf: run.rerunOf,
        }),
      );
    } catch (error) {
      logger.warn(
        { code: isJunctionError(error) ? error.code : 'INTERNAL', runId: run.id, err: errorMessage(error) },
        `scheduler: cannot publish pipeline.${kind}`,
      );
    }
  }

  async function emitDeployment(
    kind: DeploymentEventKind,
    deployment: DeploymentRecord,
    trigger: StoredEvent,
  ): Promise<void> {
    try {
      const previous =
        deployment.rollbackOf === null
          ? null
          : ((await store.getDeployment(deployment.rollbackOf))?.version ?? null);
      await publish(deploymentEvent(kind, deployment, trigger, { previousVersion: previous }));
    } catch (error) {
      logger.warn(
        {
          code: isJunctionError(error) ? error.code : 'INTERNAL',
          deployment: deployment.id,
          err: errorMessage(error),
        },
        `scheduler: cannot publish deployment.${kind}`,
      );
    }
  }

  /**
   * The gate of every held job that declares an environment (deployments.ts): start it, keep it
   * waiting with the reason, or fail it with the refusal. True when a job changed status.
   */
  async function gateDeployments(
    run: RunDetail,
    compiled: CompiledPipeline,
    trigger: StoredEvent,
    states: ReadonlyMap<string, JobState>,
  ): Promise<{ changed: boolean; queued: boolean }> {
    let changed = false;
    let queued = false;
    for (const [name, state] of states) {
      const job = compiled.jobs.get(name);
      if (job?.environment === undefined || state.spec.strategy !== undefined) continue;
      for (const row of state.rows) {
        const now = new Date();
        if (row.status !== 'waiting') {
          if (isTerminal(statusOf(row.status))) {
            const ended = await endDeployment(store, row, now);
            if (ended !== undefined) {
              const kind =
                ended.status === 'succeeded'
                  ? 'succeeded'
                  : ended.status === 'cancelled'
                    ? 'cancelled'
                    : 'failed';
              await emitDeployment(kind, ended, trigger);
              if (kind === 'succeeded' && ended.isRollback)
                await emitDeployment('rolled_back', ended, trigger);
              logger.info(
                {
                  runId: run.id,
                  deployment: ended.id,
                  environment: ended.environment,
                  service: ended.service,
                  version: ended.version,
                  status: ended.status,
                },
                'deployment ended',
              );
              // Wake the deployments queued behind this one.
              for (const next of await store.listDeployments(
                { environment: ended.environment, service: ended.service, active: true, order: 'asc' },
                100,
              )) {
                if (next.runId !== run.id) kick(next.runId);
              }
            }
          }
          continue;
        }
        let target: DeploymentTarget;
        let problem: string | undefined;
        try {
          const env = renderTemplates(compiled.env, { event: trigger.event, run: runContext(run) });
          const values = renderTemplates(job.environment, {
            event: trigger.event,
            run: runContext(run),
            env,
            jobs: jobsContext(states, job.jobsInScope),
          });
          target = {
            name: values['name'] ?? '',
            service: values['service'] ?? '',
            version: values['version'] ?? '',
            ...(values['url'] === undefined ? {} : { url: values['url'] }),
          };
          problem = targetProblem(target);
        } catch (error) {
          problem = `its environment could not be evaluated: ${errorMessage(error)}`;
          target = { name: '', service: '', version: '' };
        }
        if (problem !== undefined) {
          changed =
            (await store.updateJob(
              row.id,
              { status: 'failed', reason: problem, finishedAt: now.toISOString() },
              { status: ['waiting'] },
            )) || changed;
          continue;
        }
        const outcome = await gateDeployment(store, {
          run,
          row,
          target,
          now,
          ...(options.environmentPolicy === undefined ? {} : { policy: options.environmentPolicy }),
        });
        const { verdict, deployment } = outcome;
        if (verdict.kind === 'start') {
          if (
            await store.updateJob(
              row.id,
              { status: 'queued', queuedAt: now.toISOString(), reason: null },
              { status: ['waiting'] },
            )
          ) {
            changed = queued = true;
            if (outcome.decidedNow) {
              logger.info(
                {
                  runId: run.id,
                  deployment: deployment.id,
                  environment: deployment.environment,
                  service: deployment.service,
                  version: deployment.version,
                },
                'deployment started',
              );
              await emitDeployment('started', deployment, trigger);
            }
          }
        } else if (verdict.kind === 'refuse') {
          if (outcome.decidedNow) await emitDeployment('refused', deployment, trigger);
          changed =
            (await store.updateJob(
              row.id,
              { status: 'failed', reason: verdict.reason, finishedAt: now.toISOString() },
              { status: ['waiting'] },
            )) || changed;
        } else if (row.reason !== verdict.reason) {
          // Still held: say why where `junction runs` shows it (not a change of status).
          await store.updateJob(row.id, { reason: verdict.reason }, { status: ['waiting'] });
        }
      }
    }
    return { changed, queued };
  }

  /** Ends a run that is not terminal yet; publishes its result event. */
  async function finishRun(
    run: RunDetail,
    trigger: StoredEvent | undefined,
    status: Status,
    reason: string | null,
    outputs: Readonly<Record<string, string>> | null = null,
  ): Promise<void> {
    const finishedAt = new Date().toISOString();
    const changed = await store.updateRun(run.id, { status, finishedAt, reason, outputs }, [
      'queued',
      'waiting',
      'running',
    ]);
    if (!changed) return;
    const ended: RunDetail = { ...run, status, finishedAt, reason, outputs };
    logger.info({ runId: run.id, pipeline: run.pipeline, status, reason }, `run ${status}`);
    if (run.concurrencyGroup !== null) await leaveGroup(run.concurrencyGroup, run.id);
    const kind: RunEventKind | undefined =
      status === 'succeeded'
        ? 'succeeded'
        : status === 'cancelled'
          ? 'cancelled'
          : status === 'skipped'
            ? undefined
            : 'failed';
    if (kind !== undefined && trigger !== undefined) await emit(kind, ended, trigger);
    options.onRunFinished?.(ended);
  }

  async function groupState(name: string): Promise<GroupState> {
    const stored = await store.getConcurrencyGroup(name);
    const waiting = stored.waiting.map((w) => ({ id: w.runId, seq: w.seq }));
    return stored.holder === null
      ? { waiting }
      : { running: { id: stored.holder.runId, seq: stored.holder.seq }, waiting };
  }

  /** A run left its group (ended or gave up): the next waiting run, if any, takes it. */
  async function leaveGroup(name: string, runId: string): Promise<void> {
    const state = await groupState(name);
    if (state.running?.id !== runId && !state.waiting.some((w) => w.id === runId)) return;
    const { next } = withdraw(state, runId);
    if (state.running?.id === runId) await store.setConcurrencyHolder(name, next ?? null);
    if (next !== undefined) kick(next);
  }

  async function admitRun(
    run: RunDetail,
    compiled: CompiledPipeline,
    trigger: StoredEvent,
  ): Promise<boolean> {
    const concurrency = compiled.spec.concurrency;
    const template = compiled.concurrencyGroup;
    if (concurrency === undefined || template === undefined) return true;
    let name: string;
    try {
      name = template.render({ event: trigger.event });
    } catch (error) {
      await finishRun(
        run,
        trigger,
        'failed',
        `its concurrency group could not be evaluated: ${errorMessage(error)}`,
      );
      return false;
    }
    const mode = isConcurrencyMode(concurrency.mode) ? concurrency.mode : 'queue';
    const state = await groupState(name);
    const admission = admit(mode, state, { id: run.id, seq: run.eventSeq });
    for (const id of admission.cancel)
      await cancel(id, `cancelled by a newer run in concurrency group '${name}'`);
    for (const id of admission.drop) {
      const dropped = await store.getRunDetail(id);
      if (dropped !== undefined && !isTerminal(statusOf(dropped.status))) {
        await finishRun(
          dropped,
          await store.getEvent(dropped.eventId),
          'cancelled',
          `superseded by a newer run in concurrency group '${name}'`,
        );
      }
    }
    if (admission.action === 'skip') {
      await finishRun(run, trigger, 'skipped', admission.reason ?? `concurrency group '${name}' is busy`);
      return false;
    }
    if (admission.action === 'wait') {
      const waitUntil =
        concurrency.maxWaitMs === undefined
          ? null
          : new Date(Date.now() + concurrency.maxWaitMs).toISOString();
      await store.updateRun(
        run.id,
        {
          status: 'waiting',
          concurrencyGroup: name,
          concurrencyMode: mode,
          ...(run.status === 'queued' ? { waitUntil } : {}),
        },
        ['queued', 'waiting'],
      );
      return false;
    }
    await store.setConcurrencyHolder(name, run.id);
    await store.updateRun(run.id, { concurrencyGroup: name, concurrencyMode: mode });
    return true;
  }

  async function startRun(run: RunDetail, trigger: StoredEvent): Promise<RunDetail> {
    const startedAt = new Date().toISOString();
    const moved = await store.updateRun(run.id, { status: 'running', startedAt }, ['queued', 'waiting']);
    const started = { ...run, status: 'running', startedAt };
    if (moved) {
      logger.info({ runId: run.id, pipeline: run.pipeline }, 'run started');
      // Not awaited: the jobs need not wait for the event to be stored. Intake keeps the order of
      // submissions, so it is still stored before the run's result event.
      void emit('started', started, trigger);
    }
    return started;
  }

  async function examine(runId: string): Promise<void> {
    let run = await store.getRunDetail(runId);
    if (run === undefined || isTerminal(statusOf(run.status))) return;
    const trigger = await store.getEvent(run.eventId);
    if (trigger === undefined) {
      await finishRun(run, undefined, 'failed', `its event '${run.eventId}' is no longer stored`);
      return;
    }
    let compiled: CompiledPipeline;
    try {
      compiled = compiledRunSpec(run);
    } catch (error) {
      await finishRun(run, trigger, 'failed', errorMessage(error));
      return;
    }
    if (run.status === 'queued' || run.status === 'waiting') {
      if (run.cancelRequested) {
        await finishRun(run, trigger, 'cancelled', run.reason ?? 'cancelled before it started');
        return;
      }
      if (run.status === 'waiting' && run.waitUntil !== null && run.waitUntil <= new Date().toISOString()) {
        await finishRun(
          run,
          trigger,
          'failed',
          `waited longer than max-wait for concurrency group '${run.concurrencyGroup ?? ''}'`,
        );
        return;
      }
      if (!(await admitRun(run, compiled, trigger))) return;
      run = await startRun(run, trigger);
    }
    // Decisions cascade (a skipped job frees its dependants, a matrix frees a slot): repeat
    // until nothing changes, bounded by the number of jobs.
    const bound = 2 * (compiled.jobs.size + 2) + MATRIX_CAP;
    for (let round = 0; round < bound; round += 1) {
      if (!(await advance(run, compiled, trigger))) return;
      const latest = await store.getRunDetail(run.id);
      if (latest === undefined || isTerminal(statusOf(latest.status))) return;
      run = latest;
    }
  }

  /** One round of decisions for a running run; true when something changed. */
  async function advance(run: RunDetail, compiled: CompiledPipeline, trigger: StoredEvent): Promise<boolean> {
    const rows = await store.listJobs(run.id);
    const states = new Map<string, JobState>();
    for (const [name, job] of compiled.jobs) {
      states.set(name, { spec: job.spec, rows: rows.filter((row) => row.name === name) });
    }
    const cancelled = run.cancelRequested;
    let changed = false;
    let queued = false;

    if (cancelled) {
      const stop: string[] = [];
      for (const row of rows) {
        // `finally` jobs and jobs whose `if` uses a status function (`always()`, `cancelled()`)
        // were started knowing the run is cancelled, or must run despite it: they are left alone.
        const job = compiled.jobs.get(row.name);
        if (job === undefined || job.spec.isFinally || job.usesStatusFunction) continue;
        if (row.status === 'queued' || row.status === 'waiting') {
          changed =
            (await store.updateJob(
              row.id,
              { status: 'cancelled', reason: 'the run was cancelled', finishedAt: new Date().toISOString() },
              { status: ['queued', 'waiting'] },
            )) || changed;
        } else if (row.status === 'running') stop.push(row.id);
      }
      if (stop.length > 0) options.cancelJobs?.(stop);
      if (changed) return true;
    }

    // Jobs that deploy: the deployment gate, and the end of deployments whose job ended.
    const gated = await gateDeployments(run, compiled, trigger, states);
    if (gated.changed) {
      if (gated.queued) options.onJobsQueued?.();
      return true;
    }

    // Matrix jobs already started: fail-fast and max-parallel.
    for (const [name, state] of states) {
      const strategy = state.spec.strategy;
      if (strategy === undefined || state.rows.length === 0) continue;
      const plan = planMatrix(
        state.rows.map((row) => ({
          id: row.id,
          status: row.status === 'waiting' ? 'queued' : statusOf(row.status),
        })),
        {
          failFast: strategy.failFast,
          ...(strategy.maxParallel === undefined ? {} : { maxParallel: strategy.maxParallel }),
        },
      );
      // planMatrix sees held rows (`waiting`) as queued; a `queued` row is already released.
      for (const id of plan.start) {
        const row = state.rows.find((r) => r.id === id);
        if (row?.status !== 'waiting') continue;
        const at = new Date().toISOString();
        if (await store.updateJob(id, { status: 'queued', queuedAt: at }, { status: ['waiting'] })) {
          changed = queued = true;
        }
      }
      const stop: string[] = [];
      for (const id of plan.cancel) {
        const row = state.rows.find((r) => r.id === id);
        if (row === undefined) continue;
        if (row.status === 'running') stop.push(id);
        else if (
          await store.updateJob(
            id,
            {
              status: 'cancelled',
              reason: `fail-fast: another combination of '${name}' failed`,
              finishedAt: new Date().toISOString(),
            },
            { status: ['queued', 'waiting'] },
          )
        ) {
          changed = true;
        }
      }
      if (stop.length > 0) options.cancelJobs?.(stop);
    }
    if (changed) {
      if (queued) options.onJobsQueued?.();
      return true;
    }

    const graph: JobGraph = {
      jobs: [...compiled.jobs.values()].map((job) => ({
        id: job.spec.id,
        needs: job.spec.needs,
        finally: job.spec.isFinally,
        hasCondition: job.if !== undefined,
        usesStatusFunction: job.usesStatusFunction,
      })),
    };
    const statuses: Record<string, Status> = {};
    for (const [name, state] of states) statuses[name] = dagStatus(state);
    const baseContext = (): ExpressionContext => ({ event: trigger.event, run: runContext(run) });
    const actions = nextActions(
      graph,
      statuses,
      { cancelled },
      {
        evaluate: (id, status) => {
          const job = compiled.jobs.get(id)!;
          const context: ExpressionContext = {
            ...baseContext(),
            jobs: jobsContext(states, job.spec.needs),
          };
          return evaluateIf(job.if, job.usesStatusFunction, context, status);
        },
      },
    );
    const now = new Date().toISOString();
    const decided: NewJob[] = [];
    /** A job row without a matrix: queued to run, or already decided (skipped, cancelled, failed). */
    const decide = (name: string, status: Status, reason?: string): void => {
      decided.push({
        id: jobRowId(run.id, name, ''),
        runId: run.id,
        name,
        matrixKey: '',
        matrix: null,
        status,
        needs: compiled.jobs.get(name)?.spec.needs ?? [],
        ...(reason === undefined ? {} : { reason, finishedAt: now }),
      });
    };
    for (const item of actions.skip) decide(item.id, 'skipped', item.reason);
    for (const item of actions.cancel) decide(item.id, 'cancelled', item.reason);
    for (const item of actions.fail) decide(item.id, 'failed', item.reason);
    for (const name of actions.start) {
      const job = compiled.jobs.get(name)!;
      const strategy = job.spec.strategy;
      if (strategy === undefined && job.environment !== undefined) {
        // Held for the deployment gate, decided at the next round.
        decided.push({
          id: jobRowId(run.id, name, ''),
          runId: run.id,
          name,
          matrixKey: '',
          matrix: null,
          status: 'waiting',
          needs: job.spec.needs,
        });
        continue;
      }
      if (strategy === undefined) {
        decide(name, 'queued');
        queued = true;
        continue;
      }
      let combinations;
      try {
        combinations = expandMatrix(strategy.matrix, MATRIX_CAP, name);
      } catch (error) {
        decide(name, 'failed', errorMessage(error));
        continue;
      }
      if (combinations.length === 0) {
        decide(name, 'skipped', 'its matrix has no combinations');
        continue;
      }
      // Held (`waiting`) until the matrix planner releases them, at the next round.
      for (const combination of combinations) {
        const key = combinationKey(combination);
        decided.push({
          id: jobRowId(run.id, name, key),
          runId: run.id,
          name,
          matrixKey: key,
          matrix: combination,
          status: 'waiting',
          needs: job.spec.needs,
        });
      }
    }
    if (decided.length > 0) {
      const inserted = await store.createJobs(decided);
      if (queued) options.onJobsQueued?.();
      if (inserted.length > 0) return true;
    }

    // Every job ended: the run ends.
    const all = [...states.values()];
    if (all.every((state) => state.rows.length > 0 && isTerminal(dagStatus(state)))) {
      const status: Status = cancelled
        ? 'cancelled'
        : combineStatuses(all.map((state) => ({ status: dagStatus(state) })));
      let outputs: Record<string, string> | null = null;
      let reason: string | null = cancelled ? (run.reason ?? 'cancelled') : failureReason(states);
      let outputsProblem: string | null = null;
      if (compiled.outputs.entries.size > 0) {
        try {
          outputs = renderTemplates(compiled.outputs, {
            ...baseContext(),
            jobs: jobsContext(states, states.keys()),
          });
          const size = Buffer.byteLength(JSON.stringify(outputs));
          if (size > MAX_OUTPUT_BYTES) {
            outputs = null;
            outputsProblem = `its outputs take ${size} bytes; at most ${MAX_OUTPUT_BYTES} are kept`;
          }
        } catch (error) {
          // A run that did not succeed often lacks what its outputs read: its own reason stands.
          outputs = null;
          outputsProblem = `its outputs could not be evaluated: ${errorMessage(error)}`;
        }
      }
      if (status === 'succeeded' && outputsProblem !== null) reason = outputsProblem;
      const final: Status = status === 'succeeded' && outputs === null && reason !== null ? 'failed' : status;
      await finishRun(run, trigger, final, final === 'succeeded' ? null : reason, outputs);
      return false;
    }
    return false;
  }

  function failureReason(states: ReadonlyMap<string, JobState>): string | null {
    for (const [name, state] of states) {
      const failed = state.rows.find((row) => row.status === 'failed' || row.status === 'timed-out');
      if (failed !== undefined)
        return `job '${name}' ${failed.status === 'failed' ? 'failed' : 'timed out'}${failed.reason ? `: ${failed.reason}` : ''}`;
    }
    return null;
  }

  async function cancel(runId: string, reason = 'cancelled by request'): Promise<boolean> {
    const run = await store.getRunDetail(runId);
    if (run === undefined || isTerminal(statusOf(run.status))) return false;
    const changed = await store.updateRun(runId, { cancelRequested: true, reason }, [
      'queued',
      'waiting',
      'running',
    ]);
    if (changed) {
      if (run.status === 'waiting' && run.concurrencyGroup !== null)
        await leaveGroup(run.concurrencyGroup, runId);
      kick(runId);
    }
    return changed;
  }

  async function sweep(): Promise<void> {
    const now = new Date().toISOString();
    // Held deployments: a freeze window may have ended, an approval may have timed out.
    for (const deployment of await store.listDeployments({ status: ['waiting'], order: 'asc' }, 1000)) {
      kick(deployment.runId);
    }
    for (const run of await store.listActiveRuns(10_000)) {
      if (
        run.status === 'queued' ||
        (run.status === 'waiting' && run.waitUntil !== null && run.waitUntil <= now)
      ) {
        kick(run.id);
      }
    }
  }

  return {
    async start() {
      stopped = false;
      for (const run of await store.listActiveRuns(100_000)) kick(run.id);
      sweeper = setInterval(() => {
        void sweep().catch((error: unknown) =>
          logger.warn({ err: errorMessage(error) }, 'scheduler: sweeping waiting runs failed'),
        );
      }, sweepEveryMs);
      sweeper.unref();
    },
    kick,
    cancel,
    async releaseGroup(name) {
      const state = await groupState(name);
      const { next } = release(state);
      await store.setConcurrencyHolder(name, next ?? null);
      if (next !== undefined) kick(next);
      logger.warn(
        { group: name, released: state.running?.id, next },
        'concurrency group released by an operator',
      );
      return state.running?.id;
    },
    idle() {
      if (draining === undefined && dirty.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      stopped = true;
      clearInterval(sweeper);
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
      await draining;
    },
  };
}
