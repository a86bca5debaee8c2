/**
 * Runs many crash trials and prints the tally; exits 1 when any trial broke a promise.
 *
 * Usage: node test/crash/main.ts [--trials 100] [--seed 1] [--rate 12] [--keep]
 * Trial i uses seed `seed + i`; a failing seed is repeated alone with `--trials 1 --seed <s>`.
 */
import { parseArgs } from 'node:util';
import { formatTally, runTrial, tally, type TrialResult } from './harness.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    rate: { type: 'string', default: '12' },
    keep: { type: 'boolean', default: false },
  },
});
const trials = Number(values.trials);
const seed = Number(values.seed);
const rate = Number(values.rate);
if (!Number.isInteger(trials) || trials < 1 || !Number.isInteger(seed) || !(rate > 0 && rate <= 1000)) {
  process.stderr.write('crash: usage: main.ts [--trials n≥1] [--seed integer] [--rate 1..1000] [--keep]\n');
  process.exit(2);
}

const results: TrialResult[] = [];
const broken: string[] = [];
for (let i = 0; i < trials; i += 1) {
  let result: TrialResult;
  try {
    result = await runTrial(seed + i, { rate, keepDir: values.keep });
  } catch (error) {
    // The server did not start again, say: that is a finding too, not a reason to stop.
    broken.push(
      `seed ${seed + i}: the trial broke: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.stderr.write(`${broken.at(-1)}\n`);
    continue;
  }
  results.push(result);
  process.stderr.write(
    `seed ${result.seed}: kills ${result.kills.map((k) => `${k.phase}+${k.afterMs}ms (running ${k.runningJobs}, queued ${k.queuedJobs}, outbox ${k.pendingOutbox})`).join(', ')}; acknowledged ${result.acknowledged}, ` +
      `sent ${result.sent}, refused ${result.refused}, stored ${result.stored}, runs ${result.runs}, interrupted ${result.interrupted}, drain ${result.drainMs} ms` +
      `${result.dir === undefined ? '' : `, kept ${result.dir}`}${result.problems.length === 0 ? '' : `\n  ${result.problems.join('\n  ')}`}\n`,
  );
}
const total = tally(results);
process.stdout.write(
  `${formatTally(total)}${broken.length === 0 ? '' : ` · broken trials ${broken.length}`}\n`,
);
process.exitCode = total.problems.length === 0 && broken.length === 0 ? 0 : 1;
