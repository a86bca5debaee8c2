/**
 * The runs API through the running app: a run's detail with jobs and steps, its log as pages and
 * as a followed NDJSON stream, cancel, re-run, concurrency groups and their release, hostile query
 * parameters and ids, and the scopes the actions need once tokens exist.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiToken } from '../src/security/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

const PIPELINES: Record<string, string> = {
  'hello.yaml': `
name: hello
on:
  - event: test.hello
jobs:
  say:
    outputs:
      word: \${{ steps.w.outputs.word }}
    steps:
      - id: w
        run: |
          echo one
          echo two >&2
          echo "word=hi" >> "$JUNCTION_OUTPUT"
      - run: echo three
  after:
    needs: say
    steps:
      - run: echo "said \${{ jobs.say.outputs.word }}"
outputs:
  word: \${{ jobs.say.outputs.word }}
`,
  'drip.yaml': `
name: drip
on:
  - event: test.drip
jobs:
  drip:
    steps:
      - run: |
          echo a
          sleep 1
          echo b
          sleep 1
          echo c
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
  'locked.yaml': `
name: locked
on:
  - event: test.locked
concurrency:
  group: 'deploy/prod \${{ event.data.key }}'
jobs:
  hold:
    steps:
      - run: |
          echo holding
          sleep 30
`,
};

interface Line {
  id: number;
  runId: string;
  jobId: string;
  stepId: string | null;
  stream: string;
  text: string;
}

describe('runs API', { timeout: 60_000 }, () => {
  let app: TestApp;
  const dir = tempDir('junction-api-runs-');

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    for (const [file, text] of Object.entries(PIPELINES))
      writeFileSync(join(dir.path, 'pipelines', file), text);
    app = await startTestApp({}, dir.path);
  });

  after(async () => {
    await app?.close();
    dir.remove();
  });

  async function start(
    type: string,
    data: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<string> {
    const posted = await app.post('/events', JSON.stringify(cloudEvent({ type, data })));
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    return eventually(
      async () => {
        const { body } = await app.get(`/api/v1/runs?event=${posted.body.id as string}`, headers);
        return (body.items as { id: string }[] | undefined)?.[0]?.id;
      },
      10_000,
      `a run for ${type}`,
    );
  }

  async function ended(runId: string, timeoutMs = 15_000): Promise<Record<string, any>> {
    return eventually(
      async () => {
        const { body } = await app.get(`/api/v1/runs/${runId}`);
        return TERMINAL.has(body.status) ? body : undefined;
      },
      timeoutMs,
      `run ${runId} to end`,
    );
  }

  async function logged(runId: string, text: string): Promise<void> {
    await eventually(
      async () => {
        const { body } = await app.get(`/api/v1/runs/${runId}/logs`);
        return (body.items as Line[]).some((l) => l.text === text) ? true : undefined;
      },
      10_000,
      `'${text}' in the log of ${runId}`,
    );
  }

  /** Reads an NDJSON stream to its end, noting when each object arrived. */
  async function readStream(response: Response): Promise<{ value: Record<string, unknown>; at: number }[]> {
    const objects: { value: Record<string, unknown>; at: number }[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        objects.push({ value: JSON.parse(buffer.slice(0, newline)), at: Date.now() });
        buffer = buffer.slice(newline + 1);
      }
    }
    assert.equal(buffer, '', 'the stream ends with a newline');
    return objects;
  }

  test('a run shows its jobs, steps and outputs, never its spec', async () => {
    const runId = await start('test.hello');
    const run = await ended(runId);
    assert.equal(run.status, 'succeeded', run.reason);
    assert.deepEqual(run.outputs, { word: 'hi' });
    assert.equal(run.rerunOf, null);
    assert.equal(run.concurrencyGroup, null);
    assert.equal(run.cancelRequested, false);
    assert.equal('spec' in run, false);
    for (const key of ['eventId', 'pipeline', 'triggerIndex', 'pipelineDigest', 'createdAt', 'startedAt'])
      assert.ok(key in run, key);
    assert.deepEqual(
      run.jobs.map((j: any) => [j.name, j.status]),
      [
        ['say', 'succeeded'],
        ['after', 'succeeded'],
      ],
    );
    assert.deepEqual(run.jobs[0].outputs, { word: 'hi' });
    const say = run.steps.filter((s: any) => s.jobId === run.jobs[0].id);
    assert.deepEqual(
      say.map((s: any) => [s.index, s.status]),
      [
        [0, 'succeeded'],
        [1, 'succeeded'],
      ],
    );
  });

  test('log pages: in order, after a line, one job or step, limited, with next', async () => {
    const runId = await start('test.hello');
    await ended(runId);
    const all = await app.get(`/api/v1/runs/${runId}/logs`);
    assert.equal(all.status, 200);
    const items = all.body.items as Line[];
    const texts = items.filter((l) => l.stream !== 'system').map((l) => [l.stream, l.text]);
    assert.deepEqual(texts, [
      ['stdout', 'one'],
      ['stderr', 'two'],
      ['stdout', 'three'],
      ['stdout', 'said hi'],
    ]);
    assert.equal(all.body.next, items.at(-1)!.id);
    for (let i = 1; i < items.length; i += 1) assert.ok(items[i]!.id > items[i - 1]!.id);

    const first = await app.get(`/api/v1/runs/${runId}/logs?limit=1`);
    assert.equal(first.body.items.length, 1);
    assert.equal(first.body.next, items[0]!.id);
    const rest = await app.get(`/api/v1/runs/${runId}/logs?after=${first.body.next as number}`);
    assert.deepEqual(rest.body.items, items.slice(1));

    const sayJob = items.find((l) => l.text === 'one')!.jobId;
    const byJob = await app.get(`/api/v1/runs/${runId}/logs?job=${encodeURIComponent(sayJob)}`);
    assert.ok((byJob.body.items as Line[]).every((l) => l.jobId === sayJob));
    assert.ok(!(byJob.body.items as Line[]).some((l) => l.text === 'said hi'));
    const stepId = items.find((l) => l.text === 'three')!.stepId!;
    const byStep = await app.get(`/api/v1/runs/${runId}/logs?step=${encodeURIComponent(stepId)}`);
    assert.ok((byStep.body.items as Line[]).some((l) => l.text === 'three'));
    assert.ok((byStep.body.items as Line[]).every((l) => l.stepId === stepId));

    const past = await app.get(`/api/v1/runs/${runId}/logs?after=${Number.MAX_SAFE_INTEGER}`);
    assert.equal(past.status, 200);
    assert.deepEqual(past.body, { items: [], next: null });
  });

  test('hostile log queries and run ids are refused cleanly', async () => {
    const runId = await start('test.hello');
    await ended(runId);
    const bad = [
      'limit=abc',
      'limit=0',
      'limit=5001',
      'limit=1.5',
      'after=-1',
      'after=1e3',
      'after=99999999999999999999999',
      'after=0x10',
      'after=1&after=2',
      'follow=maybe',
    ];
    for (const query of bad) {
      const answer = await app.get(`/api/v1/runs/${runId}/logs?${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(answer.body.error.code, 'API_BAD_REQUEST', query);
      assert.ok(answer.body.error.message.length < 200, query);
    }
    for (const id of ['run_nope', encodeURIComponent(`'; DROP TABLE runs; --`), 'x'.repeat(99), '%00']) {
      for (const path of [
        `/api/v1/runs/${id}`,
        `/api/v1/runs/${id}/logs`,
        `/api/v1/runs/${id}/logs?follow=true`,
      ]) {
        const answer = await app.get(path);
        assert.equal(answer.status, 404, path.slice(0, 80));
        assert.equal(answer.body.error.code, 'RUN_NOT_FOUND');
        assert.ok(answer.body.error.message.length < 200);
      }
    }
    // Longer than a path parameter may be: the router refuses it before any lookup.
    const huge = await app.get(`/api/v1/runs/${'x'.repeat(5000)}/logs`);
    assert.equal(huge.status, 414);
    const notFound = await app.post(`/api/v1/runs/run_nope/cancel`, '', {});
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.error.code, 'RUN_NOT_FOUND');
  });

  test('follow streams lines as they are written and ends with the run status', async () => {
    const runId = await start('test.drip');
    const response = await fetch(`${app.url}/api/v1/runs/${runId}/logs?follow=true`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    assert.ok(response.headers.get('x-request-id'));
    const objects = await readStream(response);
    const last = objects.at(-1)!;
    assert.deepEqual(last.value, { end: true, status: 'succeeded' });
    const lines = objects.slice(0, -1).filter((o) => o.value['stream'] === 'stdout');
    assert.deepEqual(
      lines.map((o) => o.value['text']),
      ['a', 'b', 'c'],
    );
    assert.ok(last.at - lines[0]!.at >= 1500, 'the first line came while the run was still going');
    const ids = objects.slice(0, -1).map((o) => o.value['id'] as number);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => x - y),
    );

    // Following an ended run gives everything after `after`, then the end.
    const again = await readStream(
      await fetch(
        `${app.url}/api/v1/runs/${runId}/logs?follow=true&after=${lines[1]!.value['id'] as number}`,
      ),
    );
    assert.deepEqual(
      again.filter((o) => o.value['stream'] === 'stdout').map((o) => o.value['text']),
      ['c'],
    );
    assert.deepEqual(again.at(-1)!.value, { end: true, status: 'succeeded' });
  });

  test('a follower that hangs up stops its stream; the server keeps serving', async () => {
    const runId = await start('test.sleepy');
    await logged(runId, 'started');
    const abort = new AbortController();
    const response = await fetch(`${app.url}/api/v1/runs/${runId}/logs?follow=true`, {
      signal: abort.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /"text":/);
    abort.abort();
    await assert.rejects(reader.read());
    assert.equal((await app.get(`/api/v1/runs/${runId}`)).status, 200);
    const cancelled = await app.post(`/api/v1/runs/${runId}/cancel`, '', {});
    assert.equal(cancelled.status, 202);
    assert.equal((await ended(runId)).status, 'cancelled');
  });

  test('cancel answers 202 at once, ends the run cancelled, and refuses an ended run', async () => {
    const runId = await start('test.sleepy');
    await logged(runId, 'started');
    const startedAt = Date.now();
    const answer = await app.post(`/api/v1/runs/${runId}/cancel`, '', {});
    assert.equal(answer.status, 202);
    assert.deepEqual(answer.body, { id: runId, cancelled: true });
    assert.ok(Date.now() - startedAt < 2000);
    const run = await ended(runId, 10_000);
    assert.equal(run.status, 'cancelled');
    assert.equal(run.reason, 'cancelled by request');
    assert.ok(Date.now() - startedAt < 10_000, 'the sleep was stopped, not waited for');
    const again = await app.post(`/api/v1/runs/${runId}/cancel`, '', {});
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'RUN_ALREADY_FINISHED');
    assert.equal(again.body.error.message, `run '${runId}' already ended with status 'cancelled'`);
  });

  test('rerun: 201 with the new id, refused while running, bad bodies refused', async () => {
    const running = await start('test.sleepy');
    const refused = await app.post(`/api/v1/runs/${running}/rerun`, '{"failed":true}', {
      'content-type': 'application/json',
    });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'RUN_NOT_FINISHED');
    assert.match(refused.body.error.message, new RegExp(`^run '${running}' is still (queued|running)`));
    assert.equal((await app.post(`/api/v1/runs/${running}/cancel`, '', {})).status, 202);

    const runId = await start('test.hello');
    await ended(runId);
    for (const body of ['nope', '[]', '{"failed":"yes"}', '{"failed":true,"extra":1}', 'null ']) {
      const answer = await app.post(`/api/v1/runs/${runId}/rerun`, body, {
        'content-type': 'application/json',
      });
      assert.equal(answer.status, 400, body);
      assert.equal(answer.body.error.code, 'API_BAD_REQUEST', body);
    }
    const unknown = await app.post('/api/v1/runs/run_nope/rerun', '{}', {
      'content-type': 'application/json',
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'RUN_NOT_FOUND');

    const full = await app.post(`/api/v1/runs/${runId}/rerun`, '', {});
    assert.equal(full.status, 201, JSON.stringify(full.body));
    assert.match(full.body.id, /^run_[0-9a-v]{26}$/);
    assert.deepEqual({ ...full.body, id: undefined }, { id: undefined, rerunOf: runId, reused: [] });
    const rerun = await ended(full.body.id);
    assert.equal(rerun.status, 'succeeded');
    assert.equal(rerun.rerunOf, runId);
    assert.equal(rerun.eventId, (await app.get(`/api/v1/runs/${runId}`)).body.eventId);

    const reused = await app.post(`/api/v1/runs/${runId}/rerun`, '{"failed":true}', {
      'content-type': 'application/json',
    });
    assert.equal(reused.status, 201);
    assert.deepEqual(reused.body.reused, ['say', 'after']);
    const copy = await ended(reused.body.id);
    assert.equal(copy.status, 'succeeded');
    assert.deepEqual(copy.outputs, { word: 'hi' });
    assert.deepEqual(copy.steps, [], 'nothing ran again');
  });

  test('concurrency groups: listed with holder and waiting runs, released by an encoded name', async () => {
    const group = 'deploy/prod eu west';
    const first = await start('test.locked', { key: 'eu west' });
    await logged(first, 'holding');
    const second = await start('test.locked', { key: 'eu west' });
    const listed = await eventually(
      async () => {
        const { body } = await app.get('/api/v1/concurrency');
        const found = (body.items as any[]).find((g) => g.name === group);
        return found?.waiting.length === 1 ? found : undefined;
      },
      10_000,
      'the second run to wait',
    );
    assert.equal(listed.holder.runId, first);
    assert.deepEqual(
      listed.waiting.map((w: any) => w.runId),
      [second],
    );
    const detail = await app.get(`/api/v1/runs/${second}`);
    assert.equal(detail.body.status, 'waiting');
    assert.equal(detail.body.concurrencyGroup, group);

    const released = await app.post(`/api/v1/concurrency/${encodeURIComponent(group)}/release`, '', {});
    assert.equal(released.status, 200);
    assert.deepEqual(released.body, { released: first });
    await logged(second, 'holding');
    const after = await app.get('/api/v1/concurrency');
    assert.equal((after.body.items as any[]).find((g) => g.name === group)?.holder?.runId, second);

    const none = await app.post(`/api/v1/concurrency/${encodeURIComponent('no such/group')}/release`, '', {});
    assert.deepEqual(none.body, { released: null });
    const named = await app.post(
      `/api/v1/concurrency/${encodeURIComponent('ü/'.repeat(300))}/release`,
      '',
      {},
    );
    assert.deepEqual(named.body, { released: null }, 'a long name with / and non-ASCII is taken whole');
    const long = await app.post(`/api/v1/concurrency/${'g'.repeat(2000)}/release`, '', {});
    assert.equal(long.status, 400);
    assert.equal(long.body.error.code, 'API_BAD_REQUEST');
    const malformed = await app.post('/api/v1/concurrency/%ZZ/release', '', {});
    assert.equal(malformed.status, 400);
    const empty = await app.post('/api/v1/concurrency//release', '', {});
    assert.equal(empty.status, 400);
    const other = await app.post(`/api/v1/concurrency/${encodeURIComponent(group)}/hold`, '', {});
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'API_NOT_FOUND');

    for (const id of [first, second]) await app.post(`/api/v1/runs/${id}/cancel`, '', {});
    await ended(first);
    await ended(second);
  });

  // Last: creating a token ends local open mode for the rest of this app.
  test('with tokens, actions need the operate scope and reads the read scope', async () => {
    const runId = await start('test.hello');
    await ended(runId);
    const reader = await createApiToken(app.app.store, 'dash', ['read']);
    const operator = await createApiToken(app.app.store, 'ops', ['operate']);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    await eventually(
      async () =>
        (await app.post(`/api/v1/runs/${runId}/cancel`, '', {})).status === 401 ? true : undefined,
      10_000,
      'open mode to end',
    );
    for (const path of [`/api/v1/runs/${runId}/rerun`, '/api/v1/concurrency/g/release']) {
      assert.equal((await app.post(path, '', {})).status, 401, path);
      const forbidden = await app.post(path, '', bearer(reader.token));
      assert.equal(forbidden.status, 403, path);
      assert.equal(forbidden.body.error.code, 'API_FORBIDDEN');
    }
    assert.equal((await app.post(`/api/v1/runs/${runId}/cancel`, '', bearer(reader.token))).status, 403);
    assert.equal((await app.get(`/api/v1/runs/${runId}/logs`)).status, 401);
    assert.equal((await app.get(`/api/v1/runs/${runId}/logs`, bearer(reader.token))).status, 200);
    assert.equal((await app.get('/api/v1/concurrency', bearer(reader.token))).status, 200);
    const cancel = await app.post(`/api/v1/runs/${runId}/cancel`, '', bearer(operator.token));
    assert.equal(cancel.status, 409, 'allowed, and refused only because the run ended');
    const rerun = await app.post(`/api/v1/runs/${runId}/rerun`, '', bearer(operator.token));
    assert.equal(rerun.status, 201);
    const sleepy = await start('test.sleepy', {}, bearer(reader.token));
    const cancelled = await app.post(`/api/v1/runs/${sleepy}/cancel`, '', bearer(operator.token));
    assert.equal(cancelled.status, 202);
    const run = await eventually(async () => {
      const { body } = await app.get(`/api/v1/runs/${sleepy}`, bearer(reader.token));
      return TERMINAL.has(body.status) ? body : undefined;
    }, 10_000);
    assert.equal(run.reason, "cancelled by request (token 'ops')");
  });
});

