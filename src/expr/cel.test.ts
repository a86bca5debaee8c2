import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isJunctionError } from '../errors/index.ts';
import {
  compileExpression,
  evaluateCondition,
  MAX_EXPRESSION_LENGTH,
  type CompiledExpression,
} from './cel.ts';
import { editDistance, nearestName } from './nearest.ts';

const EVENT = JSON.parse(`{
  "type": "git.push",
  "data": {
    "branch": "main", "count": 3, "ratio": 3.5, "big": 9007199254740993, "nothing": null,
    "draft": false, "tags": ["a", "b"], "labels": { "team": "infra", "needs-review": "yes" },
    "when": "2024-01-01T00:00:00Z",
    "commits": [{ "message": "fix [deploy]" }, { "message": "docs" }],
    "__proto__": { "polluted": true }
  }
}`) as Record<string, unknown>;

const VARIABLES = { variables: ['event', 'env'] };
const run = (source: string, context: Record<string, unknown> = { event: EVENT }): unknown =>
  compileExpression(source, VARIABLES).evaluate(context);

describe('CEL evaluation over JSON data', { timeout: 30_000 }, () => {
  const values: readonly (readonly [string, unknown])[] = [
    ['event.type == "git.push" && event.data.branch == "main"', true],
    ['event.data.branch.startsWith("ma") && event.data.branch.endsWith("in")', true],
    ['event.data.branch.contains("ai") && event.data.branch.matches("^m.*n$")', true],
    ['size(event.data.commits) == 2 && event.data.tags.size() == 2', true],
    ['"team" in event.data.labels && !("x" in event.data.labels) && "a" in event.data.tags', true],
    ['has(event.data.labels.team) && !has(event.data.missing) && has(event.data.nothing)', true],
    ['event.data.commits.exists(c, c.message.contains("[deploy]"))', true],
    ['event.data.commits.all(c, c.message != "")', true],
    ['event.data.commits.exists_one(c, c.message == "docs")', true],
    ['event.data.commits.map(c, c.message)', ['fix [deploy]', 'docs']],
    ['event.data.commits.filter(c, c.message == "docs").size()', 1],
    // int/double policy: JSON 3 is int, 3.5 is double; they compare but do not mix in arithmetic
    ['event.data.count + 1', 4],
    ['type(event.data.count) == int && type(event.data.ratio) == double', true],
    ['event.data.count == 3.0 && 3.0 == event.data.count && 1 == 1.0', true],
    ['event.data.ratio > event.data.count', true],
    ['event.data.ratio * 2.0', 7],
    ['double(event.data.count) / 2.0', 1.5],
    ['type(event.data.big) == double', true],
    ['7 / 2', 3],
    ['"n=" + string(event.data.count)', 'n=3'],
    ['event.data.draft ? "draft" : "ready"', 'ready'],
    ['event.data.labels["needs-review"]', 'yes'],
    ['event.data.nothing == null', true],
    ['{"a": [1, 2.5, "x"]}', { a: [1, 2.5, 'x'] }],
    ['event.data.labels', { team: 'infra', 'needs-review': 'yes' }],
    ['timestamp(event.data.when) + duration("1h")', '2024-01-01T01:00:00.000Z'],
    ['duration("90m")', '5400s'],
    ['9223372036854775807', '9223372036854775807'],
    ['type(1)', 'int'],
    ['b"hi"', 'aGk='],
    ['event.data.__proto__.polluted', true],
  ];
  for (const [source, expected] of values) {
    test(source, () => {
      assert.deepEqual(run(source), expected);
    });
  }

  test('prototype properties are not data', () => {
    for (const source of ['event.constructor', 'event.data.toString', 'event["hasOwnProperty"]']) {
      assert.throws(
        () => run(source),
        (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED'),
      );
    }
    assert.equal(run('"constructor" in event'), false);
  });

  test('a payload key named constructor is data like any other key', () => {
    for (const value of [null, 5, 'x', { name: 'n' }]) {
      const compiled = compileExpression('event.data.constructor', VARIABLES);
      const context = { event: { data: { constructor: value, other: 1 } } };
      assert.deepEqual(compiled.evaluate(context), value);
      assert.equal(compileExpression('event.data.other', VARIABLES).evaluate(context), 1);
      assert.equal(compileExpression('"constructor" in event.data', VARIABLES).evaluate(context), true);
      assert.throws(
        () => compileExpression('event.data.name', VARIABLES).evaluate(context),
        (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED'),
      );
    }
  });

  test('frozen data is converted once and reused; unfrozen data is read afresh', () => {
    const compiled = compileExpression('event.data.n', VARIABLES);
    const mutable = { data: { n: 1 } };
    assert.equal(compiled.evaluate({ event: mutable }), 1);
    mutable.data.n = 2;
    assert.equal(compiled.evaluate({ event: mutable }), 2);
    const frozen = Object.freeze({ data: Object.freeze({ n: 5 }) });
    assert.equal(compiled.evaluate({ event: frozen }), 5);
    assert.equal(compiled.evaluate({ event: frozen }), 5);
    const partly = Object.freeze({ data: { n: 6 } });
    assert.equal(compiled.evaluate({ event: partly }), 6);
    partly.data.n = 7;
    assert.equal(compiled.evaluate({ event: partly }), 7);
  });
});

describe('compile errors', { timeout: 30_000 }, () => {
  const cases: readonly (readonly [string, string, RegExp, number?])[] = [
    [
      'event.data.branch ==',
      'EXPR_INVALID',
      /^expression 'event\.data\.branch ==' is not valid CEL: .*\(column 21\)$/,
      21,
    ],
    ['"n=" + 42', 'EXPR_INVALID', /no such overload: string \+ int/],
    ['event.data.f(1)', 'EXPR_INVALID', /no matching overload/],
    ['   ', 'EXPR_INVALID', /empty/],
    ['evnt.type == "x"', 'EXPR_UNKNOWN_VARIABLE', /unknown variable 'evnt' .*did you mean 'event'\?$/, 1],
    [
      'event.ok && stpes.x',
      'EXPR_UNKNOWN_VARIABLE',
      /unknown variable 'stpes'.*available here: env, event$/,
      13,
    ],
    ['event.data.commits.exists(c, c == cc)', 'EXPR_UNKNOWN_VARIABLE', /'cc'/, 35],
    ['cel.bind(x, 1, x + y)', 'EXPR_UNKNOWN_VARIABLE', /'y'/],
    ['"${{ secrets.x }}" + secrets.x', 'EXPR_UNKNOWN_VARIABLE', /'secrets'.*column 22/, 22],
    [`${'('.repeat(60)}1${')'.repeat(60)}`, 'EXPR_INVALID', /nests deeper than/],
    ['1 + '.repeat(2000) + '1', 'EXPR_INVALID', /characters long; the limit is 4096/],
  ];
  for (const [source, code, message, column] of cases) {
    test(`${code}: ${source.slice(0, 60)}`, () => {
      assert.throws(
        () => compileExpression(source, VARIABLES),
        (error: unknown) => {
          assert.ok(isJunctionError(error), String(error));
          assert.equal(error.code, code);
          assert.match(error.message, message);
          assert.ok(error.message.length < 400, 'message is bounded');
          if (column !== undefined) assert.equal(error.details?.column, column);
          return true;
        },
      );
    });
  }

  test('the message quotes at most about 80 characters of the expression', () => {
    const long = `event.data.${'x'.repeat(200)} +`;
    assert.throws(
      () => compileExpression(long, VARIABLES),
      (error: unknown) =>
        isJunctionError(error, 'EXPR_INVALID') &&
        error.message.includes('…') &&
        !error.message.includes('x'.repeat(100)),
    );
    assert.ok(long.length < MAX_EXPRESSION_LENGTH);
  });

  test('status codes', () => {
    const codes = { EXPR_INVALID: 400, EXPR_UNKNOWN_VARIABLE: 400 } as const;
    for (const [source, code] of [
      ['1 +', 'EXPR_INVALID'],
      ['x', 'EXPR_UNKNOWN_VARIABLE'],
    ] as const) {
      assert.throws(
        () => compileExpression(source, VARIABLES),
        (e: unknown) => isJunctionError(e, code) && e.httpStatus === codes[code],
      );
    }
  });
});

describe('runtime errors', { timeout: 30_000 }, () => {
  const secret = 'payload-value-that-must-not-leak';
  const context = { event: { data: { text: secret, count: 3, list: [1], ratio: 1.5 } } };
  const cases: readonly (readonly [string, RegExp])[] = [
    ['event.data.missing', /no such key: missing \(column 12\)$/],
    ['event.data.count / 0', /division by zero/],
    ['event.data.count % 0', /modulus by zero|division by zero|zero/],
    ['event.data.count * 9223372036854775807', /overflow/],
    ['event.data.ratio + 1', /no such overload/],
    ['event.data.list[5]', /index|range/],
    ['int(event.data.text)', /int/],
    ['event.data.text.matches("[")', /./],
    ['event.data.text + 1 > 0', /no such overload/],
    ['env.x', /variable 'env' has no value/],
  ];
  for (const [source, message] of cases) {
    test(source, () => {
      assert.throws(
        () => compileExpression(source, VARIABLES).evaluate(context),
        (error: unknown) => {
          assert.ok(isJunctionError(error, 'EXPR_EVAL_FAILED'), String(error));
          assert.equal(error.httpStatus, 422);
          assert.match(error.message, message);
          assert.match(error.message, /^expression '.*' failed: /);
          assert.ok(!error.message.includes(secret), 'no payload in the message');
          assert.ok(!JSON.stringify(error.details).includes(secret), 'no payload in the details');
          return true;
        },
      );
    });
  }

  test('data deeper than the limit is refused, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep];
    assert.throws(
      () => compileExpression('size(event) > 0', VARIABLES).evaluate({ event: deep }),
      (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED') && /nests deeper/.test(e.message),
    );
  });
});

describe('evaluateCondition', { timeout: 30_000 }, () => {
  const compile = (source: string): CompiledExpression => compileExpression(source, VARIABLES);
  test('returns bools', () => {
    assert.equal(evaluateCondition(compile('event.data.count > 2'), { event: { data: { count: 3 } } }), true);
    assert.equal(
      evaluateCondition(compile('event.data.count > 2'), { event: { data: { count: 1 } } }),
      false,
    );
  });
  const nonBool: readonly (readonly [string, string])[] = [
    ['event.data.count', 'int'],
    ['event.data.ratio', 'double'],
    ['event.data.branch', 'string'],
    ['event.data.nothing', 'null'],
    ['event.data.list', 'list'],
    ['event.data', 'map'],
  ];
  for (const [source, type] of nonBool) {
    test(`rejects ${type}`, () => {
      const context = { event: { data: { count: 3, ratio: 0.5, branch: 'main', nothing: null, list: [] } } };
      assert.throws(
        () => evaluateCondition(compile(source), context),
        (e: unknown) =>
          isJunctionError(e, 'EXPR_EVAL_FAILED') &&
          e.message === `condition '${source}' returned ${type}, expected bool`,
      );
    });
  }
});

describe('status functions', { timeout: 30_000 }, () => {
  const withStatus = { variables: ['event'], statusFunctions: true };
  const status = (success: boolean, failure: boolean, cancelled: boolean) => ({
    status: { success, failure, cancelled },
  });
  test('each function answers from the status given to the evaluation', () => {
    const cases: readonly (readonly [string, ReturnType<typeof status>, boolean])[] = [
      ['success()', status(true, false, false), true],
      ['success()', status(false, true, false), false],
      ['failure()', status(false, true, false), true],
      ['failure()', status(true, false, false), false],
      ['cancelled()', status(false, false, true), true],
      ['cancelled()', status(true, false, false), false],
      ['always()', status(false, true, true), true],
      ['failure() && event.data.branch == "main"', status(false, true, false), true],
      ['[1, 2].exists(x, x == 2 && success())', status(true, false, false), true],
    ];
    for (const [source, options, expected] of cases) {
      const compiled = compileExpression(source, withStatus);
      assert.equal(evaluateCondition(compiled, { event: EVENT }, options), expected, source);
    }
  });
  test('the status of one evaluation does not leak into the next', () => {
    const compiled = compileExpression('success()', withStatus);
    assert.equal(evaluateCondition(compiled, {}, status(true, false, false)), true);
    assert.equal(evaluateCondition(compiled, {}, status(false, false, false)), false);
    assert.throws(
      () => evaluateCondition(compiled, {}),
      (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED'),
    );
  });
  test('a status of a failed evaluation is reset too', () => {
    const failing = compileExpression('success() && event.data.missing', withStatus);
    assert.throws(() => failing.evaluate({ event: EVENT }, status(true, false, false)));
    assert.throws(
      () => compileExpression('success()', withStatus).evaluate({}),
      (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED'),
    );
  });
  test('evaluating without a status is EXPR_EVAL_FAILED, even where CEL would absorb the error', () => {
    for (const source of ['success()', 'always() || true', 'event.data.draft && failure()']) {
      assert.throws(
        () => evaluateCondition(compileExpression(source, withStatus), { event: EVENT }),
        (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED') && /no job or step status/.test(e.message),
        source,
      );
    }
  });
  test('expressions without status functions need no status', () => {
    const compiled = compileExpression('event.data.count == 3', withStatus);
    assert.equal(evaluateCondition(compiled, { event: EVENT }), true);
  });
  test('outside job and step `if` they are EXPR_INVALID with a clear message', () => {
    for (const [source, name, column] of [
      ['success()', 'success', 1],
      ['event.data.draft || failure ()', 'failure', 21],
      ['always() && cancelled()', 'always', 1],
    ] as const) {
      assert.throws(
        () => compileExpression(source, VARIABLES),
        (e: unknown) =>
          isJunctionError(e, 'EXPR_INVALID') &&
          e.message.includes(
            `status functions such as ${name}() are only available in job and step \`if\``,
          ) &&
          e.details?.['column'] === column,
        source,
      );
    }
  });
  test('they take no arguments and are not methods; the names stay usable as fields', () => {
    assert.throws(
      () => compileExpression('success(1)', withStatus),
      (e: unknown) => isJunctionError(e, 'EXPR_INVALID'),
    );
    assert.throws(
      () => compileExpression('event.success()', withStatus),
      (e: unknown) => isJunctionError(e, 'EXPR_INVALID') && !e.message.includes('status functions'),
    );
    const field = compileExpression('event.success == true', withStatus);
    assert.equal(evaluateCondition(field, { event: { success: true } }), true);
  });
  test('environments with and without status functions are cached apart', () => {
    assert.equal(
      evaluateCondition(compileExpression('always()', withStatus), {}, status(false, false, false)),
      true,
    );
    assert.throws(
      () => compileExpression('always()', VARIABLES),
      (e: unknown) => isJunctionError(e, 'EXPR_INVALID'),
    );
    assert.equal(
      evaluateCondition(compileExpression('always()', withStatus), {}, status(false, false, false)),
      true,
    );
  });
});

describe('nearest names', { timeout: 30_000 }, () => {
  test('edit distance and suggestions', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(nearestName('evnt', ['env', 'event']), 'event');
    assert.equal(nearestName('Event', ['event']), 'event');
    assert.equal(nearestName('stesp', ['steps', 'secrets']), 'steps');
    assert.equal(nearestName('zzz', ['event', 'env']), undefined);
  });
});
