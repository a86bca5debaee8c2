/**
 * The expressions of a pipeline, for the run engine: which variables each place in a pipeline
 * file may use, the checker the loader runs on every expression (`checkPipelineExpression`), and
 * `compilePipeline`, which compiles every condition and `${{ }}` template of a loaded pipeline once.
 *
 * Variables by place (docs/pipelines.md, "Expressions", says the same for users):
 *
 * | place                                              | variables                                          |
 * | -------------------------------------------------- | -------------------------------------------------- |
 * | trigger `if`, `concurrency.group`                  | event                                              |
 * | pipeline `env`                                     | event, run                                         |
 * | pipeline `outputs`                                 | event, run, jobs                                   |
 * | job `if` (+ status functions)                      | event, run, jobs, matrix                           |
 * | job `env`, `working-directory`, `environment`      | event, run, env, jobs, matrix                      |
 * | job `outputs`                                      | event, run, env, jobs, matrix, steps               |
 * | step `if` (+ status functions)                     | event, run, env, jobs, matrix, steps               |
 * | step `run`, `with`, `env`, `working-directory`     | event, run, env, jobs, matrix, steps, secrets      |
 *
 * What the engine puts in the context (`ExpressionContext`), and callers may rely on the checker
 * and the compiler agreeing with it:
 * - `run` is `{ id, pipeline, attempt, eventId }`; `matrix` is the job's combination (`{}` for a
 *   job without `strategy`).
 * - `jobs.<id>` (`outputs`, `result`): in a job, the jobs it needs (`CompiledJob.jobsInScope`; a
 *   finally job also sees every job under `jobs`); in the pipeline's `outputs`, every job.
 * - `steps.<id>` (`outputs`, `outcome`): in a step, the earlier steps of its job that have an id;
 *   in the job's `outputs`, all of them.
 * - `env`: the environment of the levels above the one being rendered. A job's `env` sees the
 *   pipeline's; the job's other fields and its `outputs` see pipeline + job; a step's `if` and
 *   `env` see pipeline + job; its `run`, `with` and `working-directory` see pipeline + job + step.
 * - `secrets.<NAME>`: only the secrets the step lists in its `secrets`.
 *
 * What callers may assume:
 * - A pipeline the loader accepted with `checkPipelineExpression` compiles: both use the same
 *   table and the same compilers. `compilePipeline` otherwise throws PIPELINE_INVALID whose
 *   `details.problems` lists every problem with its path (`jobs.build.steps[1].if`).
 * - `compilePipeline` returns the same object for the same frozen spec (every parsed spec is), so
 *   all runs of one loaded pipeline share one compilation.
 * - Rendering and `evaluateIf` throw only EXPR_EVAL_FAILED; for mappings and `with` the message
 *   starts with the path of the value that failed. Messages never contain the data.
 * - Context objects are read, never changed; deeply frozen ones are converted once (src/expr).
 */
import { JunctionError, isJunctionError } from '../errors/index.ts';
import {
  compileExpression,
  compileTemplate,
  prepareRunScript,
  quoteExpression,
  renderRunScriptEnv,
  type CompiledExpression,
  type CompiledTemplate,
  type CompileOptions,
  type PreparedRunScript,
} from '../expr/index.ts';
import type {
  ExpressionChecker,
  ExpressionScope,
  InputValue,
  JobSpec,
  PipelineProblem,
  PipelineSpec,
  StepSpec,
} from '../pipelines/index.ts';
import { TRIGGER_IF_VARIABLES } from '../triggers/index.ts';
import { formatPath, type PathSegment } from '../yaml/index.ts';
import { usesStatusFunction, type StatusContext } from './conditions.ts';

/** The variables every place may use; `statusFunctions` for job and step `if`. */
const SCOPES: Readonly<Record<ExpressionScope, CompileOptions>> = {
  'trigger-if': { variables: TRIGGER_IF_VARIABLES },
  concurrency: { variables: ['event'] },
  'pipeline-env': { variables: ['event', 'run'] },
  'pipeline-outputs': { variables: ['event', 'run', 'jobs'] },
  'job-if': { variables: ['event', 'run', 'jobs', 'matrix'], statusFunctions: true },
  'job-template': { variables: ['event', 'run', 'env', 'jobs', 'matrix'] },
  'job-outputs': { variables: ['event', 'run', 'env', 'jobs', 'matrix', 'steps'] },
  'step-if': { variables: ['event', 'run', 'env', 'jobs', 'matrix', 'steps'], statusFunctions: true },
  'step-template': { variables: ['event', 'run', 'env', 'jobs', 'matrix', 'steps', 'secrets'] },
  'step-run': { variables: ['event', 'run', 'env', 'jobs', 'matrix', 'steps', 'secrets'] },
};

