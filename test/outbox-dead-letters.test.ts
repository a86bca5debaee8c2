/**
 * Outbox dead letters against a real SQLite store and the real embedded bus, wrapped so that
 * publishing chosen events fails: an entry that keeps failing becomes an `outbox` dead letter
 * with its attempts, the last error and the stored event as payload, and later entries go on; a
 * bus that cannot be reached at all dead-letters nothing; replaying the dead letter over the API
 * publishes the event.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore, type Store } from '../src/store/index.ts';
import { ack, createEmbeddedBus, type Bus } from '../src/bus/index.ts';
import { EVENTS_TOPIC, createOutboxRelay, decodeStoredEvent } from '../src/intake/index.ts';
import { OUTBOX_MAX_ATTEMPTS } from '../src/intake/outbox-relay.ts';
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

async function collect(bus: Bus, group: string): Promise<string[]> {
  const seen: string[] = [];
  await bus.subscribe(EVENTS_TOPIC, group, (delivery) => {
    assert.equal(decodeStoredEvent(delivery.message.data).id, delivery.message.id);
    seen.push(delivery.message.id);
    return Promise.resolve(ack);
  });
  return seen;
}

/** The real embedded bus, refusing to publish the ids in `refused` and, when `down`, everything. */
function failingBus(real: Bus): {
  bus: Bus;
  refused: Set<string>;
  tries: Map<string, number>;
  down: { on: boolean };
} {
  const refused = new Set<string>();
  const tries = new Map<string, number>();
  const down = { on: false };
  const bus: Bus = {
    kind: 'failing',
    capabilities: real.capabilities,
    publish: async (topic, message) => {
      tries.set(message.id, (tries.get(message.id) ?? 0) + 1);
      if (down.on) throw new JunctionError('BUS_UNAVAILABLE', 'injected: bus unreachable');
      if (refused.has(message.id)) {
        throw new JunctionError('BUS_MESSAGE_INVALID', `injected: message ${message.id} refused`);
      }
      return real.publish(topic, message);
    },
    subscribe: (...args) => real.subscribe(...args),
    ping: async () => {
      if (down.on) throw new JunctionError('BUS_UNAVAILABLE', 'injected: bus unreachable');
      return real.ping();
    },
    close: () => real.close(),
  };
  return { bus, refused, tries, down };
}

