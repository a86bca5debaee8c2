import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { createLogger } from '../observability/index.ts';
import { parsePipeline } from '../pipelines/index.ts';
import { createSqliteStore, type JobRecord, type Store } from '../store/index.ts';
import { combinationKey } from './matrix.ts';
import { newRunId, rerunRun } from './rerun.ts';
import { createScheduler, jobRowId } from './scheduler.ts';

const PIPELINE = `
name: ci
on:
  - event: git.push
jobs:
  build:
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2.3" >> "$JUNCTION_OUTPUT"
  lint:
    needs: build
    steps:
      - run: echo lint
  test:
    needs: build
    strategy:
      matrix:
        os: [linux, mac]
    steps:
      - run: echo test
  notify:
    needs: test
    if: always()
    steps:
      - run: echo notify
  package:
    needs: [lint, test]
    steps:
      - run: echo package
finally:
  report:
    steps:
      - run: echo report
`;

function specJson(): string {
  const result = parsePipeline(PIPELINE, 'ci.yaml');
  assert.ok(result.pipeline, JSON.stringify(result.problems));
  return JSON.stringify(result.pipeline);
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) => isJunctionError(error) && error.code === code;
}

let counter = 0;

describe('rerunRun against SQLite', { timeout: 30_000 }, () => {
  let store: Store;
  let eventId: string;
  const spec = specJson();

  before(async () => {
    store = createSqliteStore({ path: ':memory:' });
    await store.migrate();
    const [stored] = await store.appendEvents(
      [
        {
          event: {
            specversion: '1.0',
            id: 'e-1',
            source: 'test/rerun',
            type: 'git.push',
            data: { branch: 'main' },
          },
          receiver: 'events',
        },
      ],
      'events',
    );
    eventId = stored!.id;
  });

  after(async () => store.close());

  /** An ended run with rows: job name → statuses of its rows (several for the matrix job). */
  async function endedRun(
    status: string,
    jobs: Record<string, string | [string, string]>,
    runSpec: string | null = spec,
  ): Promise<string> {
    counter += 1;
    const id = `run_original${counter}`;
    assert.ok(
      await store.createRun(eventId, {
        id,
        pipeline: 'ci',
        // Original runs of one (event, pipeline, trigger) are unique: each test run gets its own.
        triggerIndex: counter,
        status,
        pipelineDigest: `digest-${counter}`,
        spec: runSpec,
      }),
    );
    for (const [name, statuses] of Object.entries(jobs)) {
      const rows =
        typeof statuses === 'string'
          ? [{ key: '', matrix: null, status: statuses }]
          : statuses.map((s, i) => {
              const matrix = { os: i === 0 ? 'linux' : 'mac' };
              return { key: combinationKey(matrix), matrix, status: s };
            });
      for (const row of rows) {
        const rowId = jobRowId(id, name, row.key);
        await store.createJobs([
          {
            id: rowId,
            runId: id,
            name,
            matrixKey: row.key,
            matrix: row.matrix,
            status: row.status,
            needs: [],
            finishedAt: '2026-01-01T00:00:02.000Z',
          },
        ]);
        await store.updateJob(rowId, {
          startedAt: '2026-01-01T00:00:01.000Z',
          exitCode: row.status === 'succeeded' ? 0 : 1,
          outputs: name === 'build' ? { version: '1.2.3' } : null,
        });
      }
    }
    return id;
  }

  test('new ids are run_ and 26 base32hex characters, later ones sorting after earlier ones', () => {
    const ids = Array.from({ length: 5000 }, () => newRunId());
    for (const id of ids) assert.match(id, /^run_[0-9a-v]{26}$/);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('a full re-run is a queued run of the same event, pipeline, trigger and spec, with no jobs', async () => {
    const original = await endedRun('failed', { build: 'succeeded', lint: 'failed' });
    const result = await rerunRun(store, original, { failedOnly: false });
    assert.deepEqual(result.reused, []);
    const run = await store.getRunDetail(result.runId);
    const before = await store.getRunDetail(original);
    assert.ok(run && before);
    assert.equal(run.status, 'queued');
    assert.equal(run.rerunOf, original);
    assert.equal(run.eventId, eventId);
    assert.equal(run.pipeline, 'ci');
    assert.equal(run.triggerIndex, before.triggerIndex);
    assert.equal(run.spec, before.spec);
    assert.equal(run.pipelineDigest, before.pipelineDigest);
    assert.deepEqual(await store.listJobs(result.runId), []);
  });

  test('failed only: copies what succeeded, re-runs a partly failed matrix whole and what follows it', async () => {
    const original = await endedRun('failed', {
      build: 'succeeded',
      lint: 'succeeded',
      test: ['succeeded', 'failed'],
      notify: 'succeeded',
      package: 'skipped',
      report: 'succeeded',
    });
    const result = await rerunRun(store, original, { failedOnly: true });
    assert.deepEqual(result.reused, ['build', 'lint']);
    const run = await store.getRunDetail(result.runId);
    assert.equal(run?.status, 'queued');
    const rows = await store.listJobs(result.runId);
    assert.deepEqual(
      rows.map((r) => [r.id, r.name, r.status, r.reason]),
      [
        [jobRowId(result.runId, 'build', ''), 'build', 'succeeded', `reused from run ${original}`],
        [jobRowId(result.runId, 'lint', ''), 'lint', 'succeeded', `reused from run ${original}`],
      ],
    );
    const build = rows[0]!;
    assert.deepEqual(build.outputs, { version: '1.2.3' });
    assert.equal(build.exitCode, 0);
    assert.equal(build.startedAt, '2026-01-01T00:00:01.000Z');
    assert.equal(build.finishedAt, '2026-01-01T00:00:02.000Z');
    // The original is untouched.
    assert.equal((await store.listJobs(original)).length, 7);
  });

  test('failed only of a run where everything succeeded copies every row, matrix and finally included', async () => {
    const original = await endedRun('succeeded', {
      build: 'succeeded',
      lint: 'succeeded',
      test: ['succeeded', 'succeeded'],
      notify: 'succeeded',
      package: 'succeeded',
      report: 'succeeded',
    });
    const result = await rerunRun(store, original, { failedOnly: true });
    assert.deepEqual(result.reused, ['build', 'lint', 'test', 'notify', 'package', 'report']);
    const rows = await store.listJobs(result.runId);
    assert.equal(rows.length, 7);
    assert.ok(rows.every((r: JobRecord) => r.status === 'succeeded' && r.runId === result.runId));
    assert.deepEqual(
      rows.filter((r) => r.name === 'test').map((r) => r.matrix),
      [{ os: 'linux' }, { os: 'mac' }],
    );
  });

  test('the scheduler starts only what was not reused, and a job needing a reused one can start', async () => {
    const original = await endedRun('failed', {
      build: 'succeeded',
      lint: 'failed',
      test: ['succeeded', 'succeeded'],
      notify: 'failed',
      package: 'skipped',
      report: 'succeeded',
    });
    const { runId, reused } = await rerunRun(store, original, { failedOnly: true });
    assert.deepEqual(reused, ['build', 'test']);
    const scheduler = createScheduler({
      store,
      logger: createLogger({ level: 'silent', format: 'json' }),
      publish: async () => {},
    });
    scheduler.kick(runId);
    await scheduler.idle();
    await scheduler.stop();
    const rows = await store.listJobs(runId);
    const byName = (name: string) => rows.filter((r) => r.name === name).map((r) => r.status);
    assert.equal((await store.getRunDetail(runId))?.status, 'running');
    assert.deepEqual(byName('build'), ['succeeded']);
    assert.deepEqual(byName('test'), ['succeeded', 'succeeded']);
    assert.deepEqual(byName('lint'), ['queued']);
    assert.deepEqual(byName('notify'), ['queued'], 'it needs only reused jobs, so it starts at once');
    assert.deepEqual(byName('package'), [], 'it waits for lint');
    assert.deepEqual(byName('report'), [], 'finally waits for the rest');
  });

  test('a run whose spec cannot be compiled reuses nothing', async () => {
    const original = await endedRun('failed', { build: 'succeeded', lint: 'failed' }, null);
    const result = await rerunRun(store, original, { failedOnly: true });
    assert.deepEqual(result.reused, []);
    assert.deepEqual(await store.listJobs(result.runId), []);
    assert.equal((await store.getRunDetail(result.runId))?.status, 'queued');
  });

  test('a re-run of a re-run names the run it repeats', async () => {
    const original = await endedRun('failed', { build: 'failed' });
    const first = await rerunRun(store, original, { failedOnly: false });
    await store.updateRun(first.runId, { status: 'failed', finishedAt: new Date().toISOString() });
    const second = await rerunRun(store, first.runId, { failedOnly: false });
    assert.equal((await store.getRunDetail(second.runId))?.rerunOf, first.runId);
  });

  test('refuses a run that has not ended, and creates nothing', async () => {
    for (const status of ['queued', 'waiting', 'running']) {
      const original = await endedRun(status, {});
      const before = (await store.listRuns({}, { limit: 1000 })).items.length;
      await assert.rejects(rerunRun(store, original, { failedOnly: true }), (error: unknown) => {
        assert.ok(isJunctionError(error));
        assert.equal(error.code, 'RUN_NOT_FINISHED');
        assert.equal(error.httpStatus, 409);
        assert.equal(error.retryable, false);
        assert.equal(
          error.message,
          `run '${original}' is still ${status}; cancel it first or wait for it to end`,
        );
        return true;
      });
      assert.equal((await store.listRuns({}, { limit: 1000 })).items.length, before);
    }
  });

  test('an unknown or hostile id is RUN_NOT_FOUND, quoted and cut short', async () => {
    await assert.rejects(rerunRun(store, 'run_nope', { failedOnly: false }), isCode('RUN_NOT_FOUND'));
    const hostile = `x' OR 1=1; --${'a'.repeat(5000)}`;
    await assert.rejects(rerunRun(store, hostile, { failedOnly: false }), (error: unknown) => {
      assert.ok(isJunctionError(error) && error.code === 'RUN_NOT_FOUND');
      assert.ok(error.message.length < 200);
      return true;
    });
  });

  test('a given new id that is taken is refused without touching that run', async () => {
    const original = await endedRun('failed', { build: 'failed' });
    const other = await endedRun('succeeded', { build: 'succeeded' });
    await assert.rejects(
      rerunRun(store, original, { failedOnly: false, newRunId: other }),
      isCode('INTERNAL'),
    );
    assert.equal((await store.getRunDetail(other))?.rerunOf, null);
    const chosen = await rerunRun(store, original, { failedOnly: false, newRunId: 'run_chosen' });
    assert.equal(chosen.runId, 'run_chosen');
  });
});
