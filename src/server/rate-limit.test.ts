import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, type RateDecision } from './rate-limit.ts';

function clock(start = 1000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function takeMany(bucket: TokenBucket, count: number): RateDecision[] {
  return Array.from({ length: count }, () => bucket.take());
}

void describe('TokenBucket', () => {
  void test('a full bucket lets a burst through, then refuses', () => {
    const c = clock();
    const bucket = new TokenBucket({ perSecond: 1, burst: 3 }, c.now);
    const decisions = takeMany(bucket, 4);
    assert.deepEqual(
      decisions.map((d) => d.allowed),
      [true, true, true, false],
    );
    assert.deepEqual(decisions[3], { allowed: false, retryAfterSeconds: 1 });
  });

  void test('tokens come back at the configured rate and never beyond the burst', () => {
    const c = clock();
    const bucket = new TokenBucket({ perSecond: 2, burst: 2 }, c.now);
    takeMany(bucket, 2);
    assert.equal(bucket.take().allowed, false);
    c.advance(499);
    assert.equal(bucket.take().allowed, false);
    c.advance(1);
    assert.equal(bucket.take().allowed, true);
    assert.equal(bucket.take().allowed, false);
    c.advance(3_600_000);
    assert.deepEqual(
      takeMany(bucket, 3).map((d) => d.allowed),
      [true, true, false],
    );
  });

  void test('Retry-After is whole seconds until the next token, at least 1', () => {
    const c = clock();
    const slow = new TokenBucket({ perSecond: 0.1, burst: 1 }, c.now);
    assert.equal(slow.take().allowed, true);
    assert.deepEqual(slow.take(), { allowed: false, retryAfterSeconds: 10 });
    c.advance(2500);
    assert.deepEqual(slow.take(), { allowed: false, retryAfterSeconds: 8 });
    c.advance(7500);
    assert.equal(slow.take().allowed, true);

    const fast = new TokenBucket({ perSecond: 100_000, burst: 1 }, c.now);
    assert.equal(fast.take().allowed, true);
    assert.deepEqual(fast.take(), { allowed: false, retryAfterSeconds: 1 });
    c.advance(1);
    assert.equal(fast.take().allowed, true);
  });

  void test('refused requests take nothing: a steady flood still lets the rate through', () => {
    const c = clock();
    const bucket = new TokenBucket({ perSecond: 10, burst: 1 }, c.now);
    let allowed = 0;
    for (let ms = 0; ms < 10_000; ms += 1) {
      if (bucket.take().allowed) allowed += 1;
      c.advance(1);
    }
    assert.ok(allowed >= 100 && allowed <= 101, `allowed ${allowed}`);
  });

  void test('a clock that steps backwards adds no tokens', () => {
    const c = clock(50_000);
    const bucket = new TokenBucket({ perSecond: 1, burst: 1 }, c.now);
    assert.equal(bucket.take().allowed, true);
    c.advance(-10_000);
    assert.equal(bucket.take().allowed, false);
    c.advance(10_500);
    assert.equal(bucket.take().allowed, false);
    c.advance(500);
    assert.equal(bucket.take().allowed, true);
  });
});