describe('outbox dead letters', { timeout: 60_000 }, () => {
  test('an entry failing OUTBOX_MAX_ATTEMPTS times is dead-lettered and later entries go on', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const real = createEmbeddedBus();
    const { bus, refused, tries } = failingBus(real);
    try {
      const ids = await backlog(store, 6);
      const poison = ids[2]!;
      refused.add(poison);
      const seen = await collect(real, 'dl');
      const relay = createOutboxRelay({ store, bus, logger, maxBackoffMs: 5, batchSize: 4 });
      relay.start();
      await eventually(() => (seen.length === 5 ? true : undefined), 20_000, '5 deliveries');
      await eventually(
        async () => ((await store.outboxStats()).pending === 0 ? true : undefined),
        5000,
        'outbox empty',
      );
      await relay.stop();
      assert.deepEqual(
        seen,
        ids.filter((id) => id !== poison),
      );
      assert.equal(tries.get(poison), OUTBOX_MAX_ATTEMPTS);
      assert.equal(OUTBOX_MAX_ATTEMPTS, 10);

      const letters = await store.listDeadLetters({ kind: 'outbox' }, 10);
      assert.equal(letters.length, 1);
      const letter = letters[0]!;
      assert.equal(letter.code, 'BUS_PUBLISH_FAILED');
      assert.equal(letter.attempts, OUTBOX_MAX_ATTEMPTS);
      assert.match(letter.reason, /failed 10 times/);
      assert.match(letter.reason, new RegExp(`injected: message ${poison} refused`));
      assert.equal(letter.eventId, poison);
      assert.equal(letter.destination, EVENTS_TOPIC);
      assert.equal(letter.receiver, 'events');
      assert.equal(letter.contentType, 'application/json');
      const stored = await store.getEvent(poison);
      assert.ok(stored !== undefined, 'the event stays stored');
      assert.deepEqual(decodeStoredEvent(letter.payload!), stored);
      assert.equal(letter.headers?.['ce-type'], stored.event.type);
      assert.equal(await store.listDeadLetters({ kind: 'delivery' }, 10).then((l) => l.length), 0);
    } finally {
      await real.close();
      await store.close();
      dir.remove();
    }
  });

  test('maxAttempts is honoured; a bus that cannot be reached dead-letters nothing', async () => {
    const dir = tempDir();
    const store = await openStore(`sqlite:${join(dir.path, 'j.db')}`, {});
    const real = createEmbeddedBus();
    const { bus, tries, down } = failingBus(real);
    try {
      const ids = await backlog(store, 3);
      down.on = true;
      const seen = await collect(real, 'down');
      const relay = createOutboxRelay({ store, bus, logger, maxBackoffMs: 5, maxAttempts: 2 });
      relay.start();
      await eventually(() => ((tries.get(ids[0]!) ?? 0) >= 6 ? true : undefined), 10_000, 'six failed tries');
      assert.deepEqual(await store.listDeadLetters({}, 10), []);
      assert.equal((await store.outboxStats()).pending, 3);
      assert.ok((await store.pendingOutbox(1))[0]!.attempts >= 5, 'failures are still counted');
      assert.equal(seen.length, 0);
      down.on = false;
      await eventually(() => (seen.length === 3 ? true : undefined), 10_000, '3 deliveries');
      await relay.stop();
      assert.deepEqual(seen, ids);
      assert.deepEqual(await store.listDeadLetters({}, 10), []);
    } finally {
      await real.close();
      await store.close();
      dir.remove();
    }
  });

  test('a bad maxAttempts is refused', () => {
    const bus = createEmbeddedBus();
    for (const maxAttempts of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => createOutboxRelay({ store: {} as Store, bus, logger, maxAttempts }),
        (error: unknown) => error instanceof JunctionError && error.code === 'CONFIG_INVALID',
        String(maxAttempts),
      );
    }
    void bus.close();
  });

  test('replaying an outbox dead letter over the API publishes the event, once', async () => {
    const dir = tempDir();
    const dbPath = join(dir.path, '.junction', 'junction.db');
    let poison = '';
    {
      const store = await openStore(`sqlite:${dbPath}`, {});
      const real = createEmbeddedBus();
      const { bus, refused } = failingBus(real);
      const ids = await backlog(store, 1);
      poison = ids[0]!;
      refused.add(poison);
      const relay = createOutboxRelay({ store, bus, logger, maxBackoffMs: 5, maxAttempts: 2 });
      relay.start();
      await eventually(
        async () => ((await store.listDeadLetters({ kind: 'outbox' }, 10)).length === 1 ? true : undefined),
        10_000,
        'the dead letter',
      );
      await relay.stop();
      await real.close();
      await store.close();
    }

    const t = await startTestApp({ workers: { concurrency: 0 } }, dir.path);
    try {
      const seen = await collect(t.app.bus, 'replayed');
      const list = await t.get('/api/v1/dead-letters?kind=outbox');
      assert.equal(list.status, 200);
      assert.equal(list.body.items.length, 1);
      const item = list.body.items[0];
      assert.equal(item.kind, 'outbox');
      assert.equal(item.eventId, poison);
      assert.equal(item.attempts, 2);
      const detail = await t.get(`/api/v1/dead-letters/${item.id as string}`);
      assert.equal(JSON.parse(detail.body.payloadText as string).id, poison);
      assert.equal((await t.get('/api/v1/dead-letters?kind=outbox2')).status, 400);

      // Nothing is published before the replay.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(seen.length, 0);

      const replay = await t.post(`/api/v1/dead-letters/${item.id as string}/replay`, '');
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      assert.equal(replay.body.requeued, poison);
      await eventually(
        () => (seen.includes(poison) ? true : undefined),
        10_000,
        'the replayed event on the bus',
      );
      await eventually(
        async () => ((await t.app.store.outboxStats()).pending === 0 ? true : undefined),
        5000,
        'outbox empty',
      );
      const after = await t.app.store.getDeadLetter(item.id as string);
      assert.notEqual(after!.replayedAt, null);

      const again = await t.post(`/api/v1/dead-letters/${item.id as string}/replay`, '');
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'DEAD_LETTER_NOT_REPLAYABLE');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(seen, [poison]);
    } finally {
      await t.close();
      dir.remove();
    }
  });
});
