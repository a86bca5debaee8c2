/**
 * The shape every benchmark under bench/ has, so `main.ts` can list, select and run them the same
 * way. A benchmark prints progress through `progress` (stderr) and returns its report both as
 * text for people and as a JSON-ready object; `failed` means a server or a check broke, never
 * that a performance target was missed.
 */
import type { BenchOptions } from './args.ts';

export interface BenchContext {
  readonly options: BenchOptions;
  /** Absolute path of wrk, when the benchmark needs it (checked before it runs). */
  readonly wrkBin: string;
  /** Absolute path of the repository root. */
  readonly repoRoot: string;
  /** One line of progress for people; goes to stderr so `--json` stays clean. */
  progress(line: string): void;
}

export interface BenchOutcome {
  readonly text: string;
  readonly json: unknown;
  readonly failed: boolean;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  readonly needsWrk: boolean;
  run(context: BenchContext): Promise<BenchOutcome>;
}
