/**
 * The schedule source: turns the `schedule` triggers of the loaded pipelines into `schedule.tick`
 * events at the times their cron expressions name (croner computes the slots, in each schedule's
 * time zone) and hands them to intake through the `submit` function it is given. Like every
 * source it publishes nothing and writes no events itself; it keeps only the last slot each
 * schedule handled, through the two store methods it is given.
 *
 * What callers may assume:
 * - Exactly one stored tick per slot. A tick's CloudEvent id is derived from (pipeline, trigger
 *   index, cron text, slot time) and its source is fixed, so a second node or a restarted one that
 *   fires the same slot is a duplicate intake drops. The slot is recorded only after intake took
 *   the tick; a failed submit is retried.
 * - Missed slots: the slots after the stored last slot that passed while this schedule was not
 *   running (Junction was down, or the machine slept past more than one slot) follow the
 *   schedule's `missed` policy: `skip` fires none, `latest` the most recent one, `all` each in
 *   order (the newest `maxCatchUp`, 100 by default; a warning says how many were dropped). Such
 *   ticks carry `data.missed: true`. A schedule seen for the first time starts from now.
 * - One timer for the earliest next slot of all schedules, unref'd and at most `maxWaitMs` long;
 *   every wake recomputes from the clock, so a clock set forward or back neither fires a slot
 *   twice nor skips the policy. `stop()` clears it and waits for a pass in flight.
 * - `now` is injectable, so tests drive it without waiting.
 */
import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import type { CloudEvent } from '../events/index.ts';
import { errorMessage, isJunctionError } from '../errors/index.ts';

export type MissedPolicy = 'skip' | 'latest' | 'all';

/** One `schedule` trigger of a loaded pipeline. */
export interface Schedule {
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly cron: string;
  /** IANA time zone the cron is read in. */
  readonly timezone: string;
  readonly missed: MissedPolicy;
  /** CloudEvents source and subject of the ticks: what the trigger matches. */
  readonly source: string;
  readonly subject: string;
}

/** What a schedule's last slot is kept under. */
export interface ScheduleKey {
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly cron: string;
}

/** The part of the store the ticker uses (see `Store.getScheduleSlot`). */
export interface ScheduleSlots {
  getScheduleSlot(key: ScheduleKey): Promise<string | undefined>;
  recordScheduleSlot(key: ScheduleKey, slot: string): Promise<void>;
}

export interface ScheduleLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ScheduleTickerOptions {
  readonly slots: ScheduleSlots;
  /** Hands ticks to intake; resolves once they are stored (or found to be duplicates). */
  readonly submit: (events: readonly CloudEvent[]) => Promise<void>;
  readonly logger?: ScheduleLogger;
  /** The clock; `() => new Date()` by default. */
  readonly now?: () => Date;
  /** Most catch-up ticks one schedule fires with `missed: all`. Default 100. */
  readonly maxCatchUp?: number;
  /** Longest one timer waits before the clock is read again. Default 60 s. */
  readonly maxWaitMs?: number;
  /** Wait before retrying after a failed submit or store call. Default 5 s. */
  readonly retryMs?: number;
}

export interface ScheduleTicker {
  /** Replaces the schedules (at start and on every pipeline reload) and runs a pass. */
  update(schedules: readonly Schedule[]): Promise<void>;
  /** Fires what is due now and re-arms the timer; what the timer calls. */
  tick(): Promise<void>;
  /** The earliest next slot of all schedules, or undefined when there are none. */
  nextSlot(): Date | undefined;
  /** Clears the timer and waits for a pass in flight; the ticker fires nothing afterwards. */
  stop(): Promise<void>;
}

export const SCHEDULE_TICK_TYPE = 'schedule.tick';
/** The receiver name ticks are stored under. */
export const SCHEDULE_RECEIVER = 'schedule';
const DEFAULT_MAX_CATCH_UP = 100;
/** Beyond this many slots, the number of dropped catch-up slots is not counted exactly. */
const MAX_COUNTED = 1000;

