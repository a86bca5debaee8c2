/**
 * Runs end to end through `junction serve`'s engine (SQLite, embedded bus, real shell processes):
 * an event posted to /events starts the pipelines it matches, jobs run in DAG order with outputs
 * passed along, result events chain pipelines, cancellation stops processes, and hostile event
 * data never executes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JobRecord, LogLine, RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

async function post(app: TestApp, fields: Record<string, unknown>): Promise<string> {
  const response = await app.post('/events', JSON.stringify(cloudEvent(fields)));
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body.id as string;
}

async function runsOf(app: TestApp, eventId: string): Promise<RunDetail[]> {
  const page = await app.app.store.listRuns({ eventId }, { limit: 50 });
  const details = await Promise.all(page.items.map((r) => app.app.store.getRunDetail(r.id)));
  return details.filter((d): d is RunDetail => d !== undefined);
}

async function finishedRun(
  app: TestApp,
  eventId: string,
  pipeline: string,
  timeoutMs = 15_000,
): Promise<RunDetail> {
  return eventually(
    async () => {
      const run = (await runsOf(app, eventId)).find((r) => r.pipeline === pipeline);
      return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
    },
    timeoutMs,
    `run of ${pipeline} to end`,
  );
}

async function logs(app: TestApp, runId: string): Promise<LogLine[]> {
  return app.app.store.readLogs({ runId }, 10_000);
}

function byName(jobs: readonly JobRecord[]): Record<string, JobRecord> {
  return Object.fromEntries(jobs.map((j) => [j.name, j]));
}

const PIPELINES: Record<string, string> = {
  'ci.yaml': `
name: ci
on:
  - event: git.push
    branches: [main]
env:
  GREETING: hello
jobs:
  build:
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: |
          echo "building \${{ event.data.after }}"
          echo "version=1.2.3" >> "$JUNCTION_OUTPUT"
  test:
    needs: build
    steps:
      - run: echo "testing $GREETING version \${{ jobs.build.outputs.version }}"
  broken:
    needs: build
    if: has(event.data.breakIt) && event.data.breakIt == true
    steps:
      - run: exit 3
  after-broken:
    needs: broken
    steps:
      - run: echo never
finally:
  report:
    steps:
      - run: echo "report"
outputs:
  version: \${{ jobs.build.outputs.version }}
`,
  'chained.yaml': `
name: chained
on:
  - event: pipeline.succeeded
    if: event.data.pipeline == "ci"
jobs:
  use:
    steps:
      - run: echo "ci gave \${{ event.data.outputs.version }}"
`,
  'hostile.yaml': `
name: hostile
on:
  - event: test.hostile
jobs:
  echo:
    steps:
      - run: |
          echo "title: \${{ event.data.title }}"
          echo '\${{ event.data.title }}'
`,
  'slow.yaml': `
name: slow
on:
  - event: test.slow
jobs:
  wait:
    steps:
      - run: |
          echo started
          sleep 30
      - run: echo cleanup
        if: always()
  later:
    needs: wait
    steps:
      - run: echo never
finally:
  tidy:
    steps:
      - run: echo tidied
`,
  'retry.yaml': `
name: retry
on:
  - event: test.retry
jobs:
  flaky:
    steps:
      - run: |
          n=$(cat "$JUNCTION_WORKSPACE/../count" 2>/dev/null || echo 0)
          n=$((n+1)); echo $n > "$JUNCTION_WORKSPACE/../count"
          echo "try $n"
          [ "$n" -ge 3 ]
        retry: { max: 3, backoff: 10ms, on-exit-codes: [1] }
  timeout:
    timeout: 300ms
    steps:
      - run: sleep 5
`,
  'badexpr.yaml': `
name: badexpr
on:
  - event: test.badexpr
jobs:
  a:
    steps:
      - run: echo "\${{ event.data.missing.deep }}"
      - run: echo "after"
        if: always()
`,
  'matrix.yaml': `
name: matrix
on:
  - event: test.matrix
jobs:
  test:
    strategy:
      matrix:
        os: [linux, mac]
        node: [20, 22]
      max-parallel: 2
    steps:
      - run: echo "\${{ matrix.os }}-\${{ matrix.node }}"
`,
};

describe('the run engine through the app', { timeout: 90_000 }, () => {
  let app: TestApp;
  const dir = tempDir();
  const pwned = join(dir.path, 'pwned');

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    for (const [file, text] of Object.entries(PIPELINES))
      writeFileSync(join(dir.path, 'pipelines', file), text);
    app = await startTestApp({}, dir.path);
  });

  after(async () => {
    await app.close();
    dir.remove();
  });

  test('a push runs jobs in order, passes outputs, skips what depends on a skipped job, and runs finally', async () => {
    const eventId = await post(app, { type: 'git.push', data: { branch: 'main', after: 'abc123' } });
    const run = await finishedRun(app, eventId, 'ci');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.deepEqual(run.outputs, { version: '1.2.3' });
    const jobs = byName(await app.app.store.listJobs(run.id));
    assert.equal(jobs['build']?.status, 'succeeded');
    assert.deepEqual(jobs['build']?.outputs, { version: '1.2.3' });
    assert.equal(jobs['test']?.status, 'succeeded');
    assert.equal(jobs['broken']?.status, 'skipped');
    assert.equal(jobs['after-broken']?.status, 'skipped');
    assert.match(jobs['after-broken']?.reason ?? '', /needs 'broken' which was skipped/);
    assert.equal(jobs['report']?.status, 'succeeded');
    const text = (await logs(app, run.id)).map((l) => l.text);
    assert.ok(text.includes('building abc123'), text.join('\n'));
    assert.ok(text.includes('testing hello version 1.2.3'), text.join('\n'));
    // Jobs ran in DAG order.
    assert.ok(jobs['build'].finishedAt! <= jobs['test'].startedAt!);
  });

  test('a failing job fails the run with the step and exit code, and finally still runs', async () => {
    const eventId = await post(app, {
      type: 'git.push',
      data: { branch: 'main', after: 'def', breakIt: true },
    });
    const run = await finishedRun(app, eventId, 'ci');
    assert.equal(run.status, 'failed');
    assert.match(
      run.reason ?? '',
      /job 'broken' failed: step 'exit 3' failed: the command exited with code 3/,
    );
    const jobs = byName(await app.app.store.listJobs(run.id));
    assert.equal(jobs['broken']?.exitCode, 3);
    assert.equal(jobs['report']?.status, 'succeeded');
  });

  test('pipeline.succeeded chains to the next pipeline, with causation and correlation', async () => {
    const eventId = await post(app, { type: 'git.push', data: { branch: 'main', after: 'chain' } });
    const ci = await finishedRun(app, eventId, 'ci');
    assert.equal(ci.status, 'succeeded');
    const result = await eventually(async () => {
      const page = await app.app.store.listEvents({ type: 'pipeline.succeeded' }, { limit: 100 });
      return page.items.find((e) => e.event.subject === ci.id);
    });
    assert.equal(result.event['causationid'], eventId);
    assert.equal(result.event['correlationid'], eventId);
    const chained = await finishedRun(app, result.id, 'chained');
    assert.equal(chained.status, 'succeeded');
    assert.ok((await logs(app, chained.id)).some((l) => l.text === 'ci gave 1.2.3'));
  });

  test('event data with $(…), backticks, quotes, ; and newlines is printed, never executed', async () => {
    const title = `$(touch ${pwned}) \`touch ${pwned}\` '; touch ${pwned}; echo "x" \n touch ${pwned}`;
    const eventId = await post(app, { type: 'test.hostile', data: { title } });
    const run = await finishedRun(app, eventId, 'hostile');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.equal(existsSync(pwned), false, 'nothing from the event ran');
    const text = (await logs(app, run.id)).map((l) => l.text).join('\n');
    assert.ok(text.includes(`title: $(touch ${pwned})`), text);
  });

  test('cancelling a run stops its process group and still runs always() steps', async () => {
    const eventId = await post(app, { type: 'test.slow' });
    const run = await eventually(async () => {
      const found = (await runsOf(app, eventId))[0];
      if (found === undefined) return undefined;
      const lines = await logs(app, found.id);
      return lines.some((l) => l.text === 'started') ? found : undefined;
    }, 10_000);
    const started = Date.now();
    assert.equal(await app.app.scheduler.cancel(run.id), true);
    const ended = await finishedRun(app, eventId, 'slow');
    assert.equal(ended.status, 'cancelled');
    assert.ok(Date.now() - started < 10_000, 'the sleep was killed, not waited for');
    const steps = (await app.app.store.listSteps(run.id)).filter((s) => s.jobId.endsWith('.wait'));
    assert.deepEqual(
      steps.map((s) => [s.index, s.status]),
      [
        [0, 'cancelled'],
        [1, 'succeeded'],
      ],
    );
    const jobs = byName(await app.app.store.listJobs(run.id));
    assert.equal(jobs['later']?.status, 'cancelled');
    assert.equal(jobs['tidy']?.status, 'succeeded', 'finally jobs run after a cancel');
    assert.ok((await logs(app, run.id)).some((l) => l.text === 'tidied'));
    assert.equal(await app.app.scheduler.cancel(run.id), false, 'an ended run cannot be cancelled');
  });

  test('a step retries on the listed exit code until it passes; a job timeout ends it timed-out', async () => {
    const eventId = await post(app, { type: 'test.retry' });
    const run = await finishedRun(app, eventId, 'retry');
    assert.equal(run.status, 'failed');
    const jobs = byName(await app.app.store.listJobs(run.id));
    assert.equal(jobs['flaky']?.status, 'succeeded');
    assert.equal(jobs['timeout']?.status, 'timed-out');
    const steps = (await app.app.store.listSteps(run.id)).filter((s) => s.jobId === jobs['flaky']!.id);
    assert.deepEqual(
      steps.map((s) => [s.try, s.status]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'succeeded'],
      ],
    );
    const text = (await logs(app, run.id)).map((l) => l.text).join('\n');
    assert.match(text, /retrying in \d+ms \(try 2 of 4\)/);
  });

  test('an expression that fails at run time fails its step with the message; the engine carries on', async () => {
    const eventId = await post(app, { type: 'test.badexpr', data: { present: 1 } });
    const run = await finishedRun(app, eventId, 'badexpr');
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /event\.data\.missing\.deep.*no such key/);
    const steps = await app.app.store.listSteps(run.id);
    assert.deepEqual(
      steps.map((s) => s.status),
      ['failed', 'succeeded'],
    );
    const again = await post(app, { type: 'test.badexpr', data: { missing: { deep: 'here' } } });
    assert.equal((await finishedRun(app, again, 'badexpr')).status, 'succeeded');
  });

  test('a matrix runs every combination, at most max-parallel at once', async () => {
    const eventId = await post(app, { type: 'test.matrix' });
    const run = await finishedRun(app, eventId, 'matrix');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const jobs = await app.app.store.listJobs(run.id);
    assert.equal(jobs.length, 4);
    const text = (await logs(app, run.id)).map((l) => l.text);
    for (const combo of ['linux-20', 'linux-22', 'mac-20', 'mac-22']) assert.ok(text.includes(combo), combo);
    const spans = jobs.map((j) => [Date.parse(j.startedAt!), Date.parse(j.finishedAt!)] as const);
    for (const [start] of spans) {
      const overlapping = spans.filter(([s, e]) => s <= start && start < e).length;
      assert.ok(overlapping <= 2, 'never more than two combinations at once');
    }
  });
});
