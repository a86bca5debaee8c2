/**
 * The worker pool: up to `concurrency` jobs at once, each claimed from the store with a lease
 * renewed while it runs, executed by the job runner, and its outcome stored. The scheduler is told
 * after every job that ends (`onJobEnded`) and tells the pool when jobs become claimable
 * (`notify`).
 *
 * What callers may assume:
 * - A job is claimed by one worker only (the store's `claimJob`), and its outcome is stored only
 *   while this pool still owns its lease (compare-and-set on the lease owner), so a job whose
 *   lease was taken over is not written twice.
 * - Leases are renewed every `leaseMs / 3`. A job whose lease expired (its worker died or hung) is
 *   handed back by whichever pool sweeps first: queued again for a new attempt when the step that
 *   was running is marked `on-worker-lost: retry` (or no step had started), else failed with the
 *   reason `worker-lost`. At most `maxAttempts` attempts are made.
 * - `stop(graceMs)` stops claiming, lets running jobs finish for `graceMs`, then interrupts them:
 *   an interrupted job whose started steps may all run again is queued again (it starts over on
 *   the next start), any other is failed with the reason. Nothing is left `running`.
 * - `recoverOnStart` (the embedded setup, where no other process runs workers) hands back every
 *   job left `running` by a previous process at once instead of waiting for its lease to expire.
 * - The pool owns a step launcher (executors/launcher.ts): a small helper process, started by
 *   `start()` and stopped by `stop()` once no job runs, that forks step shells so that this
 *   process does not (docs/decisions/0009). `execute` receives it to hand to the job runner.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage, isJunctionError } from '../errors/index.ts';
import type { Logger } from '../observability/index.ts';
import type { JobRecord, Store } from '../store/index.ts';
import { compiledRunSpec } from '../runs/index.ts';
import { createStepLauncher, type StepLauncher } from './executors/launcher.ts';
import type { JobOutcome } from './job-runner.ts';

export interface WorkerPoolOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Most jobs running at once. */
  readonly concurrency: number;
  /** Runs a job; `launcher` is the pool's, for its `run` steps (JobRunnerOptions.launcher). */
  readonly execute: (job: JobRecord, signal: AbortSignal, launcher: StepLauncher) => Promise<JobOutcome>;
  /** A job ended (its outcome is stored), or was handed back. */
  readonly onJobEnded: (job: JobRecord) => void;
  /** Default 30 s. */
  readonly leaseMs?: number;
  /** Attempts of one job across lost workers. Default 3. */
  readonly maxAttempts?: number;
  readonly recoverOnStart?: boolean;
  /** How often expired leases are looked for. Default leaseMs. */
  readonly sweepEveryMs?: number;
}

export interface WorkerPool {
  readonly id: string;
  start(): Promise<void>;
  /** Jobs may be claimable: fill free slots. */
  notify(): void;
  /** Stops these jobs if they run here (the run was cancelled). */
  cancel(jobIds: readonly string[]): void;
  /** Jobs running now. */
  active(): number;
  stop(graceMs?: number): Promise<void>;
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { store, logger } = options;
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = options.leaseMs ?? 30_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  // No process until `start()`; a helper that died is replaced by the next step.
  const launcher = createStepLauncher({ logger });
  let claiming = false;
  let again = false;
  let stopping = false;
  let sweeper: NodeJS.Timeout | undefined;

  async function fill(): Promise<void> {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    try {
      do {
        again = false;
        while (!stopping && running.size < options.concurrency) {
          const job = await store.claimJob(id, leaseMs);
          if (job === undefined) break;
          launch(job);
        }
      } while (again && !stopping);
    } catch (error) {
      logger.warn(
        { code: isJunctionError(error) ? error.code : 'INTERNAL', err: errorMessage(error) },
        'worker: claiming a job failed',
      );
    } finally {
      claiming = false;
    }
  }

