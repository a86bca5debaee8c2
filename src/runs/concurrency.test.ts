import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EMPTY_GROUP, admit, isConcurrencyMode, release, withdraw } from './concurrency.ts';
import type { Admission, ConcurrencyMode, GroupRun, GroupState } from './concurrency.ts';

const r = (id: string, seq: number): GroupRun => ({ id, seq });
const group = (running: GroupRun | undefined, ...waiting: GroupRun[]): GroupState =>
  running === undefined ? { waiting } : { running, waiting };

interface Case {
  readonly name: string;
  readonly mode: ConcurrencyMode;
  readonly state: GroupState;
  readonly run: GroupRun;
  readonly expected: Omit<Admission, 'reason'> & { readonly reason?: string };
}

const A = r('a', 1);
const B = r('b', 2);
const C = r('c', 3);
const D = r('d', 4);

const cases: Case[] = [
  // Every mode starts a run in an empty group.
  ...(['queue', 'cancel-previous', 'skip-if-running', 'latest'] as const).map((mode): Case => ({
    name: `${mode}: empty group starts`,
    mode,
    state: EMPTY_GROUP,
    run: A,
    expected: { action: 'start', cancel: [], drop: [], state: group(A) },
  })),

  {
    name: 'queue: waits behind the running run',
    mode: 'queue',
    state: group(A),
    run: B,
    expected: { action: 'wait', cancel: [], drop: [], state: group(A, B) },
  },
  {
    name: 'queue: waits at the end in event order',
    mode: 'queue',
    state: group(A, B),
    run: C,
    expected: { action: 'wait', cancel: [], drop: [], state: group(A, B, C) },
  },
  {
    name: 'queue: a late older event takes its place among the waiting by seq',
    mode: 'queue',
    state: group(A, C, D),
    run: B,
    expected: { action: 'wait', cancel: [], drop: [], state: group(A, B, C, D) },
  },
  {
    name: 'queue: an event older than the running one waits; nothing started is stopped',
    mode: 'queue',
    state: group(C, D),
    run: A,
    expected: { action: 'wait', cancel: [], drop: [], state: group(C, A, D) },
  },

  {
    name: 'cancel-previous: cancels the running run, waits for it to end',
    mode: 'cancel-previous',
    state: group(A),
    run: B,
    expected: { action: 'wait', cancel: ['a'], drop: [], state: group(A, B) },
  },
  {
    name: 'cancel-previous: also drops every waiting run',
    mode: 'cancel-previous',
    state: group(A, B, C),
    run: D,
    expected: { action: 'wait', cancel: ['a'], drop: ['b', 'c'], state: group(A, D) },
  },
  {
    name: 'cancel-previous: a late older event is skipped',
    mode: 'cancel-previous',
    state: group(C),
    run: B,
    expected: {
      action: 'skip',
      cancel: [],
      drop: [],
      state: group(C),
      reason: 'a newer event (seq 3) already holds the group',
    },
  },
  {
    name: 'cancel-previous: older than a waiting run is skipped too',
    mode: 'cancel-previous',
    state: group(A, D),
    run: C,
    expected: {
      action: 'skip',
      cancel: [],
      drop: [],
      state: group(A, D),
      reason: 'a newer event (seq 4) already holds the group',
    },
  },

  {
    name: 'skip-if-running: skipped while one runs',
    mode: 'skip-if-running',
    state: group(A),
    run: B,
    expected: { action: 'skip', cancel: [], drop: [], state: group(A), reason: "group is busy with run 'a'" },
  },

  {
    name: 'latest: waits while one runs',
    mode: 'latest',
    state: group(A),
    run: B,
    expected: { action: 'wait', cancel: [], drop: [], state: group(A, B) },
  },
  {
    name: 'latest: replaces the waiting run, the running one finishes',
    mode: 'latest',
    state: group(A, B),
    run: C,
    expected: { action: 'wait', cancel: [], drop: ['b'], state: group(A, C) },
  },
  {
    name: 'latest: a late older event is dropped (skipped)',
    mode: 'latest',
    state: group(A, C),
    run: B,
    expected: {
      action: 'skip',
      cancel: [],
      drop: [],
      state: group(A, C),
      reason: 'a newer event (seq 3) already holds the group',
    },
  },
  {
    name: 'latest: older than the running one is skipped',
    mode: 'latest',
    state: group(C),
    run: A,
    expected: {
      action: 'skip',
      cancel: [],
      drop: [],
      state: group(C),
      reason: 'a newer event (seq 3) already holds the group',
    },
  },

  // Redelivery: admitting a run already in the group changes nothing.
  ...(['queue', 'cancel-previous', 'skip-if-running', 'latest'] as const).flatMap((mode): Case[] => [
    {
      name: `${mode}: the running run again`,
      mode,
      state: group(A, B),
      run: A,
      expected: { action: 'start', cancel: [], drop: [], state: group(A, B) },
    },
    {
      name: `${mode}: a waiting run again`,
      mode,
      state: group(A, B),
      run: B,
      expected: { action: 'wait', cancel: [], drop: [], state: group(A, B) },
    },
  ]),
];

void describe('admit', { timeout: 30_000 }, () => {
  for (const c of cases) {
    void test(c.name, () => assert.deepEqual(admit(c.mode, c.state, c.run), c.expected));
  }
});

void describe('release and withdraw', { timeout: 30_000 }, () => {
  const releases: [string, GroupState, string | undefined, GroupState][] = [
    ['nobody waits', group(A), undefined, EMPTY_GROUP],
    ['first waiting starts', group(A, B, C), 'b', group(B, C)],
    ['empty group', EMPTY_GROUP, undefined, EMPTY_GROUP],
  ];
  for (const [name, state, next, after] of releases) {
    void test(`release: ${name}`, () => assert.deepEqual(release(state), { next, state: after }));
  }

  void test('withdraw a waiting run', () =>
    assert.deepEqual(withdraw(group(A, B, C), 'b'), { next: undefined, state: group(A, C) }));
  void test('withdraw the running run starts the next', () =>
    assert.deepEqual(withdraw(group(A, B, C), 'a'), { next: 'b', state: group(B, C) }));
  void test('withdraw an unknown run changes nothing', () =>
    assert.deepEqual(withdraw(group(A, B), 'z'), { next: undefined, state: group(A, B) }));

  void test('queue runs everything in event order, whatever the arrival order', () => {
    let state: GroupState = EMPTY_GROUP;
    const order: string[] = [];
    for (const run of [r('e1', 1), r('e3', 3), r('e2', 2), r('e5', 5), r('e4', 4)]) {
      const decision = admit('queue', state, run);
      state = decision.state;
      if (decision.action === 'start') order.push(run.id);
    }
    for (let next = release(state); next.next !== undefined; next = release(state)) {
      order.push(next.next);
      state = next.state;
    }
    assert.deepEqual(order, ['e1', 'e2', 'e3', 'e4', 'e5']);
  });

  void test('mode names', () => {
    assert.equal(isConcurrencyMode('latest'), true);
    assert.equal(isConcurrencyMode('newest'), false);
  });
});
