import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parsePipeline } from '../src/pipelines/index.ts';
import { parseBenchArgs } from './lib/args.ts';
import { BENCH_EXIT, BenchError } from './lib/bench-error.ts';
import {
  countSoak,
  DEFAULT_RATE,
  evaluateSoak,
  formatSoakReport,
  MAX_RATE,
  rssPeakGrowth,
  rssSlopeMBPerMin,
  SOAK_PIPELINE,
  soakSettings,
  summarize,
  type LoadResult,
  type SoakReport,
} from './soak.ts';

const isUsageError = (error: unknown): boolean =>
  error instanceof BenchError && error.exitCode === BENCH_EXIT.usage;

function load(extra: Partial<LoadResult> = {}): LoadResult {
  return {
    scheduled: 1000,
    sent: 1000,
    accepted: 1000,
    rejected: 0,
    errors: 0,
    late: 0,
    acceptedWork: 100,
    latency: { p50Ms: 1, p99Ms: 5, maxMs: 9 },
    rss: Array.from({ length: 20 }, (_, i) => ({ atSeconds: i, rssBytes: 100e6 })),
    ...extra,
  };
}

void describe('soak benchmark: options', () => {
  void test('--rate is read, bounded, and defaults to 200', () => {
    assert.equal(soakSettings(parseBenchArgs(['soak'])).rate, DEFAULT_RATE);
    const settings = soakSettings(parseBenchArgs(['soak', '--rate', '50', '--duration', '2m']));
    assert.equal(settings.rate, 50);
    assert.equal(settings.durationSeconds, 120);
    assert.equal(settings.baselineSeconds, 15, 'the baseline is capped');
    assert.equal(soakSettings(parseBenchArgs(['soak', '--duration', '5s'])).baselineSeconds, 5);
    assert.throws(() => soakSettings(parseBenchArgs(['soak', '--rate', String(MAX_RATE + 1)])), isUsageError);
    for (const bad of ['0', '-5', '1.5', 'fast', '']) {
      assert.throws(() => parseBenchArgs(['soak', '--rate', bad]), isUsageError, `--rate ${bad}`);
    }
  });

  void test('the soak pipeline is a valid pipeline with a conditional trigger', () => {
    const parsed = parsePipeline(SOAK_PIPELINE, 'soak.yaml');
    assert.deepEqual(parsed.problems, []);
    assert.equal(parsed.pipeline?.name, 'soak');
    assert.match(SOAK_PIPELINE, /if: event\.data\.work == true/);
  });
});

