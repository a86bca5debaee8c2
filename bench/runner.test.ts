import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Profiler } from 'node:inspector';
import { compilePipelines, decideEvent } from '../src/triggers/index.ts';
import { parseBenchArgs } from './lib/args.ts';
import { BENCH_EXIT, BenchError } from './lib/bench-error.ts';
import {
  decideRate,
  evaluateTargets,
  formatRunnerReport,
  gaps,
  markScript,
  matchEvent,
  matchingPipelineFiles,
  MATCHING_PIPELINE,
  MAX_EVENTS,
  MAX_MARK_LINE,
  median,
  parsePipelineFiles,
  percentile,
  runnerSettings,
  splitMarks,
  stageBreakdown,
  stepSegments,
  STEP_SEGMENTS,
  startPipelineYaml,
  stepsPipelineYaml,
  summarize,
  summarizeProfile,
  QUICK_SETTINGS,
  type MatchingResult,
  type RunnerReport,
  type StartResult,
  type StepsResult,
} from './runner.ts';

const repoRoot = join(import.meta.dirname, '..');

function isUsageError(error: unknown): boolean {
  return error instanceof BenchError && error.exitCode === BENCH_EXIT.usage;
}

void describe('runner benchmark: statistics', () => {
  void test('nearest-rank percentiles over unsorted input; non-finite values are left out', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile(hundred, 100), 100);
    assert.equal(percentile(hundred, 1), 1);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), undefined);
    assert.equal(percentile([Number.NaN, Number.POSITIVE_INFINITY, 2], 50), 2);
  });

  void test('a percentile outside (0, 100] is refused', () => {
    for (const p of [0, -1, 101, Number.NaN]) assert.throws(() => percentile([1, 2], p), RangeError);
  });

  void test('median averages the two middle values of an even count', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([]), undefined);
  });

  void test('summarize gives percentiles, extremes and mean, or nothing for no values', () => {
    const s = summarize([1, 2, 3, 4, 10]);
    assert.deepEqual(s, { n: 5, p50Ms: 3, p90Ms: 10, p99Ms: 10, minMs: 1, maxMs: 10, meanMs: 4 });
    assert.equal(summarize([]), undefined);
    assert.equal(summarize([Number.NaN]), undefined);
  });

  void test('gaps between consecutive times', () => {
    assert.deepEqual(gaps([0, 2, 5, 5.5]), [2, 3, 0.5]);
    assert.deepEqual(gaps([1]), []);
    assert.deepEqual(gaps([]), []);
  });
});

void describe('runner benchmark: options', () => {
  void test('defaults, --quick, and --events/--repeat overrides', () => {
    assert.deepEqual(
      { events: runnerSettings({}).events, repeat: runnerSettings({}).repeat },
      { events: 500, repeat: 3 },
    );
    assert.equal(runnerSettings({ quick: true }).events, QUICK_SETTINGS.events);
    assert.equal(runnerSettings({ quick: true }).steps, QUICK_SETTINGS.steps);
    const custom = runnerSettings({ events: 42, repeat: 5 });
    assert.equal(custom.events, 42);
    assert.equal(custom.repeat, 5);
    assert.equal(custom.steps, 100);
    assert.equal(custom.pipelines, 10_000);
  });

  void test('sizes past the bounds are usage errors', () => {
    assert.throws(() => runnerSettings({ events: MAX_EVENTS + 1 }), isUsageError);
    assert.throws(() => runnerSettings({ repeat: 1_000 }), isUsageError);
  });

  void test('the command line takes --events, --repeat and --quick, and refuses bad values', () => {
    const options = parseBenchArgs(['runner', '--events', '50', '--repeat', '2', '--quick']);
    assert.deepEqual(options.names, ['runner']);
    assert.equal(options.events, 50);
    assert.equal(options.repeat, 2);
    assert.equal(options.quick, true);
    const plain = parseBenchArgs(['runner']);
    assert.equal('events' in plain || 'repeat' in plain || 'quick' in plain, false);
    for (const bad of [
      ['--events', '0'],
      ['--events', 'abc'],
      ['--events', '-5'],
      ['--repeat', '1.5'],
      ['--quick=yes'],
    ]) {
      assert.throws(() => parseBenchArgs(bad), isUsageError, bad.join(' '));
    }
  });
});