  function launch(job: JobRecord): void {
    const controller = new AbortController();
    const renew = setInterval(
      () => {
        void store.renewLease(job.id, id, leaseMs).then(
          (kept) => {
            if (!kept) {
              logger.warn({ jobId: job.id }, 'worker: lost the lease of a running job; stopping it');
              controller.abort('cancel');
            }
          },
          (error: unknown) =>
            logger.warn({ jobId: job.id, err: errorMessage(error) }, 'worker: renewing a lease failed'),
        );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    const done = (async () => {
      let outcome: JobOutcome;
      try {
        outcome = await options.execute(job, controller.signal, launcher);
      } catch (error) {
        outcome = {
          status: 'failed',
          exitCode: null,
          reason: `the worker failed: ${errorMessage(error)}`,
          outputs: null,
        };
      }
      clearInterval(renew);
      await settle(job, outcome);
    })().finally(() => {
      running.delete(job.id);
      options.onJobEnded(job);
      if (!stopping) void fill();
    });
    running.set(job.id, { controller, done });
  }

  async function settle(job: JobRecord, outcome: JobOutcome): Promise<void> {
    const expect = { status: ['running'], leaseOwner: id };
    try {
      if (outcome.interrupted === true) {
        await handBack(job, outcome.repeatable === true, 'interrupted by a shutdown', expect);
        return;
      }
      await store.updateJob(
        job.id,
        {
          status: outcome.status,
          exitCode: outcome.exitCode,
          reason: outcome.reason,
          outputs: outcome.outputs,
          finishedAt: new Date().toISOString(),
          leaseOwner: null,
          leaseExpiresAt: null,
        },
        expect,
      );
    } catch (error) {
      logger.error(
        { jobId: job.id, err: errorMessage(error) },
        'worker: storing a job outcome failed; the lease will expire and the job will be handed back',
      );
    }
  }

  /** Queues a job again for a new attempt, or fails it, as its steps' `on-worker-lost` says. */
  async function handBack(
    job: JobRecord,
    repeatable: boolean,
    why: string,
    expect: { status: string[]; leaseOwner?: string },
  ): Promise<boolean> {
    if (repeatable && job.attempt < maxAttempts) {
      const ok = await store.updateJob(
        job.id,
        {
          status: 'queued',
          attempt: job.attempt + 1,
          leaseOwner: null,
          leaseExpiresAt: null,
          startedAt: null,
          queuedAt: new Date().toISOString(),
        },
        expect,
      );
      if (ok)
        logger.warn(
          { jobId: job.id, attempt: job.attempt + 1 },
          `worker: job handed back (${why}); queued again`,
        );
      return ok;
    }
    const reason = repeatable
      ? `worker-lost: ${why}; it was tried ${job.attempt} times`
      : `worker-lost: ${why} while a step ran that is not marked on-worker-lost: retry`;
    const ok = await store.updateJob(
      job.id,
      {
        status: 'failed',
        reason,
        finishedAt: new Date().toISOString(),
        leaseOwner: null,
        leaseExpiresAt: null,
      },
      expect,
    );
    if (ok) logger.warn({ jobId: job.id }, `worker: job failed (${reason})`);
    return ok;
  }

  /** Whether every step of `job` that started may run again. */
  async function repeatableFromSteps(job: JobRecord): Promise<boolean> {
    const run = await store.getRunDetail(job.runId);
    if (run === undefined) return false;
    let spec;
    try {
      spec = compiledRunSpec(run).jobs.get(job.name)?.spec;
    } catch {
      return false;
    }
    if (spec === undefined) return false;
    const started = (await store.listSteps(job.runId)).filter(
      (step) => step.jobId === job.id && step.attempt === job.attempt && step.status !== 'skipped',
    );
    return started.every((step) => spec.steps[step.index]?.onWorkerLost === 'retry');
  }

  async function recoverLost(jobs: readonly JobRecord[], why: string): Promise<void> {
    for (const job of jobs) {
      if (running.has(job.id)) continue;
      const expect = {
        status: ['running'],
        ...(job.leaseOwner === null ? {} : { leaseOwner: job.leaseOwner }),
      };
      if (await handBack(job, await repeatableFromSteps(job), why, expect)) options.onJobEnded(job);
    }
  }

  async function sweep(): Promise<void> {
    await recoverLost(await store.listExpiredLeases(new Date()), 'its worker stopped renewing the lease');
  }

  return {
    id,
    async start() {
      stopping = false;
      // Started ahead of the first step; if it cannot start, each step tries again and fails.
      await launcher
        .start()
        .catch((error: unknown) =>
          logger.warn(
            { code: isJunctionError(error) ? error.code : 'INTERNAL', err: errorMessage(error) },
            'worker: the step launcher did not start',
          ),
        );
      if (options.recoverOnStart === true) {
        // Every running job belongs to a previous process: its lease can only expire.
        await recoverLost(
          await store.listExpiredLeases(new Date(Date.now() + 10 * 365 * 86_400_000)),
          'the process running it stopped',
        );
      }
      sweeper = setInterval(() => {
        void sweep().catch((error: unknown) =>
          logger.warn({ err: errorMessage(error) }, 'worker: sweeping leases failed'),
        );
      }, options.sweepEveryMs ?? leaseMs);
      sweeper.unref();
      void fill();
    },
    notify() {
      if (!stopping) void fill();
    },
    cancel(jobIds) {
      for (const jobId of jobIds) running.get(jobId)?.controller.abort('cancel');
    },
    active: () => running.size,
    async stop(graceMs = 10_000) {
      stopping = true;
      clearInterval(sweeper);
      const all = [...running.values()];
      if (all.length > 0) {
        const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
        await Promise.race([Promise.all(all.map((entry) => entry.done)), grace]);
        for (const entry of running.values()) entry.controller.abort('shutdown');
        await Promise.all([...running.values()].map((entry) => entry.done));
      }
      await launcher.close();
    },
  };
}
