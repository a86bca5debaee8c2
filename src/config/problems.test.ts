import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JunctionError } from '../errors/index.ts';
import {
  describeValue,
  formatConfigProblems,
  isPathWithin,
  redactUrlPasswords,
  urlPasswordsIn,
} from './problems.ts';

void describe('config problems', { timeout: 30_000 }, () => {
  void test('isPathWithin', () => {
    assert.equal(isPathWithin('store.url', 'store'), true);
    assert.equal(isPathWithin('sources[1].name', 'sources'), true);
    assert.equal(isPathWithin('storex', 'store'), false);
    assert.equal(isPathWithin('anything', ''), true);
  });

  void test('URL passwords are found and redacted', () => {
    const text = 'nats://user:s3cret@a:4222,nats://u2:p%40ss@b:4222';
    assert.equal(redactUrlPasswords(text), 'nats://user:***@a:4222,nats://u2:***@b:4222');
    assert.deepEqual(urlPasswordsIn(text), ['s3cret', 'p%40ss', 'p@ss']);
    assert.equal(redactUrlPasswords('postgres://junction@db/x'), 'postgres://junction@db/x');
    assert.deepEqual(urlPasswordsIn('sqlite:/tmp/x.db'), []);
  });

  void test('describeValue quotes strings, hides URL passwords and names structures', () => {
    assert.equal(describeValue('abc'), "'abc'");
    assert.equal(describeValue('postgres://a:b@c/d'), "'postgres://a:***@c/d'");
    assert.equal(describeValue(5), '5');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue([1]), 'a list');
    assert.equal(describeValue({ a: 1 }), 'a mapping');
    assert.equal(describeValue('x'.repeat(100)).length, 62);
  });

  void test('formatConfigProblems prints one line per problem', () => {
    const err = new JunctionError('CONFIG_INVALID', 'junction.yaml has 3 problems', {
      details: {
        problems: [
          { path: 'server.port', message: 'must be <= 65535', line: 4, column: 9, file: 'junction.yaml' },
          { path: '', message: 'must be a mapping', line: 1, column: 1, file: 'junction.yaml' },
          {
            path: 'log.level',
            message: "must be one of 'debug' (from JUNCTION_LOG_LEVEL)",
            origin: 'env JUNCTION_LOG_LEVEL',
          },
        ],
      },
    });
    assert.equal(
      formatConfigProblems(err),
      [
        'junction.yaml:4:9 server.port: must be <= 65535',
        'junction.yaml:1:1 (top level): must be a mapping',
        "log.level: must be one of 'debug' (from JUNCTION_LOG_LEVEL)",
      ].join('\n'),
    );
    assert.equal(
      formatConfigProblems(new JunctionError('CONFIG_NOT_FOUND', "configuration file 'x' does not exist")),
      "configuration file 'x' does not exist",
    );
    assert.equal(formatConfigProblems([{ path: 'a', message: 'b' }]), 'a: b');
  });
});
