/**
 * Work survives the server: `junction serve` runs as a child process; it is killed (SIGKILL) or
 * stopped (SIGTERM) while jobs run, and started again. A job whose running step may repeat
 * (`on-worker-lost: retry`) runs again as attempt 2 and succeeds; any other job fails with the
 * reason `worker-lost`. Nothing is left running.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore, type RunDetail, type Store } from '../src/store/index.ts';
import { cloudEvent, eventually, tempDir } from './helpers/app.ts';
import { serve, type Served } from './helpers/serve.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

const PIPELINES: Record<string, string> = {
  'fragile.yaml': `
name: fragile
on:
  - event: test.fragile
jobs:
  work:
    steps:
      - run: |
          echo started
          sleep 30
`,
  'repeatable.yaml': `
name: repeatable
on:
  - event: test.repeatable
jobs:
  work:
    steps:
      - run: |
          echo "started attempt $JUNCTION_JOB_ATTEMPT"
          if [ "$JUNCTION_JOB_ATTEMPT" = 1 ]; then sleep 30; fi
        on-worker-lost: retry
`,
};

describe('runs across a killed or stopped server', { timeout: 120_000 }, () => {
  const dir = tempDir();
  let store: Store;
  let served: Served | undefined;
  const env = {
    JUNCTION_WORKERS_SHUTDOWN_GRACE_MS: '200',
    JUNCTION_LOG_LEVEL: 'warn',
    JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT: 'true',
  };

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    for (const [file, text] of Object.entries(PIPELINES))
      writeFileSync(join(dir.path, 'pipelines', file), text);
    served = await serve(dir.path, env);
    store = await openStore(`sqlite:${join(dir.path, '.junction', 'junction.db')}`);
  });

  after(async () => {
    served?.child.kill('SIGKILL');
    await store.close();
    dir.remove();
  });

  async function post(type: string): Promise<string> {
    const response = await fetch(`${served!.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(cloudEvent({ type })),
    });
    assert.equal(response.status, 202);
    return ((await response.json()) as { id: string }).id;
  }

  async function runOf(eventId: string): Promise<RunDetail | undefined> {
    const [run] = (await store.listRuns({ eventId }, { limit: 1 })).items;
    return run === undefined ? undefined : store.getRunDetail(run.id);
  }

  async function started(eventId: string): Promise<RunDetail> {
    return eventually(
      async () => {
        const run = await runOf(eventId);
        if (run === undefined) return undefined;
        const lines = await store.readLogs({ runId: run.id }, 100);
        return lines.some((l) => l.text.startsWith('started')) ? run : undefined;
      },
      15_000,
      'the step to start',
    );
  }

  async function ended(eventId: string): Promise<RunDetail> {
    return eventually(
      async () => {
        const run = await runOf(eventId);
        return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
      },
      20_000,
      'the run to end',
    );
  }

  async function restart(signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null> {
    served!.child.kill(signal);
    const code = await served!.exited;
    served = await serve(dir.path, env);
    return code;
  }

  test('SIGKILL mid-step: a repeatable job runs again as attempt 2, a fragile one fails worker-lost', async () => {
    const fragile = await post('test.fragile');
    const repeatable = await post('test.repeatable');
    await started(fragile);
    await started(repeatable);
    await restart('SIGKILL');

    const lost = await ended(fragile);
    assert.equal(lost.status, 'failed');
    assert.match(lost.reason ?? '', /worker-lost/);
    const again = await ended(repeatable);
    assert.equal(again.status, 'succeeded', again.reason ?? '');
    const [job] = await store.listJobs(again.id);
    assert.equal(job?.attempt, 2);
    const lines = (await store.readLogs({ runId: again.id }, 100)).map((l) => l.text);
    assert.ok(lines.includes('started attempt 1') && lines.includes('started attempt 2'), lines.join('\n'));
  });

  test('SIGTERM mid-step: the server exits 0 promptly and hands the jobs back by their policy', async () => {
    const fragile = await post('test.fragile');
    const repeatable = await post('test.repeatable');
    await started(fragile);
    await started(repeatable);
    const began = Date.now();
    const code = await restart('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - began < 15_000, 'the grace period bounds the shutdown');

    const lost = await ended(fragile);
    assert.equal(lost.status, 'failed');
    assert.match(
      lost.reason ?? '',
      /interrupted by a shutdown while a step ran that is not marked on-worker-lost: retry/,
    );
    const again = await ended(repeatable);
    assert.equal(again.status, 'succeeded', again.reason ?? '');
    const running = await store.listRuns({ status: 'running' }, { limit: 10 });
    assert.equal(running.items.length, 0, 'nothing is left running');
  });
});
