/**
 * The outbox relay: publishes stored events to the bus, oldest first, and marks them published.
 * Intake writes each event and its outbox entry in one transaction; the relay is the only path
 * from the store to the bus, so no event is acknowledged without being published eventually:
 * entries left unpublished by a crash are published after the restart. Delivery is at least once
 * (a crash between publish and mark publishes again); the message id is the event id, so
 * consumers and brokers with publish dedupe drop the repeat.
 *
 * The relay wakes when intake stores events (`notify`) and also polls, so entries written by
 * another process are published too. A failed publish is recorded on the entry and retried with
 * exponential backoff (capped); later entries wait, keeping publish order.
 */
import type { Bus } from '../bus/index.ts';
import type { StoredEvent } from '../events/index.ts';
import type { OutboxEntry, Store } from '../store/index.ts';
import type { Logger } from '../observability/index.ts';
import { errorMessage, isJunctionError } from '../errors/index.ts';

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
}

export interface OutboxRelay {
  start(): void;
  /** Publish now rather than at the next poll. */
  notify(): void;
  /** Stops after publishing what is pending, or after `timeoutMs`; leaves the rest for next start. */
  stop(timeoutMs?: number): Promise<void>;
}

/** The bus message body of a stored event: the StoredEvent as JSON. */
export function encodeStoredEvent(event: StoredEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), 'utf8');
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
  let running = false;
  let stopping = false;
  let wake: (() => void) | undefined;
  let woken = false;
  let loop: Promise<void> | undefined;
  let failures = 0;

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
    const entries = await store.pendingOutbox(batchSize);
    if (entries.length === 0) return false;
    const published: number[] = [];
    try {
      for (const entry of entries) {
        await publish(entry);
        published.push(entry.seq);
      }
    } finally {
      if (published.length > 0) await store.markOutboxPublished(published);
    }
    return entries.length === batchSize;
  }

  async function publish(entry: OutboxEntry): Promise<void> {
    try {
      await bus.publish(entry.topic, {
        id: entry.eventId,
        data: encodeStoredEvent(entry.event),
        headers: { 'ce-type': entry.event.event.type, 'junction-receiver': entry.event.receiver },
      });
    } catch (error) {
      await store.markOutboxFailed(entry.seq, errorMessage(error)).catch((markError: unknown) => {
        logger.warn(
          { code: isJunctionError(markError) ? markError.code : 'INTERNAL' },
          'outbox: could not record a failed publish',
        );
      });
      throw error;
    }
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
      if (stopping && !more) return;
      if (!more) await sleep(pollMs);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = false;
      loop = run();
    },
    notify() {
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
