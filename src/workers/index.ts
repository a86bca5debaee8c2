/**
 * Workers: the pool that claims jobs with leases, the job runner that executes their steps, the
 * shell executor and the built-in actions (`checkout`, `emit`).
 */
export { createWorkerPool } from './pool.ts';
export type { WorkerPool, WorkerPoolOptions } from './pool.ts';
export { runJob, retryDelay, MAX_JOB_OUTPUT_BYTES } from './job-runner.ts';
export type { AbortReason, JobObserver, JobOutcome, JobRunnerOptions } from './job-runner.ts';
export { createLogWriter } from './log-writer.ts';
export type { LogWriter, LogWriterOptions } from './log-writer.ts';
export type { StepLauncher } from './executors/launcher.ts';
