/**
 * `junction runs`, `logs`, `cancel`, `rerun` and `concurrency` as child processes against a running
 * app with real pipelines: logs printed and followed to the run's end with its exit code, a
 * cancelled sleep, a re-run of only the failed jobs that reuses the first job without running it
 * again, and the exit codes of missing runs and refused actions.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import {
  formatDuration,
  formatLogLine,
  formatRunDetail,
  formatRunTable,
  logLabels,
} from '../src/cli/commands/runs.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

function pipelines(marker: string): Record<string, string> {
  return {
    'hello.yaml': `
name: hello
on:
  - event: test.hello
jobs:
  say:
    steps:
      - name: greet
        run: |
          echo one
          echo two >&2
`,
    'drip.yaml': `
name: drip
on:
  - event: test.drip
jobs:
  drip:
    steps:
      - name: drip
        run: |
          echo a
          sleep 1
          echo b
          sleep 1
          echo c
  other:
    steps:
      - name: other
        run: echo other
`,
    'sleepy.yaml': `
name: sleepy
on:
  - event: test.sleepy
jobs:
  wait:
    steps:
      - run: |
          echo started
          sleep 30
`,
    'flaky.yaml': `
name: flaky
on:
  - event: test.flaky
jobs:
  first:
    outputs:
      token: \${{ steps.mark.outputs.token }}
    steps:
      - id: mark
        name: first step
        run: |
          echo "first ran"
          echo "token=t-\${{ run.id }}" >> "$JUNCTION_OUTPUT"
  second:
    needs: first
    steps:
      - name: check
        run: |
          echo "second got \${{ jobs.first.outputs.token }}"
          test -f '${marker}'
`,
  };
}

describe('junction runs, logs, cancel, rerun, concurrency', { timeout: 60_000 }, () => {
  const dir = tempDir('junction-cli-runs-');
  const marker = join(dir.path, 'marker');
  let app: TestApp;
  let env: Record<string, string>;

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    for (const [file, text] of Object.entries(pipelines(marker)))
      writeFileSync(join(dir.path, 'pipelines', file), text);
    app = await startTestApp({}, dir.path);
    env = { JUNCTION_URL: app.url };
  });

  after(async () => {
    await app?.close();
    dir.remove();
  });

  async function start(type: string): Promise<string> {
    const posted = await app.post('/events', JSON.stringify(cloudEvent({ type })));
    assert.equal(posted.status, 202);
    return eventually(
      async () =>
        (await app.app.store.listRuns({ eventId: posted.body.id as string }, { limit: 5 })).items[0]?.id,
      10_000,
      `a run for ${type}`,
    );
  }

  async function ended(runId: string): Promise<string> {
    return eventually(
      async () => {
        const run = await app.app.store.getRun(runId);
        return run !== undefined && TERMINAL.has(run.status) ? run.status : undefined;
      },
      15_000,
      `run ${runId} to end`,
    );
  }

  async function logged(runId: string, text: string): Promise<void> {
    await eventually(
      async () =>
        (await app.app.store.readLogs({ runId }, 1000)).some((l) => l.text === text) ? true : undefined,
      10_000,
      `'${text}' in the log`,
    );
  }

  test('logs prints [job/step] lines with stderr marked; runs lists and shows the run', async () => {
    const runId = await start('test.hello');
    assert.equal(await ended(runId), 'succeeded');
    const [logs, json, list, show, unknownJob] = await Promise.all([
      runCli(['logs', runId], { env }),
      runCli(['logs', runId, '--json'], { env }),
      runCli(['runs', '--pipeline', 'hello', '--limit', '5'], { env }),
      runCli(['runs', runId], { env }),
      runCli(['logs', runId, '--job', 'nope'], { env }),
    ]);
    assert.equal(logs.code, 0, logs.stderr);
    const printed = logs.stdout.trimEnd().split('\n');
    assert.ok(printed.includes('[say/greet] one'), logs.stdout);
    assert.ok(printed.includes('[say/greet] ! two'), logs.stdout);
    assert.ok(printed.indexOf('[say/greet] one') < printed.indexOf('[say/greet] ! two'));

    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { text: string; stream: string; runId: string });
    assert.ok(lines.some((l) => l.text === 'two' && l.stream === 'stderr'));
    assert.ok(lines.every((l) => l.runId === runId));

    assert.equal(list.code, 0, list.stderr);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    assert.match(header!, /^ID\s+PIPELINE\s+STATUS\s+STARTED\s+DURATION\s+REASON$/);
    const row = rows.find((r) => r.startsWith(runId));
    assert.ok(row, list.stdout);
    assert.match(row, new RegExp(`^${runId}\\s+hello\\s+succeeded\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\s+\\d`));

    assert.ok(
      rows.every((r) => / hello /.test(r)),
      'only runs of hello',
    );

    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^run ${runId}  hello  succeeded\\n`));
    assert.match(
      show.stdout,
      /\n {2}✓ say\s+succeeded\s+\S+\s+exit 0\n {6}✓ greet\s+succeeded\s+\S+\s+exit 0\n/,
    );

    // Once the run has ended, an unknown job is a usage error.
    assert.equal(unknownJob.code, 2);
    assert.match(unknownJob.stderr, /run \S+ has no job 'nope' \(its jobs: say\)/);
  });

  test('logs -f streams a running run and exits 0 when it succeeds; --job filters', async () => {
    const runId = await start('test.drip');
    const started = Date.now();
    const [follow, filtered] = await Promise.all([
      runCli(['logs', runId, '-f'], { env }),
      runCli(['logs', runId, '--follow', '--job', 'drip'], { env }),
    ]);
    assert.equal(follow.code, 0, follow.stderr);
    assert.ok(Date.now() - started >= 1500, 'it waited for the run');
    const output = (text: string): string[] =>
      text
        .trimEnd()
        .split('\n')
        .filter((l) => !l.includes('[junction]'));
    assert.deepEqual(
      output(follow.stdout).filter((l) => l.startsWith('[drip/')),
      ['[drip/drip] a', '[drip/drip] b', '[drip/drip] c'],
    );
    assert.ok(output(follow.stdout).includes('[other/other] other'), follow.stdout);
    assert.match(follow.stderr, new RegExp(`run ${runId} succeeded`));
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.deepEqual(output(filtered.stdout), ['[drip/drip] a', '[drip/drip] b', '[drip/drip] c']);
  });

  test('cancel stops a sleeping run at once; logs -f then exits 1', async () => {
    const runId = await start('test.sleepy');
    await logged(runId, 'started');
    const following = runCli(['logs', runId, '-f'], { env });
    const startedAt = Date.now();
    const cancel = await runCli(['cancel', runId], { env });
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `cancel requested for run ${runId}\n`);
    assert.equal(await ended(runId), 'cancelled');
    assert.ok(Date.now() - startedAt < 10_000, 'the sleep was stopped, not waited for');
    const follow = await following;
    assert.equal(follow.code, 1, follow.stderr);
    assert.ok(follow.stdout.includes('started'));
    assert.match(follow.stderr, new RegExp(`run ${runId} cancelled: cancelled by request`));
  });

  test('rerun --failed reuses the job that succeeded, runs only the failed one, and succeeds', async () => {
    const runId = await start('test.flaky');
    assert.equal(await ended(runId), 'failed');
    writeFileSync(marker, '');
    const [failedLogs, rerun] = await Promise.all([
      runCli(['logs', runId], { env }),
      runCli(['rerun', runId, '--failed'], { env }),
    ]);
    assert.equal(failedLogs.code, 1, 'logs of a failed run exit 1');
    assert.ok(failedLogs.stdout.includes('[first/first step] first ran'));

    assert.equal(rerun.code, 0, rerun.stderr);
    const newId = rerun.stdout.trim();
    assert.match(newId, /^run_[0-9a-v]{26}$/);
    assert.match(rerun.stderr, new RegExp(`re-run of ${runId}; reused: first`));

    const follow = await runCli(['logs', newId, '-f'], { env });
    assert.equal(follow.code, 0, follow.stderr + follow.stdout);
    assert.ok(!follow.stdout.includes('first ran'), 'the first job did not run again');
    assert.ok(follow.stdout.includes(`[second/check] second got t-${runId}`), follow.stdout);

    const detail = await app.app.store.getRunDetail(newId);
    assert.equal(detail?.status, 'succeeded');
    assert.equal(detail?.rerunOf, runId);
    const jobs = await app.app.store.listJobs(newId);
    const first = jobs.find((j) => j.name === 'first')!;
    assert.equal(first.reason, `reused from run ${runId}`);
    const steps = await app.app.store.listSteps(newId);
    assert.ok(steps.length > 0);
    assert.ok(
      steps.every((s) => s.jobId !== first.id),
      'no step of the reused job ran',
    );
  });

  test('exit codes: 6 for a refused action, 5 for a missing run; concurrency list and release', async () => {
    const running = await start('test.sleepy');
    const [rerun, missingFollow, missingCancel, list, release] = await Promise.all([
      runCli(['rerun', running], { env }),
      runCli(['logs', 'run_nope', '-f'], { env }),
      runCli(['cancel', 'run_nope'], { env }),
      runCli(['concurrency', '--json'], { env }),
      runCli(['concurrency', 'release', 'deploy/prod eu'], { env }),
    ]);
    assert.equal(rerun.code, 6, rerun.stderr);
    assert.match(
      rerun.stderr,
      /is still (queued|running); cancel it first or wait for it to end \[RUN_NOT_FINISHED\]/,
    );
    for (const result of [missingFollow, missingCancel]) {
      assert.equal(result.code, 5, result.stderr);
      assert.match(result.stderr, /no run with id 'run_nope' \[RUN_NOT_FOUND\]/);
    }
    assert.equal(list.code, 0, list.stderr);
    const groups = JSON.parse(list.stdout) as { items: { name: string }[]; next: null };
    assert.deepEqual(groups, { items: [], next: null });
    assert.equal(release.code, 0, release.stderr);
    assert.equal(release.stdout, "group 'deploy/prod eu' had no holder\n");
    await app.app.scheduler.cancel(running);
    await ended(running);
  });
});

describe('run formatting', { timeout: 10_000 }, () => {
  test('durations', () => {
    const cases: [number, string][] = [
      [0, '0ms'],
      [999, '999ms'],
      [1500, '1.5s'],
      [65_000, '1m05s'],
      [3_725_000, '1h02m'],
      [-5, '-'],
      [Number.NaN, '-'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  });

  test('the runs table stays aligned when statuses are coloured, and control characters are blanked', () => {
    const saved = { FORCE_COLOR: process.env['FORCE_COLOR'], NO_COLOR: process.env['NO_COLOR'] };
    process.env['FORCE_COLOR'] = '1';
    delete process.env['NO_COLOR'];
    try {
      const run = (id: string, status: string, reason: string | null) => ({
        id,
        eventId: 'e',
        pipeline: 'p',
        triggerIndex: 0,
        status,
        createdAt: '2026-01-01T00:00:00.000Z',
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:00:01.000Z',
        reason,
      });
      const table = formatRunTable([
        run('run_a', 'succeeded', null),
        run('run_b', 'failed', 'boom\u001b[2J\nnext'),
        run('run_c', 'queued', null),
      ]);
      assert.ok(table.includes('\u001b[32m'), 'coloured');
      const plain = stripVTControlCharacters(table).trimEnd().split('\n');
      const column = (line: string) => line.indexOf('2026-01-01T00');
      assert.equal(plain[0]!.indexOf('STARTED'), column(plain[1]!));
      assert.equal(column(plain[1]!), column(plain[2]!));
      assert.equal(column(plain[2]!), column(plain[3]!));
      assert.match(plain[2]!, /boom \[2J next$/);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test('log lines: matrix jobs, unknown steps, stderr and hostile text', () => {
    const labels = logLabels({
      jobs: [
        {
          id: 'r.test.abc',
          name: 'test',
          matrix: { os: 'linux' },
          status: 'running',
          attempt: 1,
          startedAt: null,
          finishedAt: null,
          exitCode: null,
          reason: null,
        },
      ],
      steps: [],
    });
    assert.equal(
      formatLogLine(
        { id: 1, jobId: 'r.test.abc', stepId: 'r.test.abc.a1.s2.t1', stream: 'stdout', text: 'x' },
        labels,
      ),
      '[test (os=linux)/step 3] x',
    );
    assert.equal(
      formatLogLine(
        { id: 2, jobId: 'other', stepId: null, stream: 'stderr', text: '\u001b[31m\ta\u009b' },
        labels,
      ),
      '[other] ! \uFFFD[31m\ta\uFFFD',
    );
  });

  test('a run without jobs yet, and a failed step with its reason', () => {
    const base = {
      id: 'run_x',
      eventId: 'e',
      pipeline: 'p',
      triggerIndex: 0,
      status: 'queued',
      createdAt: '2026-01-01T00:00:00.000Z',
      startedAt: null,
      finishedAt: null,
      reason: null,
      outputs: null,
      rerunOf: null,
      concurrencyGroup: 'g',
      cancelRequested: true,
      jobs: [],
      steps: [],
    };
    const reused = formatRunDetail({
      ...base,
      status: 'running',
      rerunOf: 'run_old',
      cancelRequested: false,
      jobs: [
        {
          id: 'j0',
          name: 'build',
          matrix: null,
          status: 'succeeded',
          attempt: 1,
          startedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:00.500Z',
          exitCode: 0,
          reason: 'reused from run run_old',
        },
      ],
    });
    assert.match(reused, /rerun of {2}run_old\n/);
    assert.match(reused, / {2}✓ build\s+succeeded\s+500ms\s+exit 0\n {6}reused from run run_old\n/);
    const empty = formatRunDetail(base);
    assert.match(empty, /group {5}g\n/);
    assert.match(empty, /cancel requested/);
    assert.match(empty, /no jobs yet/);
    const failed = formatRunDetail({
      ...base,
      status: 'failed',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:02.000Z',
      reason: "job 'j' failed",
      jobs: [
        {
          id: 'j1',
          name: 'j',
          matrix: null,
          status: 'failed',
          attempt: 1,
          startedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:02.000Z',
          exitCode: 3,
          reason: "step 'boom' failed",
        },
      ],
      steps: [
        {
          id: 's1',
          jobId: 'j1',
          attempt: 1,
          index: 0,
          try: 2,
          name: 'boom',
          status: 'failed',
          exitCode: 3,
          startedAt: '2026-01-01T00:00:00.000Z',
          finishedAt: '2026-01-01T00:00:01.000Z',
          reason: 'the command exited with code 3',
        },
      ],
    });
    assert.doesNotMatch(failed, /cancel requested/, 'only shown while the run is going');
    assert.match(failed, /started {3}2026-01-01T00:00:00Z \(2\.0s\)/);
    assert.match(failed, / {2}✗ j\s+failed\s+2\.0s\s+exit 3\n/);
    assert.match(
      failed,
      / {6}✗ boom \(try 2\)\s+failed\s+1\.0s\s+exit 3\n {10}the command exited with code 3\n/,
    );
  });
});
