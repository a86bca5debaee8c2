/**
 * The job planner: given a run's job graph and the current status of every job, which jobs start
 * now, which are skipped and which are cancelled. Pure and synchronous; the caller persists the
 * decisions and calls again whenever a job changes status.
 *
 * Rules (see conditions.ts for the status functions):
 * - A job is decided once every job it `needs` is terminal. Without a status function in its `if`
 *   it needs `success()`: when a need failed, timed out, was cancelled or was skipped, the job is
 *   skipped with a reason naming the first such need ("needs 'build' which failed"). With a
 *   status function (`always()`, `failure()`, `cancelled()`, `success()`), its `if` alone decides.
 * - `finally` jobs start once every non-finally job is terminal, whatever happened, including when
 *   the run was cancelled. A `finally` job may `need` other `finally` jobs and then also waits for
 *   them. Its `if`, when it has one, is evaluated with a run-wide context: `success()` when no
 *   non-finally job failed, timed out (without continue-on-error) or was cancelled and the run
 *   was not cancelled; `failure()` when one failed; `cancelled()` when the run was cancelled. There
 *   is no implicit `success()` for `finally` jobs.
 * - Once the run is cancelled, a queued non-finally job without a status function is cancelled
 *   at once (it would never run); one with a status function waits for its needs and runs if its
 *   `if` holds (`always()`, `cancelled()`), else it is cancelled. Running jobs are the caller's to
 *   stop.
 * - Decisions cascade within one call: a job skipped here makes its dependants decidable here.
 * - `maxParallel` caps how many jobs are `running` at once, counting those started by this call
 *   (a value below 1 counts as 1, so a run always makes progress).
 *   Starts follow topological order, ties broken by declaration order; `finally` jobs come last.
 * - An `if` that throws fails its job (`fail`), with the message as reason.
 * - Only `queued` jobs are decided; `waiting` (held, e.g. for approval) and terminal ones are left
 *   alone. A job missing from `statuses` is `queued`.
 *
 * The pipeline loader rejects cycles and unknown needs with positions; this module checks again
 * so that a bad graph can never make it loop: PIPELINE_CYCLE names the cycle in order, and
 * PIPELINE_INVALID_GRAPH reports a duplicate id, an unknown need, or a non-finally job that needs
 * a finally job (it could never start).
 */
import { JunctionError } from '../errors/index.ts';
import {
  decideCondition,
  jobStatusContext,
  type ConditionEvaluator,
  type StatusContext,
} from './conditions.ts';
import { isFailure, isTerminal, type Status, type StatusItem } from './states.ts';

export interface JobNode {
  readonly id: string;
  readonly needs: readonly string[];
  readonly finally: boolean;
  /** The job has an `if`. Default false. */
  readonly hasCondition?: boolean;
  /** Its `if` calls a status function (see `usesStatusFunction`). Default false. */
  readonly usesStatusFunction?: boolean;
  /** `continue-on-error`: its failure counts as success for dependants and for the run. */
  readonly continueOnError?: boolean;
}

export interface JobGraph {
  /** In declaration order. */
  readonly jobs: readonly JobNode[];
}

export interface RunState {
  readonly cancelled: boolean;
}

export interface PlanOptions {
  /** Evaluates a job's `if`; called only for jobs that have one. Default: true. */
  readonly evaluate?: ConditionEvaluator;
  /** Most jobs running at once. Default: no limit. */
  readonly maxParallel?: number;
}

export interface JobDecision {
  readonly id: string;
  readonly reason: string;
}

export interface NextActions {
  /** Jobs to start now, in order. */
  readonly start: string[];
  /** Jobs that will not run because of their needs or their `if`. */
  readonly skip: JobDecision[];
  /** Queued jobs that will not run because the run was cancelled. */
  readonly cancel: JobDecision[];
  /** Jobs whose `if` could not be evaluated. */
  readonly fail: JobDecision[];
}

/** Throws unless every need names a job of the graph and ids are unique. */
function indexGraph(graph: JobGraph): Map<string, JobNode> {
  const byId = new Map<string, JobNode>();
  for (const job of graph.jobs) {
    if (byId.has(job.id)) {
      throw new JunctionError('PIPELINE_INVALID_GRAPH', `job '${job.id}' is declared twice`);
    }
    byId.set(job.id, job);
  }
  for (const job of graph.jobs) {
    for (const need of job.needs) {
      if (!byId.has(need)) {
        throw new JunctionError('PIPELINE_INVALID_GRAPH', `job '${job.id}' needs unknown job '${need}'`);
      }
      if (!job.finally && byId.get(need)!.finally) {
        throw new JunctionError(
          'PIPELINE_INVALID_GRAPH',
          `job '${job.id}' needs finally job '${need}'; only finally jobs may need finally jobs`,
        );
      }
    }
  }
  return byId;
}

/**
 * A cycle in the graph, in order and closed (`['a', 'b', 'c', 'a']`: a needs b needs c needs a),
 * or undefined. The first cycle found from the first job in declaration order.
 */