interface State {
  schedule: Schedule;
  readonly key: ScheduleKey;
  cron: Cron;
  /** The last slot handled, in ms; undefined until read from the store. */
  cursor: number | undefined;
}

const keyText = (key: ScheduleKey): string => `${key.pipeline}\n${key.triggerIndex}\n${key.cron}`;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The CloudEvent id of a schedule's tick for one slot: the same inputs give the same id. */
export function tickId(key: ScheduleKey, slot: string): string {
  const digest = createHash('sha256')
    .update(`${keyText(key)}\n${slot}`)
    .digest('hex');
  return `tick_${digest.slice(0, 32)}`;
}

/** The `schedule.tick` event of one slot. */
export function tickEvent(schedule: Schedule, slot: string, firedAt: string, missed: boolean): CloudEvent {
  return {
    specversion: '1.0',
    id: tickId(schedule, slot),
    source: schedule.source,
    type: SCHEDULE_TICK_TYPE,
    subject: schedule.subject,
    time: slot,
    datacontenttype: 'application/json',
    data: {
      pipeline: schedule.pipeline,
      trigger: schedule.triggerIndex,
      schedule: schedule.cron,
      timezone: schedule.timezone,
      scheduledTime: slot,
      firedAt,
      ...(missed ? { missed: true } : {}),
    },
  };
}

/** The cron of a schedule as croner reads it (the same options the pipeline loader checks with). */
function compile(schedule: Schedule): Cron {
  return new Cron(schedule.cron, { mode: '5-or-6-parts', timezone: schedule.timezone });
}

/**
 * The slots after `after` and at or before `now`, newest first, at most `limit` (2 or more) of
 * them; there may be more when `limit` came back full.
 */
export function slotsBetween(cron: Cron, after: number, now: number, limit: number): number[] {
  const first = cron.nextRun(new Date(after));
  if (first === null || first.getTime() > now) return [];
  const second = cron.nextRun(first);
  if (second === null || second.getTime() > now || limit < 2) return [first.getTime()];
  // A run in the same second as the reference is included: `now + 1` counts a slot at `now`.
  const newest = cron
    .previousRuns(limit, new Date(now + 1))
    .map((d) => d.getTime())
    .filter((t) => t > after);
  return newest.length >= 2 ? newest : [second.getTime(), first.getTime()];
}

/** How many slots lie after `after` and before `before`, counted up to `MAX_COUNTED`. */
function countBetween(cron: Cron, after: number, before: number): number {
  let count = 0;
  let at: Date | null = new Date(after);
  while (count < MAX_COUNTED) {
    at = cron.nextRun(at);
    if (at === null || at.getTime() >= before) return count;
    count += 1;
  }
  return count;
}

