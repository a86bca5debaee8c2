/**
 * The outbox relay against a real SQLite store and real buses: stored events reach the bus with
 * the stored id as message id, a backlog left by a stopped process is published in order on the
 * next start, and a failing bus delays publication without losing or reordering anything.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore, type AppendResult, type Store } from '../src/store/index.ts';
import { ack, createEmbeddedBus, openBus, type Bus } from '../src/bus/index.ts';
import {
  EVENTS_TOPIC,
  createOutboxRelay,
  decodeStoredEvent,
  encodeOutboxEntry,
  encodeStoredEvent,
  SEQ_HEADER,
  type OutboxRelay,
} from '../src/intake/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { JunctionError } from '../src/errors/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir } from './helpers/app.ts';

const logger = createLogger({ level: 'silent', format: 'json' });

async function backlog(store: Store, n: number): Promise<string[]> {
  const results = await store.appendEvents(
    Array.from({ length: n }, () => ({ event: cloudEvent() as never, receiver: 'events' })),
    EVENTS_TOPIC,
  );
  return results.map((r) => r.id);
}

/** Commits one event and hands its outbox entry to the relay, as intake does; returns its result. */
async function commitAndNotify(store: Store, relay: OutboxRelay): Promise<AppendResult> {
  const [result] = await store.appendEvents(
    [{ event: cloudEvent() as never, receiver: 'events' }],
    EVENTS_TOPIC,
  );
  relay.notify([result!.outbox!]);
  return result!;
}

async function collect(bus: Bus, group: string): Promise<{ ids: string[]; types: string[] }> {
  const seen = { ids: [] as string[], types: [] as string[] };
  await bus.subscribe(EVENTS_TOPIC, group, (delivery) => {
    const stored = decodeStoredEvent(delivery.message.data);
    assert.equal(stored.id, delivery.message.id);
    // The headers a consumer may route on without decoding the body agree with the body.
    assert.equal(delivery.message.headers?.['ce-type'], stored.event.type);
    assert.equal(delivery.message.headers?.[SEQ_HEADER], String(stored.seq));
    seen.ids.push(stored.id);
    seen.types.push(stored.event.type);
    return Promise.resolve(ack);
  });
  return seen;
}

/** `real`, except that its first `failures` publishes fail as an unreachable bus would. */
function flakyBus(real: Bus, failures: number): Bus {
  let failuresLeft = failures;
  return {
    kind: 'flaky',
    capabilities: real.capabilities,
    publish: async (topic, message) => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new JunctionError('BUS_UNAVAILABLE', 'injected failure');
      }
      return real.publish(topic, message);
    },
    subscribe: (...args) => real.subscribe(...args),
    ping: () => real.ping(),
    close: () => real.close(),
  };
}

