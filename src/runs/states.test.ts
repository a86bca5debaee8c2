import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  STATUSES,
  canTransition,
  combineStatuses,
  isStatus,
  isTerminal,
  runStatusFromJobs,
} from './states.ts';
import type { Status, StatusItem } from './states.ts';

void describe('states', { timeout: 30_000 }, () => {
  void test('terminal statuses', () => {
    const terminal = STATUSES.filter(isTerminal);
    assert.deepEqual(terminal, ['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);
  });

  void test('isStatus', () => {
    assert.equal(isStatus('timed-out'), true);
    assert.equal(isStatus('done'), false);
    assert.equal(isStatus(3), false);
  });

  const allowed: [Status, Status[]][] = [
    ['queued', ['waiting', 'running', 'failed', 'cancelled', 'skipped', 'timed-out']],
    ['waiting', ['queued', 'running', 'cancelled', 'skipped', 'timed-out']],
    ['running', ['queued', 'succeeded', 'failed', 'cancelled', 'timed-out']],
    ['succeeded', []],
    ['failed', []],
    ['cancelled', []],
    ['skipped', []],
    ['timed-out', []],
  ];
  for (const [from, targets] of allowed) {
    void test(`transitions from ${from}`, () => {
      for (const to of STATUSES) {
        assert.equal(canTransition(from, to), targets.includes(to), `${from} → ${to}`);
      }
    });
  }

  const s = (status: Status, continueOnError?: boolean): StatusItem =>
    continueOnError === undefined ? { status } : { status, continueOnError };
  const overall: [string, StatusItem[], Status][] = [
    ['no jobs', [], 'succeeded'],
    ['all succeeded', [s('succeeded'), s('succeeded')], 'succeeded'],
    ['one still running', [s('succeeded'), s('running')], 'running'],
    ['one still queued', [s('failed'), s('queued')], 'running'],
    ['one waiting', [s('waiting')], 'running'],
    ['a failure', [s('succeeded'), s('failed')], 'failed'],
    ['a time-out', [s('succeeded'), s('timed-out')], 'failed'],
    ['failure with continue-on-error', [s('succeeded'), s('failed', true)], 'succeeded'],
    ['time-out with continue-on-error', [s('timed-out', true)], 'succeeded'],
    ['a cancelled job', [s('succeeded'), s('cancelled')], 'cancelled'],
    ['failure beats cancellation', [s('cancelled'), s('failed')], 'failed'],
    ['cancelled beats an ignored failure', [s('cancelled'), s('failed', true)], 'cancelled'],
    ['skipped jobs do not fail a run', [s('succeeded'), s('skipped')], 'succeeded'],
    ['all skipped', [s('skipped'), s('skipped')], 'succeeded'],
  ];
  for (const [name, jobs, expected] of overall) {
    void test(`run status: ${name} → ${expected}`, () => {
      assert.equal(runStatusFromJobs(jobs), expected);
      assert.equal(combineStatuses(jobs), expected);
    });
  }
});
