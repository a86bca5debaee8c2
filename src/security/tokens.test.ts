import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerToken, hashToken, scopeAllows } from './tokens.ts';

describe('tokens', { timeout: 10_000 }, () => {
  test('scopes nest: admin covers all, operate covers read, emit stands alone', () => {
    const cases: [Parameters<typeof scopeAllows>[0], Parameters<typeof scopeAllows>[1], boolean][] = [
      [['admin'], 'emit', true],
      [['admin'], 'operate', true],
      [['operate'], 'read', true],
      [['operate'], 'emit', false],
      [['read'], 'operate', false],
      [['read'], 'emit', false],
      [['emit'], 'read', false],
      [['emit'], 'emit', true],
      [['emit', 'read'], 'read', true],
      [[], 'read', false],
      [['admin'], 'approve', true],
      [['approve'], 'approve', true],
      [['operate'], 'approve', false],
      [['read'], 'approve', false],
      [['approve'], 'read', false],
      [['approve'], 'operate', false],
    ];
    for (const [held, needed, expected] of cases) {
      assert.equal(scopeAllows(held, needed), expected, `${held.join(',')} → ${needed}`);
    }
  });

  test('bearer header parsing', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer   abc  '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });

  test('hash is sha256 hex and stable', () => {
    assert.equal(hashToken('x'), '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  });
});
