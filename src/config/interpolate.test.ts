import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interpolate } from './interpolate.ts';

void describe('interpolate', { timeout: 30_000 }, () => {
  const env = { HOST: 'db.local', EMPTY: '', PORT: '5432' };

  void test('substitutes set variables anywhere in the text', () => {
    const result = interpolate('postgres://${HOST}:${PORT}/x', env);
    assert.deepEqual(result, { value: 'postgres://db.local:5432/x', changed: true, problems: [] });
  });

  void test('uses the fallback when the variable is unset or empty', () => {
    assert.equal(interpolate('${MISSING:-fallback}', env).value, 'fallback');
    assert.equal(interpolate('${EMPTY:-fallback}', env).value, 'fallback');
    assert.equal(interpolate('${HOST:-fallback}', env).value, 'db.local');
    assert.equal(interpolate('${MISSING:-}', env).value, '');
    assert.equal(interpolate('${MISSING:-a:b-c}', env).value, 'a:b-c');
  });

  void test('a set but empty variable without fallback is the empty string', () => {
    assert.deepEqual(interpolate('x${EMPTY}y', env).problems, []);
    assert.equal(interpolate('x${EMPTY}y', env).value, 'xy');
  });

  void test('$${ is a literal ${ and is not substituted', () => {
    assert.equal(interpolate('$${HOST}', env).value, '${HOST}');
    assert.equal(interpolate('a $${{ b }} ${HOST}', env).value, 'a ${{ b }} db.local');
  });

  void test('a lone $ stays as it is', () => {
    const result = interpolate('cost: $5 and $$ and $', env);
    assert.deepEqual(result, { value: 'cost: $5 and $$ and $', changed: false, problems: [] });
  });

  void test('an unset variable is a problem naming it, at its offset', () => {
    const result = interpolate('a ${HOST} ${NOPE}', env);
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]!.index, 10);
    assert.equal(result.problems[0]!.variable, 'NOPE');
    assert.equal(result.problems[0]!.reference, '${NOPE}');
    assert.match(result.problems[0]!.message, /environment variable 'NOPE' is not set/);
  });

  void test('malformed references are problems', () => {
    assert.match(interpolate('${1BAD}', env).problems[0]!.message, /invalid reference '\$\{1BAD\}'/);
    assert.match(interpolate('${{ event.id }}', env).problems[0]!.message, /invalid reference/);
    assert.match(interpolate('${}', env).problems[0]!.message, /invalid reference/);
    assert.match(interpolate('abc ${HOST', env).problems[0]!.message, /unterminated/);
    assert.equal(interpolate('abc ${HOST', env).problems[0]!.index, 4);
  });
});
