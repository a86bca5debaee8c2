import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { editDistance, formatPath, formatProblem, sortProblems, suggestKey } from './index.ts';

void describe('yaml problems and suggestions', { timeout: 30_000 }, () => {
  void test('formatPath writes dotted keys and array indexes', () => {
    assert.equal(formatPath([]), '');
    assert.equal(formatPath(['server', 'port']), 'server.port');
    assert.equal(formatPath(['sources', 1, 'name']), 'sources[1].name');
  });

  void test('editDistance counts insertions, deletions, substitutions and transpositions', () => {
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('prot', 'port'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('same', 'same'), 0);
    assert.equal(editDistance('ca', 'abc'), 3);
  });

  void test('suggestKey finds close keys and refuses far ones', () => {
    const known = ['host', 'port', 'publicUrl', 'bodyLimit', 'maxJsonDepth'];
    assert.equal(suggestKey('prot', known), 'port');
    assert.equal(suggestKey('hots', known), 'host');
    assert.equal(suggestKey('body_limit', known), 'bodyLimit');
    assert.equal(suggestKey('BodyLimit', known), 'bodyLimit');
    assert.equal(suggestKey('maxJsonDpeth', known), 'maxJsonDepth');
    assert.equal(suggestKey('database', known), undefined);
    assert.equal(suggestKey('b', ['bus', 'log']), undefined);
    assert.equal(suggestKey('pipeline', ['pipelines', 'schemas']), 'pipelines');
  });

  void test('formatProblem writes file:line:col path: message and the suggestion', () => {
    assert.equal(
      formatProblem({
        file: 'ci.yaml',
        line: 4,
        column: 9,
        path: 'jobs.a.needs[0]',
        message: "unknown job 'buld'",
        suggestion: 'build',
      }),
      "ci.yaml:4:9 jobs.a.needs[0]: unknown job 'buld' (did you mean 'build'?)",
    );
    assert.equal(
      formatProblem({ file: 'ci.yaml', path: '', message: 'too large' }),
      'ci.yaml (top level): too large',
    );
    assert.equal(formatProblem({ path: 'a', message: 'm' }), 'a: m');
  });

  void test('sortProblems orders by position and drops duplicates', () => {
    const sorted = sortProblems([
      { path: 'b', message: 'x', line: 3, column: 1 },
      { path: 'a', message: 'y' },
      { path: 'b', message: 'x', line: 3, column: 1 },
      { path: 'c', message: 'z', line: 1, column: 5 },
    ]);
    assert.deepEqual(
      sorted.map((p) => p.path),
      ['c', 'b', 'a'],
    );
  });
});