/** How each place is named in messages. */
const PLACES: Readonly<Record<ExpressionScope, string>> = {
  'trigger-if': "a trigger's if",
  concurrency: 'concurrency.group',
  'pipeline-env': "the pipeline's env",
  'pipeline-outputs': "the pipeline's outputs",
  'job-if': "a job's if",
  'job-template': "a job's env, working-directory or environment",
  'job-outputs': "a job's outputs",
  'step-if': "a step's if",
  'step-template': "a step's env, with or working-directory",
  'step-run': "a step's run",
};

/** Where each variable can be used, for the message when it is used elsewhere. */
const WHERE_AVAILABLE: Readonly<Record<string, string>> = {
  run: "run is available once a run exists: not in a trigger's if or concurrency.group; use event there",
  env: "env is available in jobs and steps, except in a job's if (as on GitHub)",
  jobs: "jobs.<id> is available in jobs (for the jobs they need) and in the pipeline's outputs",
  matrix: 'matrix is available in jobs and their steps',
  steps: "steps.<id> is available in a step (for earlier steps) and in its job's outputs",
  secrets:
    "secrets.<NAME> is available only in a step's run, with, env and working-directory, for secrets the step lists",
};

const IF_SCOPES: ReadonlySet<ExpressionScope> = new Set(['trigger-if', 'job-if', 'step-if']);

/** The variables an expression written at `scope` may use. */
export function expressionVariables(scope: ExpressionScope): readonly string[] {
  return SCOPES[scope].variables;
}

/** `run` in expressions. */
export interface RunContext {
  readonly id: string;
  readonly pipeline: string;
  readonly attempt: number;
  readonly eventId: string;
}

/** What expressions read; each place binds only the variables of its scope. */
export interface ExpressionContext {
  readonly event?: unknown;
  readonly run?: unknown;
  readonly env?: Readonly<Record<string, string>>;
  readonly jobs?: Readonly<
    Record<string, { readonly outputs: Readonly<Record<string, string>>; readonly result?: string }>
  >;
  readonly steps?: Readonly<
    Record<string, { readonly outputs: Readonly<Record<string, string>>; readonly outcome?: string }>
  >;
  readonly matrix?: Readonly<Record<string, unknown>>;
  readonly secrets?: Readonly<Record<string, string>>;
}

/** A mapping of templates (an `env`, `outputs` or `environment`), in file order. */
export interface CompiledTemplates {
  /** Where the mapping is in the file: `jobs.build.env`. */
  readonly path: string;
  readonly entries: ReadonlyMap<string, CompiledTemplate>;
}

/** A step's `with` tree: every string compiled as a template, other scalars kept. */
export type CompiledInputs =
  | { readonly kind: 'template'; readonly path: string; readonly template: CompiledTemplate }
  | { readonly kind: 'value'; readonly value: string | number | boolean | null }
  | { readonly kind: 'list'; readonly items: readonly CompiledInputs[] }
  | { readonly kind: 'map'; readonly entries: ReadonlyMap<string, CompiledInputs> };

export interface CompiledStep {
  readonly spec: StepSpec;
  /** `name`, else the first line of `run` (at most 60 characters), else `uses: <action>`. */
  readonly displayName: string;
  readonly if?: CompiledExpression;
  readonly usesStatusFunction: boolean;
  readonly env: CompiledTemplates;
  readonly workingDirectory?: CompiledTemplate;
  /** For run steps. */
  readonly script?: PreparedRunScript;
  /** For uses steps. */
  readonly with?: CompiledInputs;
}

export interface CompiledJob {
  readonly spec: JobSpec;
  readonly if?: CompiledExpression;
  readonly usesStatusFunction: boolean;
  readonly env: CompiledTemplates;
  readonly workingDirectory?: CompiledTemplate;
  readonly outputs: CompiledTemplates;
  /** `name`, `service`, `version` and `url` when given. */
  readonly environment?: CompiledTemplates;
  readonly steps: readonly CompiledStep[];
  /** The job ids its expressions may read under `jobs`: its needs, and for a finally job every ordinary job too. */
  readonly jobsInScope: readonly string[];
}