export function createScheduleTicker(options: ScheduleTickerOptions): ScheduleTicker {
  const { slots, submit } = options;
  const clock = options.now ?? (() => new Date());
  const maxCatchUp = options.maxCatchUp ?? DEFAULT_MAX_CATCH_UP;
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const retryMs = options.retryMs ?? 5_000;
  const logger = options.logger;
  let states = new Map<string, State>();
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;

  function warn(fields: Record<string, unknown>, message: string): void {
    logger?.warn(fields, message);
  }

  async function fire(state: State, due: readonly number[], missed: boolean, now: number): Promise<void> {
    const ordered = [...due].sort((a, b) => a - b);
    const firedAt = iso(now);
    await submit(ordered.map((slot) => tickEvent(state.schedule, iso(slot), firedAt, missed)));
    const newest = ordered.at(-1)!;
    await slots.recordScheduleSlot(state.key, iso(newest));
    state.cursor = newest;
  }

  /** Fires what is due for one schedule; the policy applies to slots missed. */
  async function handle(state: State, now: number): Promise<void> {
    let catchingUp = false;
    if (state.cursor === undefined) {
      const stored = await slots.getScheduleSlot(state.key);
      if (stored === undefined) {
        // Never seen: start from now, and remember that, so a restart catches up from here.
        await slots.recordScheduleSlot(state.key, iso(now));
        state.cursor = now;
        return;
      }
      state.cursor = Date.parse(stored);
      catchingUp = true;
    }
    const cursor = state.cursor;
    const { cron, schedule } = state;
    const probe = slotsBetween(cron, cursor, now, 2);
    if (probe.length === 0) return;
    if (!catchingUp && probe.length === 1) {
      await fire(state, probe, false, now);
      return;
    }
    const fields = { pipeline: schedule.pipeline, trigger: schedule.triggerIndex, schedule: schedule.cron };
    const newest = probe[0]!;
    switch (schedule.missed) {
      case 'skip':
        await slots.recordScheduleSlot(state.key, iso(newest));
        state.cursor = newest;
        logger?.info({ ...fields, upTo: iso(newest) }, 'schedule: skipped the slots missed (missed: skip)');
        return;
      case 'latest':
        await fire(state, [newest], true, now);
        return;
      case 'all': {
        const due = slotsBetween(cron, cursor, now, maxCatchUp + 1);
        if (due.length > maxCatchUp) {
          const kept = due.slice(0, maxCatchUp);
          const oldestKept = kept.at(-1)!;
          const dropped = countBetween(cron, cursor, oldestKept);
          warn(
            { ...fields, dropped, kept: maxCatchUp },
            `schedule: ${dropped >= MAX_COUNTED ? `more than ${MAX_COUNTED}` : dropped} missed slots dropped; firing the newest ${maxCatchUp} (missed: all)`,
          );
          await fire(state, kept, true, now);
        } else await fire(state, due, true, now);
        return;
      }
    }
  }

  function arm(now: number, retry: boolean): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    const next = nextSlotAt(now);
    if (next === undefined && !retry) return;
    let delay = next === undefined ? maxWaitMs : Math.min(Math.max(next - now, 1), maxWaitMs);
    if (retry) delay = Math.min(delay, retryMs);
    timer = setTimeout(() => void run(), delay);
    timer.unref();
  }

  function nextSlotAt(now: number): number | undefined {
    let earliest: number | undefined;
    for (const state of states.values()) {
      const from = Math.max(state.cursor ?? now, now);
      const next = state.cron.nextRun(new Date(from))?.getTime();
      if (next !== undefined && (earliest === undefined || next < earliest)) earliest = next;
    }
    return earliest;
  }

  async function pass(): Promise<void> {
    if (stopped) return;
    const now = clock().getTime();
    let retry = false;
    for (const state of states.values()) {
      if (stopped) return;
      try {
        await handle(state, now);
      } catch (error) {
        retry = true;
        warn(
          {
            pipeline: state.schedule.pipeline,
            trigger: state.schedule.triggerIndex,
            code: isJunctionError(error) ? error.code : 'INTERNAL',
            err: errorMessage(error),
          },
          `schedule: firing failed; retrying in ${retryMs} ms`,
        );
      }
    }
    arm(now, retry);
  }

  /** Runs passes one at a time. */
  function run(): Promise<void> {
    chain = chain.then(pass).catch((error: unknown) => {
      // A pass handles its own failures; this is the clock or the logger failing.
      warn({ code: 'INTERNAL', err: errorMessage(error) }, 'schedule: a pass failed');
    });
    return chain;
  }

  return {
    update(schedules) {
      const next = new Map<string, State>();
      for (const schedule of schedules) {
        const key = { pipeline: schedule.pipeline, triggerIndex: schedule.triggerIndex, cron: schedule.cron };
        let cron: Cron;
        try {
          cron = compile(schedule);
          // An unknown time zone throws only when a date is computed.
          cron.nextRun();
        } catch (error) {
          warn(
            { pipeline: schedule.pipeline, trigger: schedule.triggerIndex, err: errorMessage(error) },
            'schedule: left out, croner refused it',
          );
          continue;
        }
        const old = states.get(keyText(key));
        next.set(keyText(key), { schedule, key, cron, cursor: old?.cursor });
      }
      states = next;
      return run();
    },
    tick: run,
    nextSlot() {
      const at = nextSlotAt(clock().getTime());
      return at === undefined ? undefined : new Date(at);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await chain;
    },
  };
}
