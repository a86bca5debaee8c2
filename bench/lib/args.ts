/**
 * Command-line options of `node bench/main.ts [name...] [options]`. Pure: takes argv, returns
 * the options or throws a usage `BenchError` (exit 2) that names the offending value.
 */
import { parseArgs } from 'node:util';
import { BENCH_EXIT, BenchError } from './bench-error.ts';

export interface BenchOptions {
  /** Benchmark names given on the command line; empty means all. */
  readonly names: readonly string[];
  /** Length of each measured run, whole seconds. */
  readonly durationSeconds: number;
  /** Length of the warm-up run before each measured run, whole seconds (0 skips it). */
  readonly warmupSeconds: number;
  readonly connections: number;
  /** wrk threads. */
  readonly threads: number;
  readonly json: boolean;
  /** Run Junction with `--cpu-prof` and keep the profiles. */
  readonly cpuProf: boolean;
  /** runner: sequential events of the start-latency measurement; absent means its default. */
  readonly events?: number;
  /** runner: runs of each side of a comparison; absent means its default. */
  readonly repeat?: number;
  /** soak: events per second posted; absent means its default. */
  readonly rate?: number;
  /** Smaller sizes and fewer rounds: a smoke check, not numbers to quote. Absent means false. */
  readonly quick?: boolean;
  /** intake: event ids with a random part, as senders that use UUIDs send them. */
  readonly randomIds?: boolean;
  readonly help: boolean;
}

export const DEFAULT_OPTIONS = {
  durationSeconds: 10,
  warmupSeconds: 3,
  connections: 64,
  threads: 1,
} as const;

export const USAGE = `usage: node bench/main.ts [name...] [options]

Runs the named benchmarks (all when none is named) and prints their numbers.

options:
  --duration <time>     length of each measured run, e.g. 10s, 1m (default ${DEFAULT_OPTIONS.durationSeconds}s)
  --warmup <time>       warm-up run before each measured run, 0 to skip (default ${DEFAULT_OPTIONS.warmupSeconds}s)
  --connections <n>     open connections held by wrk (default ${DEFAULT_OPTIONS.connections})
  --threads <n>         wrk threads (default ${DEFAULT_OPTIONS.threads})
  --json                print one JSON object instead of tables
  --cpu-prof            run Junction with --cpu-prof and keep the .cpuprofile files
  --events <n>          runner: sequential events for the start latency (default 500)
  --repeat <n>          runner: runs of each side of the steps comparison (default 3);
                        intake: rounds of the four targets, checked on the medians (default 1)
  --rate <n>            soak: events per second posted (default 200)
  --quick               smaller sizes and fewer rounds, for a smoke check
  --random-ids          intake: a random part in every event id, as UUIDs have (default: ids ascend)
  -h, --help            show this help
`;

/** `10`, `10s`, `2m` → whole seconds. */
export function parseSeconds(value: string, flag: string, allowZero = false): number {
  const match = /^(\d+)(s|m)?$/.exec(value.trim());
  if (match === null) {
    throw new BenchError(`${flag} takes whole seconds like 10s or 1m, got '${value}'`, BENCH_EXIT.usage);
  }
  const seconds = Number(match[1]) * (match[2] === 'm' ? 60 : 1);
  if (seconds === 0 && !allowZero) {
    throw new BenchError(`${flag} must be at least 1s, got '${value}'`, BENCH_EXIT.usage);
  }
  return seconds;
}

export function parsePositiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new BenchError(`${flag} takes a whole number of at least 1, got '${value}'`, BENCH_EXIT.usage);
  }
  return Number(value);
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        'cpu-prof': { type: 'boolean', default: false },
        events: { type: 'string' },
        repeat: { type: 'string' },
        rate: { type: 'string' },
        quick: { type: 'boolean', default: false },
        'random-ids': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new BenchError(error instanceof Error ? error.message : String(error), BENCH_EXIT.usage, {
      cause: error,
    });
  }
  const { values, positionals } = parsed;
  const options: BenchOptions = {
    names: positionals,
    durationSeconds:
      values.duration === undefined
        ? DEFAULT_OPTIONS.durationSeconds
        : parseSeconds(values.duration, '--duration'),
    warmupSeconds:
      values.warmup === undefined
        ? DEFAULT_OPTIONS.warmupSeconds
        : parseSeconds(values.warmup, '--warmup', true),
    connections:
      values.connections === undefined
        ? DEFAULT_OPTIONS.connections
        : parsePositiveInt(values.connections, '--connections'),
    threads:
      values.threads === undefined ? DEFAULT_OPTIONS.threads : parsePositiveInt(values.threads, '--threads'),
    json: values.json,
    cpuProf: values['cpu-prof'],
    ...(values.events === undefined ? {} : { events: parsePositiveInt(values.events, '--events') }),
    ...(values.repeat === undefined ? {} : { repeat: parsePositiveInt(values.repeat, '--repeat') }),
    ...(values.rate === undefined ? {} : { rate: parsePositiveInt(values.rate, '--rate') }),
    ...(values.quick ? { quick: true } : {}),
    ...(values['random-ids'] ? { randomIds: true } : {}),
    help: values.help,
  };
  if (options.threads > options.connections) {
    throw new BenchError(
      `--threads (${options.threads}) cannot exceed --connections (${options.connections}); wrk gives each thread at least one connection`,
      BENCH_EXIT.usage,
    );
  }
  return options;
}