export interface CompiledPipeline {
  readonly spec: PipelineSpec;
  readonly env: CompiledTemplates;
  readonly concurrencyGroup?: CompiledTemplate;
  readonly outputs: CompiledTemplates;
  /** Ordinary jobs, then finally jobs, in file order. */
  readonly jobs: ReadonlyMap<string, CompiledJob>;
}

/** Compiles one expression as `scope` dictates; throws the compiler's JunctionError. */
function compileAt(source: string, scope: ExpressionScope): void {
  const options = SCOPES[scope];
  if (IF_SCOPES.has(scope)) {
    if (source.trim() !== '') compileExpression(source, options);
  } else if (scope === 'step-run') prepareRunScript(source, options);
  else compileTemplate(source, options);
}

/**
 * An unknown-variable error for a variable Junction knows, told as where it can be used instead;
 * any other error unchanged.
 */
function explain(error: unknown, scope: ExpressionScope): unknown {
  if (!isJunctionError(error, 'EXPR_UNKNOWN_VARIABLE')) return error;
  const details = error.details ?? {};
  const name = details['variable'];
  if (typeof name !== 'string' || !Object.hasOwn(WHERE_AVAILABLE, name)) return error;
  const { line, column } = details as { line?: number; column?: number };
  const where = line === undefined || column === undefined ? '' : ` (line ${line}, column ${column})`;
  const available = SCOPES[scope].variables.join(', ');
  return new JunctionError(
    'EXPR_UNKNOWN_VARIABLE',
    `variable '${name}' is not available in ${PLACES[scope]}${where}: ${WHERE_AVAILABLE[name]}; available here: ${available}`,
    {
      cause: error.cause,
      details: { ...details, suggestion: undefined, known: [...SCOPES[scope].variables] },
    },
  );
}

/**
 * The loader's `checkExpression`: compiles the expression with the variables of its place (a
 * `run:` script through the shell rewrite), and returns the problem's message, if any. A blank
 * condition counts as absent.
 */
export const checkPipelineExpression: ExpressionChecker = (source, scope) => {
  try {
    compileAt(source, scope);
    return undefined;
  } catch (error) {
    const explained = explain(error, scope);
    return explained instanceof Error ? explained.message : String(explained);
  }
};

/** Collects problems with their paths while compiling. */
class Problems {
  readonly list: PipelineProblem[] = [];

  attempt<T>(segments: readonly PathSegment[], scope: ExpressionScope, compile: () => T): T | undefined {
    try {
      return compile();
    } catch (error) {
      const explained = explain(error, scope);
      if (!isJunctionError(explained)) throw explained;
      this.list.push({ path: formatPath(segments), message: explained.message });
      return undefined;
    }
  }
}

function condition(
  source: string | undefined,
  scope: ExpressionScope,
  segments: readonly PathSegment[],
  problems: Problems,
): { if?: CompiledExpression; usesStatusFunction: boolean } {
  if (source === undefined || source.trim() === '') return { usesStatusFunction: false };
  const compiled = problems.attempt(segments, scope, () => compileExpression(source, SCOPES[scope]));
  return {
    ...(compiled === undefined ? {} : { if: compiled }),
    usesStatusFunction: usesStatusFunction(source),
  };
}

function template(
  text: string,
  scope: ExpressionScope,
  segments: readonly PathSegment[],
  problems: Problems,
): CompiledTemplate | undefined {
  return problems.attempt(segments, scope, () => compileTemplate(text, SCOPES[scope]));
}

function templates(
  values: Readonly<Record<string, string>>,
  scope: ExpressionScope,
  segments: readonly PathSegment[],
  problems: Problems,
): CompiledTemplates {
  const entries = new Map<string, CompiledTemplate>();
  for (const [name, text] of Object.entries(values)) {
    const compiled = template(text, scope, [...segments, name], problems);
    if (compiled !== undefined) entries.set(name, compiled);
  }
  return { path: formatPath(segments), entries };
}