export function findCycle(graph: JobGraph): string[] | undefined {
  const byId = new Map(graph.jobs.map((job) => [job.id, job]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const mark = state.get(id);
    if (mark === 'done') return undefined;
    if (mark === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      if (!byId.has(need)) continue;
      const cycle = visit(need);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const job of graph.jobs) {
    const cycle = visit(job.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Job ids so that every job comes after its needs; among jobs that are free at the same time,
 * the one declared first comes first. Throws PIPELINE_CYCLE naming the cycle.
 */
export function topologicalOrder(graph: JobGraph): string[] {
  const byId = indexGraph(graph);
  const cycle = findCycle(graph);
  if (cycle) {
    throw new JunctionError('PIPELINE_CYCLE', `jobs form a cycle: ${cycle.join(' → ')}`, {
      details: { cycle },
    });
  }
  const position = new Map(graph.jobs.map((job, index) => [job.id, index]));
  const remaining = new Map(graph.jobs.map((job) => [job.id, new Set(job.needs).size]));
  const dependants = new Map<string, string[]>();
  for (const job of graph.jobs) {
    for (const need of new Set(job.needs)) dependants.set(need, [...(dependants.get(need) ?? []), job.id]);
  }
  const ready = graph.jobs.filter((job) => remaining.get(job.id) === 0).map((job) => job.id);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const id = ready.shift()!;
    order.push(id);
    for (const dependant of dependants.get(id) ?? []) {
      const left = remaining.get(dependant)! - 1;
      remaining.set(dependant, left);
      if (left === 0) ready.push(dependant);
    }
  }
  // Unreachable after findCycle; kept so that no input can make callers loop.
  if (order.length !== byId.size) throw new JunctionError('PIPELINE_CYCLE', 'jobs form a cycle');
  return order;
}

/** Every job `id` depends on, directly or transitively. */
function ancestorsOf(id: string, byId: ReadonlyMap<string, JobNode>): string[] {
  const seen = new Set<string>();
  const stack = [...(byId.get(id)?.needs ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byId.get(next)?.needs ?? []));
  }
  return [...seen];
}

const WHY: Readonly<Record<Status, string>> = {
  queued: 'is queued',
  waiting: 'is waiting',
  running: 'is running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'was cancelled',
  skipped: 'was skipped',
  'timed-out': 'timed out',
};

/** Decides what happens next in a run. See the module comment for the rules. */
export function nextActions(
  graph: JobGraph,
  statuses: Readonly<Partial<Record<string, Status>>>,
  runState: RunState,
  options: PlanOptions = {},
): NextActions {
  const byId = indexGraph(graph);
  const order = topologicalOrder(graph);
  const evaluate = options.evaluate ?? (() => true);
  const current = new Map<string, Status>(graph.jobs.map((job) => [job.id, statuses[job.id] ?? 'queued']));
  const item = (id: string): StatusItem => {
    const continueOnError = byId.get(id)?.continueOnError;
    return continueOnError === undefined
      ? { status: current.get(id)! }
      : { status: current.get(id)!, continueOnError };
  };
  let running = [...current.values()].filter((status) => status === 'running').length;
  const limit =
    options.maxParallel === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(1, Math.floor(options.maxParallel));
  const actions: NextActions = { start: [], skip: [], cancel: [], fail: [] };

  const decide = (job: JobNode, context: StatusContext): void => {
    let decision;
    try {
      decision = decideCondition({
        id: job.id,
        hasCondition: job.hasCondition === true,
        usesStatusFunction: job.finally || job.usesStatusFunction === true,
        context,
        evaluate,
        implicitFailureReason: () => {
          const culprit = job.needs.find((need) => !isOk(item(need)));
          return culprit === undefined
            ? 'the run was cancelled'
            : `needs '${culprit}' which ${WHY[current.get(culprit)!]}`;
        },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      actions.fail.push({ id: job.id, reason: `its if condition could not be evaluated: ${message}` });
      current.set(job.id, 'failed');
      return;
    }
    if (decision.run) {
      if (running >= limit) return;
      running += 1;
      actions.start.push(job.id);
      current.set(job.id, 'running');
    } else if (runState.cancelled && !job.finally) {
      actions.cancel.push({ id: job.id, reason: 'the run was cancelled' });
      current.set(job.id, 'cancelled');
    } else {
      actions.skip.push({ id: job.id, reason: decision.reason });
      current.set(job.id, 'skipped');
    }
  };

  const ordinary = order.filter((id) => !byId.get(id)!.finally);
  const finals = order.filter((id) => byId.get(id)!.finally);

  for (const id of ordinary) {
    const job = byId.get(id)!;
    if (current.get(id) !== 'queued') continue;
    if (runState.cancelled && job.usesStatusFunction !== true) {
      actions.cancel.push({ id, reason: 'the run was cancelled' });
      current.set(id, 'cancelled');
      continue;
    }
    if (!job.needs.every((need) => isTerminal(current.get(need)!))) continue;
    const context = jobStatusContext(
      job.needs.map(item),
      ancestorsOf(id, byId).map(item),
      runState.cancelled,
    );
    decide(job, context);
  }

  if (!ordinary.every((id) => isTerminal(current.get(id)!))) return actions;
  const others = ordinary.map(item);
  const finallyContext: StatusContext = {
    success: !runState.cancelled && others.every((other) => isOk(other) || other.status === 'skipped'),
    failure: others.some((other) => isFailure(other.status) && other.continueOnError !== true),
    cancelled: runState.cancelled,
  };
  for (const id of finals) {
    const job = byId.get(id)!;
    if (current.get(id) !== 'queued') continue;
    if (!job.needs.every((need) => isTerminal(current.get(need)!))) continue;
    decide(job, finallyContext);
  }
  return actions;
}

function isOk(item: StatusItem): boolean {
  return item.status === 'succeeded' || (isFailure(item.status) && item.continueOnError === true);
}
