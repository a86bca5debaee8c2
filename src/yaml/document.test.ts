import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findDuplicateKeys, parseYamlDocument, positionOf, toPlainValue } from './index.ts';

const TEXT = ['a: 1', 'jobs:', '  build:', '    x: 1', '  build:', '    y: [1, 2]', ''].join('\n');

void describe('yaml documents with positions', { timeout: 30_000 }, () => {
  void test('syntax errors are problems with line and column', () => {
    const { problems } = parseYamlDocument('a: [1\nb: 2\n', 'f.yaml');
    assert.equal(problems.length > 0, true);
    assert.equal(problems[0]!.file, 'f.yaml');
    assert.equal(typeof problems[0]!.line, 'number');
    assert.match(problems[0]!.message, /^[a-z]/);
  });

  void test('several documents are refused', () => {
    const { problems } = parseYamlDocument('a: 1\n---\nb: 2\n', undefined);
    assert.match(problems[0]!.message, /more than one YAML document/);
  });

  void test('duplicate keys: parser problem by default, both positions when asked', () => {
    assert.equal(parseYamlDocument(TEXT, 'f.yaml').problems.length, 1);
    const { document, problems } = parseYamlDocument(TEXT, 'f.yaml', { uniqueKeys: false });
    assert.deepEqual(problems, []);
    assert.deepEqual(findDuplicateKeys(document), [
      { parent: ['jobs'], key: 'build', first: { line: 3, column: 3 }, duplicate: { line: 5, column: 3 } },
    ]);
  });

  void test('positionOf finds values, keys, and the nearest ancestor', () => {
    const { document } = parseYamlDocument(TEXT, 'f.yaml', { uniqueKeys: false });
    assert.deepEqual(positionOf(document, ['jobs', 'build', 'y', 1]), { line: 6, column: 12 });
    assert.deepEqual(positionOf(document, ['jobs', 'build', 'y'], true), { line: 6, column: 5 });
    assert.deepEqual(positionOf(document, ['a']), { line: 1, column: 4 });
    assert.deepEqual(positionOf(document, ['jobs', 'missing']), { line: 3, column: 3 });
  });

  void test('an alias bomb is refused as a problem', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      '',
    ].join('\n');
    const { document } = parseYamlDocument(bomb, 'bomb.yaml');
    const result = toPlainValue(document);
    assert.equal(result.value, undefined);
    assert.match(result.problems[0]!.message, /alias bomb/);
    assert.deepEqual([result.problems[0]!.line, result.problems[0]!.column], [2, 8]);
    assert.deepEqual(toPlainValue(parseYamlDocument('a: &x 1\nb: *x\n', undefined).document).value, {
      a: 1,
      b: 1,
    });
  });
});
