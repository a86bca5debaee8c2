/**
 * The outbox relay: publishes stored events to the bus, oldest first, and marks them published.
 * Intake writes each event and its outbox entry in one transaction; the relay is the only path
 * from the store to the bus, so no event is acknowledged without being published eventually:
 * entries left unpublished by a crash are published after the restart. Delivery is at least once
 * (a crash between publish and mark publishes again); the message id is the event id, so
 * consumers and brokers with publish dedupe drop the repeat.
 *
 * The relay wakes when intake stores events (`notify`) and also polls, so entries written by
 * another process are published too. Intake hands it the entries it has just committed: while the
 * relay knows it has read everything older from the store, it publishes those from memory instead
 * of reading them back, and marks them published in the same way. The store is read again after
 * any failure, after a restart, when the entries in memory run past `maxFresh`, and at least every
 * `pollMs`, so nothing committed elsewhere waits longer than that. A failed publish is recorded on
 * the entry and retried with exponential backoff (capped); later entries wait, keeping publish
 * order. Marks are written for many rounds at once: an entry published waits at most
 * `markDelayMs` (or until `maxUnmarked` wait) to be marked, and always before the relay reads the
 * store or stops, so a read never returns an entry the relay has published. A crash in that window
 * publishes those entries again after the restart, as at-least-once delivery allows.
 *
 * An entry that fails
 * `maxAttempts` times in a row while the bus answers pings is given up on: it becomes an `outbox`
 * dead letter (`BUS_PUBLISH_FAILED`, with the last error, the attempts, the topic and the stored
 * event as payload) in the same transaction that takes it out of the pending entries, and later
 * entries go on. While the bus cannot be reached at all, nothing is given up on: entries wait for
 * it. The event stays stored; replaying the dead letter makes the entry pending again.
 */
import type { Bus } from '../bus/index.ts';
import type { StoredEvent } from '../events/index.ts';
import type { NewDeadLetter, OutboxEntry, Store } from '../store/index.ts';
import type { Logger } from '../observability/index.ts';
import { JunctionError, errorMessage, isJunctionError } from '../errors/index.ts';

export interface OutboxRelayOptions {
  readonly store: Store;
  readonly bus: Bus;
  readonly logger: Logger;
  /** Entries read per round. Default 500. */
  readonly batchSize?: number;
  /** Poll interval when nothing wakes the relay. Default 1000 ms. */
  readonly pollMs?: number;
  /** Longest wait between attempts after failures. Default 30 s. */
  readonly maxBackoffMs?: number;
  /** Failed attempts after which an entry becomes a dead letter. Default `OUTBOX_MAX_ATTEMPTS`. */
  readonly maxAttempts?: number;
  /** Most just-committed entries held in memory; past that the relay reads the store. Default 10,000. */
  readonly maxFresh?: number;
  /**
   * How long published entries may wait to be marked published, so that marks of many rounds go
   * to the store in one write. Default 100 ms; 0 marks after every round.
   */
  readonly markDelayMs?: number;
  /** Most published entries waiting to be marked; reaching it marks them at once. Default 2,000. */
  readonly maxUnmarked?: number;
}

/** Failed publishes of one outbox entry after which it is dead-lettered. */
export const OUTBOX_MAX_ATTEMPTS = 10;

