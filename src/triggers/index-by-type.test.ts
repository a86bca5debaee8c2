import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTriggerIndex } from './index-by-type.ts';
import { matchEventType } from './trigger.ts';

describe('createTriggerIndex', { timeout: 30_000 }, () => {
  const entries = [
    { key: 'a', trigger: { event: 'git.push' } },
    { key: 'b', trigger: { event: 'git.*' } },
    { key: 'c', trigger: { event: 'image.pushed' } },
    { key: 'd', trigger: { event: '*.succeeded' } },
    { key: 'e', trigger: { event: 'git.push', branches: ['main'] } },
    { key: 'f', trigger: { event: '**' } },
    { key: 'g', trigger: { event: 'git.**' } },
    { key: 'h', trigger: { event: 'pipeline.succ*' } },
  ];
  const index = createTriggerIndex(entries);

  const cases: [string, string[]][] = [
    ['git.push', ['a', 'b', 'e', 'f', 'g']],
    ['git.branch.deleted', ['f', 'g']],
    ['image.pushed', ['c', 'f']],
    ['pipeline.succeeded', ['d', 'f', 'h']],
    ['unknown', ['f']],
  ];
  for (const [type, keys] of cases) {
    test(`candidates('${type}') in insertion order`, () => {
      assert.deepEqual(
        index.candidates(type).map((e) => e.key),
        keys,
      );
    });
  }

  test('agrees with matching every trigger one by one', () => {
    for (const type of [
      'git.push',
      'git.tag',
      'git.branch.deleted',
      'pipeline.failed',
      'x',
      'a.b.succeeded',
    ]) {
      const expected = entries.filter((e) => matchEventType(e.trigger.event, type)).map((e) => e.key);
      assert.deepEqual(
        index.candidates(type).map((e) => e.key),
        expected,
        type,
      );
    }
  });

  test('entries keep their extra fields', () => {
    const rich = createTriggerIndex([{ key: 'ci#0', pipeline: 'ci', trigger: { event: 'git.push' } }]);
    assert.equal(rich.candidates('git.push')[0]?.pipeline, 'ci');
    assert.equal(rich.size, 1);
  });

  test('10,000 exact-type triggers of which one matches: one candidate', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({
      key: `p${i}#0`,
      trigger: { event: i === 4321 ? 'git.push' : `custom.type${i}` },
    }));
    const big = createTriggerIndex(many);
    assert.equal(big.size, 10_000);
    assert.deepEqual(
      big.candidates('git.push').map((e) => e.key),
      ['p4321#0'],
    );
    assert.deepEqual(big.candidates('git.tag'), []);
  });

  test('10,000 patterns under other first segments are never tested', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({
      key: `q${i}`,
      trigger: { event: `team${i}.*` },
    }));
    const big = createTriggerIndex([...many, { key: 'mine', trigger: { event: 'git.*' } }]);
    assert.deepEqual(
      big.candidates('git.push').map((e) => e.key),
      ['mine'],
    );
  });
});