void describe('soak benchmark: statistics and checks', () => {
  void test('percentiles by nearest rank; none without samples', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.deepEqual(summarize(hundred), { p50Ms: 50, p99Ms: 99, maxMs: 100 });
    assert.equal(summarize([]), undefined);
  });

  void test('the RSS slope uses the second half only, in MB per minute', () => {
    // Grows 1 MB/s for 10 s, then flat: the second half is flat.
    const samples = Array.from({ length: 20 }, (_, i) => ({
      atSeconds: i,
      rssBytes: 100e6 + Math.min(i, 10) * 1e6,
    }));
    assert.ok(Math.abs(rssSlopeMBPerMin(samples)!) < 1e-9);
    const growing = Array.from({ length: 20 }, (_, i) => ({ atSeconds: i, rssBytes: 100e6 + i * 1e6 }));
    assert.ok(Math.abs(rssSlopeMBPerMin(growing)! - 60) < 1e-6);
    assert.equal(rssSlopeMBPerMin(growing.slice(0, 6)), undefined, 'too few samples');
  });

  void test('the plateau compares the peaks of the two halves, so a saw-tooth that levels off passes', () => {
    const sawTooth = [100, 180, 190, 120, 185, 190, 130, 188, 125, 189].map((mb, i) => ({
      atSeconds: i,
      rssBytes: mb * 1e6,
    }));
    const peaks = rssPeakGrowth(sawTooth)!;
    assert.equal(peaks.firstHalfPeakBytes, 190e6);
    assert.equal(peaks.secondHalfPeakBytes, 190e6);
    assert.equal(peaks.growth, 0);
    const leaking = Array.from({ length: 10 }, (_, i) => ({ atSeconds: i, rssBytes: (100 + 10 * i) * 1e6 }));
    assert.ok(Math.abs(rssPeakGrowth(leaking)!.growth - (190 / 140 - 1)) < 1e-9);
    assert.equal(rssPeakGrowth(leaking.slice(0, 7)), undefined, 'too few samples');
  });

  void test('a growing RSS, a slow p99, a shortfall and missing runs each MISS', () => {
    const settings = soakSettings(parseBenchArgs(['soak']));
    const counts = { stored: 1000, storedWork: 100, runsCreated: 100, runsFinished: 100, runsSucceeded: 100 };
    const good = evaluateSoak(settings, load(), load(), 0, counts);
    assert.deepEqual(
      good.map((c) => c.pass),
      [true, true, true, true],
    );
    const bad = evaluateSoak(
      settings,
      load({
        accepted: 900,
        latency: { p50Ms: 10, p99Ms: 80, maxMs: 90 },
        rss: Array.from({ length: 20 }, (_, i) => ({ atSeconds: i, rssBytes: (100 + 5 * i) * 1e6 })),
      }),
      load(),
      30,
      { ...counts, runsFinished: 90 },
    );
    assert.deepEqual(
      bad.map((c) => c.pass),
      [false, false, false, false],
    );
    assert.ok(evaluateSoak(settings, undefined, undefined, undefined).every((c) => !c.pass));
  });

  void test('the report names counts, latency, RSS start/max/end and the checks', () => {
    const junction = load({
      rss: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ atSeconds: i, rssBytes: (100 + 10 * i) * 1e6 })),
    });
    const report: SoakReport = {
      benchmark: 'soak',
      date: '2026-01-01T00:00:00.000Z',
      machine: { cpus: 2, cpuModel: 'test', memoryBytes: 2 ** 30, node: 'v24.0.0', loadBefore: 0 },
      settings: soakSettings(parseBenchArgs(['soak'])),
      junction,
      baseline: load(),
      counts: { stored: 1000, storedWork: 100, runsCreated: 100, runsFinished: 100, runsSucceeded: 99 },
      drainMs: 1234,
      rssSlopeMBPerMin: 60,
      checks: evaluateSoak(soakSettings(parseBenchArgs(['soak'])), junction, load(), 60),
      failed: false,
    };
    const text = formatSoakReport(report);
    assert.match(text, /junction\s+1,000\s+1,000/);
    assert.match(
      text,
      /stored 1,000 · runs created 100 \(expected 100\) · runs finished 100 \(succeeded 99\)/,
    );
    assert.match(text, /RSS: start 100\.0 MB · max 170\.0 MB · end 170\.0 MB/);
    assert.match(
      text,
      /MISS {2}RSS plateau: peak of the second half ≤ peak of the first half \+ 10%: \+30\.8%/,
    );
    assert.match(text, /PASS {2}intake p99/);
    assert.doesNotMatch(text, /error:/);
  });
});

void describe('soak benchmark: counting the store', () => {
  void test('counts soak events, the ones asking for work, and runs by status', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-soak-test-'));
    try {
      const path = join(dir, 'junction.db');
      const db = new DatabaseSync(path);
      db.exec(`CREATE TABLE events (id TEXT, type TEXT, body TEXT);
               CREATE TABLE runs (id TEXT, pipeline TEXT, status TEXT);`);
      const event = db.prepare('INSERT INTO events VALUES (?, ?, ?)');
      for (let n = 0; n < 20; n += 1)
        event.run(`e${n}`, 'soak.tick', JSON.stringify({ data: { n, work: n % 10 === 0 } }));
      event.run('other', 'pipeline.started', JSON.stringify({ data: { work: true } }));
      const run = db.prepare('INSERT INTO runs VALUES (?, ?, ?)');
      run.run('r1', 'soak', 'succeeded');
      run.run('r2', 'soak', 'running');
      run.run('r3', 'other', 'succeeded');
      db.close();
      assert.deepEqual(countSoak(path), {
        stored: 20,
        storedWork: 2,
        runsCreated: 2,
        runsFinished: 1,
        runsSucceeded: 1,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
