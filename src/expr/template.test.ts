import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isJunctionError } from '../errors/index.ts';
import { compileTemplate, parseTemplate, type TemplatePart } from './template.ts';

const OPTIONS = { variables: ['event'] };
const CONTEXT = {
  event: {
    data: {
      repository: 'acme/app',
      branch: 'main',
      count: 3,
      ratio: 2.5,
      draft: false,
      nothing: null,
      list: [1, 'two', { three: 3 }],
      map: { a: 1 },
      when: '2024-01-01T00:00:00Z',
    },
  },
};

describe('parseTemplate', { timeout: 30_000 }, () => {
  const cases: readonly (readonly [string, TemplatePart[]])[] = [
    ['plain text', [{ kind: 'text', text: 'plain text' }]],
    ['', [{ kind: 'text', text: '' }]],
    ['${{ a }}', [{ kind: 'expression', source: ' a ', offset: 3 }]],
    [
      'ci-${{ a }}-${{b}}!',
      [
        { kind: 'text', text: 'ci-' },
        { kind: 'expression', source: ' a ', offset: 6 },
        { kind: 'text', text: '-' },
        { kind: 'expression', source: 'b', offset: 15 },
        { kind: 'text', text: '!' },
      ],
    ],
    ['${{ "}}" }}', [{ kind: 'expression', source: ' "}}" ', offset: 3 }]],
    ['${{ \'a}}b\' + "c\\"}}" }}', [{ kind: 'expression', source: ' \'a}}b\' + "c\\"}}" ', offset: 3 }]],
    ['${{ """x}}\n""" }}', [{ kind: 'expression', source: ' """x}}\n""" ', offset: 3 }]],
    ['${{ r"\\" }}', [{ kind: 'expression', source: ' r"\\" ', offset: 3 }]],
    [
      '${{ {"a": {"b": 1}} }}x',
      [
        { kind: 'expression', source: ' {"a": {"b": 1}} ', offset: 3 },
        { kind: 'text', text: 'x' },
      ],
    ],
    ['a }} b', [{ kind: 'text', text: 'a }} b' }]],
  ];
  for (const [text, parts] of cases) {
    test(JSON.stringify(text), () => {
      assert.deepEqual(parseTemplate(text), parts);
    });
  }

  const broken: readonly (readonly [string, number, RegExp])[] = [
    ['abc ${{ a', 4, /unterminated/],
    ['${{ a }} ${{ "}} ', 9, /unterminated/],
    ['x\n  ${{ }}', 4, /empty/],
  ];
  for (const [text, offset, message] of broken) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseTemplate(text),
        (error: unknown) =>
          isJunctionError(error, 'EXPR_INVALID') &&
          error.details?.offset === offset &&
          message.test(error.message),
      );
    });
  }
});

describe('compileTemplate', { timeout: 30_000 }, () => {
  const renders: readonly (readonly [string, string])[] = [
    ['ci-${{ event.data.repository }}-${{ event.data.branch }}', 'ci-acme/app-main'],
    ['${{ event.data.count }}/${{ event.data.ratio }}/${{ event.data.draft }}', '3/2.5/false'],
    ['[${{ event.data.nothing }}]', '[]'],
    ['${{ event.data.list }}', '[1,"two",{"three":3}]'],
    ['${{ event.data.map }}', '{"a":1}'],
    ['${{ timestamp(event.data.when) }}', '2024-01-01T00:00:00.000Z'],
    ['${{ 9223372036854775807 }}', '9223372036854775807'],
    ['no expressions', 'no expressions'],
  ];
  for (const [text, expected] of renders) {
    test(`renders ${text}`, () => {
      assert.equal(compileTemplate(text, OPTIONS).render(CONTEXT), expected);
    });
  }

  test('a template that is exactly one expression keeps the value', () => {
    assert.equal(compileTemplate('${{ event.data.count }}', OPTIONS).evaluateValue(CONTEXT), 3);
    assert.deepEqual(compileTemplate('${{ event.data.list }}', OPTIONS).evaluateValue(CONTEXT), [
      1,
      'two',
      { three: 3 },
    ]);
    assert.equal(compileTemplate('${{ event.data.nothing }}', OPTIONS).evaluateValue(CONTEXT), null);
    assert.equal(compileTemplate(' ${{ event.data.count }}', OPTIONS).evaluateValue(CONTEXT), ' 3');
    assert.equal(compileTemplate('n', OPTIONS).evaluateValue(CONTEXT), 'n');
    assert.equal(compileTemplate('n', OPTIONS).isConstant, true);
  });

  test('errors inside an expression point into the template', () => {
    assert.throws(
      () => compileTemplate('group-${{ evnt.data }}', OPTIONS),
      (error: unknown) =>
        isJunctionError(error, 'EXPR_UNKNOWN_VARIABLE') &&
        error.details?.offset === 10 &&
        error.details.column === 11 &&
        /did you mean 'event'/.test(error.message),
    );
    assert.throws(
      () => compileTemplate('a\nb ${{ 1 + }}', OPTIONS),
      (error: unknown) => isJunctionError(error, 'EXPR_INVALID') && error.details?.line === 2,
    );
  });

  test('runtime failures are EXPR_EVAL_FAILED', () => {
    assert.throws(
      () => compileTemplate('x-${{ event.data.missing }}', OPTIONS).render(CONTEXT),
      (error: unknown) => isJunctionError(error, 'EXPR_EVAL_FAILED'),
    );
  });
});
