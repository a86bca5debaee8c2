/**
 * Runs the fuzz targets with a time budget or a number of runs each, counting executions.
 */
import fc from 'fast-check';
import { TARGETS } from './targets.ts';

export interface RunOptions {
  /** Total seconds for all targets, split evenly (ignored when `runs` is set). */
  readonly seconds?: number;
  /** Executions per target. */
  readonly runs?: number;
  readonly seed?: number;
  /** Keep only targets whose name contains this. */
  readonly filter?: string;
  readonly log?: (line: string) => void;
}

export interface TargetReport {
  readonly name: string;
  readonly executions: number;
  readonly ms: number;
  /** fast-check's report (seed, path, counterexample) when the property failed. */
  readonly failure?: string;
}

export interface RunReport {
  readonly executions: number;
  readonly targets: readonly TargetReport[];
  readonly failures: readonly string[];
}

export function runTargets(options: RunOptions): RunReport {
  const targets = TARGETS.filter((t) => options.filter === undefined || t.name.includes(options.filter));
  const perTargetMs =
    options.runs === undefined ? Math.max(1, ((options.seconds ?? 60) * 1000) / targets.length) : undefined;
  const reports: TargetReport[] = [];
  for (const target of targets) {
    let executions = 0;
    const started = performance.now();
    const details = fc.check(
      target.property(() => {
        executions += 1;
      }),
      {
        numRuns: options.runs ?? Number.MAX_SAFE_INTEGER,
        ...(perTargetMs === undefined
          ? {}
          : { interruptAfterTimeLimit: perTargetMs, markInterruptAsFailure: false }),
        ...(options.seed === undefined ? {} : { seed: options.seed }),
      },
    );
    const ms = Math.round(performance.now() - started);
    const failure = details.failed ? failureReport(target.name, details) : undefined;
    reports.push({ name: target.name, executions, ms, ...(failure === undefined ? {} : { failure }) });
    options.log?.(
      `fuzz ${target.name}: ${executions} executions in ${ms} ms${failure === undefined ? '' : ' FAILED'}`,
    );
  }
  return {
    executions: reports.reduce((sum, r) => sum + r.executions, 0),
    targets: reports,
    failures: reports.flatMap((r) => (r.failure === undefined ? [] : [r.failure])),
  };
}

function failureReport(name: string, details: fc.RunDetails<unknown>): string {
  const error = details.errorInstance;
  const why =
    error instanceof Error
      ? `${error.message}${error.cause instanceof Error ? `\n  cause: ${error.cause.stack ?? error.cause.message}` : ''}`
      : String(error);
  return `${name}: ${why}\n${fc.defaultReportMessage(details) ?? 'failed'}`;
}
