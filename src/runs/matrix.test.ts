import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planMatrix } from './matrix.ts';
import type { MatrixMember, MatrixPlan, MatrixPlanOptions } from './matrix.ts';
import type { Status } from './states.ts';

void describe('planMatrix', { timeout: 30_000 }, () => {
  const m = (spec: string): MatrixMember[] =>
    spec.split(' ').map((part, i) => {
      const [status, coe] = part.split('!') as [Status, string | undefined];
      return coe === undefined ? { id: `c${i}`, status } : { id: `c${i}`, status, continueOnError: true };
    });
  const cases: [string, string, MatrixPlanOptions, MatrixPlan][] = [
    [
      'all start without a limit',
      'queued queued queued',
      { failFast: true },
      { start: ['c0', 'c1', 'c2'], cancel: [] },
    ],
    [
      'max-parallel',
      'queued queued queued',
      { failFast: true, maxParallel: 2 },
      { start: ['c0', 'c1'], cancel: [] },
    ],
    [
      'max-parallel counts running',
      'running queued queued',
      { failFast: true, maxParallel: 2 },
      { start: ['c1'], cancel: [] },
    ],
    [
      'max-parallel full',
      'running running queued',
      { failFast: true, maxParallel: 2 },
      { start: [], cancel: [] },
    ],
    [
      'finished ones free a slot',
      'succeeded running queued queued',
      { failFast: false, maxParallel: 2 },
      { start: ['c2'], cancel: [] },
    ],
    [
      'fail-fast cancels running and queued',
      'failed running queued succeeded waiting',
      { failFast: true, maxParallel: 2 },
      { start: [], cancel: ['c1', 'c2', 'c4'] },
    ],
    ['fail-fast on a time-out', 'timed-out queued', { failFast: true }, { start: [], cancel: ['c1'] }],
    [
      'fail-fast off keeps going',
      'failed queued queued',
      { failFast: false, maxParallel: 1 },
      { start: ['c1'], cancel: [] },
    ],
    [
      'continue-on-error failure does not trigger fail-fast',
      'failed!coe queued',
      { failFast: true },
      { start: ['c1'], cancel: [] },
    ],
    [
      'a cancelled combination is not a failure',
      'cancelled queued',
      { failFast: true },
      { start: ['c1'], cancel: [] },
    ],
    [
      'max-parallel below 1 counts as 1',
      'queued queued',
      { failFast: true, maxParallel: 0 },
      { start: ['c0'], cancel: [] },
    ],
  ];
  for (const [name, spec, options, expected] of cases) {
    void test(name, () => assert.deepEqual(planMatrix(m(spec), options), expected));
  }
});
