/**
 * Schedules against a real SQLite store and real intake: exactly one stored tick per slot when
 * two tickers share the store, the missed policies after a restart (driven by an injected clock),
 * the catch-up cap, failed submits retried, and, through the full app, a 6-field schedule whose
 * ticks start runs with the real clock, also after a pipeline file is added while serving.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { CloudEvent, StoredEvent } from '../src/events/index.ts';
import { createIntake, type Intake } from '../src/intake/index.ts';
import { parsePipeline } from '../src/pipelines/index.ts';
import {
  createScheduleTicker,
  SCHEDULE_RECEIVER,
  type Schedule,
  type ScheduleLogger,
  type ScheduleTicker,
} from '../src/sources/schedule.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { compilePipelines, decideEvent, scheduledTriggers } from '../src/triggers/index.ts';
import { eventually, startTestApp, tempDir } from './helpers/app.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2026-05-01T10:00:30Z');

function schedule(fields: Partial<Schedule> = {}): Schedule {
  return {
    pipeline: 'nightly',
    triggerIndex: 0,
    cron: '* * * * *',
    timezone: 'UTC',
    missed: 'latest',
    source: '/junction/schedule',
    subject: 'nightly/0',
    ...fields,
  };
}

interface Rig {
  readonly store: Store;
  readonly intake: Intake;
  /** The injected clock, in ms. */
  now: number;
  readonly warnings: string[];
  ticker(options?: {
    submit?: (events: readonly CloudEvent[]) => Promise<void>;
    maxCatchUp?: number;
  }): ScheduleTicker;
  ticks(): Promise<StoredEvent[]>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const store = createSqliteStore({ path: ':memory:' });
  await store.migrate();
  const intake = createIntake({ store });
  const tickers: ScheduleTicker[] = [];
  const warnings: string[] = [];
  const logger: ScheduleLogger = {
    info: () => undefined,
    warn: (_fields, message) => warnings.push(message),
  };
  const r: Rig = {
    store,
    intake,
    now: T0,
    warnings,
    ticker(options = {}) {
      const ticker = createScheduleTicker({
        slots: store,
        submit:
          options.submit ??
          (async (events) => {
            await intake.submit(SCHEDULE_RECEIVER, events);
          }),
        now: () => new Date(r.now),
        logger,
        ...(options.maxCatchUp === undefined ? {} : { maxCatchUp: options.maxCatchUp }),
      });
      tickers.push(ticker);
      return ticker;
    },
    async ticks() {
      const page = await store.listEvents({ type: 'schedule.tick' }, { limit: 1000, order: 'asc' });
      return [...page.items];
    },
    async close() {
      for (const ticker of tickers) await ticker.stop();
      await intake.close();
      await store.close();
    },
  };
  return r;
}

const slotsOf = (events: readonly StoredEvent[]): string[] =>
  events.map((e) => (e.event.data as Record<string, unknown>)['scheduledTime'] as string);
const missedOf = (events: readonly StoredEvent[]): unknown[] =>
  events.map((e) => (e.event.data as Record<string, unknown>)['missed']);

