/**
 * Running one pipeline once, in this process, without a server: the engine of `junction run`.
 * Like src/app.ts it picks concrete adapters, but only private ones: an in-memory store, a real
 * intake over it, the scheduler, a worker pool and the job runner, wired as `junction serve`
 * wires them, with workspaces under a temporary folder.
 *
 * What callers may assume:
 * - The project's database is never written. When the pipeline lists secrets and the project's
 *   SQLite file exists, it is opened to read those sealed secrets (`getSecrets`), which are copied
 *   into the memory store; the key is loaded as `junction serve` loads it, only when a step needs it.
 * - The event goes through a real intake (data checked against `schemas.dir` when configured);
 *   the run is created by hand (`triggerIndex` -1), so the pipeline runs whatever its triggers
 *   say. `decisions` tells what the triggers would have decided on a server.
 * - Events Junction publishes during the run (`emit` steps, `pipeline.*` result events) are stored
 *   in the memory store and reported through `observer.emitted`; no other pipeline sees them.
 * - Aborting `signal` cancels the run as `junction cancel` would: the running step is stopped,
 *   steps and jobs whose `if` says `always()` or `cancelled()` and `finally` jobs still run, and
 *   the promise resolves with the cancelled run.
 * - Everything opened is closed and the temporary folder removed before the promise settles,
 *   unless `keepWorkspace` is set: then the run's folder is left and named in the result.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { JunctionConfig } from './config/index.ts';
import {
  openStore,
  sqlitePath,
  type JobRecord,
  type RunDetail,
  type StepRecord,
  type Store,
} from './store/index.ts';
import { createSchemaRegistry, loadSchemaDir, type CloudEvent, type StoredEvent } from './events/index.ts';
import { createIntake } from './intake/index.ts';
import { createLogger, type Logger } from './observability/index.ts';
import { JunctionError, errorMessage } from './errors/index.ts';
import { nearestName } from './expr/index.ts';
import {
  loadPipelineDir,
  parsePipeline,
  pipelineInvalidError,
  type LoadedPipeline,
  type PipelineProblem,
} from './pipelines/index.ts';
import { compilePipelines, decideEvent, pipelineDigest, runIdFor, type Decision } from './triggers/index.ts';
import { checkPipelineExpression, createScheduler } from './runs/index.ts';
import { createWorkerPool, runJob, type JobObserver } from './workers/index.ts';
import type { HttpDeliver } from './workers/builtins/http.ts';
import { deliver } from './notifiers/index.ts';
import { loadSecretKey, resolveSecretKeyFile } from './security/index.ts';

/** Progress of a local run. */
export interface LocalRunObserver extends JobObserver {
  /** Junction stored an event of its own: an `emit` step's, or a `pipeline.*` result event. */
  emitted?(event: CloudEvent, id: string): void;
}

export interface LocalRunOptions {
  /** Where secrets, the secret key, schemas and worker settings come from. */
  readonly config: JunctionConfig;
  readonly pipeline: LoadedPipeline;
  /** A valid CloudEvent (see `validateCloudEvent`); intake checks its data. */
  readonly event: CloudEvent;
  /** Leave the run's workspaces in place and name the folder in the result. */
  readonly keepWorkspace?: boolean;
  readonly observer?: LocalRunObserver;
  /** Cancels the run when aborted. */
  readonly signal?: AbortSignal;
  /** Default: warnings and errors on stderr, one line each. */
  readonly logger?: Logger;
  /** Where `JUNCTION_SECRET_KEY` and `JUNCTION_SECRET_KEY_FILE` are read. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Grace between SIGTERM and SIGKILL when a step is stopped. Default 5000 ms. */
  readonly killGraceMs?: number;
}

export interface EmittedEvent {
  readonly type: string;
  /** The stored id. */
  readonly id: string;
}