describe('outbox relay', { timeout: 60_000 }, () => {
  test('events posted to the server reach a bus subscriber', async () => {
    const t = await startTestApp();
    try {
      const seen = await collect(t.app.bus, 'relay-test');
      const response = await t.post('/events', JSON.stringify(cloudEvent({ type: 'com.example.relayed' })));
      assert.equal(response.status, 202);
      await eventually(
        () => (seen.ids.includes(response.body.id as string) ? true : undefined),
        5000,
        'the event on the bus',
      );
      assert.deepEqual(seen.types, ['com.example.relayed']);
      await eventually(
        async () => ((await t.app.store.outboxStats()).pending === 0 ? true : undefined),
        5000,
        'outbox empty',
      );
    } finally {
      await t.close();
    }
  });

  test('a backlog left unpublished is published in order on the next start', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const bus = createEmbeddedBus();
    try {
      const ids = await backlog(store, 120);
      assert.equal((await store.outboxStats()).pending, 120);
      const seen = await collect(bus, 'backlog');
      const relay = createOutboxRelay({ store, bus, logger, batchSize: 50 });
      relay.start();
      await eventually(() => (seen.ids.length === 120 ? true : undefined), 10_000, '120 deliveries');
      assert.deepEqual(seen.ids, ids);
      await relay.stop();
      assert.equal((await store.outboxStats()).pending, 0);
    } finally {
      await bus.close();
      await store.close();
      dir.remove();
    }
  });

  test('a failing bus delays publication; nothing is lost or reordered', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const real = createEmbeddedBus();
    const flaky = flakyBus(real, 3);
    try {
      const ids = await backlog(store, 10);
      const seen = await collect(real, 'flaky');
      const relay = createOutboxRelay({ store, bus: flaky, logger, maxBackoffMs: 50 });
      relay.start();
      await eventually(() => (seen.ids.length === 10 ? true : undefined), 10_000, '10 deliveries');
      assert.deepEqual(seen.ids, ids);
      await relay.stop();
      const stats = await store.outboxStats();
      assert.equal(stats.pending, 0);
    } finally {
      await real.close();
      await store.close();
      dir.remove();
    }
  });

  test('entries handed over by intake are published without reading them back, after an older backlog', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const bus = createEmbeddedBus();
    let reads = 0;
    let relay: OutboxRelay | undefined;
    const counted: Store = Object.assign(Object.create(store) as Store, {
      pendingOutbox: (limit: number) => {
        reads += 1;
        return store.pendingOutbox(limit);
      },
    });
    try {
      const older = await backlog(store, 30);
      const seen = await collect(bus, 'handover');
      relay = createOutboxRelay({ store: counted, bus, logger, batchSize: 10, pollMs: 60_000 });
      // Committed while the backlog is still unread: handed over, yet published after it.
      const early = await store.appendEvents(
        [{ event: cloudEvent() as never, receiver: 'events' }],
        EVENTS_TOPIC,
      );
      relay.start();
      relay.notify(early.map((r) => r.outbox!));
      await eventually(() => (seen.ids.length === 31 ? true : undefined), 10_000, '31 deliveries');
      assert.deepEqual(seen.ids, [...older, early[0]!.id]);
      const readsAfterBacklog = reads;
      const later: string[] = [];
      for (let i = 0; i < 20; i++) later.push((await commitAndNotify(store, relay)).id);
      await eventually(() => (seen.ids.length === 51 ? true : undefined), 10_000, '51 deliveries');
      assert.deepEqual(seen.ids, [...older, early[0]!.id, ...later]);
      assert.equal(reads, readsAfterBacklog, 'handed-over entries are not read back from the store');
      await eventually(
        async () => ((await store.outboxStats()).pending === 0 ? true : undefined),
        5000,
        'all marked published',
      );
    } finally {
      await relay?.stop();
      await bus.close();
      await store.close();
      dir.remove();
    }
  });

  test('a handed-over entry whose publish fails is retried from the store, in order', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const real = createEmbeddedBus();
    const flaky = flakyBus(real, 2);
    let relay: OutboxRelay | undefined;
    try {
      const seen = await collect(real, 'handover-flaky');
      relay = createOutboxRelay({ store, bus: flaky, logger, maxBackoffMs: 50, pollMs: 60_000 });
      relay.start();
      await eventually(
        async () => ((await store.outboxStats()).pending === 0 ? true : undefined),
        5000,
        'idle',
      );
      const results = await store.appendEvents(
        Array.from({ length: 5 }, () => ({ event: cloudEvent() as never, receiver: 'events' })),
        EVENTS_TOPIC,
      );
      relay.notify(results.map((r) => r.outbox!));
      await eventually(() => (seen.ids.length === 5 ? true : undefined), 10_000, '5 deliveries');
      assert.deepEqual(
        seen.ids,
        results.map((r) => r.id),
      );
      // Marked published after the publish (on the store's append thread, so not at once).
      await eventually(
        async () => ((await store.pendingOutbox(1)).length === 0 ? true : undefined),
        5000,
        'every entry marked published',
      );
    } finally {
      await relay?.stop();
      await real.close();
      await store.close();
      dir.remove();
    }
  });

  test('marks of many rounds go to the store in one write, before any read and at stop; nothing is published twice', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const bus = createEmbeddedBus();
    const marks: number[][] = [];
    let unmarkedAtRead: number[] = [];
    let relay: OutboxRelay | undefined;
    const counted: Store = Object.assign(Object.create(store) as Store, {
      markOutboxPublished: (seqs: readonly number[]) => {
        marks.push([...seqs]);
        return store.markOutboxPublished(seqs);
      },
      pendingOutbox: async (limit: number) => {
        const pending = await store.pendingOutbox(limit);
        // Whatever the relay published earlier must not be pending when it reads.
        unmarkedAtRead = pending.filter((e) => seen.ids.includes(e.eventId)).map((e) => e.seq);
        return pending;
      },
    });
    const seen = await collect(bus, 'marks');
    try {
      relay = createOutboxRelay({ store: counted, bus, logger, pollMs: 60_000, markDelayMs: 300 });
      relay.start();
      await eventually(() => (marks.length === 0 ? true : undefined), 1000, 'the first read');
      for (let i = 0; i < 10; i++) {
        await commitAndNotify(store, relay);
        await eventually(() => (seen.ids.length === i + 1 ? true : undefined), 5000, 'a delivery');
      }
      // Ten rounds, each published at once; their marks wait for the delay, then go together.
      assert.equal(marks.length, 0, 'no mark before the delay');
      await eventually(() => (marks.length === 1 ? true : undefined), 5000, 'one mark write');
      assert.equal(marks[0]!.length, 10);
      assert.equal((await store.outboxStats()).pending, 0);

      // A store read (here: entries not handed over) marks what was published first.
      const late = await commitAndNotify(store, relay);
      await eventually(() => (seen.ids.length === 11 ? true : undefined), 5000, 'delivery 11');
      await backlog(store, 3);
      relay.notify(); // read the store: the 11th entry's mark goes first
      await eventually(() => (seen.ids.length === 14 ? true : undefined), 5000, 'the backlog');
      assert.deepEqual(unmarkedAtRead, [], 'no published entry was pending at the read');
      assert.equal(marks.length, 2);
      assert.deepEqual(marks[1], [late.outbox!.seq]);

      // Stop marks what waits, without waiting for the delay.
      await relay.stop();
      relay = undefined;
      assert.equal((await store.outboxStats()).pending, 0);
      assert.deepEqual(new Set(seen.ids).size, seen.ids.length, 'each event published once');
      assert.equal(seen.ids.length, 14);
    } finally {
      await relay?.stop();
      await bus.close();
      await store.close();
      dir.remove();
    }
  });

  test('marks that fail to be written wait and are written later; nothing is published twice', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const bus = createEmbeddedBus();
    const attempts: number[][] = [];
    let relay: OutboxRelay | undefined;
    const failingOnce: Store = Object.assign(Object.create(store) as Store, {
      markOutboxPublished: (seqs: readonly number[]) => {
        attempts.push([...seqs]);
        if (attempts.length === 1) return Promise.reject(new JunctionError('STORE_UNAVAILABLE', 'injected'));
        return store.markOutboxPublished(seqs);
      },
    });
    try {
      const seen = await collect(bus, 'failed-marks');
      relay = createOutboxRelay({ store: failingOnce, bus, logger, pollMs: 60_000, markDelayMs: 20 });
      relay.start();
      const seqs: number[] = [];
      for (let i = 0; i < 3; i++) {
        seqs.push((await commitAndNotify(store, relay)).outbox!.seq);
        await eventually(() => (seen.ids.length === i + 1 ? true : undefined), 5000, 'a delivery');
      }
      await eventually(
        async () => ((await store.outboxStats()).pending === 0 ? true : undefined),
        10_000,
        'all marked after the failed write',
      );
      assert.ok(attempts.length >= 2, 'the failed marks were written again');
      assert.deepEqual(new Set(attempts.flat()), new Set(seqs), 'every published seq was marked');
      assert.equal(seen.ids.length, 3, 'nothing published twice');
    } finally {
      await relay?.stop();
      await bus.close();
      await store.close();
      dir.remove();
    }
  });

  test('reaching maxUnmarked marks at once', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const bus = createEmbeddedBus();
    let relay: OutboxRelay | undefined;
    try {
      const seen = await collect(bus, 'max-unmarked');
      relay = createOutboxRelay({
        store,
        bus,
        logger,
        pollMs: 60_000,
        markDelayMs: 60_000,
        maxUnmarked: 5,
      });
      relay.start();
      for (let i = 0; i < 5; i++) {
        await commitAndNotify(store, relay);
        await eventually(() => (seen.ids.length === i + 1 ? true : undefined), 5000, 'a delivery');
      }
      await eventually(
        async () => ((await store.outboxStats()).pending === 0 ? true : undefined),
        5000,
        'the five marked long before the delay',
      );
    } finally {
      await relay?.stop();
      await bus.close();
      await store.close();
      dir.remove();
    }
  });

  test('the message built from the stored body decodes to the stored event', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    try {
      const event = cloudEvent({
        subject: 'quote " and \u2028 and ✓',
        data: { nested: { list: [1, 'two'] } },
      });
      const [result] = await store.appendEvents(
        [{ event: event as never, receiver: 'hooks"odd' }],
        EVENTS_TOPIC,
      );
      const handed = result!.outbox!;
      const [read] = await store.pendingOutbox(1);
      assert.deepEqual(handed, read, 'the handed-over entry is what the store reads back');
      assert.deepEqual(decodeStoredEvent(encodeOutboxEntry(handed)), read!.event);
      assert.deepEqual(
        decodeStoredEvent(encodeOutboxEntry(handed)),
        decodeStoredEvent(encodeStoredEvent(read!.event)),
      );
    } finally {
      await store.close();
      dir.remove();
    }
  });

  test('relays to NATS JetStream when configured', async (t) => {
    const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
    let bus: Bus;
    const prefix = `relay${process.pid}x${Date.now()}`;
    try {
      bus = await openBus(url, { prefix });
    } catch (error) {
      if (process.env['CI'] === 'true') throw error;
      t.skip(`NATS not reachable at ${url} (start nats-server -js): ${String(error)}`);
      return;
    }
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    try {
      const seen = await collect(bus, 'natsrelay');
      const ids = await backlog(store, 25);
      const relay = createOutboxRelay({ store, bus, logger });
      relay.start();
      await eventually(() => (seen.ids.length === 25 ? true : undefined), 15_000, '25 deliveries over NATS');
      assert.deepEqual(seen.ids, ids);
      await relay.stop();
    } finally {
      await bus.close();
      await store.close();
      dir.remove();
      const { deleteNatsStreams } = await import('../src/bus/nats/nats-bus.ts');
      await deleteNatsStreams(url, prefix);
    }
  });
});
