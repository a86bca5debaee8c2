/**
 * The one error type of the benchmark harness. It carries the process exit code the harness
 * should end with, so `main.ts` maps failures to exit codes in one place. The harness is a
 * development tool, not part of Junction, so it keeps its own small error instead of adding
 * codes to Junction's catalogue.
 */

/** Exit codes of `npm run bench`. */
export const BENCH_EXIT = {
  /** The benchmarks ran (a MISS against a target is a result, not a failure). */
  ok: 0,
  /** A server did not start, wrk failed, or a durability check found lost events. */
  failed: 1,
  /** Unknown benchmark name or option. */
  usage: 2,
  /** A required tool (wrk) is not installed. */
  missingTool: 3,
} as const;

export type BenchExitCode = (typeof BENCH_EXIT)[keyof typeof BENCH_EXIT];

export class BenchError extends Error {
  override readonly name = 'BenchError';
  readonly exitCode: BenchExitCode;

  constructor(message: string, exitCode: BenchExitCode = BENCH_EXIT.failed, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
