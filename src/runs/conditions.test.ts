import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decideCondition,
  effectiveCondition,
  jobStatusContext,
  statusFunctionValues,
  statusFunctionsUsed,
  stepStatusContext,
  usesStatusFunction,
} from './conditions.ts';
import type { StatusContext } from './conditions.ts';
import type { Status, StatusItem } from './states.ts';

const s = (status: Status, continueOnError?: boolean): StatusItem =>
  continueOnError === undefined ? { status } : { status, continueOnError };

void describe('usesStatusFunction', { timeout: 30_000 }, () => {
  const cases: [string, string[]][] = [
    ['always()', ['always']],
    ['success()', ['success']],
    ['failure() || cancelled()', ['failure', 'cancelled']],
    ['always ( )', ['always']],
    ["event.data.branch == 'main'", []],
    ["always() && event.data.branch == 'main'", ['always']],
    ["'always()' == event.x", []],
    ['"failure()" != "x"', []],
    ["'''always()''' == x", []],
    ['"""multi\nline failure() """ == x', []],
    ["r'\\' || success()", ['success']],
    ["'it\\'s always()' == x", []],
    ['x.success()', []],
    ['x . failure()', []],
    ['alwaysTrue()', []],
    ['myalways()', []],
    ['always', []],
    ['success', []],
    ['event.cancelled', []],
    ['// always()\nevent.ok', []],
    ['event.ok // failure()', []],
    ['event.ok && // note\n failure()', ['failure']],
    ['size(x) > 0 && always()', ['always']],
    ["'unterminated always()", []],
    ['always() && always()', ['always']],
  ];
  for (const [expr, expected] of cases) {
    void test(JSON.stringify(expr), () => {
      assert.deepEqual(statusFunctionsUsed(expr), expected);
      assert.equal(usesStatusFunction(expr), expected.length > 0);
    });
  }
});

void describe('effectiveCondition', { timeout: 30_000 }, () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'success()'],
    ['', 'success()'],
    ['   ', 'success()'],
    ["event.data.branch == 'main'", "success() && (event.data.branch == 'main')"],
    ['always()', 'always()'],
    ['failure() && event.x', 'failure() && event.x'],
    ["'always()' == x", "success() && ('always()' == x)"],
  ];
  for (const [input, expected] of cases) {
    void test(`${JSON.stringify(input)} → ${expected}`, () =>
      assert.equal(effectiveCondition(input), expected));
  }

  void test('status function values', () => {
    assert.deepEqual(statusFunctionValues({ success: false, failure: true, cancelled: false }), {
      success: false,
      failure: true,
      always: true,
      cancelled: false,
    });
  });
});

void describe('job status context', { timeout: 30_000 }, () => {
  // needs, ancestors beyond the needs, run cancelled → success, failure, cancelled
  const cases: [string, StatusItem[], StatusItem[], boolean, StatusContext][] = [
    ['no needs', [], [], false, { success: true, failure: false, cancelled: false }],
    [
      'all needs succeeded',
      [s('succeeded'), s('succeeded')],
      [],
      false,
      { success: true, failure: false, cancelled: false },
    ],
    [
      'a need failed',
      [s('succeeded'), s('failed')],
      [],
      false,
      { success: false, failure: true, cancelled: false },
    ],
    ['a need timed out', [s('timed-out')], [], false, { success: false, failure: true, cancelled: false }],
    [
      'a need failed with continue-on-error',
      [s('failed', true)],
      [],
      false,
      { success: true, failure: false, cancelled: false },
    ],
    ['a need was skipped', [s('skipped')], [], false, { success: false, failure: false, cancelled: false }],
    [
      'a need was cancelled',
      [s('cancelled')],
      [],
      false,
      { success: false, failure: false, cancelled: false },
    ],
    [
      'an ancestor failed, the need was skipped',
      [s('skipped')],
      [s('failed')],
      false,
      { success: false, failure: true, cancelled: false },
    ],
    [
      'an ancestor failed, the need recovered',
      [s('succeeded')],
      [s('failed')],
      false,
      { success: true, failure: true, cancelled: false },
    ],
    ['run cancelled', [s('succeeded')], [], true, { success: false, failure: false, cancelled: true }],
    [
      'run cancelled after a failure',
      [s('failed')],
      [],
      true,
      { success: false, failure: true, cancelled: true },
    ],
  ];
  for (const [name, needs, more, cancelled, expected] of cases) {
    void test(name, () =>
      assert.deepEqual(jobStatusContext(needs, [...needs, ...more], cancelled), expected),
    );
  }
});

void describe('step status context', { timeout: 30_000 }, () => {
  const cases: [string, StatusItem[], boolean, StatusContext][] = [
    ['first step', [], false, { success: true, failure: false, cancelled: false }],
    [
      'previous succeeded',
      [s('succeeded'), s('succeeded')],
      false,
      { success: true, failure: false, cancelled: false },
    ],
    [
      'a previous step was skipped',
      [s('succeeded'), s('skipped')],
      false,
      { success: true, failure: false, cancelled: false },
    ],
    [
      'a previous step failed',
      [s('failed'), s('skipped')],
      false,
      { success: false, failure: true, cancelled: false },
    ],
    [
      'a previous step timed out',
      [s('timed-out')],
      false,
      { success: false, failure: true, cancelled: false },
    ],
    [
      'failed with continue-on-error',
      [s('failed', true), s('succeeded')],
      false,
      { success: true, failure: false, cancelled: false },
    ],
    [
      'a previous step was cancelled',
      [s('cancelled')],
      false,
      { success: false, failure: false, cancelled: false },
    ],
    ['run cancelled', [s('succeeded')], true, { success: false, failure: false, cancelled: true }],
  ];
  for (const [name, previous, cancelled, expected] of cases) {
    void test(name, () => assert.deepEqual(stepStatusContext(previous, cancelled), expected));
  }
});

void describe('decideCondition', { timeout: 30_000 }, () => {
  const ok: StatusContext = { success: true, failure: false, cancelled: false };
  const bad: StatusContext = { success: false, failure: true, cancelled: false };
  // hasCondition, usesStatusFunction, context, expression result → runs?
  const cases: [string, boolean, boolean, StatusContext, boolean, boolean][] = [
    ['no if, success', false, false, ok, false, true],
    ['no if, failure', false, false, bad, false, false],
    ['plain if true, success', true, false, ok, true, true],
    ['plain if false, success', true, false, ok, false, false],
    ['plain if true, failure (implicit success() wins)', true, false, bad, true, false],
    ['status function true, failure', true, true, bad, true, true],
    ['status function false, success', true, true, ok, false, false],
  ];
  for (const [name, hasCondition, uses, context, result, expected] of cases) {
    void test(name, () => {
      let calls = 0;
      const decision = decideCondition({
        id: 'x',
        hasCondition,
        usesStatusFunction: uses,
        context,
        evaluate: () => {
          calls += 1;
          return result;
        },
        implicitFailureReason: () => 'a need failed',
      });
      assert.equal(decision.run, expected);
      if (!decision.run) {
        assert.equal(
          decision.reason,
          !uses && !context.success ? 'a need failed' : 'its if condition is false',
        );
      }
      assert.equal(calls, hasCondition && (uses || context.success) ? 1 : 0);
    });
  }
});
