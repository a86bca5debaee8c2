/**
 * Runs one claimed job: prepares its workspace, decides each step's `if`, runs `run` steps
 * through the shell executor and `uses` steps through the built-ins, retries steps by their retry
 * policy, streams masked log lines to the store, records every step, and returns the job's
 * outcome with its outputs. The pool (pool.ts) stores the outcome and tells the scheduler.
 *
 * What callers may assume:
 * - Nothing from an event reaches shell text: `${{ }}` values are passed as environment
 *   variables (src/expr/shell.ts). A step gets the pipeline's, the job's and its own `env`, the
 *   secrets it lists (as variables of the same name), `JUNCTION_*` variables describing the run,
 *   and from Junction's own environment only PATH, HOME, LANG, LC_ALL, TZ, TMPDIR and USER.
 * - Every log line is masked with the values (and encoded forms) of the secrets the job's steps
 *   use before it is stored or shown.
 * - A step's outputs come from the file named by `JUNCTION_OUTPUT` (`name=value` lines, GitHub's
 *   heredoc form for several lines); a job's outputs are its `outputs` templates rendered after
 *   its steps, at most 1 MiB together.
 * - Aborting with reason `cancel` stops the running step (SIGTERM, then SIGKILL) and later steps
 *   run only when their `if` uses `always()` or `cancelled()`. Aborting with reason `shutdown`
 *   stops the running step and returns `interrupted`, with `repeatable` true when every step that
 *   had started may run again (`on-worker-lost: retry`).
 * - A job's `timeout` bounds the whole job: the step running when it passes is stopped and the
 *   job ends `timed-out`. A step's own `timeout` ends that step `timed-out`.
 * - Expressions that fail at run time fail their step (or the job, for job-level fields) with the
 *   expression's message; the worker carries on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import { errorMessage, isJunctionError, JunctionError } from '../errors/index.ts';
import type { Logger } from '../observability/index.ts';
import { parseDuration, type InputValue } from '../pipelines/index.ts';
import {
  chainOf,
  compiledRunSpec,
  evaluateIf,
  jobsContext,
  renderInputs,
  renderScriptEnv,
  renderTemplate,
  renderTemplates,
  stepStatusContext,
  type CompiledJob,
  type CompiledStep,
  type ExpressionContext,
  runSource,
  type RollbackRequest,
  type RollbackResult,
  type StatusItem,
} from '../runs/index.ts';
import { combineStatuses, isFailure, type Status } from '../runs/states.ts';
import { createMasker, decryptSecret, type Masker } from '../security/index.ts';
import type { JobRecord, NewLogLine, RunDetail, StepRecord, Store } from '../store/index.ts';
import { checkout, checkoutTarget } from './builtins/checkout.ts';
import { httpStep, type HttpDeliver } from './builtins/http.ts';
import type { StepLauncher } from './executors/launcher.ts';
import { readOutputFile } from './executors/output-file.ts';
import { runShellStep } from './executors/shell.ts';
import { createLogWriter, type LogWriter } from './log-writer.ts';

/** Job outputs, together, at most. */
export const MAX_JOB_OUTPUT_BYTES = 1024 * 1024;
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER'] as const;

export type AbortReason = 'cancel' | 'shutdown';

export interface JobOutcome {
  readonly status: 'succeeded' | 'failed' | 'cancelled' | 'timed-out';
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly outputs: Readonly<Record<string, string>> | null;
  /** Stopped by a shutdown before it ended. */
  readonly interrupted?: boolean;
  /** With `interrupted`: the job may run again from its first step. */
  readonly repeatable?: boolean;
}

/** Progress of a job, for `junction run` and tests. */
export interface JobObserver {
  stepStarted?(job: JobRecord, step: StepRecord): void;
  stepFinished?(job: JobRecord, step: StepRecord): void;
  line?(job: JobRecord, line: NewLogLine): void;
}

