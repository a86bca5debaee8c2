/**
 * The fuzz targets (test/fuzz/targets.ts) with a bounded number of executions each, so CI runs
 * every parser against a few thousand generated inputs in well under 30 seconds. Longer runs:
 * `FUZZ_SECONDS=600 node test/fuzz/main.ts`. `FUZZ_RUNS` changes the number per target here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TARGETS } from './fuzz/targets.ts';
import { runTargets } from './fuzz/run.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? '1000');

void test('every fuzz target holds its property', { timeout: 120_000 }, () => {
  const report = runTargets({ runs: RUNS });
  console.log(`# fuzz: ${report.executions} executions over ${report.targets.length} targets`);
  for (const target of report.targets)
    console.log(`#   ${target.name}: ${target.executions} in ${target.ms} ms`);
  assert.deepEqual(report.failures, []);
  assert.equal(report.targets.length, TARGETS.length);
  for (const target of report.targets) assert.equal(target.executions, RUNS, target.name);
});

void test('the property catches an error that is not a JunctionError', async () => {
  const { unexpected } = await import('./fuzz/targets.ts');
  const { JunctionError } = await import('../src/errors/index.ts');
  assert.match(unexpected(new TypeError('x is undefined')) ?? '', /TypeError/);
  assert.match(
    unexpected(new JunctionError('SOURCE_PAYLOAD_INVALID', 'bad', { cause: new RangeError('stack') })) ?? '',
    /wraps RangeError/,
  );
  assert.equal(unexpected(new JunctionError('SOURCE_PAYLOAD_INVALID', 'bad')), undefined);
});
