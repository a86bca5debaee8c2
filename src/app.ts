/**
 * The composition root: the only place that turns configuration into concrete adapters (which
 * store, which bus), wires intake, the outbox relay, the router and the HTTP server together, and
 * takes them apart again in order on shutdown. Pipelines are loaded from `pipelines.dir` at start
 * and reloaded when files in it change; a broken file is logged and left out, the others route.
 */
import { existsSync } from 'node:fs';
import type { JunctionConfig } from './config/index.ts';
import { openStore, type Store } from './store/index.ts';
import { openBus, type Bus } from './bus/index.ts';
import { createSchemaRegistry, loadSchemaDir } from './events/index.ts';
import { createIntake, createOutboxRelay, type Intake, type OutboxRelay } from './intake/index.ts';
import { createLogger, createMetrics, type Logger, type Metrics } from './observability/index.ts';
import { createServer, isLoopbackAddress, type JunctionServer } from './server/index.ts';
import { createSources, hookBodyLimit, unauthenticatedSources } from './sources/index.ts';
import { JunctionError, errorMessage, isJunctionError } from './errors/index.ts';
import {
  formatProblems,
  loadPipelineDir,
  watchPipelineDir,
  type PipelineDirResult,
  type PipelineDirWatcher,
} from './pipelines/index.ts';
import {
  compilePipelines,
  NO_PIPELINES,
  scheduledTriggers,
  type RoutablePipelines,
} from './triggers/index.ts';
import { createScheduleTicker, SCHEDULE_RECEIVER, type ScheduleTicker } from './sources/schedule.ts';
import {
  checkPipelineExpression,
  createRouter,
  createScheduler,
  requestRollback,
  rerunRun,
  type RollbackRequest,
  type RollbackResult,
  approvalState,
  createEnvironmentPolicy,
  decideApproval,
  type Router,
  type Scheduler,
} from './runs/index.ts';
import { createWorkerPool, runJob, type WorkerPool } from './workers/index.ts';
import type { HttpDeliver } from './workers/builtins/http.ts';
import { loadSecretKey, resolveSecretKeyFile } from './security/index.ts';
import { createNotifier, deliver, type Notifier } from './notifiers/index.ts';
import type { CloudEvent } from './events/index.ts';

export interface App {
  /** Base URL the server listens on. */
  readonly url: string;
  readonly config: JunctionConfig;
  readonly store: Store;
  readonly bus: Bus;
  readonly intake: Intake;
  readonly relay: OutboxRelay;
  readonly router: Router;
  readonly scheduler: Scheduler;
  /** Undefined when `workers.concurrency` is 0. */
  readonly workers: WorkerPool | undefined;
  readonly server: JunctionServer;
  /** Fires the `schedule` triggers of the loaded pipelines. */
  readonly schedules: ScheduleTicker;
  /** The pipelines events are routed against right now. */
  pipelines(): RoutablePipelines;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Stops intake, finishes requests in flight, publishes the outbox, closes bus and store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
}