void describe('runner benchmark: pipelines', () => {
  void test('the matching sets parse and compile, and exactly one pipeline matches git.push', () => {
    for (const style of ['exact', 'leading-wildcard'] as const) {
      const files = matchingPipelineFiles(25, style);
      assert.equal(files.length, 25);
      assert.equal(new Set(files.map((f) => f.file)).size, 25);
      const compiled = compilePipelines(parsePipelineFiles(files));
      assert.deepEqual(compiled.problems, []);
      assert.equal(compiled.routable.pipelines.size, 25);
      const decisions = decideEvent(matchEvent(), compiled.routable);
      assert.deepEqual(
        decisions.map((d) => [d.pipeline, d.matched]),
        [[MATCHING_PIPELINE, true]],
      );
    }
    assert.deepEqual(
      matchingPipelineFiles(1).map((f) => f.file),
      [`pipelines/${MATCHING_PIPELINE}.yaml`],
    );
  });

  void test('a push to another branch matches nothing, so decideRate refuses to time it', () => {
    const routable = compilePipelines(parsePipelineFiles(matchingPipelineFiles(3))).routable;
    const other = { ...matchEvent(), data: { ref: 'refs/heads/dev' } };
    assert.equal(decideEvent(other, routable)[0]?.matched, false);
    assert.throws(() => decideRate(other, routable, 5), BenchError);
    assert.ok(decideRate(matchEvent(), routable, 5) > 0);
  });

  void test('sizes that are not whole positive numbers are refused', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => matchingPipelineFiles(bad), RangeError);
      assert.throws(() => stepsPipelineYaml(bad), RangeError);
    }
  });

  void test('a generated file that does not parse is reported with its name', () => {
    assert.throws(
      () => parsePipelineFiles([{ file: 'pipelines/bad.yaml', text: 'name: bad\non: [{ event: "" }]\n' }]),
      /generated pipeline 'pipelines\/bad\.yaml' does not parse/,
    );
  });

  void test('the steps pipeline has one job of N `true` steps', () => {
    const [loaded] = parsePipelineFiles([{ file: 'steps.yaml', text: stepsPipelineYaml(100) }]);
    const jobs = Object.values(loaded!.spec.jobs);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.steps.length, 100);
    assert.ok(jobs[0]!.steps.every((step) => 'run' in step && step.run === 'true'));
  });

  void test('the start pipeline runs the mark script; a FIFO path the shell cannot quote is refused', () => {
    const fifo = '/tmp/some dir/marks.fifo';
    const [loaded] = parsePipelineFiles([{ file: 'start.yaml', text: startPipelineYaml(fifo) }]);
    const step = Object.values(loaded!.spec.jobs)[0]!.steps[0]!;
    assert.equal('run' in step ? step.run?.trim() : undefined, markScript(fifo));
    for (const bad of ["/tmp/it's", '/tmp/a\nb', '/tmp/a\0b']) {
      assert.throws(() => markScript(bad), BenchError);
      assert.throws(() => startPipelineYaml(bad), BenchError);
    }
  });

  void test('the mark script writes the event id as data, never running it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-bench-mark-'));
    try {
      const out = join(dir, 'out');
      const hostile = `$(touch ${join(dir, 'pwned')}) "; touch ${join(dir, 'pwned2')}; echo '`;
      execFileSync('/bin/sh', ['-e', '-c', markScript(out)], {
        env: { PATH: process.env['PATH'] ?? '', JUNCTION_EVENT_ID: hostile },
      });
      assert.equal(readFileSync(out, 'utf8'), `m ${hostile}\n`);
      assert.equal(existsSync(join(dir, 'pwned')), false);
      assert.equal(existsSync(join(dir, 'pwned2')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void describe('runner benchmark: FIFO lines', () => {
  void test('complete `m <id>` lines give ids; the unfinished rest waits for the next read', () => {
    let state = splitMarks('', 'm a\nm b\nm c');
    assert.deepEqual(state, { ids: ['a', 'b'], rest: 'm c' });
    state = splitMarks(state.rest, 'd\r\n');
    assert.deepEqual(state, { ids: ['cd'], rest: '' });
  });

  void test('other lines, empty ids and overlong garbage are dropped', () => {
    assert.deepEqual(splitMarks('', 'hello\nm \nmx y\n\n').ids, []);
    const long = 'm ' + 'x'.repeat(MAX_MARK_LINE + 10);
    assert.deepEqual(splitMarks('', long), { ids: [], rest: '' });
    assert.deepEqual(splitMarks('', `${long}\nm ok\n`).ids, ['ok']);
  });
});

void describe('runner benchmark: where the time goes', () => {
  void test('per stage: median time since the commit, and the p50/p99 of the step from the row above', () => {
    const events = [1, 2, 3].map((k) => ({
      commitEnd: 0,
      accepted: 1 * k,
      published: 0.5,
      routed: 2 * k,
      spawnCall: 10 * k,
      mark: 10 * k + 3,
    }));
    const rows = stageBreakdown(events);
    const row = (key: string) => rows.find((r) => r.key === key)!;
    assert.equal(rows[0]!.key, 'commitEnd');
    assert.equal(row('accepted').atMs, 2);
    assert.equal(row('published').deltaP50Ms, -1.5);
    assert.equal(row('routed').atMs, 4);
    assert.equal(row('routed').deltaP99Ms, 5.5);
    // Stages without stamps have no figures; the next stamped one counts from the last stamp.
    assert.equal(row('runRunning').n, 0);
    assert.equal(row('runRunning').atMs, undefined);
    assert.equal(row('runRunning').deltaP50Ms, undefined);
    assert.equal(row('spawnCall').deltaP50Ms, 16);
    assert.equal(row('mark').deltaP50Ms, 3);
    assert.equal(row('mark').atMs, 23);
  });

  void test('one step: median of each part, and the gap from the previous step of the same run', () => {
    const junction = [0, 10, 20].map((t) => ({
      rowRunning: t,
      spawnCall: t + 1,
      spawnReturn: t + 4,
      exit: t + 6,
      close: t + 6.5,
      rowDone: t + 8,
    }));
    const bare = [0, 5].map((t) => ({ spawnCall: t, spawnReturn: t + 3, exit: t + 4, close: t + 4.5 }));
    const rows = stepSegments([junction, junction]);
    assert.deepEqual(
      rows.map((r) => r.medianMs),
      [2, 1, 3, 2, 0.5, 1.5, 3],
    );
    assert.deepEqual(
      rows.map((r) => r.label),
      STEP_SEGMENTS.map((s) => s.label),
    );
    const bareRows = stepSegments([bare]);
    assert.deepEqual(
      bareRows.map((r) => r.medianMs),
      [undefined, undefined, 3, 1, 0.5, undefined, 0.5],
    );
    // The first step of a run has no previous step: a run of one gives no gap.
    assert.equal(stepSegments([[junction[0]!]])[0]!.medianMs, undefined);
    assert.ok(stepSegments([]).every((r) => r.medianMs === undefined));
  });

  void test('no events give rows without figures', () => {
    assert.ok(stageBreakdown([]).every((r) => r.n === 0 && r.atMs === undefined));
  });

  void test('a CPU profile is summed by function and its project caller, idle time apart', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({
      functionName,
      scriptId: '0',
      url,
      lineNumber,
      columnNumber: 0,
    });
    const profile: Profiler.Profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4, 6, 8] },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('spawn', 'node:internal/child_process', 9), children: [5] },
        { id: 4, callFrame: frame('startShell', 'file:///x/src/shell.ts', 184), children: [7] },
        { id: 5, callFrame: frame('spawn') },
        { id: 6, callFrame: frame('(garbage collector)') },
        { id: 7, callFrame: frame('stampedSpawn', 'file:///x/bench/runner.ts', 9), children: [3] },
        { id: 8, callFrame: frame('post', 'file:///x/bench/runner.ts', 99), children: [9] },
        { id: 9, callFrame: frame('writeChannelMessage') },
      ],
      startTime: 0,
      endTime: 1000,
      samples: [2, 5, 4, 5, 6, 9, 2],
      timeDeltas: [0, 100, 300, 50, 250, 20, 10],
    };
    const summary = summarizeProfile(profile, 10);
    assert.equal(summary.idleMs, 0.1);
    assert.equal(summary.busyMs, 0.63);
    assert.deepEqual(
      summary.top.map((e) => [e.functionName, e.location, e.calledFrom, e.selfMs]),
      [
        ['spawn', '', 'startShell shell.ts:185', 0.55],
        ['startShell', 'shell.ts:185', '', 0.05],
        ['(garbage collector)', '', '', 0.02],
        ['writeChannelMessage', '', 'post runner.ts:100', 0.01],
      ],
    );
    assert.ok(Math.abs(summary.top[0]!.share - 0.55 / 0.63) < 1e-9);
    assert.deepEqual(summarizeProfile({ ...profile, samples: [], timeDeltas: [] }).top, []);
  });

  void test('a profile whose parent links loop does not hang the summary', () => {
    const frame = (functionName: string) => ({
      functionName,
      scriptId: '0',
      url: '',
      lineNumber: 0,
      columnNumber: 0,
    });
    const summary = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame('a'), children: [2] },
        { id: 2, callFrame: frame('b'), children: [1] },
      ],
      startTime: 0,
      endTime: 1,
      samples: [1, 2],
      timeDeltas: [0, 10, 10],
    });
    assert.deepEqual(
      summary.top.map((e) => e.calledFrom),
      ['', ''],
    );
  });
});