void describe('schedule ticker with SQLite and intake', { timeout: 30_000 }, () => {
  void test('a new schedule starts from now; each slot then fires once, on time', async () => {
    const r = await rig();
    try {
      const ticker = r.ticker();
      // Far behind "now" are many minutes, but a schedule never seen has nothing to catch up.
      await ticker.update([schedule()]);
      assert.deepEqual(await r.ticks(), []);
      assert.equal(
        await r.store.getScheduleSlot({ pipeline: 'nightly', triggerIndex: 0, cron: '* * * * *' }),
        new Date(T0).toISOString(),
      );
      assert.equal(ticker.nextSlot()?.toISOString(), '2026-05-01T10:01:00.000Z');
      r.now = Date.parse('2026-05-01T10:01:00.002Z');
      await ticker.tick();
      await ticker.tick();
      r.now = Date.parse('2026-05-01T10:02:00Z');
      await ticker.tick();
      const ticks = await r.ticks();
      assert.deepEqual(slotsOf(ticks), ['2026-05-01T10:01:00.000Z', '2026-05-01T10:02:00.000Z']);
      assert.deepEqual(missedOf(ticks), [undefined, undefined]);
      assert.equal(ticks[0]!.receiver, 'schedule');
      assert.equal(
        await r.store.getScheduleSlot({ pipeline: 'nightly', triggerIndex: 0, cron: '* * * * *' }),
        '2026-05-01T10:02:00.000Z',
      );
      // The clock set back an hour fires nothing again.
      r.now = Date.parse('2026-05-01T09:02:00Z');
      await ticker.tick();
      r.now = Date.parse('2026-05-01T10:02:30Z');
      await ticker.tick();
      assert.equal((await r.ticks()).length, 2);
    } finally {
      await r.close();
    }
  });

  void test('two tickers on one store fire the same slot: one event is stored', async () => {
    const r = await rig();
    try {
      const submitted: string[] = [];
      const counting = (events: readonly CloudEvent[]): Promise<void> => {
        submitted.push(...events.map((e) => e.id));
        return r.intake.submit(SCHEDULE_RECEIVER, events).then(() => undefined);
      };
      const a = r.ticker({ submit: counting });
      const b = r.ticker({ submit: counting });
      await a.update([schedule()]);
      await b.update([schedule()]);
      r.now = Date.parse('2026-05-01T10:01:00.010Z');
      await Promise.all([a.tick(), b.tick()]);
      assert.equal(submitted.length, 2, 'both tickers fired');
      assert.equal(submitted[0], submitted[1], 'with the same id');
      const ticks = await r.ticks();
      assert.deepEqual(slotsOf(ticks), ['2026-05-01T10:01:00.000Z']);
    } finally {
      await r.close();
    }
  });

  for (const [missed, expected] of [
    ['latest', ['2026-05-01T10:04:00.000Z']],
    ['skip', []],
    ['all', ['2026-05-01T10:02:00.000Z', '2026-05-01T10:03:00.000Z', '2026-05-01T10:04:00.000Z']],
  ] as const) {
    void test(`restart after 3 missed slots with missed: ${missed}`, async () => {
      const r = await rig();
      try {
        const first = r.ticker();
        await first.update([schedule({ missed })]);
        r.now = Date.parse('2026-05-01T10:01:00Z');
        await first.tick();
        await first.stop();
        assert.equal((await r.ticks()).length, 1);
        // Down over 10:02, 10:03 and 10:04; back at 10:04:40.
        r.now = Date.parse('2026-05-01T10:04:40Z');
        const second = r.ticker();
        await second.update([schedule({ missed })]);
        const caughtUp = (await r.ticks()).slice(1);
        assert.deepEqual(slotsOf(caughtUp), expected);
        assert.ok(missedOf(caughtUp).every((m) => m === true));
        assert.equal(
          await r.store.getScheduleSlot({ pipeline: 'nightly', triggerIndex: 0, cron: '* * * * *' }),
          '2026-05-01T10:04:00.000Z',
          'the newest missed slot is handled, whatever the policy',
        );
        // The next slot fires on time.
        r.now = Date.parse('2026-05-01T10:05:00Z');
        await second.tick();
        const last = (await r.ticks()).at(-1)!;
        assert.deepEqual(slotsOf([last]), ['2026-05-01T10:05:00.000Z']);
        assert.equal(missedOf([last])[0], undefined);
      } finally {
        await r.close();
      }
    });
  }

  void test('one slot missed across a quick restart still follows the policy', async () => {
    for (const [missed, count] of [
      ['skip', 0],
      ['latest', 1],
    ] as const) {
      const r = await rig();
      try {
        const first = r.ticker();
        await first.update([schedule({ missed })]);
        await first.stop();
        r.now = Date.parse('2026-05-01T10:01:02Z');
        await r.ticker().update([schedule({ missed })]);
        const ticks = await r.ticks();
        assert.equal(ticks.length, count, missed);
        assert.ok(missedOf(ticks).every((m) => m === true));
      } finally {
        await r.close();
      }
    }
  });

  void test('missed: all fires at most the newest 100 and warns with the number dropped', async () => {
    const r = await rig();
    try {
      const first = r.ticker();
      await first.update([schedule({ missed: 'all' })]);
      await first.stop();
      r.now = T0 + 250 * MINUTE;
      await r.ticker().update([schedule({ missed: 'all' })]);
      const ticks = await r.ticks();
      assert.equal(ticks.length, 100);
      assert.equal(slotsOf(ticks).at(-1), new Date(Date.parse('2026-05-01T14:10:00Z')).toISOString());
      assert.ok(
        slotsOf(ticks).every((s, i, all) => i === 0 || s > all[i - 1]!),
        'in order',
      );
      assert.deepEqual(r.warnings, [
        'schedule: 150 missed slots dropped; firing the newest 100 (missed: all)',
      ]);
    } finally {
      await r.close();
    }
  });

  void test('a failed submit records nothing; the slot fires at the next pass', async () => {
    const r = await rig();
    try {
      let failures = 1;
      const ticker = r.ticker({
        submit: async (events) => {
          if (failures > 0) {
            failures -= 1;
            throw new Error('intake is overloaded');
          }
          await r.intake.submit(SCHEDULE_RECEIVER, events);
        },
      });
      await ticker.update([schedule()]);
      r.now = Date.parse('2026-05-01T10:01:00Z');
      await ticker.tick();
      assert.equal((await r.ticks()).length, 0);
      assert.match(r.warnings[0] ?? '', /firing failed; retrying/);
      r.now = Date.parse('2026-05-01T10:01:05Z');
      await ticker.tick();
      assert.deepEqual(slotsOf(await r.ticks()), ['2026-05-01T10:01:00.000Z']);
    } finally {
      await r.close();
    }
  });

  void test('a changed cron starts afresh; a removed schedule stops firing', async () => {
    const r = await rig();
    try {
      const ticker = r.ticker();
      await ticker.update([schedule()]);
      await ticker.update([schedule({ cron: '*/5 * * * *' })]);
      r.now = Date.parse('2026-05-01T10:05:00Z');
      await ticker.tick();
      assert.deepEqual(slotsOf(await r.ticks()), ['2026-05-01T10:05:00.000Z']);
      await ticker.update([]);
      assert.equal(ticker.nextSlot(), undefined);
      r.now = Date.parse('2026-05-01T10:10:00Z');
      await ticker.tick();
      assert.equal((await r.ticks()).length, 1);
    } finally {
      await r.close();
    }
  });

  void test('a tick matches its own trigger only', async () => {
    const text = (name: string) =>
      `name: ${name}\non:\n  - schedule: "* * * * *"\n  - schedule: "* * * * *"\n    if: event.data.missed == true\njobs:\n  a:\n    steps:\n      - run: echo\n`;
    const loaded = ['one', 'two'].map((name) => ({
      spec: parsePipeline(text(name), `${name}.yaml`).pipeline!,
      file: name,
    }));
    const compiled = compilePipelines(loaded);
    assert.deepEqual(compiled.problems, []);
    const schedules = scheduledTriggers(compiled.routable);
    assert.deepEqual(
      schedules.map((s) => s.subject),
      ['one/0', 'one/1', 'two/0', 'two/1'],
    );
    const r = await rig();
    try {
      const ticker = r.ticker();
      await ticker.update(schedules.slice(0, 1));
      r.now = Date.parse('2026-05-01T10:01:00Z');
      await ticker.tick();
      const [tick] = await r.ticks();
      const decisions = decideEvent(tick!, compiled.routable);
      assert.deepEqual(
        decisions.filter((d) => d.matched).map((d) => `${d.pipeline}#${d.triggerIndex}`),
        ['one#0'],
      );
      assert.match(
        decisions.find((d) => d.pipeline === 'two')!.reason,
        /subject 'one\/0' does not match 'two\/0'/,
      );
    } finally {
      await r.close();
    }
  });
});

