/**
 * Concurrency groups through the running engine: `queue` runs one at a time in event order,
 * `cancel-previous` cancels the running run, `skip-if-running` skips the newcomer, `latest` keeps
 * only the newest waiting run, and `max-wait` fails a run that waited too long. An operator can
 * release a stuck group.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

function pipeline(name: string, mode: string, seconds: number, extra = ''): string {
  return `
name: ${name}
on:
  - event: test.${name}
concurrency:
  group: '${name}-\${{ event.data.key }}'
  mode: ${mode}
${extra}
jobs:
  work:
    steps:
      - run: |
          echo "start \${{ event.data.n }}"
          sleep ${seconds}
`;
}

describe('concurrency groups in the engine', { timeout: 90_000 }, () => {
  let app: TestApp;
  const dir = tempDir();

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    const files: Record<string, string> = {
      'queue.yaml': pipeline('queue', 'queue', 0.3),
      'cancel.yaml': pipeline('cancel', 'cancel-previous', 20),
      'skip.yaml': pipeline('skip', 'skip-if-running', 1),
      'latest.yaml': pipeline('latest', 'latest', 1),
      'waits.yaml': pipeline('waits', 'queue', 2, '  max-wait: 200ms'),
      'stuck.yaml': pipeline('stuck', 'queue', 30),
    };
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir.path, 'pipelines', file), text);
    app = await startTestApp({}, dir.path);
  });

  after(async () => {
    await app.close();
    dir.remove();
  });

  async function post(type: string, data: Record<string, unknown>): Promise<string> {
    const response = await app.post('/events', JSON.stringify(cloudEvent({ type, data })));
    assert.equal(response.status, 202);
    return response.body.id as string;
  }

  async function runOf(eventId: string): Promise<RunDetail | undefined> {
    const [run] = (await app.app.store.listRuns({ eventId }, { limit: 1 })).items;
    return run === undefined ? undefined : app.app.store.getRunDetail(run.id);
  }

  async function ended(eventId: string, timeoutMs = 20_000): Promise<RunDetail> {
    return eventually(
      async () => {
        const run = await runOf(eventId);
        return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
      },
      timeoutMs,
      'run to end',
    );
  }

  async function running(eventId: string): Promise<RunDetail> {
    return eventually(async () => {
      const run = await runOf(eventId);
      if (run?.status !== 'running') return undefined;
      const lines = await app.app.store.readLogs({ runId: run.id }, 100);
      return lines.some((l) => l.text.startsWith('start')) ? run : undefined;
    }, 10_000);
  }

  test('queue: one run at a time, in event order', async () => {
    const ids = [];
    for (let n = 1; n <= 3; n += 1) ids.push(await post('test.queue', { key: 'a', n }));
    const runs = [];
    for (const id of ids) runs.push(await ended(id));
    assert.deepEqual(
      runs.map((r) => r.status),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    for (let i = 1; i < runs.length; i += 1) {
      assert.ok(runs[i - 1]!.finishedAt! <= runs[i]!.startedAt!, `run ${i} started after run ${i - 1} ended`);
    }
    assert.deepEqual(await app.app.store.listConcurrencyGroups(), []);
  });

  test('cancel-previous: a newer event cancels the running run', async () => {
    const first = await post('test.cancel', { key: 'a', n: 1 });
    await running(first);
    const second = await post('test.cancel', { key: 'a', n: 2 });
    const old = await ended(first);
    assert.equal(old.status, 'cancelled');
    assert.match(old.reason ?? '', /newer run in concurrency group 'cancel-a'/);
    await running(second);
    await app.app.scheduler.cancel((await runOf(second))!.id);
    assert.equal((await ended(second)).status, 'cancelled');
  });

  test('skip-if-running: the newcomer is skipped while the group is busy; other keys run', async () => {
    const first = await post('test.skip', { key: 'a', n: 1 });
    await running(first);
    const second = await post('test.skip', { key: 'a', n: 2 });
    const other = await post('test.skip', { key: 'b', n: 3 });
    const skipped = await ended(second);
    assert.equal(skipped.status, 'skipped');
    assert.match(skipped.reason ?? '', /busy/);
    assert.equal((await ended(first)).status, 'succeeded');
    assert.equal((await ended(other)).status, 'succeeded');
  });

  test('latest: the running run finishes, only the newest waiting run is kept', async () => {
    const first = await post('test.latest', { key: 'a', n: 1 });
    await running(first);
    const second = await post('test.latest', { key: 'a', n: 2 });
    await eventually(async () => ((await runOf(second))?.status === 'waiting' ? true : undefined));
    const third = await post('test.latest', { key: 'a', n: 3 });
    const dropped = await ended(second);
    assert.equal(dropped.status, 'cancelled');
    assert.match(dropped.reason ?? '', /superseded/);
    assert.equal((await ended(first)).status, 'succeeded');
    assert.equal((await ended(third)).status, 'succeeded');
  });

  test('max-wait: a run that waited longer than max-wait fails with the reason', async () => {
    const first = await post('test.waits', { key: 'a', n: 1 });
    await running(first);
    const second = await post('test.waits', { key: 'a', n: 2 });
    const failed = await ended(second, 10_000);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /waited longer than max-wait/);
    assert.equal((await ended(first)).status, 'succeeded');
  });

  test('an operator sees who holds a group and can release it', async () => {
    const first = await post('test.stuck', { key: 'a', n: 1 });
    const holder = await running(first);
    const second = await post('test.stuck', { key: 'a', n: 2 });
    await eventually(async () => ((await runOf(second))?.status === 'waiting' ? true : undefined));
    const [group] = await app.app.store.listConcurrencyGroups();
    assert.equal(group?.name, 'stuck-a');
    assert.equal(group?.holder?.runId, holder.id);
    assert.deepEqual(
      group?.waiting.map((w) => w.runId),
      [(await runOf(second))!.id],
    );
    assert.equal(await app.app.scheduler.releaseGroup('stuck-a'), holder.id);
    await running(second);
    for (const id of [first, second]) await app.app.scheduler.cancel((await runOf(id))!.id);
    await ended(first);
    await ended(second);
  });
});
