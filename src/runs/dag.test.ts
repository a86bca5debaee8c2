import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { findCycle, nextActions, topologicalOrder } from './dag.ts';
import type { JobGraph, JobNode, NextActions, PlanOptions } from './dag.ts';
import type { Status } from './states.ts';

/** `job('b', ['a'], { finally: true })` */
function job(id: string, needs: string[] = [], extra: Partial<JobNode> = {}): JobNode {
  return { id, needs, finally: false, ...extra };
}
const graph = (...jobs: JobNode[]): JobGraph => ({ jobs });
const always: Partial<JobNode> = { hasCondition: true, usesStatusFunction: true };

void describe('topologicalOrder', { timeout: 30_000 }, () => {
  const cases: [string, JobGraph, string[]][] = [
    ['empty', graph(), []],
    ['independent jobs keep declaration order', graph(job('c'), job('a'), job('b')), ['c', 'a', 'b']],
    ['needs first', graph(job('deploy', ['build']), job('build')), ['build', 'deploy']],
    [
      'diamond, ties by declaration order',
      graph(job('d', ['b', 'c']), job('c', ['a']), job('b', ['a']), job('a')),
      ['a', 'c', 'b', 'd'],
    ],
    [
      'among ready jobs the one declared first goes first',
      graph(job('a'), job('x', ['a']), job('b'), job('c')),
      ['a', 'x', 'b', 'c'],
    ],
    [
      'a job is never placed before its needs',
      graph(job('x', ['c']), job('a'), job('b'), job('c')),
      ['a', 'b', 'c', 'x'],
    ],
    ['duplicate needs are fine', graph(job('a'), job('b', ['a', 'a'])), ['a', 'b']],
  ];
  for (const [name, g, expected] of cases) {
    void test(name, () => assert.deepEqual(topologicalOrder(g), expected));
  }

  const cycles: [string, JobGraph, string[]][] = [
    ['self', graph(job('a', ['a'])), ['a', 'a']],
    ['two', graph(job('a', ['b']), job('b', ['a'])), ['a', 'b', 'a']],
    [
      'three, named in order',
      graph(job('x'), job('a', ['b']), job('b', ['c']), job('c', ['a'])),
      ['a', 'b', 'c', 'a'],
    ],
    [
      'behind a healthy prefix',
      graph(job('a'), job('b', ['a', 'c']), job('c', ['d']), job('d', ['b'])),
      ['b', 'c', 'd', 'b'],
    ],
  ];
  for (const [name, g, cycle] of cycles) {
    void test(`cycle: ${name}`, () => {
      assert.deepEqual(findCycle(g), cycle);
      assert.throws(
        () => topologicalOrder(g),
        (error) =>
          isJunctionError(error, 'PIPELINE_CYCLE') &&
          error.message === `jobs form a cycle: ${cycle.join(' → ')}`,
      );
      assert.throws(
        () => nextActions(g, {}, { cancelled: false }),
        (error) => isJunctionError(error, 'PIPELINE_CYCLE'),
      );
    });
  }

  void test('no cycle', () => assert.equal(findCycle(graph(job('a'), job('b', ['a']))), undefined));

  const invalid: [string, JobGraph, string][] = [
    ['unknown need', graph(job('deploy', ['buld']), job('build')), "job 'deploy' needs unknown job 'buld'"],
    ['duplicate id', graph(job('a'), job('a')), "job 'a' is declared twice"],
    [
      'ordinary job needs a finally job',
      graph(job('a', ['f']), job('f', [], { finally: true })),
      "job 'a' needs finally job 'f'; only finally jobs may need finally jobs",
    ],
  ];
  for (const [name, g, message] of invalid) {
    void test(`invalid: ${name}`, () => {
      assert.throws(
        () => nextActions(g, {}, { cancelled: false }),
        (error) => isJunctionError(error, 'PIPELINE_INVALID_GRAPH') && error.message === message,
      );
    });
  }
});

interface Case {
  readonly name: string;
  readonly graph: JobGraph;
  readonly statuses: Record<string, Status>;
  readonly cancelled?: boolean;
  readonly options?: PlanOptions;
  readonly expected: Partial<NextActions>;
}

const ci = graph(job('build'), job('test', ['build']), job('deploy', ['test']));