export interface JobRunnerOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Folder under which each job gets `<run id>/<job>`. */
  readonly workspaceRoot: string;
  /** The key secrets are sealed with; called only when a job uses secrets. */
  readonly secretKey: () => Buffer;
  /** Stores an event through intake (the `emit` built-in); returns its stored id. */
  readonly publish: (event: CloudEvent) => Promise<string>;
  /**
   * Starts a rollback (the `rollback` built-in; runs/rollback.ts) and the run that performs it;
   * the step fails with "not available" when absent.
   */
  readonly rollback?: (request: RollbackRequest) => Promise<RollbackResult>;
  /**
   * Sends a request with the outbound delivery policy (the `http` built-in; the composition root
   * passes src/notifiers/delivery.ts); the step fails with "not available" when absent.
   */
  readonly deliver?: HttpDeliver;
  /** Keep workspaces after jobs end (debugging). Default false. */
  readonly keepWorkspaces?: boolean;
  readonly observer?: JobObserver;
  /** Grace between SIGTERM and SIGKILL. Default 5000 ms. */
  readonly killGraceMs?: number;
  /** Most output bytes kept per step. Default 16 MiB. */
  readonly maxStepOutputBytes?: number;
  /** Starts `run` steps in its helper process (the pool's); in this process when absent. */
  readonly launcher?: StepLauncher;
}

interface StepResult {
  readonly status: Status;
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly outputs: Record<string, string>;
}

function pickEnv(source: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A folder inside `root` named by a template; refuses escapes (`..`, absolute paths). */
function inside(root: string, path: string, what: string): string {
  const target = resolve(root, path);
  const rel = relative(root, target);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new JunctionError(
      'STEP_INPUT_INVALID',
      `${what} '${path.slice(0, 200)}' is outside the job's workspace`,
    );
  }
  return target;
}

