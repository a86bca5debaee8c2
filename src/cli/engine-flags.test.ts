import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineFlags } from './engine-flags.ts';

const FLAG = '--no-allocation-site-pretenuring';

void test('serve turns allocation-site pretenuring off by default', () => {
  assert.deepEqual(engineFlags([], undefined), [FLAG]);
  assert.deepEqual(engineFlags(['--enable-source-maps'], '--max-semi-space-size=16'), [FLAG]);
  // A flag whose name only starts the same is another flag.
  assert.deepEqual(engineFlags(['--allocation-site-pretenuring-extra'], undefined), [FLAG]);
});

void test("an operator's own setting of the flag wins, in either form and from either place", () => {
  for (const arg of [
    '--allocation-site-pretenuring',
    '--no-allocation-site-pretenuring',
    '--allocation_site_pretenuring',
    '--allocation-site-pretenuring=true',
  ]) {
    assert.deepEqual(engineFlags([arg], undefined), [], arg);
    assert.deepEqual(engineFlags([], `--max-semi-space-size=16  ${arg}`), [], `NODE_OPTIONS ${arg}`);
  }
});