export async function startApp(config: JunctionConfig, options: StartOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log);
  // Before anything opens: a bad source entry is a configuration error, not a half-started server.
  const sources = createSources(config.sources);
  for (const name of unauthenticatedSources(config.sources)) {
    logger.warn({ source: name }, `source '${name}' accepts deliveries without authentication (auth: none)`);
  }
  const store = await openStore(config.store.url, {
    durability: config.store.durability,
    baseDir: config.dataDir,
  });
  const opened: { close(): Promise<void> }[] = [store];
  try {
    if (!isLoopbackAddress(config.server.host) && !(await store.hasTokens())) {
      throw new JunctionError(
        'CONFIG_INSECURE_BIND',
        `refusing to listen on '${config.server.host}' without API tokens; create one first with \`junction token create --scope admin\`, or listen on 127.0.0.1`,
      );
    }
    const bus = await openBus(config.bus.url, { prefix: config.bus.prefix });
    opened.unshift(bus);

    const schemas = createSchemaRegistry();
    if (config.schemas.dir !== undefined) await loadSchemaDir(schemas, config.schemas.dir);

    const metrics = createMetrics();
    const relay = createOutboxRelay({ store, bus, logger });
    const intake = createIntake({
      store,
      maxPendingEvents: config.intake.maxPendingEvents,
      maxBatchWaitMs: config.intake.maxBatchWaitMs,
      validateData: (event) => schemas.validateData(event),
      metrics: metrics.intake,
      onStored: (entries) => relay.notify(entries),
    });
    metrics.gaugeFrom(
      'junction_outbox_pending',
      'Stored events not yet published to the bus.',
      async () => (await store.outboxStats()).pending,
    );
    metrics.gaugeFrom(
      'junction_outbox_lag_seconds',
      'Age of the oldest stored event not yet published to the bus.',
      async () => (await store.outboxStats()).oldestAgeSeconds,
    );
    metrics.gaugeFrom('junction_intake_pending_events', 'Events waiting for a store write.', () =>
      intake.pending(),
    );

    const schedules = createScheduleTicker({
      slots: store,
      submit: async (events) => {
        await intake.submit(SCHEDULE_RECEIVER, events);
      },
      logger,
    });
    let routable = await loadPipelines(config.pipelines.dir, logger);
    let watcher: PipelineDirWatcher | undefined;
    if (existsSync(config.pipelines.dir)) {
      watcher = watchPipelineDir(
        config.pipelines.dir,
        (result) => {
          const next = compileAndReport(result, logger);
          logChanges(routable, next, logger);
          routable = next;
          void schedules.update(scheduledTriggers(next));
        },
        {
          checkExpression: checkPipelineExpression,
          onError: (error) =>
            logger.warn(
              { code: isJunctionError(error) ? error.code : 'CONFIG_NOT_FOUND', err: errorMessage(error) },
              'pipelines: reloading the folder failed; keeping the pipelines loaded before',
            ),
        },
      );
      const watching = watcher;
      opened.unshift({ close: () => Promise.resolve(watching.close()) });
    }
    /** Stores an event Junction itself produces (result events, `emit` steps) through intake. */
    const publish = async (event: CloudEvent): Promise<string> => {
      const [result] = await intake.submit('junction', [event]);
      return result!.id;
    };
    let workers: WorkerPool | undefined;
    const scheduler = createScheduler({
      store,
      logger,
      publish: async (event) => {
        await publish(event);
      },
      onJobsQueued: () => workers?.notify(),
      cancelJobs: (ids) => workers?.cancel(ids),
      environmentPolicy: createEnvironmentPolicy(config.environments, store),
    });
    /** Starts a rollback and kicks the run that performs it (runs/rollback.ts). */
    const rollback = async (request: RollbackRequest): Promise<RollbackResult> => {
      const result = await requestRollback(store, request);
      logger.info(
        {
          runId: result.runId,
          environment: request.environment,
          service: request.service,
          from: result.from.version,
          to: result.to.version,
          cause: request.cause,
        },
        'rollback requested',
      );
      scheduler.kick(result.runId);
      return result;
    };
    let secretKey: Buffer | undefined;
    if (config.workers.concurrency > 0) {
      const runner = {
        store,
        logger,
        rollback,
        // `http` steps send with the notifiers' delivery policy.
        deliver: deliver satisfies HttpDeliver,
        workspaceRoot: config.workers.workspaceDir,
        keepWorkspaces: config.workers.keepWorkspaces,
        publish,
        secretKey: () =>
          (secretKey ??= loadSecretKey({
            env: process.env,
            keyFile: resolveSecretKeyFile(config.dataDir, process.env),
          })),
      };
      workers = createWorkerPool({
        store,
        logger,
        concurrency: config.workers.concurrency,
        leaseMs: config.workers.leaseMs,
        // With SQLite no other process runs workers on this store: running jobs are orphans.
        recoverOnStart: store.kind === 'sqlite',
        execute: (job, signal, launcher) => runJob({ ...runner, launcher }, job, signal),
        onJobEnded: (job) => scheduler.kick(job.runId),
      });
    }
    // The embedded bus forgets everything on exit: the router catches up from its checkpoint.
    const router = createRouter({
      store,
      bus,
      logger,
      getPipelines: () => routable,
      catchUp: !bus.capabilities.durable,
      onRunsCreated: (runIds) => {
        for (const runId of runIds) scheduler.kick(runId);
      },
    });

    // Commit statuses: the link to a run needs the server's address, known once it listens.
    let runsBaseUrl = config.server.publicUrl?.replace(/\/+$/, '') ?? '';
    const notifier: Notifier | undefined =
      config.notifiers.length === 0
        ? undefined
        : createNotifier({
            store,
            bus,
            logger,
            notifiers: config.notifiers,
            sources: config.sources,
            runUrl: (runId) => `${runsBaseUrl}/api/v1/runs/${encodeURIComponent(runId)}`,
            onOutcome: (provider, outcome) => metrics.notification(provider, outcome),
          });

    const server = createServer({
      settings: config.server,
      store,
      bus,
      intake,
      metrics,
      logger,
      sources,
      hookBodyLimits: new Map(
        config.sources.map((entry) => [entry.name, hookBodyLimit(entry, config.server.bodyLimitBytes)]),
      ),
      hookRateLimits: new Map(config.sources.flatMap((e) => (e.rateLimit ? [[e.name, e.rateLimit]] : []))),
      runs: {
        cancel: (runId, reason) => scheduler.cancel(runId, reason),
        rerun: async (runId, rerunOptions) => {
          const result = await rerunRun(store, runId, rerunOptions);
          scheduler.kick(result.runId);
          return result;
        },
        releaseGroup: (name) => scheduler.releaseGroup(name),
        rollback: (request) => rollback(request),
        approve: async (request) => {
          const state = await decideApproval(store, config.environments, request);
          scheduler.kick(state.runId);
          return state;
        },
        approval: (runId, job) => approvalState(store, config.environments, runId, job),
      },
      replay: { pipelines: () => routable, route: (stored) => router.route(stored) },
    });
    // The router's group must exist before the relay publishes what the outbox holds, or the
    // embedded bus (which keeps no messages for groups it has not seen) would drop those events.
    await workers?.start();
    await scheduler.start();
    await router.start();
    // Like the router's, the notifiers' group must exist before the relay publishes.
    await notifier?.start();
    relay.start();
    const url = await server.listen().catch(async (error: unknown) => {
      await relay.stop(1000);
      throw error;
    });
    if (runsBaseUrl === '') runsBaseUrl = url;
    logger.info({ url, store: store.kind, bus: bus.kind }, 'junction is listening');
    await schedules.update(scheduledTriggers(routable));

    let stopping: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      await schedules.stop();
      server.drain();
      await server.close();
      // Jobs still publish (result events, emit steps) while they finish: intake closes after.
      await workers?.stop(config.workers.shutdownGraceMs);
      await scheduler.stop();
      await intake.close();
      await relay.stop();
      await router.stop();
      // Statuses in flight get a few seconds; what is cut short is handed back to the bus.
      await notifier?.stop(5000);
      watcher?.close();
      await bus.close();
      await store.close();
      logger.info('junction stopped');
    };
    return {
      url,
      config,
      store,
      bus,
      intake,
      relay,
      router,
      scheduler,
      workers,
      server,
      schedules,
      pipelines: () => routable,
      metrics,
      logger,
      stop: () => (stopping ??= stop()),
    };
  } catch (error) {
    for (const resource of opened) {
      await resource
        .close()
        .catch((closeError: unknown) =>
          logger.warn({ err: errorMessage(closeError) }, 'close failed during start-up'),
        );
    }
    throw error;
  }
}

