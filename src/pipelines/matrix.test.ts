import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { combinationKey, combinationName, expandMatrix, matrixOverflow } from './index.ts';
import type { MatrixCombination, MatrixSpec } from './index.ts';

type Combination = MatrixCombination<unknown>;
/** A matrix as written in a test: `include` and `exclude` may be left out. */
type Written = Pick<MatrixSpec<unknown>, 'axes'> & Partial<MatrixSpec<unknown>>;
const spec = (written: Written): MatrixSpec<unknown> => ({ include: [], exclude: [], ...written });

void describe('expandMatrix', { timeout: 30_000 }, () => {
  const cases: [string, Written, Combination[]][] = [
    [
      'product in declaration order, first dimension slowest (GitHub docs order)',
      { axes: { version: [10, 12, 14], os: ['ubuntu-latest', 'windows-latest'] } },
      [
        { version: 10, os: 'ubuntu-latest' },
        { version: 10, os: 'windows-latest' },
        { version: 12, os: 'ubuntu-latest' },
        { version: 12, os: 'windows-latest' },
        { version: 14, os: 'ubuntu-latest' },
        { version: 14, os: 'windows-latest' },
      ],
    ],
    ['one dimension', { axes: { node: [20] } }, [{ node: 20 }]],
    ['no dimensions', { axes: {} }, []],
    ['an empty dimension', { axes: { a: [1, 2], b: [] } }, []],
    [
      // The example of GitHub's "Expanding or adding matrix configurations".
      'include: extend without overwriting original values, else add',
      {
        axes: { fruit: ['apple', 'pear'], animal: ['cat', 'dog'] },
        include: [
          { color: 'green' },
          { color: 'pink', animal: 'cat' },
          { fruit: 'apple', shape: 'circle' },
          { fruit: 'banana' },
          { fruit: 'banana', animal: 'cat' },
        ],
      },
      [
        { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
        { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
        { fruit: 'pear', animal: 'cat', color: 'pink' },
        { fruit: 'pear', animal: 'dog', color: 'green' },
        { fruit: 'banana' },
        { fruit: 'banana', animal: 'cat' },
      ],
    ],
    [
      // GitHub's "Example: Expanding configurations".
      'include adds a key to matching combinations only',
      {
        axes: { os: ['windows-latest', 'ubuntu-latest'], node: [14, 16] },
        include: [{ os: 'windows-latest', node: 16, npm: 6 }],
      },
      [
        { os: 'windows-latest', node: 14 },
        { os: 'windows-latest', node: 16, npm: 6 },
        { os: 'ubuntu-latest', node: 14 },
        { os: 'ubuntu-latest', node: 16 },
      ],
    ],
    [
      // GitHub's "Example: Adding configurations".
      'include on a matrix with no match adds new combinations',
      {
        axes: { os: ['windows-latest', 'ubuntu-latest'], version: [12, 14, 16] },
        include: [{ os: 'windows-latest', version: 17 }],
      },
      [
        { os: 'windows-latest', version: 12 },
        { os: 'windows-latest', version: 14 },
        { os: 'windows-latest', version: 16 },
        { os: 'ubuntu-latest', version: 12 },
        { os: 'ubuntu-latest', version: 14 },
        { os: 'ubuntu-latest', version: 16 },
        { os: 'windows-latest', version: 17 },
      ],
    ],
    [
      'include only, no dimensions: one combination per entry',
      {
        axes: {},
        include: [
          { site: 'production', datacenter: 'site-a' },
          { site: 'staging', datacenter: 'site-b' },
        ],
      },
      [
        { site: 'production', datacenter: 'site-a' },
        { site: 'staging', datacenter: 'site-b' },
      ],
    ],
    [
      // GitHub's "Excluding matrix configurations": partial matches are excluded.
      'exclude removes partial matches',
      {
        axes: {
          os: ['macos-latest', 'windows-latest'],
          version: [12, 14, 16],
          environment: ['staging', 'production'],
        },
        exclude: [
          { os: 'macos-latest', version: 12, environment: 'production' },
          { os: 'windows-latest', version: 16 },
        ],
      },
      [
        { os: 'macos-latest', version: 12, environment: 'staging' },
        { os: 'macos-latest', version: 14, environment: 'staging' },
        { os: 'macos-latest', version: 14, environment: 'production' },
        { os: 'macos-latest', version: 16, environment: 'staging' },
        { os: 'macos-latest', version: 16, environment: 'production' },
        { os: 'windows-latest', version: 12, environment: 'staging' },
        { os: 'windows-latest', version: 12, environment: 'production' },
        { os: 'windows-latest', version: 14, environment: 'staging' },
        { os: 'windows-latest', version: 14, environment: 'production' },
      ],
    ],
    [
      'exclude runs before include: an include can bring an excluded combination back',
      {
        axes: { os: ['linux', 'mac'], node: [20] },
        exclude: [{ os: 'mac' }],
        include: [{ os: 'mac', node: 20 }],
      },
      [
        { os: 'linux', node: 20 },
        { os: 'mac', node: 20 },
      ],
    ],
    [
      'an include matching an excluded combination is appended, not merged',
      {
        axes: { os: ['linux', 'mac'], node: [22, 24] },
        exclude: [{ os: 'mac', node: 22 }],
        include: [{ os: 'mac', node: 22, experimental: true }],
      },
      [
        { os: 'linux', node: 22 },
        { os: 'linux', node: 24 },
        { os: 'mac', node: 24 },
        { os: 'mac', node: 22, experimental: true },
      ],
    ],
    [
      'exclude naming an unknown key matches nothing',
      { axes: { os: ['linux'] }, exclude: [{ arch: 'arm' }] },
      [{ os: 'linux' }],
    ],
    [
      'values compare by structure',
      {
        axes: {
          target: [
            { os: 'linux', arch: 'x64' },
            { os: 'mac', arch: 'arm' },
          ],
        },
        exclude: [{ target: { arch: 'arm', os: 'mac' } }],
        include: [{ target: { os: 'linux', arch: 'x64' }, extra: true }],
      },
      [{ target: { os: 'linux', arch: 'x64' }, extra: true }],
    ],
    [
      'added values may be overwritten by later entries',
      { axes: { os: ['linux'] }, include: [{ color: 'green' }, { color: 'pink' }] },
      [{ os: 'linux', color: 'pink' }],
    ],
  ];
  for (const [name, written, expected] of cases) {
    void test(name, () => assert.deepEqual(expandMatrix(spec(written), 256), expected));
  }

  void test('the input is not modified', () => {
    const strategy = spec({ axes: { os: ['linux'] }, include: [{ color: 'green' }] });
    const copy = structuredClone(strategy);
    expandMatrix(strategy, 256);
    assert.deepEqual(strategy, copy);
  });

  const tooLarge: [string, Written, number, string][] = [
    [
      'product over the cap',
      { axes: { a: [1, 2, 3], b: [1, 2, 3] } },
      8,
      'has 9 combinations; at most 8 are allowed',
    ],
    [
      'includes push it over',
      { axes: { a: [1, 2] }, include: [{ a: 3 }, { a: 4 }] },
      3,
      'has 4 combinations; at most 3 are allowed',
    ],
    [
      'a huge product reports a lower bound',
      { axes: { a: range(1000), b: range(1000), c: range(1000) } },
      256,
      'has more than 1000000 combinations; at most 256 are allowed',
    ],
  ];
  for (const [name, written, cap, message] of tooLarge) {
    void test(`too large: ${name}`, () => {
      assert.throws(
        () => expandMatrix(spec(written), cap, 'test'),
        (error) =>
          isJunctionError(error, 'PIPELINE_MATRIX_TOO_LARGE') &&
          error.message === `matrix of job 'test' ${message}`,
      );
    });
  }

  void test('exactly at the cap is fine, and exclusions count', () => {
    assert.equal(expandMatrix(spec({ axes: { a: [1, 2, 3], b: [1, 2, 3] } }), 9).length, 9);
    assert.equal(
      expandMatrix(spec({ axes: { a: [1, 2, 3], b: [1, 2, 3] }, exclude: [{ a: 1 }] }), 6).length,
      6,
    );
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

void describe('combination names and keys', { timeout: 30_000 }, () => {
  const names: [Combination, string][] = [
    [{ node: 20, os: 'linux' }, 'test (node=20, os=linux)'],
    [{ os: 'linux', node: 20 }, 'test (os=linux, node=20)'],
    [{}, 'test'],
    [{ flag: true, none: null }, 'test (flag=true, none=null)'],
    [{ target: { os: 'linux', arch: 'x64' } }, 'test (target={"arch":"x64","os":"linux"})'],
    [{ list: [1, 'a'] }, 'test (list=[1,"a"])'],
  ];
  for (const [combination, expected] of names) {
    void test(expected, () => assert.equal(combinationName('test', combination), expected));
  }

  void test('keys ignore key order and tell values apart by type', () => {
    assert.equal(combinationKey({ a: 1, b: 'x' }), combinationKey({ b: 'x', a: 1 }));
    assert.notEqual(combinationKey({ a: 1 }), combinationKey({ a: '1' }));
    assert.equal(combinationKey({ a: { y: 1, x: 2 } }), '{"a":{"x":2,"y":1}}');
  });
});

void describe('matrixOverflow', { timeout: 30_000 }, () => {
  void test('undefined within the cap', () => {
    assert.equal(matrixOverflow(spec({ axes: { a: [1, 2, 3], b: [1, 2, 3] } }), 9), undefined);
  });

  void test('the same count as expandMatrix, after exclude and include', () => {
    const written = { axes: { a: [1, 2, 3], b: [1, 2, 3] }, exclude: [{ a: 1 }], include: [{ a: 9 }] };
    assert.deepEqual(matrixOverflow(spec(written), 6), { count: 7, exact: true });
    assert.throws(
      () => expandMatrix(spec(written), 6),
      (error) =>
        isJunctionError(error, 'PIPELINE_MATRIX_TOO_LARGE') &&
        error.message === 'matrix has 7 combinations; at most 6 are allowed',
    );
  });

  void test('a lower bound past the counting limit', () => {
    assert.deepEqual(
      matrixOverflow(spec({ axes: { a: range(1000), b: range(1000), c: range(1000) } }), 256),
      {
        count: 1_000_000,
        exact: false,
      },
    );
  });
});