function inputs(value: InputValue, segments: readonly PathSegment[], problems: Problems): CompiledInputs {
  if (typeof value === 'string') {
    if (!value.includes('${{')) return { kind: 'value', value };
    const compiled = template(value, 'step-template', segments, problems);
    return compiled === undefined
      ? { kind: 'value', value }
      : { kind: 'template', path: formatPath(segments), template: compiled };
  }
  if (value === null || typeof value !== 'object') return { kind: 'value', value };
  if (Array.isArray(value)) {
    const list: readonly InputValue[] = value;
    return { kind: 'list', items: list.map((item, i) => inputs(item, [...segments, i], problems)) };
  }
  const entries = new Map<string, CompiledInputs>();
  for (const [key, child] of Object.entries(value as Readonly<Record<string, InputValue>>)) {
    entries.set(key, inputs(child, [...segments, key], problems));
  }
  return { kind: 'map', entries };
}

const DISPLAY_LENGTH = 60;

function displayName(step: StepSpec): string {
  if (step.name !== undefined && step.name.trim() !== '') return step.name;
  if (step.run !== undefined) {
    const first = step.run
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line !== '');
    if (first !== undefined) {
      return first.length <= DISPLAY_LENGTH ? first : `${first.slice(0, DISPLAY_LENGTH - 1)}…`;
    }
    return `step ${step.index + 1}`;
  }
  return `uses: ${step.uses}`;
}

function compileStep(step: StepSpec, at: readonly PathSegment[], problems: Problems): CompiledStep {
  const segments = [...at, 'steps', step.index];
  const workingDirectory =
    step.workingDirectory === undefined
      ? undefined
      : template(step.workingDirectory, 'step-template', [...segments, 'working-directory'], problems);
  const script =
    step.run === undefined
      ? undefined
      : problems.attempt([...segments, 'run'], 'step-run', () =>
          prepareRunScript(step.run, SCOPES['step-run']),
        );
  return {
    spec: step,
    displayName: displayName(step),
    ...condition(step.if, 'step-if', [...segments, 'if'], problems),
    env: templates(step.env, 'step-template', [...segments, 'env'], problems),
    ...(workingDirectory === undefined ? {} : { workingDirectory }),
    ...(script === undefined ? {} : { script }),
    ...(step.uses === undefined ? {} : { with: inputs(step.with, [...segments, 'with'], problems) }),
  };
}

function compileJob(job: JobSpec, ordinaryIds: readonly string[], problems: Problems): CompiledJob {
  const segments: PathSegment[] = [job.isFinally ? 'finally' : 'jobs', job.id];
  const workingDirectory =
    job.workingDirectory === undefined
      ? undefined
      : template(job.workingDirectory, 'job-template', [...segments, 'working-directory'], problems);
  let environment: CompiledTemplates | undefined;
  if (job.environment !== undefined) {
    const { name, service, version, url } = job.environment;
    const fields = { name, service, version, ...(url === undefined ? {} : { url }) };
    environment = templates(fields, 'job-template', [...segments, 'environment'], problems);
  }
  const jobsInScope = job.isFinally ? [...new Set([...ordinaryIds, ...job.needs])] : [...job.needs];
  return {
    spec: job,
    ...condition(job.if, 'job-if', [...segments, 'if'], problems),
    env: templates(job.env, 'job-template', [...segments, 'env'], problems),
    ...(workingDirectory === undefined ? {} : { workingDirectory }),
    outputs: templates(job.outputs, 'job-outputs', [...segments, 'outputs'], problems),
    ...(environment === undefined ? {} : { environment }),
    steps: job.steps.map((step) => compileStep(step, segments, problems)),
    jobsInScope,
  };
}

const LISTED_PROBLEMS = 10;

function compileFresh(spec: PipelineSpec): CompiledPipeline {
  const problems = new Problems();
  const env = templates(spec.env, 'pipeline-env', ['env'], problems);
  const concurrencyGroup =
    spec.concurrency === undefined
      ? undefined
      : template(spec.concurrency.group, 'concurrency', ['concurrency', 'group'], problems);
  const outputs = templates(spec.outputs, 'pipeline-outputs', ['outputs'], problems);
  const ordinaryIds = Object.keys(spec.jobs);
  const jobs = new Map<string, CompiledJob>();
  for (const job of [...Object.values(spec.jobs), ...Object.values(spec.finally)]) {
    jobs.set(job.id, compileJob(job, ordinaryIds, problems));
  }
  const found = problems.list;
  if (found.length > 0) {
    const listed = found.slice(0, LISTED_PROBLEMS).map((p) => `${p.path}: ${p.message}`);
    if (found.length > LISTED_PROBLEMS) listed.push(`and ${found.length - LISTED_PROBLEMS} more`);
    throw new JunctionError(
      'PIPELINE_INVALID',
      `pipeline '${spec.name}' has ${found.length} expression problem${found.length === 1 ? '' : 's'}: ${listed.join('; ')}`,
      { details: { pipeline: spec.name, problems: found } },
    );
  }
  return {
    spec,
    env,
    ...(concurrencyGroup === undefined ? {} : { concurrencyGroup }),
    outputs,
    jobs,
  };
}