void describe('schedules in a running Junction', { timeout: 60_000 }, () => {
  const dir = tempDir();
  after(() => dir.remove());

  void test('a pipeline with a 6-field schedule runs with the real clock, also after a reload', async () => {
    const pipelines = join(dir.path, 'pipelines');
    mkdirSync(pipelines, { recursive: true });
    writeFileSync(
      join(pipelines, 'tick.yaml'),
      'name: tick\non:\n  - schedule: "*/1 * * * * *"\njobs:\n  a:\n    steps:\n      - run: echo "slot ${{ event.data.scheduledTime }}"\n',
    );
    const app = await startTestApp({}, dir.path);
    try {
      const succeeded = async (pipeline: string) => {
        const runs = await app.app.store.listRuns({ pipeline }, { limit: 10 });
        return runs.items.find((run) => run.status === 'succeeded');
      };
      const run = await eventually(() => succeeded('tick'), 15_000, 'a scheduled run');
      const event = await app.app.store.getEvent(run.eventId);
      assert.equal(event?.event.type, 'schedule.tick');
      assert.equal(event?.event.subject, 'tick/0');

      writeFileSync(
        join(pipelines, 'later.yaml'),
        'name: later\non:\n  - schedule: "*/1 * * * * *"\n    timezone: Europe/Berlin\njobs:\n  a:\n    steps:\n      - run: echo later\n',
      );
      await eventually(() => succeeded('later'), 15_000, 'a run of the pipeline added while serving');
    } finally {
      await app.close();
    }
  });
});
