/**
 * Intake: the one place where events become durable. Receivers (POST /events, the sources under
 * /hooks) hand it validated CloudEvents; it checks their data against the registered schemas,
 * then appends them with their outbox entries through the store, and resolves only when they are
 * committed: the caller may answer 2xx then, not before.
 *
 * Group commit: submissions that arrive while the store is busy are written together in one
 * transaction, so throughput does not pay one commit per request. One write is in flight at a
 * time; everything queued meanwhile goes into the next. With a store that commits off the event
 * loop (`Store.appendsOffEventLoop`), two writes are in flight and a write starts as soon as
 * `eagerBatchEvents` events wait, so the store commits one batch while the event loop reads and
 * parses the next. Callers are answered, and the relay told, in commit order either way.
 *
 * Backpressure: at most `maxPendingEvents` events wait for a write; beyond that `submit` rejects
 * with `INTAKE_OVERLOADED` (503 with Retry-After) instead of growing memory. After `close()` it
 * rejects with `INTAKE_SHUTTING_DOWN`; `close()` resolves once everything accepted before it is
 * written (or has failed and been reported to its caller).
 */
import type { CloudEvent } from '../events/index.ts';
import type { AppendResult, NewEvent, OutboxEntry, Store } from '../store/index.ts';
import type { IntakeMetrics } from '../observability/index.ts';
import { JunctionError, isJunctionError } from '../errors/index.ts';

/** The topic the relay publishes stored events to. */
export const EVENTS_TOPIC = 'events';

export interface IntakeOptions {
  readonly store: Store;
  readonly topic?: string;
  readonly maxPendingEvents?: number;
  /**
   * How long the first waiting submission may wait for others before a write starts. 0 (default)
   * writes at the next turn of the event loop: requests read together are still committed
   * together, without adding latency.
   */
  readonly maxBatchWaitMs?: number;
  /** Most events written in one transaction. Default 1000. */
  readonly maxEventsPerCommit?: number;
  /**
   * With a store that commits off the event loop: events waiting after which a write starts at
   * once rather than at the end of the event loop's turn, while fewer than two are in flight.
   * Default 32.
   */
  readonly eagerBatchEvents?: number;
  /** Checks `data` against the schema registered for the event's type; throws `EVENT_DATA_INVALID`. */
  readonly validateData?: (event: CloudEvent) => void;
  readonly metrics?: IntakeMetrics;
  /**
   * Called after each commit that stored at least one new event (the relay's wake-up), with the
   * outbox entries of the new events in commit order; undefined when the store did not return them.
   */
  readonly onStored?: (entries: readonly OutboxEntry[] | undefined) => void;
}

export interface SubmitOptions {
  /** Dedupe keys per event (a provider's delivery id); defaults to `source` + `id`. */
  readonly dedupeKeys?: readonly (string | undefined)[];
  /** Per event, the stored event it replays (stored as `replay_of`); that event must exist. */
  readonly replayOf?: readonly (string | undefined)[];
  /** Per event, the JSON text its `data` was parsed from (`ParsedHttpEvents.dataJson`). */
  readonly dataJson?: readonly (string | undefined)[];
}

export interface Intake {
  submit(receiver: string, events: readonly CloudEvent[], options?: SubmitOptions): Promise<AppendResult[]>;
  /** Events waiting for a write. */
  pending(): number;
  close(): Promise<void>;
}

interface Waiting {
  readonly receiver: string;
  readonly events: readonly NewEvent[];
  readonly startedAt: bigint;
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sources under this prefix name Junction's own events (`/junction/pipelines/<name>`,
 * `/junction/runs/<id>`, `/junction/schedule`); triggers and traces trust them, so only Junction
 * itself may submit them: from outside they would start scheduled pipelines or pose as a run.
 */
export const RESERVED_SOURCE_PREFIX = '/junction/';
/** Receivers of Junction's own events: `emit` steps and result events, the schedule ticker. */
const INTERNAL_RECEIVERS: ReadonlySet<string> = new Set(['junction', 'schedule']);
/** Writes in flight with a store that commits off the event loop: one committing, one handed over. */
const OFF_LOOP_WRITES = 2;

