import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cron } from 'croner';
import { createSchemaRegistry, EVENT_CATALOG, validateCloudEvent } from '../events/index.ts';
import { slotsBetween, tickEvent, tickId, type Schedule } from './schedule.ts';

const at = (text: string): number => Date.parse(text);
const isoList = (times: readonly number[]): string[] => times.map((t) => new Date(t).toISOString());
const berlin = (cron: string): Cron => new Cron(cron, { mode: '5-or-6-parts', timezone: 'Europe/Berlin' });

const schedule: Schedule = {
  pipeline: 'nightly',
  triggerIndex: 1,
  cron: '30 2 * * *',
  timezone: 'Europe/Berlin',
  missed: 'latest',
  source: '/junction/schedule',
  subject: 'nightly/1',
};

void describe('schedule slots', () => {
  void test('a daily 02:30 in Berlin: the spring-forward night (2026-03-29) fires once, at 03:00 local', () => {
    const cron = berlin('30 2 * * *');
    const runs = cron.nextRuns(3, new Date('2026-03-28T00:00:00Z')).map((d) => d.getTime());
    // 01:30 UTC is 02:30 CET; 02:30 does not exist on the 29th, so it fires as the clock jumps;
    // from the 30th on, 02:30 CEST is 00:30 UTC.
    assert.deepEqual(isoList(runs), [
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  void test('a daily 02:30 in Berlin: the fall-back night (2026-10-25), when 02:30 occurs twice, fires once', () => {
    const runs = berlin('30 2 * * *').nextRuns(3, new Date('2026-10-24T00:00:00Z'));
    assert.deepEqual(isoList(runs.map((d) => d.getTime())), [
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  void test('half-hourly in Berlin across the DST change: slots stay 30 minutes apart in UTC', () => {
    const cron = berlin('*/30 * * * *');
    const due = slotsBetween(cron, at('2026-03-29T00:00:00Z'), at('2026-03-29T02:00:00Z'), 10);
    assert.deepEqual(isoList(due), [
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T00:30:00.000Z',
    ]);
  });

  void test('slotsBetween: after is exclusive, now inclusive, newest first, at most the limit', () => {
    const cron = new Cron('*/15 * * * *', { mode: '5-or-6-parts', timezone: 'UTC' });
    const from = at('2026-05-01T10:00:00Z');
    assert.deepEqual(slotsBetween(cron, from, at('2026-05-01T10:14:59.999Z'), 5), []);
    assert.deepEqual(isoList(slotsBetween(cron, from, at('2026-05-01T10:15:00Z'), 5)), [
      '2026-05-01T10:15:00.000Z',
    ]);
    assert.deepEqual(isoList(slotsBetween(cron, from, at('2026-05-01T11:00:00Z'), 2)), [
      '2026-05-01T11:00:00.000Z',
      '2026-05-01T10:45:00.000Z',
    ]);
    assert.equal(slotsBetween(cron, from, at('2026-05-01T11:00:00Z'), 100).length, 4);
    // A clock behind the last slot has nothing due.
    assert.deepEqual(slotsBetween(cron, from, at('2026-05-01T09:00:00Z'), 5), []);
  });

  void test('a 6-field cron counts seconds', () => {
    const cron = new Cron('*/1 * * * * *', { mode: '5-or-6-parts', timezone: 'UTC' });
    const due = slotsBetween(cron, at('2026-05-01T10:00:00Z'), at('2026-05-01T10:00:03.500Z'), 10);
    assert.equal(due.length, 3);
  });
});

void describe('schedule.tick events', () => {
  void test('the id depends on pipeline, trigger index, cron and slot, and nothing else', () => {
    const slot = '2026-03-29T01:00:00.000Z';
    const id = tickId(schedule, slot);
    assert.match(id, /^tick_[0-9a-f]{32}$/);
    assert.equal(tickId({ ...schedule }, slot), id);
    assert.equal(tickEvent({ ...schedule, timezone: 'UTC', missed: 'all' }, slot, 'x', true).id, id);
    for (const other of [
      tickId({ ...schedule, pipeline: 'other' }, slot),
      tickId({ ...schedule, triggerIndex: 2 }, slot),
      tickId({ ...schedule, cron: '30 2 * * 1' }, slot),
      tickId(schedule, '2026-03-30T00:30:00.000Z'),
      // A newline in a name cannot make two keys collide.
      tickId({ ...schedule, pipeline: 'nightly\n1', triggerIndex: 0 }, slot),
    ]) {
      assert.notEqual(other, id);
    }
  });

  void test('a tick is a valid CloudEvent whose data matches the catalog schema', () => {
    const registry = createSchemaRegistry();
    registry.register('schedule.tick', EVENT_CATALOG['schedule.tick'] ?? {});
    const onTime = tickEvent(schedule, '2026-03-29T01:00:00.000Z', '2026-03-29T01:00:00.004Z', false);
    const late = tickEvent(schedule, '2026-03-29T01:00:00.000Z', '2026-03-29T09:12:00.000Z', true);
    for (const event of [onTime, late]) {
      assert.doesNotThrow(() => validateCloudEvent(event));
      assert.doesNotThrow(() => registry.validateData(event));
      assert.equal(event.type, 'schedule.tick');
      assert.equal(event.source, '/junction/schedule');
      assert.equal(event.subject, 'nightly/1');
      assert.equal(event.time, '2026-03-29T01:00:00.000Z');
    }
    assert.equal((onTime.data as Record<string, unknown>)['missed'], undefined);
    assert.equal((late.data as Record<string, unknown>)['missed'], true);
    assert.deepEqual(onTime.data, {
      pipeline: 'nightly',
      trigger: 1,
      schedule: '30 2 * * *',
      timezone: 'Europe/Berlin',
      scheduledTime: '2026-03-29T01:00:00.000Z',
      firedAt: '2026-03-29T01:00:00.004Z',
    });
    // The schema refuses a tick without its slot or with `missed: false`.
    const data = onTime.data as Record<string, unknown>;
    const { scheduledTime: _dropped, ...withoutSlot } = data;
    assert.throws(() => registry.validateData({ ...onTime, data: withoutSlot }), {
      code: 'EVENT_DATA_INVALID',
    });
    assert.throws(() => registry.validateData({ ...onTime, data: { ...data, missed: false } }), {
      code: 'EVENT_DATA_INVALID',
    });
  });
});