/** Full-jitter exponential backoff: a random wait up to min(max, base × 2^(try − 1)). */
export function retryDelay(base: number, max: number, tryNumber: number): number {
  const ceiling = Math.min(Math.max(max, base), base * 2 ** Math.min(tryNumber - 1, 30));
  return Math.round(Math.random() * ceiling);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep) => {
    if (signal.aborted) {
      resolveSleep();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolveSleep();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export async function runJob(
  options: JobRunnerOptions,
  job: JobRecord,
  signal: AbortSignal,
): Promise<JobOutcome> {
  const { store, logger } = options;
  const run = await store.getRunDetail(job.runId);
  const trigger = run === undefined ? undefined : await store.getEvent(run.eventId);
  if (run === undefined || trigger === undefined) {
    return {
      status: 'failed',
      exitCode: null,
      reason: 'its run or event is no longer stored',
      outputs: null,
    };
  }
  let compiledJob: CompiledJob | undefined;
  let pipelineEnvTemplates;
  try {
    const compiled = compiledRunSpec(run);
    compiledJob = compiled.jobs.get(job.name);
    pipelineEnvTemplates = compiled.env;
  } catch (error) {
    return { status: 'failed', exitCode: null, reason: errorMessage(error), outputs: null };
  }
  if (compiledJob === undefined) {
    return {
      status: 'failed',
      exitCode: null,
      reason: `job '${job.name}' is not in the run's pipeline`,
      outputs: null,
    };
  }

  const masker = await secretsMasker(options, run, compiledJob).catch((error: unknown) => error);
  const secrets = masker instanceof Map ? masker : new Map<string, string>();
  const secretMasker = createMasker([...secrets.values()]);
  const log = createLogWriter({
    store,
    logger,
    runId: run.id,
    jobId: job.id,
    attempt: job.attempt,
    masker: secretMasker,
    ...(options.observer?.line === undefined
      ? {}
      : { onLine: (line) => options.observer?.line?.(job, line) }),
  });
  const jobDir = job.id.slice(run.id.length + 1) || job.name;
  const workspace = join(options.workspaceRoot, run.id, jobDir);
  const metaDir = join(options.workspaceRoot, run.id, '.junction', jobDir);
  try {
    if (!(masker instanceof Map)) {
      log.system(null, `[junction] ${errorMessage(masker)}`);
      return { status: 'failed', exitCode: null, reason: errorMessage(masker), outputs: null };
    }
    // Synchronous on purpose: three small calls take microseconds, while a round trip through
    // libuv's thread pool each costs far more when the event loop is busy, and sits between an
    // event and its first step.
    mkdirSync(workspace, { recursive: true });
    mkdirSync(metaDir, { recursive: true });
    const eventPath = join(metaDir, 'event.json');
    writeFileSync(eventPath, JSON.stringify(trigger.event), { mode: 0o600 });
    return await runSteps({
      options,
      run,
      job,
      trigger,
      compiledJob,
      pipelineEnvTemplates,
      secrets,
      masker: secretMasker,
      log,
      workspace,
      metaDir,
      eventPath,
      signal,
    });
  } catch (error) {
    log.system(null, `[junction] the job could not run: ${errorMessage(error)}`);
    return { status: 'failed', exitCode: null, reason: errorMessage(error), outputs: null };
  } finally {
    await log.close();
    if (options.keepWorkspaces !== true) {
      await rm(workspace, { recursive: true, force: true }).catch(() => undefined);
      await rm(metaDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/** The plaintext of every secret the job's steps list; fails when one is not set. */
async function secretsMasker(
  options: JobRunnerOptions,
  run: RunDetail,
  job: CompiledJob,
): Promise<Map<string, string>> {
  const names = [...new Set(job.steps.flatMap((step) => step.spec.secrets))];
  const values = new Map<string, string>();
  if (names.length === 0) return values;
  const sealed = await options.store.getSecrets(names);
  const missing = names.filter((name) => !sealed.has(name));
  if (missing.length > 0) {
    throw new JunctionError(
      'SECRET_NOT_FOUND',
      `secret${missing.length === 1 ? '' : 's'} ${missing.map((n) => `'${n}'`).join(', ')} of pipeline '${run.pipeline}' ${missing.length === 1 ? 'is' : 'are'} not set; set with \`junction secret set NAME\``,
      { details: { missing } },
    );
  }
  const key = options.secretKey();
  for (const [name, value] of sealed) values.set(name, decryptSecret(key, name, value));
  return values;
}

interface StepsInput {
  readonly options: JobRunnerOptions;
  readonly run: RunDetail;
  readonly job: JobRecord;
  readonly trigger: StoredEvent;
  readonly compiledJob: CompiledJob;
  readonly pipelineEnvTemplates: Parameters<typeof renderTemplates>[0];
  readonly secrets: ReadonlyMap<string, string>;
  readonly log: LogWriter;
  /** Masks the job's secrets in everything a step hands on: outputs, reasons, emitted events. */
  readonly masker: Masker;
  readonly workspace: string;
  readonly metaDir: string;
  readonly eventPath: string;
  readonly signal: AbortSignal;
}

async function runSteps(input: StepsInput): Promise<JobOutcome> {
  const { options, run, job, trigger, compiledJob, log, workspace, signal } = input;
  const spec = compiledJob.spec;
  // The caller's signal (cancel, shutdown) and the job's deadline stop the running step. After a
  // cancel, steps whose `if` still holds (`always()`) run with a signal of their own; after a
  // shutdown or the deadline nothing more runs.
  let cancelled = false;
  let shutdown = false;
  let timedOut = false;
  let current: AbortController | undefined;
  const stopReason = (): 'cancel' | 'shutdown' | 'timeout' | undefined =>
    timedOut ? 'timeout' : shutdown ? 'shutdown' : cancelled ? 'cancel' : undefined;
  const onAbort = (): void => {
    if (signal.reason === 'shutdown') shutdown = true;
    else cancelled = true;
    current?.abort(stopReason());
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const deadline = Date.now() + spec.timeoutMs;
  const jobTimer = setTimeout(() => {
    timedOut = true;
    current?.abort('timeout');
  }, spec.timeoutMs);
  const stepSignal = (): AbortSignal => {
    current = new AbortController();
    if (timedOut || shutdown) current.abort(stopReason());
    return current.signal;
  };

  try {
    const runContext = { id: run.id, pipeline: run.pipeline, attempt: job.attempt, eventId: run.eventId };
    const jobs =
      compiledJob.jobsInScope.length === 0
        ? {}
        : jobsContext(
            (await options.store.listJobs(run.id)).reduce((map, row) => {
              map.set(row.name, [...(map.get(row.name) ?? []), row]);
              return map;
            }, new Map<string, JobRecord[]>()),
            compiledJob.jobsInScope,
          );
    const matrix = job.matrix ?? {};
    const base: ExpressionContext = { event: trigger.event, run: runContext, jobs, matrix };
    let env: Record<string, string>;
    let cwdBase = workspace;
    try {
      const pipelineEnv = renderTemplates(input.pipelineEnvTemplates, base);
      const jobEnv = renderTemplates(compiledJob.env, { ...base, env: pipelineEnv });
      env = { ...pipelineEnv, ...jobEnv };
      if (compiledJob.workingDirectory !== undefined) {
        cwdBase = inside(
          workspace,
          renderTemplate(compiledJob.workingDirectory, { ...base, env }),
          'working-directory',
        );
      }
    } catch (error) {
      log.system(null, `[junction] ${errorMessage(error)}`);
      return { status: 'failed', exitCode: null, reason: errorMessage(error), outputs: null };
    }
    const junctionEnv: Record<string, string> = {
      CI: 'true',
      JUNCTION: 'true',
      JUNCTION_RUN_ID: run.id,
      JUNCTION_PIPELINE: run.pipeline,
      JUNCTION_JOB: job.name,
      JUNCTION_JOB_ATTEMPT: String(job.attempt),
      JUNCTION_EVENT_ID: trigger.id,
      JUNCTION_EVENT_TYPE: trigger.event.type,
      JUNCTION_EVENT_PATH: input.eventPath,
      JUNCTION_WORKSPACE: workspace,
    };
    const steps: Record<string, { outputs: Record<string, string>; outcome: string }> = {};
    const items: StatusItem[] = [];
    let started = 0;
    let repeatable = true;
    let failure: { reason: string; exitCode: number | null } | undefined;

    for (const step of compiledJob.steps) {
      const status = stepStatusContext(items, cancelled);
      const context: ExpressionContext = { ...base, env, steps };
      let runIt: boolean;
      try {
        runIt = shutdown || timedOut ? false : evaluateIf(step.if, step.usesStatusFunction, context, status);
      } catch (error) {
        const result: StepResult = {
          status: 'failed',
          exitCode: null,
          reason: errorMessage(error),
          outputs: {},
        };
        await record(input, step, 1, result, null);
        log.system(null, `[junction] step '${step.displayName}': ${result.reason ?? ''}`);
        items.push({ status: 'failed', continueOnError: step.spec.continueOnError });
        failure ??= { reason: `step '${step.displayName}' failed: ${result.reason ?? ''}`, exitCode: null };
        continue;
      }
      if (!runIt) {
        await record(input, step, 1, { status: 'skipped', exitCode: null, reason: null, outputs: {} }, null);
        items.push({ status: 'skipped' });
        continue;
      }
      started += 1;
      if (step.spec.onWorkerLost !== 'retry') repeatable = false;
      let result: StepResult | undefined;
      for (let tryNumber = 1; ; tryNumber += 1) {
        const startedAt = new Date().toISOString();
        const stepId = stepRowId(job, step.spec.index, tryNumber);
        const running: StepRecord = {
          id: stepId,
          jobId: job.id,
          attempt: job.attempt,
          index: step.spec.index,
          try: tryNumber,
          name: step.displayName,
          status: 'running',
          exitCode: null,
          startedAt,
          finishedAt: null,
          reason: null,
          outputs: null,
        };
        await options.store.saveStep(running);
        options.observer?.stepStarted?.(job, running);
        const remaining = deadline - Date.now();
        const timeoutMs = Math.max(1, Math.min(step.spec.timeoutMs ?? remaining, remaining));
        result = maskResult(
          input.masker,
          await runStep(
            input,
            step,
            stepId,
            tryNumber,
            { ...context, env },
            env,
            junctionEnv,
            cwdBase,
            timeoutMs,
            stepSignal(),
            stopReason,
          ),
        );
        await record(input, step, tryNumber, result, startedAt);
        const retry = step.spec.retry;
        const retryable =
          (result.status === 'failed' || result.status === 'timed-out') &&
          stopReason() === undefined &&
          tryNumber <= retry.max &&
          (retry.onExitCodes === undefined ||
            (result.exitCode !== null && retry.onExitCodes.includes(result.exitCode)));
        if (!retryable) break;
        const wait = retryDelay(retry.backoffMs, retry.maxBackoffMs, tryNumber);
        log.system(
          stepId,
          `[junction] retrying in ${duration(wait)} (try ${tryNumber + 1} of ${retry.max + 1})`,
        );
        await sleep(wait, stepSignal());
        if (stopReason() !== undefined) break;
      }
      if (step.spec.id !== undefined)
        steps[step.spec.id] = { outputs: result.outputs, outcome: result.status };
      items.push({ status: result.status, continueOnError: step.spec.continueOnError });
      if (isFailure(result.status) && !step.spec.continueOnError) {
        failure ??= {
          reason: `step '${step.displayName}' ${result.status === 'timed-out' ? 'timed out' : 'failed'}${result.reason ? `: ${result.reason}` : ''}`,
          exitCode: result.exitCode,
        };
      }
    }

    if (shutdown) {
      return {
        status: 'cancelled',
        exitCode: null,
        reason: 'interrupted by a shutdown',
        outputs: null,
        interrupted: true,
        repeatable: repeatable || started === 0,
      };
    }
    if (timedOut) {
      const reason = `the job ran longer than its timeout of ${duration(spec.timeoutMs)}`;
      log.system(null, `[junction] ${reason}`);
      return { status: 'timed-out', exitCode: failure?.exitCode ?? null, reason, outputs: null };
    }
    const combined = combineStatuses(items);
    if (cancelled || combined === 'cancelled') {
      return { status: 'cancelled', exitCode: null, reason: 'the run was cancelled', outputs: null };
    }
    if (combined !== 'succeeded') {
      return {
        status: 'failed',
        exitCode: failure?.exitCode ?? null,
        reason: failure?.reason ?? 'a step failed',
        outputs: null,
      };
    }
    try {
      const outputs = renderTemplates(compiledJob.outputs, { ...base, env, steps });
      const size = Buffer.byteLength(JSON.stringify(outputs));
      if (size > MAX_JOB_OUTPUT_BYTES) {
        throw new JunctionError(
          'STEP_OUTPUT_INVALID',
          `the job's outputs take ${size} bytes; at most ${MAX_JOB_OUTPUT_BYTES} are allowed`,
        );
      }
      return { status: 'succeeded', exitCode: 0, reason: null, outputs };
    } catch (error) {
      log.system(null, `[junction] ${errorMessage(error)}`);
      return {
        status: 'failed',
        exitCode: null,
        reason: `its outputs could not be evaluated: ${errorMessage(error)}`,
        outputs: null,
      };
    }
  } finally {
    clearTimeout(jobTimer);
    signal.removeEventListener('abort', onAbort);
  }
}

function stepRowId(job: JobRecord, index: number, tryNumber: number): string {
  return `${job.id}.a${job.attempt}.s${index}.t${tryNumber}`;
}

async function record(
  input: StepsInput,
  step: CompiledStep,
  tryNumber: number,
  result: StepResult,
  startedAt: string | null,
): Promise<void> {
  const saved: StepRecord = {
    id: stepRowId(input.job, step.spec.index, tryNumber),
    jobId: input.job.id,
    attempt: input.job.attempt,
    index: step.spec.index,
    try: tryNumber,
    name: step.displayName,
    status: result.status,
    exitCode: result.exitCode,
    startedAt,
    finishedAt: new Date().toISOString(),
    reason: result.reason,
    outputs: Object.keys(result.outputs).length === 0 ? null : result.outputs,
  };
  await input.options.store.saveStep(saved);
  input.options.observer?.stepFinished?.(input.job, saved);
}

async function runStep(
  input: StepsInput,
  step: CompiledStep,
  stepId: string,
  tryNumber: number,
  context: ExpressionContext,
  jobEnv: Readonly<Record<string, string>>,
  junctionEnv: Readonly<Record<string, string>>,
  cwdBase: string,
  timeoutMs: number,
  signal: AbortSignal,
  stopReason: () => string | undefined,
): Promise<StepResult> {
  const { log, options } = input;
  const secrets: Record<string, string> = {};
  for (const name of step.spec.secrets) secrets[name] = input.secrets.get(name) ?? '';
  let stepEnv: Record<string, string>;
  let cwd = cwdBase;
  const scoped: ExpressionContext = { ...context, secrets };
  try {
    stepEnv = { ...jobEnv, ...renderTemplates(step.env, { ...context, env: jobEnv }) };
    if (step.workingDirectory !== undefined) {
      cwd = inside(
        input.workspace,
        resolve(cwdBase, renderTemplate(step.workingDirectory, { ...scoped, env: stepEnv })),
        'working-directory',
      );
    }
  } catch (error) {
    log.system(stepId, `[junction] ${errorMessage(error)}`);
    return { status: 'failed', exitCode: null, reason: errorMessage(error), outputs: {} };
  }
  const started = Date.now();
  log.system(stepId, `[junction] ▶ ${step.displayName}${tryNumber > 1 ? ` (try ${tryNumber})` : ''}`);
  const full: ExpressionContext = { ...scoped, env: stepEnv };
  let result: StepResult;
  try {
    if (step.script !== undefined) {
      result = await runScript(
        input,
        step,
        stepId,
        tryNumber,
        full,
        { ...pickEnv(process.env), ...stepEnv, ...secrets, ...junctionEnv },
        cwd,
        timeoutMs,
        signal,
        stopReason,
      );
    } else if (step.spec.uses === 'checkout') {
      const inputs = (step.with === undefined ? {} : renderInputs(step.with, full)) as Record<
        string,
        InputValue
      >;
      const target = checkoutTarget(
        {
          ...(typeof inputs['repository'] === 'string' ? { repository: inputs['repository'] } : {}),
          ...(typeof inputs['ref'] === 'string' ? { ref: inputs['ref'] } : {}),
        },
        input.trigger.event.data,
      );
      const checkedOut = await checkout({
        target,
        workspace: input.workspace,
        ...(typeof inputs['path'] === 'string' ? { path: inputs['path'] } : {}),
        depth: typeof inputs['depth'] === 'number' ? inputs['depth'] : 1,
        env: pickEnv(process.env),
        signal,
        timeoutMs,
        onLine: (line) => log.write(stepId, line.stream, line.text, line.ts),
      });
      result = { status: 'succeeded', exitCode: 0, reason: null, outputs: checkedOut.outputs };
    } else if (step.spec.uses === 'rollback') {
      const inputs = (step.with === undefined ? {} : renderInputs(step.with, full)) as Record<
        string,
        InputValue
      >;
      result = await rollbackStep(options, input, step, inputs, (text) => log.system(stepId, text));
    } else if (step.spec.uses === 'http') {
      const inputs = (step.with === undefined ? {} : renderInputs(step.with, full)) as Record<
        string,
        InputValue
      >;
      const ownTimeout = AbortSignal.timeout(timeoutMs);
      try {
        const sent = await httpStep({
          inputs,
          deliver: options.deliver,
          signal: AbortSignal.any([signal, ownTimeout]),
          mask: (text) => input.masker.mask(text),
          say: (text) => log.system(stepId, text),
          addDeadLetter: (letter) => options.store.addDeadLetter(letter),
          eventId: input.trigger.id,
        });
        result = { ...sent, exitCode: sent.status === 'succeeded' ? 0 : null };
      } catch (error) {
        if (!ownTimeout.aborted || stopReason() !== undefined) throw error;
        result = {
          status: 'timed-out',
          exitCode: null,
          reason: `the step ran longer than ${duration(timeoutMs)}`,
          outputs: {},
        };
      }
    } else {
      const inputs = (step.with === undefined ? {} : renderInputs(step.with, full)) as Record<
        string,
        InputValue
      >;
      const event = emittedEvent(input, step, inputs);
      const id = await options.publish(event);
      log.system(stepId, `[junction] emitted ${event.type} as event ${id}`);
      result = { status: 'succeeded', exitCode: 0, reason: null, outputs: { id } };
    }
  } catch (error) {
    const reason = stopReason();
    if (reason === 'timeout' || reason === 'cancel' || reason === 'shutdown') {
      result = {
        status: reason === 'timeout' ? 'timed-out' : 'cancelled',
        exitCode: null,
        reason: errorMessage(error),
        outputs: {},
      };
    } else {
      result = { status: 'failed', exitCode: null, reason: errorMessage(error), outputs: {} };
    }
    log.system(stepId, `[junction] ${errorMessage(error)}`);
  }
  const mark = result.status === 'succeeded' ? '✓' : result.status === 'skipped' ? '-' : '✗';
  log.system(
    stepId,
    `[junction] ${mark} ${step.displayName} ${result.status} in ${duration(Date.now() - started)}${result.exitCode !== null && result.exitCode !== 0 ? ` (exit code ${result.exitCode})` : ''}`,
  );
  // Lines are stored in order in the background; the job's end waits for all of them.
  void log.flush();
  return result;
}

async function runScript(
  input: StepsInput,
  step: CompiledStep,
  stepId: string,
  tryNumber: number,
  context: ExpressionContext,
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number,
  signal: AbortSignal,
  stopReason: () => string | undefined,
): Promise<StepResult> {
  const outputFile = join(input.metaDir, `output-${step.spec.index}-${tryNumber}`);
  // Not created here: the step's `>>` creates it, and a missing file means no outputs.
  const scriptEnv = renderScriptEnv(step.script!, context);
  const result = await runShellStep({
    script: step.script!.script,
    cwd,
    env: { ...env, ...scriptEnv, JUNCTION_OUTPUT: outputFile },
    timeoutMs,
    signal,
    ...(input.options.killGraceMs === undefined ? {} : { killGraceMs: input.options.killGraceMs }),
    ...(input.options.maxStepOutputBytes === undefined
      ? {}
      : { maxOutputBytes: input.options.maxStepOutputBytes }),
    ...(input.options.launcher === undefined ? {} : { launcher: input.options.launcher }),
    onLine: (line) => input.log.write(stepId, line.stream, line.text, line.ts),
  });
  if (result.outcome === 'timed-out') {
    const ownTimeout = stopReason() !== 'timeout';
    return {
      status: 'timed-out',
      exitCode: result.exitCode,
      reason: ownTimeout ? `the step ran longer than ${duration(timeoutMs)}` : 'the job timed out',
      outputs: {},
    };
  }
  if (result.outcome === 'cancelled') {
    const why = stopReason();
    return {
      status: why === 'timeout' ? 'timed-out' : 'cancelled',
      exitCode: result.exitCode,
      reason:
        why === 'timeout'
          ? 'the job timed out'
          : why === 'shutdown'
            ? 'interrupted by a shutdown'
            : 'the run was cancelled',
      outputs: {},
    };
  }
  let outputs: Record<string, string>;
  try {
    outputs = await readOutputFile(outputFile);
  } catch (error) {
    if (!isJunctionError(error)) throw error;
    return { status: 'failed', exitCode: result.exitCode, reason: error.message, outputs: {} };
  }
  if (result.exitCode === 0) return { status: 'succeeded', exitCode: 0, reason: null, outputs };
  const why =
    result.exitCode === null
      ? `was killed by ${result.signal ?? 'a signal'}`
      : `exited with code ${result.exitCode}`;
  return { status: 'failed', exitCode: result.exitCode, reason: `the command ${why}`, outputs };
}

/** Guards that mean "already handled": the step succeeds without a second rollback. */
const ROLLBACK_ALREADY_HANDLED = new Set(['ROLLBACK_ALREADY_DONE', 'ROLLBACK_IN_PROGRESS']);

/**
 * The `rollback` built-in: rolls the environment's service back (runs/rollback.ts), by default
 * the one the triggering alert names (`data.environment`, `data.service`; the alertmanager source
 * fills them from `labels.environment` or `labels.env`, and `labels.service`). A resolved alert
 * never rolls back; a repeat of an alert that already rolled back succeeds without rolling back
 * again; a rollback that cannot be done fails the step and publishes `deployment.rollback_failed`.
 */
async function rollbackStep(
  options: JobRunnerOptions,
  input: StepsInput,
  step: CompiledStep,
  inputs: Record<string, InputValue>,
  say: (text: string) => void,
): Promise<StepResult> {
  const event = input.trigger.event;
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<
    string,
    unknown
  >;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  const noop = (why: string): StepResult => {
    say(`[junction] no rollback: ${why}`);
    return { status: 'succeeded', exitCode: 0, reason: null, outputs: { rolled_back: 'false', reason: why } };
  };
  if (event.type === 'alert.resolved' || data['status'] === 'resolved') {
    return noop('the alert is resolved; a resolved alert never rolls back');
  }
  const environment = text(inputs['environment']) ?? text(data['environment']);
  const service = text(inputs['service']) ?? text(data['service']);
  const fingerprint = text(data['fingerprint']);
  const cause =
    event.type.startsWith('alert.') && fingerprint !== undefined
      ? `alert:${fingerprint}`
      : `step:${input.run.id}`;
  const fail = async (code: string, reason: string): Promise<StepResult> => {
    try {
      await options.publish({
        ...stepEvent(input, step, 'deployment.rollback_failed', `${environment ?? '?'}/${service ?? '?'}`),
        id: `${stepEventId(input, step)}.rollback_failed`,
        data: {
          environment: environment ?? null,
          service: service ?? null,
          code,
          reason,
          cause,
          runId: input.run.id,
        },
      });
    } catch (error) {
      say(`[junction] could not publish deployment.rollback_failed: ${errorMessage(error)}`);
    }
    return { status: 'failed', exitCode: null, reason, outputs: { rolled_back: 'false', reason } };
  };
  if (environment === undefined || service === undefined) {
    return fail(
      'ROLLBACK_TARGET_MISSING',
      `rollback needs an environment and a service: set with.environment and with.service, or send alerts with the labels service and environment (or env); this event has ${environment === undefined ? 'no environment' : `environment ${environment}`} and ${service === undefined ? 'no service' : `service ${service}`}`,
    );
  }
  if (options.rollback === undefined) return fail('INTERNAL', 'rollbacks are not available in this process');
  const window = text(inputs['window']) ?? '1h';
  const windowMs = parseDuration(window);
  if (windowMs === undefined)
    return fail('STEP_INPUT_INVALID', `with.window '${window}' is not a duration such as 30m or 2h`);
  const to = text(inputs['to']);
  try {
    const result = await options.rollback({
      environment,
      service,
      ...(to === undefined ? {} : { to }),
      actor: `run ${input.run.id}`,
      cause,
      automatic: true,
      requestedByRun: input.run.id,
      windowMs,
    });
    say(
      `[junction] rolling ${service} in ${environment} back from ${result.from.version} to ${result.to.version} in run ${result.runId}`,
    );
    return {
      status: 'succeeded',
      exitCode: 0,
      reason: null,
      outputs: {
        rolled_back: 'true',
        run_id: result.runId,
        deployment_id: result.deploymentId,
        from: result.from.version,
        to: result.to.version,
      },
    };
  } catch (error) {
    const code = isJunctionError(error) ? error.code : 'INTERNAL';
    if (ROLLBACK_ALREADY_HANDLED.has(code)) return noop(errorMessage(error));
    return fail(code, errorMessage(error));
  }
}

/** The event an `emit` step publishes: linked to the run's event, with a stable id per step. */
function emittedEvent(input: StepsInput, step: CompiledStep, inputs: Record<string, InputValue>): CloudEvent {
  const type = inputs['type'];
  if (typeof type !== 'string' || type.trim() === '') {
    throw new JunctionError('STEP_INPUT_INVALID', 'emit needs `with.type`: the type of the event to publish');
  }
  const subject = inputs['subject'];
  if (subject !== undefined && typeof subject !== 'string') {
    throw new JunctionError('STEP_INPUT_INVALID', '`with.subject` of emit must be text');
  }
  return { ...stepEvent(input, step, type, subject), data: maskDeep(input.masker, inputs['data'] ?? null) };
}

/** The stable id of the event a step publishes: the same for every retry of the same try. */
function stepEventId(input: StepsInput, step: CompiledStep): string {
  return `${input.job.id}.a${input.job.attempt}.s${step.spec.index}`;
}

/** An event a step publishes, without its data: produced by the run, linked to the run's event. */
function stepEvent(
  input: StepsInput,
  step: CompiledStep,
  type: string,
  subject: string | undefined,
): CloudEvent {
  return {
    specversion: '1.0',
    id: stepEventId(input, step),
    source: runSource(input.run.id),
    type,
    ...(subject === undefined ? {} : { subject }),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    ...chainOf(input.trigger),
  };
}

/** A step's result with the job's secrets masked in its reason and outputs. */
function maskResult(masker: Masker, result: StepResult): StepResult {
  if (masker.empty) return result;
  const outputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.outputs)) outputs[name] = masker.mask(value);
  return { ...result, reason: result.reason === null ? null : masker.mask(result.reason), outputs };
}

/** `value` with the job's secrets masked in every string inside it. */
function maskDeep(masker: Masker, value: InputValue): InputValue {
  if (masker.empty) return value;
  if (typeof value === 'string') return masker.mask(value);
  if (Array.isArray(value)) return value.map((item: InputValue) => maskDeep(masker, item));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, maskDeep(masker, item)]));
  }
  return value;
}