/** Compilations (or their errors) of frozen specs, by identity. */
const compiled = new WeakMap<PipelineSpec, CompiledPipeline | JunctionError>();

/**
 * Every condition, template and run script of `spec`, compiled; PIPELINE_INVALID listing every
 * problem with its path. A frozen spec is compiled once and the result (or error) reused.
 */
export function compilePipeline(spec: PipelineSpec): CompiledPipeline {
  const cached = compiled.get(spec);
  if (cached instanceof JunctionError) throw cached;
  if (cached !== undefined) return cached;
  let result: CompiledPipeline | JunctionError;
  try {
    result = compileFresh(spec);
  } catch (error) {
    if (!isJunctionError(error, 'PIPELINE_INVALID')) throw error;
    result = error;
  }
  if (Object.isFrozen(spec)) compiled.set(spec, result);
  if (result instanceof JunctionError) throw result;
  return result;
}

/** The context as the variables CEL binds. */
function bindings(context: ExpressionContext): Readonly<Record<string, unknown>> {
  return { ...context };
}

/** A failure while rendering `path`, with the path in front of the message. */
function at(path: string, error: unknown): unknown {
  if (!isJunctionError(error)) return error;
  return new JunctionError(error.code, `${path}: ${error.message}`, {
    cause: error.cause,
    details: { ...error.details, path },
  });
}

/** Renders one template as text. */
export function renderTemplate(template: CompiledTemplate, context: ExpressionContext): string {
  return template.render(bindings(context));
}

/** Renders a mapping of templates as text values, in file order. */
export function renderTemplates(
  templates: CompiledTemplates,
  context: ExpressionContext,
): Record<string, string> {
  const values = bindings(context);
  const rendered: [string, string][] = [];
  for (const [name, template] of templates.entries) {
    try {
      rendered.push([name, template.render(values)]);
    } catch (error) {
      throw at(`${templates.path}.${name}`, error);
    }
  }
  return Object.fromEntries(rendered);
}

function renderInput(inputs: CompiledInputs, values: Readonly<Record<string, unknown>>): InputValue {
  switch (inputs.kind) {
    case 'value':
      return inputs.value;
    case 'template':
      try {
        return inputs.template.evaluateValue(values) as InputValue;
      } catch (error) {
        throw at(inputs.path, error);
      }
    case 'list':
      return inputs.items.map((item) => renderInput(item, values));
    case 'map':
      return Object.fromEntries([...inputs.entries].map(([key, item]) => [key, renderInput(item, values)]));
  }
}

/**
 * A step's `with`, rendered: a string that is exactly one `${{ x }}` keeps x's JSON type (so
 * `data: ${{ event.data }}` passes an object), any other string is text.
 */
export function renderInputs(inputs: CompiledInputs, context: ExpressionContext): InputValue {
  return renderInput(inputs, bindings(context));
}

/** The environment variables a prepared `run` script refers to (`JUNCTION_EXPR_<n>`). */
export function renderScriptEnv(
  script: PreparedRunScript,
  context: ExpressionContext,
): Record<string, string> {
  return renderRunScriptEnv(script, bindings(context));
}

function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'map';
  return typeof value === 'string' ? 'string' : typeof value;
}

/**
 * Whether a job or step runs, with the implicit `success()`: no `if` → `status.success`; an `if`
 * without a status function → `status.success && if` (the `if` is not evaluated when the status
 * is not success); an `if` with one → the `if` alone. A result that is not a bool is EXPR_EVAL_FAILED.
 */
export function evaluateIf(
  expr: CompiledExpression | undefined,
  usesStatus: boolean,
  context: ExpressionContext,
  status: StatusContext,
): boolean {
  if (expr === undefined) return status.success;
  if (!usesStatus && !status.success) return false;
  const value = expr.evaluate(bindings(context), { status });
  if (typeof value === 'boolean') return value;
  const type = jsonTypeName(value);
  const expression = quoteExpression(expr.source);
  throw new JunctionError('EXPR_EVAL_FAILED', `if '${expression}' must be true or false, got ${type}`, {
    details: { expression, returned: type },
  });
}
