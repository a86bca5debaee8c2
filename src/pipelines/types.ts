/**
 * The shapes of a loaded pipeline. A `PipelineSpec` is what `parsePipeline` returns for a file
 * without problems: keys in camelCase, short forms expanded (`needs: build` → `['build']`,
 * `retry: 2` → `{ max: 2, … }`), durations in milliseconds, defaults filled, and the whole object
 * deeply frozen. Expressions (`if`) and `${{ }}` templates are kept as written; evaluating them
 * belongs to src/expr.
 */
import type { YamlProblem } from '../yaml/index.ts';

/** One problem in a pipeline file: `file:line:col path: message (did you mean 'x'?)`. */
export type PipelineProblem = YamlProblem;

export type BuiltinAction = 'checkout' | 'emit' | 'rollback' | 'http';
export type ConcurrencyMode = 'queue' | 'cancel-previous' | 'skip-if-running' | 'latest';
export type WorkerLostPolicy = 'retry' | 'fail';
export type MatrixValue = string | number | boolean;
/** What a schedule does with the slots that passed while Junction was not running it. */
export type MissedPolicy = 'skip' | 'latest' | 'all';
/** A value under a step's `with`: YAML scalars, lists and mappings. */
export type InputValue =
  string | number | boolean | null | readonly InputValue[] | { readonly [key: string]: InputValue };

/**
 * Where in a pipeline file an expression is written: decides which variables it may use.
 * Conditions (`*-if`) are bare CEL; the others are `${{ }}` templates: `concurrency` (its
 * `group`), `pipeline-env`, `pipeline-outputs`, `job-template` (a job's `env`,
 * `working-directory` and `environment`), `job-outputs`, `step-template` (a step's `env`,
 * `working-directory` and `with`) and `step-run` (a step's `run` script).
 */
export type ExpressionScope =
  | 'trigger-if'
  | 'concurrency'
  | 'pipeline-env'
  | 'pipeline-outputs'
  | 'job-if'
  | 'job-template'
  | 'job-outputs'
  | 'step-if'
  | 'step-template'
  | 'step-run';

/** Checks one expression (the text inside `${{ }}` is not unwrapped for templates); a message when wrong. */
export type ExpressionChecker = (source: string, scope: ExpressionScope) => string | undefined;

/** A `schedule` trigger's cron, as written in the pipeline file. */
export interface ScheduleSpec {
  /** A 5-field cron, a 6-field cron with seconds first, or a nickname (`@daily`). */
  readonly cron: string;
  /** IANA time zone the cron is read in; `UTC` by default. */
  readonly timezone: string;
  readonly missed: MissedPolicy;
}

/**
 * One entry of `on`. A `schedule` entry is normalized into an ordinary trigger on its own ticks:
 * `event: schedule.tick`, `source: SCHEDULE_SOURCE`, `subject: <pipeline>/<index>`, with
 * `schedule` set; matching needs nothing else.
 */
export interface TriggerSpec {
  /** Position in `on`, part of the run id. */
  readonly index: number;
  readonly event: string;
  /** Present on `schedule` triggers only. */
  readonly schedule?: ScheduleSpec;
  readonly source?: string;
  readonly subject?: string;
  readonly branches?: readonly string[];
  readonly branchesIgnore?: readonly string[];
  readonly tags?: readonly string[];
  readonly tagsIgnore?: readonly string[];
  readonly paths?: readonly string[];
  readonly pathsIgnore?: readonly string[];
  /** CEL over `event`; booleans are written `true` / `false`. */
  readonly if?: string;
}

export interface ConcurrencySpec {
  /** A `${{ }}` template. */
  readonly group: string;
  readonly mode: ConcurrencyMode;
  readonly maxWaitMs?: number;
}

export interface RetrySpec {
  /** Retries after the first attempt, 0-10; 0 means none. */
  readonly max: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** Retry only on these exit codes; any failure when absent. */
  readonly onExitCodes?: readonly number[];
}

interface StepCommon {
  /** Position in the job's `steps`. */
  readonly index: number;
  readonly id?: string;
  readonly name?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly if?: string;
  readonly timeoutMs?: number;
  readonly retry: RetrySpec;
  readonly continueOnError: boolean;
  readonly workingDirectory?: string;
  /** Names from the pipeline's `secrets`. */
  readonly secrets: readonly string[];
  readonly onWorkerLost: WorkerLostPolicy;
}

export interface RunStepSpec extends StepCommon {
  readonly run: string;
  readonly uses?: undefined;
}

export interface UsesStepSpec extends StepCommon {
  readonly uses: BuiltinAction;
  readonly with: Readonly<Record<string, InputValue>>;
  readonly run?: undefined;
}

export type StepSpec = RunStepSpec | UsesStepSpec;

/** A matrix; `V` is the value type (the file format allows scalars; expansion accepts any). */
export interface MatrixSpec<V = MatrixValue> {
  /** Axis name → values, in file order. */
  readonly axes: Readonly<Record<string, readonly V[]>>;
  readonly include: readonly Readonly<Record<string, V>>[];
  readonly exclude: readonly Readonly<Record<string, V>>[];
}

export interface StrategySpec {
  readonly matrix: MatrixSpec;
  readonly maxParallel?: number;
  readonly failFast: boolean;
}

export interface EnvironmentSpec {
  readonly name: string;
  readonly service: string;
  readonly version: string;
  readonly url?: string;
}

export interface JobSpec {
  readonly id: string;
  readonly name?: string;
  /** True for jobs under `finally`. */
  readonly isFinally: boolean;
  readonly needs: readonly string[];
  readonly if?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly workingDirectory?: string;
  readonly steps: readonly StepSpec[];
  readonly outputs: Readonly<Record<string, string>>;
  readonly strategy?: StrategySpec;
  readonly environment?: EnvironmentSpec;
}

export interface PipelineSpec {
  readonly name: string;
  readonly description?: string;
  readonly on: readonly TriggerSpec[];
  readonly env: Readonly<Record<string, string>>;
  readonly concurrency?: ConcurrencySpec;
  readonly secrets: readonly string[];
  /** In file order. */
  readonly jobs: Readonly<Record<string, JobSpec>>;
  /** In file order; empty when the file has none. */
  readonly finally: Readonly<Record<string, JobSpec>>;
  readonly outputs: Readonly<Record<string, string>>;
}