const cases: Case[] = [
  { name: 'roots start', graph: ci, statuses: {}, expected: { start: ['build'] } },
  { name: 'nothing while build runs', graph: ci, statuses: { build: 'running' }, expected: {} },
  { name: 'next after success', graph: ci, statuses: { build: 'succeeded' }, expected: { start: ['test'] } },
  {
    name: 'a failure skips the chain, cascading in one call',
    graph: ci,
    statuses: { build: 'failed' },
    expected: {
      skip: [
        { id: 'test', reason: "needs 'build' which failed" },
        { id: 'deploy', reason: "needs 'test' which was skipped" },
      ],
    },
  },
  {
    name: 'time-out and cancellation are named',
    graph: graph(job('a'), job('b'), job('c', ['a']), job('d', ['b'])),
    statuses: { a: 'timed-out', b: 'cancelled' },
    expected: {
      skip: [
        { id: 'c', reason: "needs 'a' which timed out" },
        { id: 'd', reason: "needs 'b' which was cancelled" },
      ],
    },
  },
  {
    name: 'continue-on-error failure counts as success',
    graph: graph(job('lint', [], { continueOnError: true }), job('test', ['lint'])),
    statuses: { lint: 'failed' },
    expected: { start: ['test'] },
  },
  {
    name: 'a job waits for all its needs',
    graph: graph(job('a'), job('b'), job('c', ['a', 'b'])),
    statuses: { a: 'succeeded', b: 'running' },
    expected: {},
  },
  {
    name: 'a skipped need skips without a status function',
    graph: graph(job('a', [], { hasCondition: true }), job('b', ['a'])),
    statuses: {},
    options: { evaluate: () => false },
    expected: {
      skip: [
        { id: 'a', reason: 'its if condition is false' },
        { id: 'b', reason: "needs 'a' which was skipped" },
      ],
    },
  },
  {
    name: 'always() runs after a failure',
    graph: graph(job('build'), job('notify', ['build'], always)),
    statuses: { build: 'failed' },
    expected: { start: ['notify'] },
  },
  {
    name: 'failure() sees a failure two jobs up',
    graph: graph(job('build'), job('test', ['build']), job('report', ['test'], always)),
    statuses: { build: 'failed' },
    options: { evaluate: (_id, context) => context.failure },
    expected: { skip: [{ id: 'test', reason: "needs 'build' which failed" }], start: ['report'] },
  },
  {
    name: 'failure() is false when all went well',
    graph: graph(job('build'), job('on-failure', ['build'], always)),
    statuses: { build: 'succeeded' },
    options: { evaluate: (_id, context) => context.failure },
    expected: { skip: [{ id: 'on-failure', reason: 'its if condition is false' }] },
  },
  {
    name: 'a plain if is checked only after the implicit success()',
    graph: graph(job('a'), job('b', ['a'], { hasCondition: true })),
    statuses: { a: 'failed' },
    options: {
      evaluate: () => {
        throw new Error('must not be called');
      },
    },
    expected: { skip: [{ id: 'b', reason: "needs 'a' which failed" }] },
  },
  {
    name: 'a plain if that is false skips',
    graph: graph(job('a'), job('b', ['a'], { hasCondition: true })),
    statuses: { a: 'succeeded' },
    options: { evaluate: (id) => id !== 'b' },
    expected: { skip: [{ id: 'b', reason: 'its if condition is false' }] },
  },
  {
    name: 'an if that throws fails the job and skips its dependants',
    graph: graph(job('a', [], { hasCondition: true }), job('b', ['a'])),
    statuses: {},
    options: {
      evaluate: () => {
        throw new Error("no such key: 'x'");
      },
    },
    expected: {
      fail: [{ id: 'a', reason: "its if condition could not be evaluated: no such key: 'x'" }],
      skip: [{ id: 'b', reason: "needs 'a' which failed" }],
    },
  },
  {
    name: 'maxParallel caps starts, in topological then declaration order',
    graph: graph(job('z'), job('y'), job('x'), job('w')),
    statuses: {},
    options: { maxParallel: 2 },
    expected: { start: ['z', 'y'] },
  },
  {
    name: 'maxParallel counts running jobs',
    graph: graph(job('a'), job('b'), job('c')),
    statuses: { a: 'running' },
    options: { maxParallel: 2 },
    expected: { start: ['b'] },
  },
  {
    name: 'maxParallel full: nothing starts, skips still happen',
    graph: graph(job('a'), job('b'), job('c', ['x']), job('x')),
    statuses: { a: 'running', b: 'running', x: 'failed' },
    options: { maxParallel: 2 },
    expected: { skip: [{ id: 'c', reason: "needs 'x' which failed" }] },
  },
  {
    name: 'maxParallel below 1 counts as 1',
    graph: graph(job('a'), job('b')),
    statuses: {},
    options: { maxParallel: 0 },
    expected: { start: ['a'] },
  },
  {
    name: 'waiting and terminal jobs are left alone',
    graph: graph(job('a'), job('b'), job('c')),
    statuses: { a: 'waiting', b: 'succeeded' },
    expected: { start: ['c'] },
  },
  {
    name: 'finally waits for every ordinary job',
    graph: graph(job('a'), job('b'), job('cleanup', [], { finally: true })),
    statuses: { a: 'succeeded', b: 'running' },
    expected: {},
  },
  {
    name: 'finally runs after failures, with no implicit success()',
    graph: graph(job('a'), job('b', ['a']), job('cleanup', [], { finally: true })),
    statuses: { a: 'failed' },
    expected: { skip: [{ id: 'b', reason: "needs 'a' which failed" }], start: ['cleanup'] },
  },
  {
    name: 'finally may need finally',
    graph: graph(job('a'), job('f1', [], { finally: true }), job('f2', ['f1'], { finally: true })),
    statuses: { a: 'succeeded' },
    expected: { start: ['f1'] },
  },
  {
    name: 'finally after finally, even when the first failed',
    graph: graph(job('a'), job('f1', [], { finally: true }), job('f2', ['f1'], { finally: true })),
    statuses: { a: 'succeeded', f1: 'failed' },
    expected: { start: ['f2'] },
  },
  {
    name: 'finally if sees the run-wide success()',
    graph: graph(
      job('a'),
      job('b', [], { hasCondition: true }),
      job('ok', [], { finally: true, ...always }),
      job('bad', [], { finally: true, ...always }),
    ),
    statuses: { a: 'succeeded', b: 'skipped' },
    options: { evaluate: (id, context) => (id === 'ok' ? context.success : context.failure) },
    expected: { start: ['ok'], skip: [{ id: 'bad', reason: 'its if condition is false' }] },
  },
  {
    name: 'finally if sees failure()',
    graph: graph(job('a'), job('on-fail', [], { finally: true, ...always })),
    statuses: { a: 'timed-out' },
    options: { evaluate: (_id, context) => context.failure && !context.success },
    expected: { start: ['on-fail'] },
  },
  {
    name: 'cancelled run: queued jobs are cancelled at once, finally waits for the running one',
    graph: graph(job('a'), job('b', ['a']), job('c'), job('cleanup', [], { finally: true })),
    statuses: { a: 'running' },
    cancelled: true,
    expected: {
      cancel: [
        { id: 'b', reason: 'the run was cancelled' },
        { id: 'c', reason: 'the run was cancelled' },
      ],
    },
  },
  {
    name: 'cancelled run: finally still runs once all ordinary jobs ended',
    graph: graph(job('a'), job('b', ['a']), job('cleanup', [], { finally: true })),
    statuses: { a: 'cancelled' },
    cancelled: true,
    expected: { cancel: [{ id: 'b', reason: 'the run was cancelled' }], start: ['cleanup'] },
  },
  {
    name: 'cancelled run: always() and cancelled() jobs run, success() ones are cancelled',
    graph: graph(
      job('a'),
      job('always', ['a'], always),
      job('on-cancel', ['a'], always),
      job('on-success', ['a'], always),
    ),
    statuses: { a: 'cancelled' },
    cancelled: true,
    options: {
      evaluate: (id, context) =>
        id === 'always' ? true : id === 'on-cancel' ? context.cancelled : context.success,
    },
    expected: {
      start: ['always', 'on-cancel'],
      cancel: [{ id: 'on-success', reason: 'the run was cancelled' }],
    },
  },
  {
    name: 'cancelled run: a status-function job still waits for its needs',
    graph: graph(job('a'), job('report', ['a'], always)),
    statuses: { a: 'running' },
    cancelled: true,
    expected: {},
  },
  {
    name: 'finally respects maxParallel',
    graph: graph(job('a'), job('f1', [], { finally: true }), job('f2', [], { finally: true })),
    statuses: { a: 'succeeded' },
    options: { maxParallel: 1 },
    expected: { start: ['f1'] },
  },
  {
    name: 'everything done: nothing to do',
    graph: ci,
    statuses: { build: 'succeeded', test: 'succeeded', deploy: 'succeeded' },
    expected: {},
  },
];