/** Loads and compiles the pipelines folder; a missing folder means no pipelines. */
async function loadPipelines(dir: string, logger: Logger): Promise<RoutablePipelines> {
  if (!existsSync(dir)) {
    logger.info({ dir }, 'pipelines: no pipelines folder; no pipelines loaded');
    return NO_PIPELINES;
  }
  let result: PipelineDirResult;
  try {
    result = await loadPipelineDir(dir, { checkExpression: checkPipelineExpression });
  } catch (error) {
    logger.warn(
      { code: isJunctionError(error) ? error.code : 'CONFIG_NOT_FOUND', err: errorMessage(error) },
      'pipelines: cannot read the pipelines folder; no pipelines loaded',
    );
    return NO_PIPELINES;
  }
  const routable = compileAndReport(result, logger);
  logger.info(
    { dir, pipelines: [...routable.pipelines.keys()] },
    `pipelines: ${routable.pipelines.size} loaded`,
  );
  return routable;
}

/** Compiles a folder's pipelines and logs every problem of the files left out. */
function compileAndReport(result: PipelineDirResult, logger: Logger): RoutablePipelines {
  const compiled = compilePipelines(result.pipelines.values());
  const problems = [...result.problems, ...compiled.problems];
  if (problems.length > 0) {
    logger.warn(
      { code: 'PIPELINE_INVALID', problems: formatProblems(problems) },
      `pipelines: ${problems.length} problem${problems.length === 1 ? '' : 's'}; the files concerned are not loaded`,
    );
  }
  return compiled.routable;
}

/** Logs which pipelines a reload added, changed and removed. */
function logChanges(before: RoutablePipelines, after: RoutablePipelines, logger: Logger): void {
  const added: string[] = [];
  const changed: string[] = [];
  for (const [name, pipeline] of after.pipelines) {
    const old = before.pipelines.get(name);
    if (old === undefined) added.push(name);
    else if (old.digest !== pipeline.digest) changed.push(name);
  }
  const removed = [...before.pipelines.keys()].filter((name) => !after.pipelines.has(name));
  logger.info({ added, changed, removed }, 'pipelines: reloaded');
}
