import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deque } from './deque.ts';

void describe('Deque', { timeout: 10_000 }, () => {
  void it('is empty when new', () => {
    const q = new Deque<number>();
    assert.equal(q.length, 0);
    assert.equal(q.shift(), undefined);
    assert.equal(q.peek(), undefined);
  });

  void it('keeps FIFO order through growth and wrap-around', () => {
    const q = new Deque<number>(2);
    for (let i = 0; i < 5; i++) q.push(i);
    assert.equal(q.shift(), 0);
    assert.equal(q.shift(), 1);
    for (let i = 5; i < 40; i++) q.push(i);
    const out: number[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    assert.deepEqual(
      out,
      Array.from({ length: 38 }, (_, i) => i + 2),
    );
  });

  void it('matches an array model under random push, unshift and shift', () => {
    const q = new Deque<number>(1);
    const model: number[] = [];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const r = random();
      if (r < 0.4) {
        q.push(i);
        model.push(i);
      } else if (r < 0.6) {
        q.unshift(i);
        model.unshift(i);
      } else {
        assert.equal(q.shift(), model.shift());
      }
      assert.equal(q.length, model.length);
      assert.equal(q.peek(), model[0]);
    }
  });

  void it('empties on clear', () => {
    const q = new Deque<string>();
    q.push('a');
    q.unshift('b');
    q.clear();
    assert.equal(q.length, 0);
    assert.equal(q.shift(), undefined);
    q.push('c');
    assert.equal(q.shift(), 'c');
  });
});