void describe('nextActions', { timeout: 30_000 }, () => {
  for (const c of cases) {
    void test(c.name, () => {
      const actual = nextActions(c.graph, c.statuses, { cancelled: c.cancelled ?? false }, c.options);
      assert.deepEqual(actual, { start: [], skip: [], cancel: [], fail: [], ...c.expected });
    });
  }

  void test('driving a run to the end never loops and reaches a terminal state for every job', () => {
    const g = graph(
      job('build'),
      job('unit', ['build']),
      job('lint', ['build'], { continueOnError: true }),
      job('e2e', ['build']),
      job('deploy', ['unit', 'lint', 'e2e']),
      job('notify', ['deploy'], always),
      job('cleanup', [], { finally: true }),
    );
    const outcome: Record<string, Status> = {
      build: 'succeeded',
      unit: 'succeeded',
      lint: 'failed',
      e2e: 'failed',
    };
    const statuses: Record<string, Status> = {};
    const started: string[][] = [];
    for (let round = 0; round < 20; round += 1) {
      const actions = nextActions(g, statuses, { cancelled: false }, { maxParallel: 2 });
      for (const d of [...actions.skip, ...actions.cancel, ...actions.fail]) {
        statuses[d.id] = actions.skip.includes(d)
          ? 'skipped'
          : actions.cancel.includes(d)
            ? 'cancelled'
            : 'failed';
      }
      if (actions.start.length > 0) started.push(actions.start);
      // Every started job finishes before the next round.
      for (const id of actions.start) statuses[id] = outcome[id] ?? 'succeeded';
      if (actions.start.length === 0 && actions.skip.length === 0) break;
    }
    assert.deepEqual(started, [['build'], ['unit', 'lint'], ['e2e'], ['notify'], ['cleanup']]);
    assert.deepEqual(statuses, {
      build: 'succeeded',
      unit: 'succeeded',
      lint: 'failed',
      e2e: 'failed',
      deploy: 'skipped',
      notify: 'succeeded',
      cleanup: 'succeeded',
    });
  });
});
