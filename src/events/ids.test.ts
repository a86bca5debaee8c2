import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from './ids.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids are RFC 9562 version 7 with the time in the first 48 bits', () => {
  const at = Date.UTC(2026, 10, 27, 12, 0, 0, 123);
  const id = uuidv7(at + 10_000_000);
  assert.match(id, UUID_V7);
  const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  assert.equal(ms, at + 10_000_000);
});

test('ids made in one process strictly increase, also within one millisecond and past the counter', () => {
  const fixed = Date.now() + 20_000_000;
  let previous = '';
  for (let i = 0; i < 10_000; i += 1) {
    const id = uuidv7(fixed);
    assert.match(id, UUID_V7);
    assert.ok(id > previous, `${id} after ${previous}`);
    previous = id;
  }
  const seen = new Set(Array.from({ length: 50_000 }, () => uuidv7()));
  assert.equal(seen.size, 50_000);
});