export interface LocalRunResult {
  /** The run as it ended. */
  readonly run: RunDetail;
  /** The event the run was started with, as stored. */
  readonly event: StoredEvent;
  readonly jobs: readonly JobRecord[];
  /** Every step of every job, by job, attempt and index. */
  readonly steps: readonly StepRecord[];
  readonly emitted: readonly EmittedEvent[];
  /** What the pipeline's triggers decide for the event; empty when none listens for its type. */
  readonly decisions: readonly Decision[];
  /** True when `signal` was aborted before the run ended. */
  readonly interrupted: boolean;
  /** The run's workspace folder, with `keepWorkspace`. */
  readonly workspace?: string;
}

const RECEIVER = 'cli';
const PIPELINE_FILE = /\.ya?ml$/i;

/**
 * The pipeline `target` names: a path to a pipeline file (it ends in `.yaml`/`.yml` or contains a
 * path separator), else a pipeline name in `pipelinesDir`. Throws `PIPELINE_INVALID` with every
 * problem in `details.problems` when the file has problems, `PIPELINE_NOT_FOUND` when no file or
 * loaded pipeline answers to the name.
 */
export async function loadRunPipeline(target: string, pipelinesDir: string): Promise<LoadedPipeline> {
  if (PIPELINE_FILE.test(target) || target.includes('/') || target.includes('\\')) {
    return loadPipelineFile(target);
  }
  if (!existsSync(pipelinesDir)) {
    throw new JunctionError(
      'PIPELINE_NOT_FOUND',
      `no pipeline named '${target}': the pipelines folder '${pipelinesDir}' does not exist; give the path of a pipeline file instead`,
    );
  }
  const result = await loadPipelineDir(pipelinesDir, { checkExpression: checkPipelineExpression });
  const loaded = result.pipelines.get(target);
  if (loaded !== undefined) return checked(loaded, []);
  // The file meant may be one of those that did not load: its problems are the answer.
  const named = result.problems.filter((p) => p.file !== undefined && fileStem(p.file) === target);
  if (named.length > 0) throw pipelineInvalidError(named);
  const suggestion = nearestName(target, result.pipelines.keys());
  const broken = new Set(result.problems.map((p) => p.file ?? '')).size;
  throw new JunctionError(
    'PIPELINE_NOT_FOUND',
    `no pipeline named '${target}' in '${pipelinesDir}'${suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`}${broken > 0 ? `; ${broken} file(s) there have problems (see junction validate)` : ''}`,
    { details: { pipeline: target } },
  );
}

function fileStem(file: string): string {
  return basename(file).replace(PIPELINE_FILE, '');
}

async function loadPipelineFile(file: string): Promise<LoadedPipeline> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) {
    throw new JunctionError('PIPELINE_NOT_FOUND', `no pipeline file '${file}'`, { details: { file } });
  }
  const parsed = parsePipeline(await readFile(file, 'utf8'), file, {
    checkExpression: checkPipelineExpression,
  });
  if (parsed.pipeline === undefined) throw pipelineInvalidError(parsed.problems);
  return checked({ spec: parsed.pipeline, file }, parsed.problems);
}

/** The checks the server makes when it compiles triggers (patterns), which parsing leaves out. */
function checked(loaded: LoadedPipeline, problems: readonly PipelineProblem[]): LoadedPipeline {
  const compiled = compilePipelines([loaded]);
  const all = [...problems, ...compiled.problems];
  if (all.length > 0) throw pipelineInvalidError(all);
  return loaded;
}

export async function runPipelineOnce(options: LocalRunOptions): Promise<LocalRunResult> {
  const { config, pipeline, observer } = options;
  const logger = options.logger ?? createLogger({ level: 'warn', format: 'pretty' });
  const env = options.env ?? process.env;
  const root = await mkdtemp(join(tmpdir(), 'junction-run-'));
  let keepRoot = false;
  const store = await openStore('sqlite::memory:');
  try {
    await copySecrets(config, pipeline.spec.secrets, store);
    const schemas = createSchemaRegistry();
    if (config.schemas.dir !== undefined) await loadSchemaDir(schemas, config.schemas.dir);
    const intake = createIntake({
      store,
      maxPendingEvents: config.intake.maxPendingEvents,
      validateData: (event) => schemas.validateData(event),
    });
    const [submitted] = await intake.submit(RECEIVER, [options.event]);
    const event = await store.getEvent(submitted!.id);
    if (event === undefined) throw new JunctionError('INTERNAL', 'the event was not stored');

    const spec = pipeline.spec;
    const runId = runIdFor(event.id, spec.name, -1);
    await store.createRun(event.id, {
      id: runId,
      pipeline: spec.name,
      triggerIndex: -1,
      status: 'queued',
      pipelineDigest: pipelineDigest(spec),
      spec: JSON.stringify(spec),
    });
    const decisions = decideEvent(event, compilePipelines([pipeline]).routable);

    const emitted: EmittedEvent[] = [];
    const publish = async (published: CloudEvent): Promise<string> => {
      const [result] = await intake.submit('junction', [published]);
      const id = result!.id;
      emitted.push({ type: published.type, id });
      observer?.emitted?.(published, id);
      return id;
    };

    let finished: (run: RunDetail) => void = () => undefined;
    const ended = new Promise<RunDetail>((resolve) => (finished = resolve));
    const scheduler = createScheduler({
      store,
      logger,
      publish: async (result) => {
        await publish(result);
      },
      // The pool is created below; the scheduler calls these only after `start()`.
      onJobsQueued: () => workers.notify(),
      cancelJobs: (ids) => workers.cancel(ids),
      onRunFinished: (run) => {
        if (run.id === runId) finished(run);
      },
    });
    let secretKey: Buffer | undefined;
    const runner = {
      store,
      logger,
      workspaceRoot: root,
      keepWorkspaces: options.keepWorkspace === true,
      publish,
      // `http` steps send with the same delivery policy as on a server.
      deliver: deliver satisfies HttpDeliver,
      secretKey: () =>
        (secretKey ??= loadSecretKey({ env, keyFile: resolveSecretKeyFile(config.dataDir, env) })),
      ...(observer === undefined ? {} : { observer }),
      ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
    };
    const workers = createWorkerPool({
      store,
      logger,
      concurrency: Math.max(1, config.workers.concurrency),
      leaseMs: config.workers.leaseMs,
      execute: (job, signal, launcher) => runJob({ ...runner, launcher }, job, signal),
      onJobEnded: (job) => scheduler.kick(job.runId),
    });

    let interrupted = false;
    const onAbort = (): void => {
      interrupted = true;
      void scheduler
        .cancel(runId, 'cancelled from the command line')
        .catch((error: unknown) =>
          logger.warn({ runId, err: errorMessage(error) }, 'cancelling the run failed'),
        );
    };
    try {
      await workers.start();
      await scheduler.start();
      if (options.signal?.aborted === true) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
      const run = await ended;
      await scheduler.idle();
      const result: LocalRunResult = {
        run,
        event,
        jobs: await store.listJobs(runId),
        steps: await store.listSteps(runId),
        emitted: [...emitted],
        decisions,
        interrupted,
        ...(options.keepWorkspace === true ? { workspace: join(root, runId) } : {}),
      };
      keepRoot = options.keepWorkspace === true;
      return result;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await workers.stop(config.workers.shutdownGraceMs);
      await scheduler.stop();
      await intake.close();
    }
  } finally {
    await store.close();
    if (!keepRoot) await rm(root, { recursive: true, force: true });
  }
}

/** Copies the sealed secrets `names` from the project's store, when it exists, into `store`. */
async function copySecrets(config: JunctionConfig, names: readonly string[], store: Store): Promise<void> {
  if (names.length === 0) return;
  const path = sqlitePath(config.store.url, config.dataDir);
  if (path === ':memory:' || !existsSync(path)) return;
  const project = await openStore(config.store.url, { baseDir: config.dataDir });
  try {
    for (const [name, sealed] of await project.getSecrets(names)) await store.putSecret(name, sealed);
  } finally {
    await project.close();
  }
}
