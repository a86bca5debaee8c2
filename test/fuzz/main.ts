/**
 * Runs every fuzz target for a while: `FUZZ_SECONDS` seconds in all (default 60), split evenly,
 * or `FUZZ_RUNS` executions per target; `FUZZ_TARGET` keeps the targets whose name contains it,
 * `FUZZ_SEED` replays a seed. Prints executions per target; on a failure prints fast-check's
 * seed, path and minimal counterexample, and exits 1.
 *
 *   node test/fuzz/main.ts
 *   FUZZ_SECONDS=600 node test/fuzz/main.ts
 */
import { runTargets } from './run.ts';

const seconds = Number(process.env['FUZZ_SECONDS'] ?? '60');
const runs = process.env['FUZZ_RUNS'] === undefined ? undefined : Number(process.env['FUZZ_RUNS']);
const seed = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const filter = process.env['FUZZ_TARGET'];

const report = runTargets({
  ...(runs === undefined ? { seconds } : { runs }),
  ...(seed === undefined ? {} : { seed }),
  ...(filter === undefined ? {} : { filter }),
  log: (line) => console.log(line),
});
console.log(`fuzz: ${report.executions} executions, ${report.failures.length} failures`);
for (const failure of report.failures) console.error(failure);
process.exitCode = report.failures.length > 0 ? 1 : 0;