export interface OutboxRelay {
  start(): void;
  /**
   * Publish now rather than at the next poll. `entries` are outbox entries just committed by this
   * process, in commit order (intake's `AppendResult.outbox`); the relay may publish them without
   * reading the store. Without `entries` it reads the store next.
   */
  notify(entries?: readonly OutboxEntry[]): void;
  /** Stops after publishing what is pending, or after `timeoutMs`; leaves the rest for next start. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Headers of a stored event's bus message that repeat its type and its `seq`, so that a consumer
 * which only needs those (the router, for an event no pipeline listens for; notifiers, for
 * anything but a run status) can skip decoding the body. The body stays the authority; a message
 * without these headers is decoded.
 */
export const TYPE_HEADER = 'ce-type';
export const SEQ_HEADER = 'junction-seq';

/** The bus message body of a stored event: the StoredEvent as JSON. */
export function encodeStoredEvent(event: StoredEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

/**
 * The same bytes as `encodeStoredEvent(entry.event)` would give for the stored event, built around
 * the JSON text the store already holds instead of serializing the CloudEvent again.
 */
export function encodeOutboxEntry(entry: OutboxEntry): Uint8Array {
  const { event } = entry;
  const head =
    `{"id":${JSON.stringify(event.id)},"seq":${String(event.seq)},"dedupeKey":${JSON.stringify(event.dedupeKey)}` +
    `,"receiver":${JSON.stringify(event.receiver)},"receivedAt":${JSON.stringify(event.receivedAt)},"event":`;
  return Buffer.from(`${head}${entry.body}}`, 'utf8');
}

export function decodeStoredEvent(data: Uint8Array): StoredEvent {
  return JSON.parse(
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
  ) as StoredEvent;
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { store, bus, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const pollMs = options.pollMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const maxAttempts = options.maxAttempts ?? OUTBOX_MAX_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `outbox maxAttempts '${String(maxAttempts)}' must be a whole number from 1`,
    );
  }
  let running = false;
  let stopping = false;
  let wake: (() => void) | undefined;
  let woken = false;
  let loop: Promise<void> | undefined;
  let failures = 0;
  const maxFresh = options.maxFresh ?? 10_000;
  /** Entries this process committed and the relay has not published yet, in commit order. */
  let fresh: OutboxEntry[] = [];
  /** True when every pending entry older than `fresh[0]` is published: `fresh` may go first. */
  let caughtUp = false;
  let lastStoreRead = 0;
  const markDelayMs = Math.max(0, options.markDelayMs ?? 100);
  const maxUnmarked = Math.max(1, options.maxUnmarked ?? 2_000);
  /** Seqs published and not yet marked, in publish order; `unmarkedSince` is when the first was. */
  let unmarked: number[] = [];
  let unmarkedSince = 0;

  /** Writes the marks waiting. On failure they stay waiting, and the error goes to the caller. */
  async function flushMarks(): Promise<void> {
    if (unmarked.length === 0) return;
    const seqs = unmarked;
    unmarked = [];
    try {
      await store.markOutboxPublished(seqs);
    } catch (error) {
      unmarked = seqs.concat(unmarked);
      throw error;
    }
  }

  /** How long the relay may sleep before marks waiting are due. */
  const markDueInMs = (): number =>
    unmarked.length === 0 ? Infinity : Math.max(0, unmarkedSince + markDelayMs - performance.now());

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (woken) {
        woken = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = undefined;
        woken = false;
        resolve();
      }
      wake = done;
    });

  /** Publishes one round; true when there may be more to do right away. */
  async function round(): Promise<boolean> {
    const storeReadDue = !caughtUp || performance.now() - lastStoreRead >= pollMs;
    // A wake-up for entries an earlier round already took: nothing to do.
    if (fresh.length === 0 && !storeReadDue) {
      if (markDueInMs() === 0) await flushMarks();
      return false;
    }
    const fromMemory = fresh.length > 0 && !storeReadDue;
    let entries: OutboxEntry[];
    if (fromMemory) {
      entries = fresh.splice(0, batchSize);
    } else {
      // What this relay published must be marked before the store is read, or it comes back.
      await flushMarks();
      lastStoreRead = performance.now();
      caughtUp = false;
      entries = await store.pendingOutbox(batchSize);
      // The read returned every pending entry up to its last one, those in memory among them.
      const last = entries.at(-1)?.seq;
      if (last !== undefined) fresh = fresh.filter((entry) => entry.seq > last);
      caughtUp = entries.length < batchSize;
    }
    if (entries.length === 0) return false;
    const published: number[] = [];
    try {
      for (const entry of entries) {
        if (await publish(entry)) published.push(entry.seq);
      }
    } catch (error) {
      // What is left is still pending in the store; read it from there, in order, next time.
      caughtUp = false;
      fresh = [];
      throw error;
    } finally {
      if (published.length > 0) {
        if (unmarked.length === 0) unmarkedSince = performance.now();
        for (const seq of published) unmarked.push(seq);
      }
    }
    if (unmarked.length >= maxUnmarked || markDueInMs() === 0) await flushMarks();
    return fresh.length > 0 || (!fromMemory && entries.length === batchSize);
  }

  /** True when published; false when the entry was dead-lettered instead. */
  async function publish(entry: OutboxEntry): Promise<boolean> {
    const data = encodeOutboxEntry(entry);
    const headers = {
      [TYPE_HEADER]: entry.event.event.type,
      'junction-receiver': entry.event.receiver,
      [SEQ_HEADER]: String(entry.event.seq),
    };
    try {
      await bus.publish(entry.topic, { id: entry.eventId, data, headers });
      return true;
    } catch (error) {
      const message = errorMessage(error);
      const attempts = entry.attempts + 1;
      // Only an entry the bus refuses while it is up is given up on: when the bus cannot be
      // reached at all, every entry would fail alike, so they all wait for it instead.
      if (attempts >= maxAttempts && (await busAnswers())) {
        await deadLetter(entry, attempts, message, data, headers, error);
        return false;
      }
      await store.markOutboxFailed(entry.seq, message).catch((markError: unknown) => {
        logger.warn(
          { code: isJunctionError(markError) ? markError.code : 'INTERNAL' },
          'outbox: could not record a failed publish',
        );
      });
      throw error;
    }
  }

  async function busAnswers(): Promise<boolean> {
    try {
      await bus.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Gives up on an entry; rethrows the publish error when the dead letter cannot be written. */
  async function deadLetter(
    entry: OutboxEntry,
    attempts: number,
    message: string,
    data: Uint8Array,
    headers: Readonly<Record<string, string>>,
    error: unknown,
  ): Promise<void> {
    const letter: NewDeadLetter = {
      kind: 'outbox',
      code: 'BUS_PUBLISH_FAILED',
      reason: `publishing to '${entry.topic}' failed ${String(attempts)} times; last error: ${message}`,
      attempts,
      payload: data,
      contentType: 'application/json',
      headers,
      receiver: entry.event.receiver,
      destination: entry.topic,
      eventId: entry.eventId,
    };
    let id: string;
    try {
      id = await store.markOutboxDeadLettered(entry.seq, message, letter);
    } catch (markError) {
      logger.warn(
        { code: isJunctionError(markError) ? markError.code : 'INTERNAL', eventId: entry.eventId },
        'outbox: could not dead-letter an entry that keeps failing; retrying it',
      );
      throw error;
    }
    logger.error(
      {
        code: 'BUS_PUBLISH_FAILED',
        deadLetterId: id,
        eventId: entry.eventId,
        topic: entry.topic,
        attempts,
        err: message,
      },
      'outbox: gave up publishing an event; kept it as a dead letter (replay it once the bus is fixed)',
    );
  }

  async function run(): Promise<void> {
    while (running) {
      let more: boolean;
      try {
        more = await round();
        failures = 0;
      } catch (error) {
        failures += 1;
        const backoff = Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2);
        logger.warn(
          {
            code: isJunctionError(error) ? error.code : 'INTERNAL',
            err: errorMessage(error),
            retryInMs: Math.round(backoff),
          },
          'outbox: publishing failed; retrying',
        );
        if (stopping) return;
        await sleep(backoff);
        continue;
      }
      if (stopping && !more) {
        await flushMarks().catch((error: unknown) => {
          logger.warn(
            { code: isJunctionError(error) ? error.code : 'INTERNAL', err: errorMessage(error) },
            'outbox: could not mark published entries at stop; they are published again at the next start',
          );
        });
        return;
      }
      if (!more) await sleep(Math.min(pollMs, markDueInMs()));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = false;
      caughtUp = false;
      fresh = [];
      loop = run();
    },
    notify(entries) {
      if (entries !== undefined && running && fresh.length + entries.length <= maxFresh) {
        fresh.push(...entries);
      } else {
        // Not handed over, or not to be held: the store has them, and the next round reads it.
        caughtUp = false;
        fresh = [];
      }
      if (wake !== undefined) wake();
      else woken = true;
    },
    async stop(timeoutMs = 10_000) {
      if (!running || loop === undefined) return;
      stopping = true;
      this.notify();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn(
            { code: 'INTAKE_SHUTTING_DOWN' },
            'outbox: stop timed out; unpublished entries are published at the next start',
          );
          resolve();
        }, timeoutMs);
      });
      await Promise.race([loop, timedOut]);
      clearTimeout(timer);
      running = false;
      this.notify();
      await Promise.race([loop, new Promise((r) => setTimeout(r, 100))]);
    },
  };
}
