import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_DURATION_MS, parseByteSize, parseDuration } from './units.ts';

void describe('parseByteSize', { timeout: 30_000 }, () => {
  const cases: [number | string, number | undefined][] = [
    [1, 1],
    [1048576, 1048576],
    ['1048576', 1048576],
    ['1MiB', 1024 * 1024],
    ['512KiB', 512 * 1024],
    ['2MB', 2_000_000],
    ['1 GiB', 1024 ** 3],
    ['10kb', 10_000],
    ['1.5KiB', 1536],
    ['100B', 100],
    [0, undefined],
    [-5, undefined],
    [1.5, undefined],
    ['0MiB', undefined],
    ['2XB', undefined],
    ['MiB', undefined],
    ['1 MiB extra', undefined],
    ['', undefined],
    ['1e3', undefined],
  ];
  for (const [input, expected] of cases) {
    void test(`${JSON.stringify(input)} → ${String(expected)}`, () =>
      assert.equal(parseByteSize(input), expected));
  }
});

void describe('parseDuration', { timeout: 30_000 }, () => {
  const cases: [number | string, number | undefined][] = [
    [500, 500],
    ['500', 500],
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.1s', 100],
    [0, undefined],
    ['0s', undefined],
    ['0.5ms', undefined],
    ['3 days', undefined],
    ['10d', undefined],
    ['1m30s', undefined],
    ['30S', undefined],
    ['', undefined],
    [MAX_DURATION_MS, MAX_DURATION_MS],
    [MAX_DURATION_MS + 1, undefined],
    ['600h', undefined],
  ];
  for (const [input, expected] of cases) {
    void test(`${JSON.stringify(input)} → ${String(expected)}`, () =>
      assert.equal(parseDuration(input), expected));
  }
});