function fakeReport(
  start: Partial<StartResult>,
  steps: Partial<StepsResult>,
  matching: MatchingResult,
): RunnerReport {
  const s: StartResult = { events: 500, warmupEvents: 10, stages: stageBreakdown([]), ...start };
  const st: StepsResult = { steps: 100, repeat: 3, junctionMs: [], bareMs: [], ...steps };
  return {
    benchmark: 'runner',
    date: '2026-01-01T00:00:00.000Z',
    machine: { cpus: 2, cpuModel: 'test', memoryBytes: 2 ** 30, node: 'v24', kernel: '6', loadBefore: 0 },
    settings: runnerSettings({}),
    start: s,
    steps: st,
    matching,
    checks: evaluateTargets(s, st, matching),
    failed: false,
  };
}

const set = (pipelines: number, eventsPerSec: number) => ({
  label: String(pipelines),
  pipelines,
  style: 'exact' as const,
  parseMs: 1,
  compileMs: 1,
  rounds: [eventsPerSec],
  eventsPerSec,
});

void describe('runner benchmark: report', () => {
  void test('targets pass at their bounds and miss past them', () => {
    const at = fakeReport(
      { junction: summarize([5, 5, 25])!, baseline: summarize([1])! },
      { ratio: 1.5, junctionMedianMs: 150, bareMedianMs: 100 },
      { small: set(10, 100), large: set(10_000, 80), ratio: 0.8 },
    );
    assert.deepEqual(
      at.checks.map((c) => c.pass),
      [true, true, true, true],
    );
    const past = fakeReport(
      { junction: summarize([5.01, 5.01, 25.01])! },
      { ratio: 1.51 },
      { small: set(10, 100), large: set(10_000, 79), ratio: 0.79 },
    );
    assert.deepEqual(
      past.checks.map((c) => c.pass),
      [false, false, false, false],
    );
    assert.deepEqual(
      fakeReport({}, {}, {}).checks.map((c) => c.actual),
      ['no result', 'no result', 'no result', 'no result'],
    );
  });

  void test('the text has the three parts, the stage table and a PASS/MISS line per target', () => {
    const text = formatRunnerReport(
      fakeReport(
        {
          junction: summarize([8, 9, 30])!,
          baseline: summarize([6, 7, 9])!,
          ratioP50: 9 / 7,
          stages: stageBreakdown([{ commitEnd: 0, accepted: 1, mark: 9 }]),
        },
        { junctionMs: [140], bareMs: [100], junctionMedianMs: 140, bareMedianMs: 100, ratio: 1.4 },
        { small: set(10, 5e6), large: set(10_000, 4.9e6), ratio: 0.98, wildcard: set(10_000, 900) },
      ),
    );
    assert.match(text, /^1\. event accepted → first step process started/m);
    assert.match(text, /^2\. 100 sequential `run: "true"` steps/m);
    assert.match(text, /^3\. matching: decideEvent/m);
    assert.match(text, /^ {3}junction\s+9\.00/m);
    assert.match(text, /^ {3}step ran its first command\s+9\.00\s+\+8\.00/m);
    assert.match(text, /MISS {2}start latency p50 ≤ 5 ms: 9\.00 ms \(bare spawn 7\.00 ms\)/);
    assert.match(text, /MISS {2}start latency p99 ≤ 25 ms: 30\.0 ms/);
    assert.match(text, /PASS {2}100 steps ≤ 1\.5× bare spawns: 1\.40×/);
    assert.match(text, /PASS {2}matching with 10,000 pipelines ≥ 0\.8× with 10: 0\.98×/);
  });

  void test('a part that failed prints its error instead of figures', () => {
    const text = formatRunnerReport(
      fakeReport({ error: 'the probe process exited' }, { error: 'not run' }, { error: 'bad spec' }),
    );
    assert.match(text, /error: the probe process exited/);
    assert.match(text, /error: not run/);
    assert.match(text, /error: bad spec/);
  });
});

void describe('runner benchmark: smoke run', { timeout: 90_000 }, () => {
  void test('`bench runner --quick` completes and prints the three parts and the targets', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [join(repoRoot, 'bench', 'main.ts'), 'runner', '--quick', '--events', '5', '--repeat', '1'],
          { cwd: repoRoot, timeout: 80_000, maxBuffer: 4 * 1024 * 1024 },
          (error, out, err) =>
            resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout: out, stderr: err }),
        );
      },
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^1\. event accepted → first step process started \(5 sequential events/m);
    assert.match(stdout, /^2\. 10 sequential `run: "true"` steps/m);
    assert.match(stdout, /^3\. matching/m);
    assert.match(stdout, /^targets:/m);
    assert.doesNotMatch(stdout, /error:/);
    assert.equal(stdout.match(/^ {2}(PASS|MISS) {2}/gm)?.length, 4);
  });
});