export function createIntake(options: IntakeOptions): Intake {
  const { store, metrics } = options;
  const topic = options.topic ?? EVENTS_TOPIC;
  const maxPending = options.maxPendingEvents ?? 10_000;
  const maxPerCommit = options.maxEventsPerCommit ?? 1000;
  const batchWaitMs = options.maxBatchWaitMs ?? 0;
  const eagerBatch = Math.max(1, options.eagerBatchEvents ?? 32);
  const queue: Waiting[] = [];
  /** Events accepted and not yet committed or failed; of those, the ones still in `queue`. */
  let pendingEvents = 0;
  let queuedEvents = 0;
  /** Writes handed to the store and not settled yet. */
  let writing = 0;
  const maxWriting = (): number => (store.appendsOffEventLoop?.() === true ? OFF_LOOP_WRITES : 1);
  let scheduled = false;
  let closed = false;
  let idle: (() => void) | undefined;

  const schedule = (): void => {
    if (scheduled || writing >= maxWriting() || queue.length === 0) return;
    scheduled = true;
    const run = (): void => {
      scheduled = false;
      void writeNext();
    };
    if (batchWaitMs > 0 && pendingEvents < maxPerCommit) setTimeout(run, batchWaitMs);
    else setImmediate(run);
  };

  async function writeNext(): Promise<void> {
    if (writing >= maxWriting() || queue.length === 0) return;
    writing += 1;
    const batch: Waiting[] = [];
    let count = 0;
    while (queue.length > 0 && (batch.length === 0 || count + queue[0]!.events.length <= maxPerCommit)) {
      const next = queue.shift()!;
      batch.push(next);
      count += next.events.length;
    }
    queuedEvents -= count;
    const all = batch.flatMap((w) => w.events);
    try {
      const results = await store.appendEvents(all, topic);
      let offset = 0;
      const stored: OutboxEntry[] = [];
      let storedWithoutEntry = false;
      for (const result of results) {
        if (result.duplicate) continue;
        if (result.outbox === undefined) storedWithoutEntry = true;
        else stored.push(result.outbox);
      }
      for (const waiting of batch) {
        const own = results.slice(offset, offset + waiting.events.length);
        offset += waiting.events.length;
        record(waiting, own);
        waiting.resolve(own);
      }
      if (stored.length > 0 || storedWithoutEntry)
        options.onStored?.(storedWithoutEntry ? undefined : stored);
    } catch (error) {
      const failure = isJunctionError(error)
        ? error
        : new JunctionError('STORE_UNAVAILABLE', 'the store did not take the events', { cause: error });
      for (const waiting of batch) waiting.reject(failure);
      // A store that commits on another thread may have committed a batch that it reports failed
      // (the thread died after COMMIT): the relay reads the store rather than trust what it holds.
      if (store.appendsOffEventLoop !== undefined) options.onStored?.(undefined);
    } finally {
      pendingEvents -= count;
      writing -= 1;
      if (queue.length > 0) schedule();
      else if (writing === 0) idle?.();
    }
  }

  function record(waiting: Waiting, results: readonly AppendResult[]): void {
    if (metrics === undefined) return;
    results.forEach((result, i) => {
      const type = waiting.events[i]!.event.type;
      if (result.duplicate) metrics.duplicate(waiting.receiver, type);
      else metrics.accepted(waiting.receiver, type);
    });
    metrics.observeIngest(waiting.receiver, Number(process.hrtime.bigint() - waiting.startedAt) / 1e9);
  }

  return {
    async submit(receiver, events, submitOptions = {}) {
      if (closed) {
        throw new JunctionError(
          'INTAKE_SHUTTING_DOWN',
          'the server is shutting down; retry against another instance or later',
        );
      }
      if (!INTERNAL_RECEIVERS.has(receiver)) {
        const index = events.findIndex((event) => event.source.startsWith(RESERVED_SOURCE_PREFIX));
        if (index !== -1) {
          const at = events.length > 1 ? `event ${index} of the batch: ` : '';
          throw new JunctionError(
            'EVENT_SOURCE_RESERVED',
            `${at}source '${events[index]!.source.slice(0, 120)}' is reserved: sources under ${RESERVED_SOURCE_PREFIX} are for the events Junction produces itself (pipeline results, deployments, schedule ticks); send yours with another source`,
            events.length > 1 ? { details: { index } } : {},
          );
        }
      }
      const startedAt = process.hrtime.bigint();
      if (metrics !== undefined) for (const event of events) metrics.received(receiver, event.type);
      if (options.validateData !== undefined) {
        events.forEach((event, index) => {
          try {
            options.validateData!(event);
          } catch (error) {
            if (events.length > 1 && isJunctionError(error)) {
              throw new JunctionError(
                'EVENT_BATCH_INVALID',
                `event ${index} of the batch: ${error.message}`,
                {
                  httpStatus: error.httpStatus,
                  details: { index, code: error.code, ...error.details },
                  cause: error,
                },
              );
            }
            throw error;
          }
        });
      }
      if (events.length === 0) return [];
      if (pendingEvents + events.length > maxPending) {
        throw new JunctionError(
          'INTAKE_OVERLOADED',
          `intake has ${pendingEvents} events waiting to be stored (limit ${maxPending}); retry shortly`,
        );
      }
      const { dedupeKeys, replayOf, dataJson } = submitOptions;
      const newEvents: NewEvent[] = events.map((event, i) => {
        const dedupeKey = dedupeKeys?.[i];
        const replayed = replayOf?.[i];
        const data = dataJson?.[i];
        return {
          event,
          receiver,
          ...(dedupeKey === undefined ? {} : { dedupeKey }),
          ...(replayed === undefined ? {} : { replayOf: replayed }),
          ...(data === undefined ? {} : { dataJson: data }),
        };
      });
      pendingEvents += newEvents.length;
      return await new Promise<AppendResult[]>((resolve, reject) => {
        queue.push({ receiver, events: newEvents, startedAt, resolve, reject });
        queuedEvents += newEvents.length;
        const eager = queuedEvents >= eagerBatch && store.appendsOffEventLoop?.() === true;
        if (eager && writing < OFF_LOOP_WRITES) void writeNext();
        else schedule();
      });
    },
    pending: () => pendingEvents,
    async close() {
      closed = true;
      if (queue.length === 0 && writing === 0) return;
      await new Promise<void>((resolve) => {
        idle = resolve;
        schedule();
      });
    },
  };
}
