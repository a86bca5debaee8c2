import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import { createSqliteStore, type NewRun, type Store } from '../store/index.ts';
import { chainOf, runEvent } from './result-events.ts';
import { producedByRun, summarize, traceFrom, type Trace, type TraceNode } from './trace.ts';

let store: Store;

beforeEach(async () => {
  store = createSqliteStore({ path: ':memory:' });
  await store.migrate();
});

afterEach(async () => {
  await store.close();
});

/** Waits, polling with a deadline, until the clock has moved past the last stored time. */
async function tick(): Promise<void> {
  const start = new Date().toISOString();
  const deadline = Date.now() + 5_000;
  while (new Date().toISOString() <= start) {
    assert.ok(Date.now() < deadline, 'clock did not advance');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function append(fields: Partial<CloudEvent> & { type: string }): Promise<StoredEvent> {
  await tick();
  const event: CloudEvent = { specversion: '1.0', id: randomUUID(), source: '/test', ...fields };
  const [result] = await store.appendEvents([{ event, receiver: 'events' }], 'events');
  const stored = await store.getEvent(result!.id);
  assert.ok(stored);
  return stored;
}

const newRun = (id: string, pipeline: string): NewRun => ({
  id,
  pipeline,
  triggerIndex: 0,
  status: 'queued',
  pipelineDigest: null,
  spec: null,
});

async function route(event: StoredEvent, ...runs: [id: string, pipeline: string][]): Promise<void> {
  await tick();
  await store.recordRouting(
    event.id,
    [],
    runs.map(([id, pipeline]) => newRun(id, pipeline)),
  );
}

async function finish(runId: string, status: string, reason: string | null = null): Promise<void> {
  await store.updateRun(runId, {
    status,
    startedAt: '2026-01-01T10:00:00.000Z',
    finishedAt: '2026-01-01T10:00:12.300Z',
    reason,
  });
}

/** The tree as lines `kind id` indented two spaces a level, `*` after the focused node. */
function shape(trace: Trace): string[] {
  const lines: string[] = [];
  const walk = (node: TraceNode, depth: number): void => {
    lines.push(`${'  '.repeat(depth)}${node.kind} ${node.id}${node.focus === true ? ' *' : ''}`);
    for (const child of node.children) walk(child, depth + 1);
  };
  walk(trace.root, 0);
  return lines;
}

function find(node: TraceNode, id: string): TraceNode | undefined {
  if (node.id === id) return node;
  for (const child of node.children) {
    const found = find(child, id);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * push → run ci (succeeded) → [emitted note, pipeline.succeeded → run deploy (failed), re-run of ci]
 * and an unrelated event that happens to name the ci run as subject.
 */
async function chain() {
  const push = await append({
    type: 'git.push',
    source: 'https://github.com/acme/app',
    data: { repository: 'acme/app', branch: 'main', ref: 'refs/heads/main', after: '1a2b3c4d5e6f' },
  });
  await route(push, ['run_ci', 'ci']);
  const emitted = await append({
    type: 'demo.note',
    source: '/junction/runs/run_ci',
    ...chainOf(push),
    data: { n: 1 },
  });
  await finish('run_ci', 'succeeded');
  await tick();
  const succeededEvent = runEvent('succeeded', {
    runId: 'run_ci',
    pipeline: 'ci',
    status: 'succeeded',
    trigger: push,
  });
  const [stored] = await store.appendEvents([{ event: succeededEvent, receiver: 'junction' }], 'events');
  const succeeded = (await store.getEvent(stored!.id))!;
  await route(succeeded, ['run_deploy', 'deploy']);
  await finish('run_deploy', 'failed', 'the command exited with code 1');
  await append({ type: 'other.thing', source: 'https://example.com', subject: 'run_ci' });
  await tick();
  assert.equal(await store.createRun(push.id, { ...newRun('run_ci_again', 'ci'), rerunOf: 'run_ci' }), true);
  return { push, emitted, succeeded };
}

void describe('traceFrom', () => {
  void test('from the first event: event → run → emitted and result events → run, and the re-run', async () => {
    const { push, emitted, succeeded } = await chain();
    const trace = await traceFrom(store, push.id);
    assert.ok(trace);
    assert.deepEqual(shape(trace), [
      `event ${push.id} *`,
      `  run run_ci`,
      `    event ${emitted.id}`,
      `    event ${succeeded.id}`,
      `      run run_deploy`,
      `    run run_ci_again`,
    ]);
    assert.equal(trace.focus, push.id);
    assert.equal(trace.nodes, 6);
    assert.equal(trace.truncated, false);

    const root = trace.root;
    assert.equal(root.kind, 'event');
    if (root.kind !== 'event') return;
    assert.equal(root.type, 'git.push');
    assert.equal(root.source, 'https://github.com/acme/app');
    assert.equal(root.summary, 'acme/app main 1a2b3c4');
    assert.equal(root.time, push.receivedAt, 'the stored time when the event has no time of its own');

    const deploy = find(root, 'run_deploy');
    assert.ok(deploy?.kind === 'run');
    assert.equal(deploy.pipeline, 'deploy');
    assert.equal(deploy.status, 'failed');
    assert.equal(deploy.reason, 'the command exited with code 1');
    assert.equal(deploy.startedAt, '2026-01-01T10:00:00.000Z');
    assert.equal(deploy.finishedAt, '2026-01-01T10:00:12.300Z');
    assert.equal(deploy.rerunOf, null);
    const again = find(root, 'run_ci_again');
    assert.ok(again?.kind === 'run');
    assert.equal(again.rerunOf, 'run_ci', 'a re-run is marked');
    const result = find(root, succeeded.id);
    assert.ok(result?.kind === 'event');
    assert.equal(result.summary, 'ci succeeded');
    assert.equal(result.subject, 'run_ci');
  });

  void test('from the last run: the same tree from the root, with the run focused', async () => {
    const { push, emitted, succeeded } = await chain();
    const trace = await traceFrom(store, 'run_deploy');
    assert.ok(trace);
    assert.deepEqual(shape(trace), [
      `event ${push.id}`,
      `  run run_ci`,
      `    event ${emitted.id}`,
      `    event ${succeeded.id}`,
      `      run run_deploy *`,
      `    run run_ci_again`,
    ]);
    assert.equal(trace.focus, 'run_deploy');
  });

  void test('a focus in the middle, and a re-run walks up through the run it repeats', async () => {
    const { push, succeeded } = await chain();
    const middle = await traceFrom(store, succeeded.id);
    assert.equal(middle?.root.id, push.id);
    assert.deepEqual(
      shape(middle).filter((line) => line.endsWith('*')),
      [`    event ${succeeded.id} *`],
    );
    const rerun = await traceFrom(store, 'run_ci_again');
    assert.equal(rerun?.root.id, push.id);
    assert.equal(find(rerun.root, 'run_ci_again')?.focus, true);
    assert.equal(find(rerun.root, 'run_ci')?.focus, undefined);
  });

  void test('an event linked only by causationid walks up to its cause', async () => {
    const { push } = await chain();
    const follow = await append({ type: 'demo.follow', causationid: push.id, correlationid: push.id });
    const trace = await traceFrom(store, follow.id);
    assert.equal(trace?.root.id, push.id);
    assert.equal(find(trace.root, follow.id)?.focus, true, 'kept on the path to the focus');
    // From the root it is not a child: only runs hang under an event.
    const fromRoot = await traceFrom(store, push.id);
    assert.equal(find(fromRoot!.root, follow.id), undefined);
  });

  void test('an unknown or hostile id gives undefined', async () => {
    await chain();
    for (const id of [
      '',
      'run_',
      'run_nope',
      'nope',
      "x' OR '1'='1",
      '../../etc/passwd',
      '\u0000',
      'é'.repeat(5000),
    ]) {
      assert.equal(await traceFrom(store, id), undefined, JSON.stringify(id.slice(0, 20)));
    }
  });

  void test('the node cap cuts the tree, keeps the path to the focus, and says so', async () => {
    const push = await append({ type: 'git.push' });
    const runs = Array.from({ length: 30 }, (_, n): [string, string] => [
      `run_${String(n).padStart(2, '0')}`,
      `p${String(n).padStart(2, '0')}`,
    ]);
    await route(push, ...runs);
    const whole = await traceFrom(store, push.id);
    assert.equal(whole?.nodes, 31);
    assert.equal(whole?.truncated, false);

    const cut = await traceFrom(store, push.id, { maxNodes: 10 });
    assert.ok(cut);
    assert.equal(cut.nodes, 10);
    assert.equal(cut.root.children.length, 9);
    assert.equal(cut.truncated, true);
    assert.deepEqual(
      cut.root.children.map((child) => child.id),
      runs.slice(0, 9).map(([id]) => id),
      'oldest first',
    );

    const focused = await traceFrom(store, 'run_29', { maxNodes: 10 });
    assert.ok(focused);
    assert.equal(focused.truncated, true);
    assert.equal(find(focused.root, 'run_29')?.focus, true, 'the focus is kept past the cap');
    assert.equal(focused.nodes, 11);
  });

  void test('the depth cap cuts a long chain, below and above the focus', async () => {
    // event → run → emitted event → run … six levels of runs.
    let event = await append({ type: 'start' });
    const first = event;
    for (let n = 0; n < 6; n += 1) {
      await route(event, [`run_level${n}`, 'step']);
      event = await append({ type: 'next', source: `/junction/runs/run_level${n}`, ...chainOf(first) });
    }
    const whole = await traceFrom(store, first.id);
    assert.equal(whole?.nodes, 13);
    assert.equal(whole?.truncated, false);

    const cut = await traceFrom(store, first.id, { maxDepth: 3 });
    assert.equal(cut?.nodes, 4);
    assert.equal(cut?.truncated, true);

    const up = await traceFrom(store, event.id, { maxDepth: 3 });
    assert.ok(up);
    assert.equal(up.truncated, true);
    assert.equal(up.root.id, 'run_level4', 'the upward walk stops maxDepth levels above the focus');
    assert.deepEqual(shape(up).at(-1), `      event ${event.id} *`);
  });

  void test('links that loop are walked once, and links to nothing end the walk', async () => {
    // The event claims to come from the run it starts: up and down would go round for ever.
    const event = await append({ type: 'loop', source: '/junction/runs/run_loop' });
    await route(event, ['run_loop', 'loop']);
    const orphan = await append({
      type: 'orphan',
      causationid: 'missing',
      source: '/junction/runs/run_gone',
    });
    const fromEvent = await traceFrom(store, event.id);
    assert.ok(fromEvent);
    assert.deepEqual(shape(fromEvent), ['run run_loop', `  event ${event.id} *`]);
    const fromRun = await traceFrom(store, 'run_loop');
    assert.deepEqual(shape(fromRun!), [`event ${event.id}`, '  run run_loop *']);
    // Links to what is not stored end the upward walk.
    assert.deepEqual(shape((await traceFrom(store, orphan.id))!), [`event ${orphan.id} *`]);
  });
});

void describe('producedByRun', () => {
  const cases: [Pick<CloudEvent, 'source' | 'subject'>, string | undefined][] = [
    [{ source: '/junction/runs/run_abc' }, 'run_abc'],
    [{ source: '/junction/runs/run_abc', subject: 'run_other' }, 'run_abc'],
    [{ source: '/junction/pipelines/ci', subject: 'run_abc' }, 'run_abc'],
    [{ source: '/junction/deployments/prod', subject: 'run_abc' }, 'run_abc'],
    [{ source: '/junction/pipelines/ci' }, undefined],
    [{ source: '/junction/pipelines/ci', subject: 'abc' }, undefined],
    [{ source: '/junction/pipelines/ci', subject: 'run_' }, undefined],
    [{ source: 'https://example.com', subject: 'run_abc' }, undefined],
    [{ source: '/junction/runs/' }, undefined],
    [{ source: '/junction/runs/run_a/extra' }, undefined],
    [{ source: '/elsewhere/junction/runs/run_a' }, undefined],
  ];
  for (const [event, expected] of cases) {
    void test(`${JSON.stringify(event)} → ${String(expected)}`, () => {
      assert.equal(producedByRun(event), expected);
    });
  }
});

void describe('summarize', () => {
  const cases: [string, unknown, string][] = [
    ['git.push', { repository: 'acme/app', branch: 'main', after: '1a2b3c4d5e' }, 'acme/app main 1a2b3c4'],
    [
      'git.tag',
      { repository: { full_name: 'acme/app' }, tag: 'v1.2.0', after: 'abc' },
      'acme/app v1.2.0 abc',
    ],
    ['git.pull_request', { repository: 'acme/app', number: 42, action: 'opened' }, 'acme/app #42 opened'],
    ['image.pushed', { registry: 'r', repository: 'acme/app', tag: '1.0' }, 'acme/app:1.0'],
    ['image.pushed', { registry: 'r', repository: 'acme/app' }, 'acme/app'],
    ['alert.firing', { alertname: 'HighErrorRate', status: 'firing' }, 'HighErrorRate firing'],
    ['pipeline.failed', { pipeline: 'deploy', status: 'failed' }, 'deploy failed'],
    ['deployment.succeeded', { service: 'api', environment: 'prod', version: '1.2' }, 'api prod 1.2'],
    ['git.push', 'not an object', ''],
    ['git.push', { repository: 7, branch: ['x'] }, ''],
    ['com.example', { anything: 1 }, ''],
  ];
  for (const [type, data, expected] of cases) {
    void test(`${type} ${JSON.stringify(data)}`, () => {
      assert.equal(summarize({ type, data }), expected);
    });
  }

  void test('a long summary is cut', () => {
    const summary = summarize({ type: 'git.push', data: { repository: 'r'.repeat(500), branch: 'main' } });
    assert.equal(summary.length, 120);
    assert.ok(summary.endsWith('…'));
  });
});
