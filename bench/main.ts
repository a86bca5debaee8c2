/**
 * `npm run bench -- [name...] [--duration 10s] [--connections 64] [--rate 200] [--json]`: runs the named
 * benchmarks (all when none is named) one after the other and prints their reports, or with
 * `--json` one JSON object keyed by benchmark name. Progress goes to stderr.
 *
 * Exit codes: 0 the benchmarks ran (a missed target is a result, not a failure); 1 a server or
 * a durability check failed; 2 unknown name or option; 3 wrk is not installed.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE } from './lib/args.ts';
import { BENCH_EXIT, BenchError, errorText, type BenchExitCode } from './lib/bench-error.ts';
import type { Benchmark } from './lib/benchmark.ts';
import { findWrk } from './lib/wrk.ts';
import { intakeBenchmark } from './intake.ts';
import { runnerBenchmark } from './runner.ts';
import { soakBenchmark } from './soak.ts';

const BENCHMARKS: readonly Benchmark[] = [intakeBenchmark, runnerBenchmark, soakBenchmark];

function listBenchmarks(): string {
  const width = Math.max(...BENCHMARKS.map((b) => b.name.length));
  return BENCHMARKS.map((b) => `  ${b.name.padEnd(width)}  ${b.description}`).join('\n');
}

export function selectBenchmarks(names: readonly string[]): Benchmark[] {
  if (names.length === 0) return [...BENCHMARKS];
  const unknown = names.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    throw new BenchError(
      `unknown benchmark ${unknown.map((n) => `'${n}'`).join(', ')}; available:\n${listBenchmarks()}`,
      BENCH_EXIT.usage,
    );
  }
  return BENCHMARKS.filter((b) => names.includes(b.name));
}

async function main(argv: readonly string[]): Promise<BenchExitCode> {
  const options = parseBenchArgs(argv);
  if (options.help) {
    process.stdout.write(`${USAGE}\nbenchmarks:\n${listBenchmarks()}\n`);
    return BENCH_EXIT.ok;
  }
  const selected = selectBenchmarks(options.names);
  const wrkBin = findWrk();
  if (wrkBin === undefined && selected.some((b) => b.needsWrk)) {
    throw new BenchError('wrk not found: apt-get install wrk', BENCH_EXIT.missingTool);
  }
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const json: Record<string, unknown> = {};
  let failed = false;
  for (const benchmark of selected) {
    const outcome = await benchmark.run({
      options,
      wrkBin: wrkBin ?? '',
      repoRoot,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    failed ||= outcome.failed;
    if (options.json) json[benchmark.name] = outcome.json;
    else process.stdout.write(`${outcome.text}\n`);
  }
  if (options.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  return failed ? BENCH_EXIT.failed : BENCH_EXIT.ok;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench: ${errorText(error)}\n`);
  if (!(error instanceof BenchError))
    process.stderr.write(`${error instanceof Error ? (error.stack ?? '') : ''}\n`);
  if (error instanceof BenchError && error.exitCode === BENCH_EXIT.usage)
    process.stderr.write(`(run with --help for usage)\n`);
  process.exitCode = error instanceof BenchError ? error.exitCode : BENCH_EXIT.failed;
}