describe('a followed log when the server shuts down', { timeout: 30_000 }, () => {
  test('the stream ends with the run still going and a reason, and the shutdown does not wait for the run', async () => {
    const dir = tempDir('junction-api-runs-stop-');
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'sleepy.yaml'), PIPELINES['sleepy.yaml']!);
    const app = await startTestApp({ workers: { shutdownGraceMs: 500 } }, dir.path);
    try {
      const posted = await app.post('/events', JSON.stringify(cloudEvent({ type: 'test.sleepy' })));
      const runId = await eventually(async () => {
        const { body } = await app.get(`/api/v1/runs?event=${posted.body.id as string}`);
        return (body.items as { id: string }[])[0]?.id;
      });
      await eventually(async () => {
        const { body } = await app.get(`/api/v1/runs/${runId}/logs`);
        return (body.items as Line[]).some((l) => l.text === 'started') ? true : undefined;
      });
      const response = await fetch(`${app.url}/api/v1/runs/${runId}/logs?follow=true`);
      const reading = (async () => {
        const text = await response.text();
        return text
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      })();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stopping = Date.now();
      await app.close();
      assert.ok(Date.now() - stopping < 10_000, 'stopping did not wait for the sleep');
      const objects = await reading;
      assert.ok(objects.some((o) => o['text'] === 'started'));
      assert.deepEqual(objects.at(-1), {
        end: true,
        status: 'running',
        reason: 'the server is shutting down',
      });
    } finally {
      await app.close();
      dir.remove();
    }
  });
});
