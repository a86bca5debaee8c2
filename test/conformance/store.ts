/**
 * The behavioural contract of `Store` (src/store/store.ts), run by every engine: each engine's
 * test file calls `runStoreContract` with a factory for a fresh, empty store. The suite migrates
 * the store itself, and each test gets its own store, so tests never see each other's rows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isJunctionError, type ErrorCode } from '../../src/errors/index.ts';
import { dedupeKeyOf, type CloudEvent, type StoredEvent } from '../../src/events/index.ts';
import type {
  DeploymentRecord,
  EventFilter,
  NewDecision,
  NewEvent,
  NewJob,
  NewRun,
  Store,
} from '../../src/store/index.ts';

export interface StoreFixture {
  readonly store: Store;
  /** Closes the store (if the test did not) and removes whatever the factory created. */
  cleanup(): Promise<void>;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_MILLIS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TOPIC = 'junction.events';

function cloudEvent(fields: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/conformance',
    type: 'test.happened',
    data: { n: 1 },
    ...fields,
  };
}

function entry(event: CloudEvent, receiver = 'events', dedupeKey?: string): NewEvent {
  return dedupeKey === undefined ? { event, receiver } : { event, receiver, dedupeKey };
}

function many(count: number, fields: Partial<CloudEvent> = {}, receiver = 'events'): NewEvent[] {
  return Array.from({ length: count }, (_, n) => entry(cloudEvent({ data: { n }, ...fields }), receiver));
}

function rejectsWith(code: ErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isJunctionError(error, code), `expected JunctionError ${code}, got ${String(error)}`);
    return true;
  };
}

async function listAll(
  store: Store,
  filter: EventFilter = {},
  order: 'asc' | 'desc' = 'desc',
  limit = 1_000,
  between?: () => Promise<void>,
): Promise<{ items: StoredEvent[]; pages: number }> {
  const items: StoredEvent[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.listEvents(filter, {
      limit,
      order,
      ...(cursor === undefined ? {} : { cursor }),
    });
    pages += 1;
    assert.ok(page.items.length <= limit, 'a page holds at most limit items');
    items.push(...page.items);
    if (page.next === null) return { items, pages };
    assert.ok(page.items.length === limit, 'a page followed by another is full');
    assert.ok(pages < 1_000, 'pagination terminates');
    cursor = page.next;
    if (between !== undefined) await between();
  }
}

/** Waits, polling with a deadline, until the clock has moved past `iso` (a stored receivedAt). */
async function clockPast(iso: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (new Date().toISOString() <= iso) {
    assert.ok(Date.now() < deadline, 'clock did not advance');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function seqs(items: readonly StoredEvent[]): number[] {
  return items.map((item) => item.seq);
}

function isStrictlyIncreasing(values: readonly number[]): boolean {
  return values.every((value, index) => index === 0 || value > values[index - 1]!);
}

export function runStoreContract(name: string, factory: () => Promise<StoreFixture>): void {
  void describe(`store contract: ${name}`, { timeout: 30_000 }, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      await store.migrate();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    void describe('lifecycle', () => {
      void test('migrate is idempotent and reports a positive schema version', async () => {
        const version = await store.schemaVersion();
        assert.ok(Number.isSafeInteger(version) && version >= 1, `schema version ${version}`);
        await store.migrate();
        await store.migrate();
        assert.equal(await store.schemaVersion(), version);
        assert.equal(typeof store.kind, 'string');
        await store.ping();
      });

      void test('calls after close reject with STORE_UNAVAILABLE; close is idempotent', async () => {
        await store.close();
        await store.close();
        await assert.rejects(store.appendEvents(many(1), TOPIC), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.appendEvents([], TOPIC), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.getEvent(randomUUID()), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.listEvents({}, { limit: 10 }), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.pendingOutbox(10), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.outboxStats(), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.hasTokens(), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.ping(), rejectsWith('STORE_UNAVAILABLE'));
        await assert.rejects(store.migrate(), rejectsWith('STORE_UNAVAILABLE'));
      });
    });

    void describe('appendEvents and getEvent', () => {
      void test('an event may name the stored event it replays; an unknown one stores nothing', async () => {
        const [original] = await store.appendEvents([entry(cloudEvent())], TOPIC);
        const copy = cloudEvent({ replayof: original!.id });
        const [replay] = await store.appendEvents([{ ...entry(copy), replayOf: original!.id }], TOPIC);
        assert.equal(replay!.duplicate, false);
        assert.equal((await store.getEvent(replay!.id))?.event['replayof'], original!.id);
        const orphan = cloudEvent();
        await assert.rejects(store.appendEvents([{ ...entry(orphan), replayOf: 'no-such-event' }], TOPIC));
        assert.equal((await listAll(store, {})).items.length, 2);
      });

      void test('a stored event round-trips exactly, with its metadata', async () => {
        const events: CloudEvent[] = [
          cloudEvent({
            subject: 'refs/heads/main',
            time: '2024-05-01T12:00:00.123456789+02:00',
            datacontenttype: 'application/json',
            dataschema: 'https://example.com/schema.json',
            data: {
              nested: { list: [1, 'two', { three: null }], flag: false },
              big: 2 ** 53 - 1,
              ratio: 0.1,
            },
            comexampleextension1: 'value',
            partitionkey: 'key-1',
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            causationid: 'cause-1',
            correlationid: 'root-1',
            numberext: 42,
            boolext: true,
          }),
          {
            specversion: '1.0',
            id: randomUUID(),
            source: '/conformance',
            type: 'test.binary',
            datacontenttype: 'application/octet-stream',
            data_base64: Buffer.from([0, 1, 2, 254, 255]).toString('base64'),
          },
          cloudEvent({
            source: '/conformance/ünïcödé',
            type: 'test.ünïcödé',
            subject: '日本語 😀',
            data: {
              text: '日本語 😀 עברית e\u0301 \u{1F468}\u200D\u{1F469}',
              'ключ 🔑': 'значение',
              escapes: '"\\/\b\f\n\r\t',
            },
          }),
          cloudEvent({ datacontenttype: 'text/plain', data: 'plain text\nwith lines' }),
          cloudEvent({ data: null }),
        ];
        events.push({ specversion: '1.0', id: randomUUID(), source: '/conformance', type: 'test.nodata' });

        const before = new Date().toISOString();
        const results = await store.appendEvents(
          events.map((event, n) => entry(event, n % 2 === 0 ? 'events' : 'github')),
          TOPIC,
        );
        const after = new Date().toISOString();

        assert.equal(results.length, events.length);
        for (const [n, event] of events.entries()) {
          const result = results[n]!;
          assert.equal(result.duplicate, false);
          assert.match(result.id, UUID_V7);
          const stored = await store.getEvent(result.id);
          assert.ok(stored !== undefined, `event ${n} is stored`);
          assert.deepEqual(stored.event, event);
          assert.equal(stored.id, result.id);
          assert.equal(stored.dedupeKey, dedupeKeyOf(event));
          assert.equal(stored.receiver, n % 2 === 0 ? 'events' : 'github');
          assert.ok(Number.isSafeInteger(stored.seq) && stored.seq > 0);
          assert.match(stored.receivedAt, ISO_MILLIS_UTC);
          assert.ok(stored.receivedAt >= before && stored.receivedAt <= after, stored.receivedAt);
        }
        const listed = await store.listEvents({}, { limit: 100, order: 'asc' });
        assert.deepEqual(listed.items, await Promise.all(results.map(async (r) => store.getEvent(r.id))));
      });

      void test('an empty batch stores nothing', async () => {
        assert.deepEqual(await store.appendEvents([], TOPIC), []);
        assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 0);
      });

      void test('getEvent of an unknown id is undefined', async () => {
        await store.appendEvents(many(2), TOPIC);
        assert.equal(await store.getEvent(randomUUID()), undefined);
        assert.equal(await store.getEvent('not-a-uuid'), undefined);
        assert.equal(await store.getEvent(''), undefined);
      });

      void test('seq increases in input order within a batch and across batches', async () => {
        const first = await store.appendEvents(many(5), TOPIC);
        const second = await store.appendEvents(many(5), TOPIC);
        const stored = await Promise.all([...first, ...second].map(async (r) => store.getEvent(r.id)));
        const values = stored.map((s) => s!.seq);
        assert.ok(isStrictlyIncreasing(values), `seqs ${values.join(',')}`);
        assert.equal(new Set([...first, ...second].map((r) => r.id)).size, 10);
      });

      void test('the same source and id is a duplicate that stores nothing new', async () => {
        const original = cloudEvent({ data: { version: 1 } });
        const [first] = await store.appendEvents([entry(original)], TOPIC);
        const [second] = await store.appendEvents(
          [entry({ ...original, data: { version: 2 } }, 'github')],
          TOPIC,
        );
        assert.deepEqual(second, { id: first!.id, duplicate: true });
        const page = await store.listEvents({}, { limit: 10 });
        assert.equal(page.items.length, 1);
        assert.deepEqual(page.items[0]!.event, original);
        assert.equal(page.items[0]!.receiver, 'events');
        assert.equal((await store.pendingOutbox(10)).length, 1);
        assert.equal((await store.outboxStats()).pending, 1);
      });

      void test('a dedupe key repeated inside one batch is stored once', async () => {
        const a = cloudEvent({ data: 'first' });
        const b = cloudEvent();
        const results = await store.appendEvents(
          [entry(a), entry(b), entry({ ...a, data: 'second' }), entry(a)],
          TOPIC,
        );
        assert.equal(results[0]!.duplicate, false);
        assert.equal(results[1]!.duplicate, false);
        assert.deepEqual(results[2], { id: results[0]!.id, duplicate: true });
        assert.deepEqual(results[3], { id: results[0]!.id, duplicate: true });
        assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 2);
        assert.equal((await store.getEvent(results[0]!.id))!.event.data, 'first');
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((o) => o.eventId),
          [results[0]!.id, results[1]!.id],
        );
      });

      void test('a custom dedupe key replaces source and id', async () => {
        const deliveryId = `delivery-${randomUUID()}`;
        const [first] = await store.appendEvents([entry(cloudEvent(), 'github', deliveryId)], TOPIC);
        // Another CloudEvent id, same delivery: a redelivery.
        const [again] = await store.appendEvents([entry(cloudEvent(), 'github', deliveryId)], TOPIC);
        assert.deepEqual(again, { id: first!.id, duplicate: true });
        assert.equal((await store.getEvent(first!.id))!.dedupeKey, deliveryId);
        // The same CloudEvent under two different delivery ids: two events.
        const shared = cloudEvent();
        const pair = await store.appendEvents(
          [
            entry(shared, 'github', `delivery-${randomUUID()}`),
            entry(shared, 'github', `delivery-${randomUUID()}`),
          ],
          TOPIC,
        );
        assert.deepEqual(
          pair.map((r) => r.duplicate),
          [false, false],
        );
        assert.notEqual(pair[0]!.id, pair[1]!.id);
        // The custom key does not collide with the default key of the same event.
        const [plain] = await store.appendEvents([entry(shared)], TOPIC);
        assert.equal(plain!.duplicate, false);
      });

      void test('concurrent appends all succeed with distinct ids and seqs', async () => {
        const batches = Array.from({ length: 20 }, () => many(5));
        const results = await Promise.all(batches.map(async (batch) => store.appendEvents(batch, TOPIC)));
        const ids = results.flat().map((r) => r.id);
        assert.equal(new Set(ids).size, 100);
        assert.ok(results.flat().every((r) => !r.duplicate));
        const { items } = await listAll(store, {}, 'asc', 30);
        assert.equal(items.length, 100);
        assert.equal(new Set(seqs(items)).size, 100);
        assert.equal((await store.outboxStats()).pending, 100);
      });

      void test('concurrent appends of the same event store it once', async () => {
        const event = cloudEvent();
        const results = await Promise.all(
          Array.from({ length: 20 }, async () => store.appendEvents([entry(event)], TOPIC)),
        );
        const flat = results.flat();
        assert.equal(flat.filter((r) => !r.duplicate).length, 1);
        assert.equal(new Set(flat.map((r) => r.id)).size, 1);
        assert.equal((await store.pendingOutbox(100)).length, 1);
      });

      void test('a batch that fails part-way leaves nothing written', async () => {
        const good = cloudEvent();
        // A BigInt cannot be serialised as JSON: the second event fails after the first was handled.
        const bad = cloudEvent({ data: { size: 10n } });
        await assert.rejects(
          store.appendEvents([entry(good), entry(bad), entry(cloudEvent())], TOPIC),
          (error) => {
            assert.ok(isJunctionError(error), `expected a JunctionError, got ${String(error)}`);
            return true;
          },
        );
        assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 0);
        assert.equal((await store.pendingOutbox(10)).length, 0);
        assert.deepEqual(await store.outboxStats(), { pending: 0, oldestAgeSeconds: 0 });
        // The good event's dedupe key was not kept either.
        const [retry] = await store.appendEvents([entry(good)], TOPIC);
        assert.equal(retry!.duplicate, false);
      });
    });

    void describe('outbox', () => {
      void test('every new event gets one pending entry, oldest first', async () => {
        assert.deepEqual(await store.outboxStats(), { pending: 0, oldestAgeSeconds: 0 });
        const first = await store.appendEvents(many(3), 'topic.a');
        const dup = await store.appendEvents([entry((await store.getEvent(first[0]!.id))!.event)], 'topic.a');
        assert.equal(dup[0]!.duplicate, true);
        const second = await store.appendEvents(many(2), 'topic.b');

        const pending = await store.pendingOutbox(100);
        assert.deepEqual(
          pending.map((o) => o.eventId),
          [...first, ...second].map((r) => r.id),
        );
        assert.deepEqual(
          pending.map((o) => o.topic),
          ['topic.a', 'topic.a', 'topic.a', 'topic.b', 'topic.b'],
        );
        assert.ok(isStrictlyIncreasing(pending.map((o) => o.seq)));
        assert.ok(pending.every((o) => o.attempts === 0));
        for (const outboxEntry of pending) {
          assert.deepEqual(outboxEntry.event, await store.getEvent(outboxEntry.eventId));
        }
        assert.deepEqual(
          (await store.pendingOutbox(2)).map((o) => o.seq),
          pending.slice(0, 2).map((o) => o.seq),
        );

        const stats = await store.outboxStats();
        assert.equal(stats.pending, 5);
        assert.ok(stats.oldestAgeSeconds >= 0 && stats.oldestAgeSeconds < 60, String(stats.oldestAgeSeconds));
      });

      void test('markOutboxFailed counts attempts and keeps the entry pending', async () => {
        await store.appendEvents(many(2), TOPIC);
        const [a, b] = await store.pendingOutbox(10);
        await store.markOutboxFailed(a!.seq, 'bus unavailable: connection refused');
        await store.markOutboxFailed(a!.seq, 'x'.repeat(100_000));
        const pending = await store.pendingOutbox(10);
        assert.deepEqual(
          pending.map((o) => [o.seq, o.attempts]),
          [
            [a!.seq, 2],
            [b!.seq, 0],
          ],
        );
      });

      void test('markOutboxPublished marks exactly the seqs given, gaps included', async () => {
        await store.appendEvents(many(7), TOPIC);
        const seqs = (await store.pendingOutbox(10)).map((pending) => pending.seq);
        await store.markOutboxPublished([seqs[0]!, seqs[1]!, seqs[2]!, seqs[4]!, seqs[6]!]);
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((pending) => pending.seq),
          [seqs[3], seqs[5]],
        );
      });

      void test('a new event comes back with the outbox entry pendingOutbox reads; a duplicate without', async () => {
        const batch = many(2);
        const results = await store.appendEvents([...batch, batch[0]!], TOPIC);
        assert.deepEqual(
          results.map((result) => result.outbox),
          [...(await store.pendingOutbox(10)), undefined],
        );
        for (const pending of await store.pendingOutbox(10)) {
          assert.deepEqual(JSON.parse(pending.body), pending.event.event, 'body is the event as JSON');
        }
      });

      void test('markOutboxPublished removes entries from pending, idempotently', async () => {
        await store.appendEvents(many(3), TOPIC);
        const [a, b, c] = await store.pendingOutbox(10);
        await store.markOutboxPublished([a!.seq, b!.seq]);
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((o) => o.seq),
          [c!.seq],
        );
        await store.markOutboxPublished([a!.seq, 999_999_999]);
        await store.markOutboxPublished([]);
        assert.equal((await store.outboxStats()).pending, 1);
        await store.markOutboxPublished([c!.seq]);
        assert.deepEqual(await store.pendingOutbox(10), []);
        assert.deepEqual(await store.outboxStats(), { pending: 0, oldestAgeSeconds: 0 });
        // Published events stay in the log.
        assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 3);
      });

      void test('markOutboxDeadLettered keeps a dead letter and takes the entry out of pending', async () => {
        await store.appendEvents(many(3), TOPIC);
        const [a, b, c] = await store.pendingOutbox(10);
        await store.markOutboxFailed(a!.seq, 'first');
        const payload = JSON.stringify(a!.event);
        const id = await store.markOutboxDeadLettered(a!.seq, 'y'.repeat(100_000), {
          kind: 'outbox',
          code: 'BUS_PUBLISH_FAILED',
          reason: 'publishing failed 2 times',
          attempts: 2,
          payload,
          destination: TOPIC,
          eventId: a!.eventId,
        });
        assert.match(id, UUID_V7);
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((o) => o.seq),
          [b!.seq, c!.seq],
        );
        assert.equal((await store.outboxStats()).pending, 2);
        const letter = await store.getDeadLetter(id);
        assert.equal(letter!.kind, 'outbox');
        assert.equal(letter!.code, 'BUS_PUBLISH_FAILED');
        assert.equal(letter!.attempts, 2);
        assert.equal(letter!.eventId, a!.eventId);
        assert.equal(letter!.destination, TOPIC);
        assert.equal(Buffer.from(letter!.payload!).toString('utf8'), payload);
        assert.equal((await store.listDeadLetters({ kind: 'outbox' }, 10)).length, 1);
        // The event stays stored.
        assert.deepEqual(await store.getEvent(a!.eventId), a!.event);

        // Not pending any more: refused, and no second dead letter is written.
        await assert.rejects(
          store.markOutboxDeadLettered(a!.seq, 'again', {
            kind: 'outbox',
            code: 'BUS_PUBLISH_FAILED',
            reason: 'r',
            attempts: 3,
          }),
          rejectsWith('API_BAD_REQUEST'),
        );
        await store.markOutboxPublished([b!.seq]);
        await assert.rejects(
          store.markOutboxDeadLettered(b!.seq, 'published', {
            kind: 'outbox',
            code: 'BUS_PUBLISH_FAILED',
            reason: 'r',
            attempts: 1,
          }),
          rejectsWith('API_BAD_REQUEST'),
        );
        await assert.rejects(
          store.markOutboxDeadLettered(999_999_999, 'no such entry', {
            kind: 'outbox',
            code: 'BUS_PUBLISH_FAILED',
            reason: 'r',
            attempts: 1,
          }),
          rejectsWith('API_BAD_REQUEST'),
        );
        // A bad letter writes nothing: the entry stays pending.
        await assert.rejects(
          store.markOutboxDeadLettered(c!.seq, 'bad', {
            kind: 'outbox',
            code: 'BUS_PUBLISH_FAILED',
            reason: 'r',
            attempts: -1,
          }),
          rejectsWith('API_BAD_REQUEST'),
        );
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((o) => [o.seq, o.attempts]),
          [[c!.seq, 0]],
        );
        assert.equal((await store.listDeadLetters({}, 10)).length, 1);
      });

      void test('requeueOutbox makes a dead-lettered entry pending again, once', async () => {
        await store.appendEvents(many(2), TOPIC);
        const [a, b] = await store.pendingOutbox(10);
        for (let i = 0; i < 3; i += 1) await store.markOutboxFailed(a!.seq, 'down');
        const id = await store.markOutboxDeadLettered(a!.seq, 'down', {
          kind: 'outbox',
          code: 'BUS_PUBLISH_FAILED',
          reason: 'r',
          attempts: 4,
          eventId: a!.eventId,
        });
        assert.equal(await store.requeueOutbox('no-such-letter'), false);
        assert.equal(await store.requeueOutbox(id), true);
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((o) => [o.seq, o.attempts]),
          [
            [a!.seq, 0],
            [b!.seq, 0],
          ],
        );
        assert.match((await store.getDeadLetter(id))!.replayedAt!, ISO_MILLIS_UTC);
        assert.equal(await store.requeueOutbox(id), false);
        assert.equal((await store.outboxStats()).pending, 2);
        // An entry published after the requeue is not made pending by a later requeue.
        await store.markOutboxPublished([a!.seq]);
        assert.equal(await store.requeueOutbox(id), false);
        assert.deepEqual(
          (await store.pendingOutbox(10)).map((o) => o.seq),
          [b!.seq],
        );
      });
    });

    void describe('listEvents', () => {
      void test('filters by type, source and receiver, alone and together', async () => {
        const combos = [
          { type: 'git.push', source: '/github/a', receiver: 'github' },
          { type: 'git.push', source: '/gitlab/b', receiver: 'gitlab' },
          { type: 'image.pushed', source: '/github/a', receiver: 'events' },
          { type: 'image.pushed', source: '/registry', receiver: 'github' },
          { type: 'alert.firing', source: '/alertmanager', receiver: 'events' },
        ];
        const results = await store.appendEvents(
          combos.flatMap((c) => many(2, { type: c.type, source: c.source }, c.receiver)),
          TOPIC,
        );
        assert.equal(results.length, 10);
        const expect = async (filter: EventFilter, count: number): Promise<void> => {
          const { items } = await listAll(store, filter, 'desc', 3);
          assert.equal(items.length, count, JSON.stringify(filter));
          for (const item of items) {
            if (filter.type !== undefined) assert.equal(item.event.type, filter.type);
            if (filter.source !== undefined) assert.equal(item.event.source, filter.source);
            if (filter.receiver !== undefined) assert.equal(item.receiver, filter.receiver);
          }
        };
        await expect({}, 10);
        await expect({ type: 'git.push' }, 4);
        await expect({ type: 'alert.firing' }, 2);
        await expect({ type: 'nothing' }, 0);
        await expect({ source: '/github/a' }, 4);
        await expect({ receiver: 'github' }, 4);
        await expect({ receiver: 'events' }, 4);
        await expect({ type: 'git.push', source: '/github/a' }, 2);
        await expect({ type: 'image.pushed', receiver: 'github' }, 2);
        await expect({ type: 'git.push', source: '/github/a', receiver: 'gitlab' }, 0);
      });

      void test('since is inclusive and until exclusive on receivedAt', async () => {
        const early = await store.appendEvents(many(3), TOPIC);
        const earlyAt = (await store.getEvent(early[0]!.id))!.receivedAt;
        await clockPast((await store.getEvent(early[2]!.id))!.receivedAt);
        const late = await store.appendEvents(many(2), TOPIC);
        const lateAt = (await store.getEvent(late[0]!.id))!.receivedAt;
        assert.ok(lateAt > earlyAt);
        const ids = async (filter: EventFilter): Promise<string[]> =>
          (await listAll(store, filter, 'asc', 2)).items.map((i) => i.id);

        assert.deepEqual(
          await ids({ since: lateAt }),
          late.map((r) => r.id),
        );
        assert.deepEqual(
          await ids({ until: lateAt }),
          early.map((r) => r.id),
        );
        assert.deepEqual(
          await ids({ since: earlyAt }),
          [...early, ...late].map((r) => r.id),
        );
        assert.deepEqual(await ids({ until: earlyAt }), []);
        assert.deepEqual(
          await ids({ since: earlyAt, until: lateAt }),
          early.map((r) => r.id),
        );
        // The same instant written with an offset means the same thing.
        const shifted = new Date(Date.parse(lateAt) + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
        assert.deepEqual(
          await ids({ since: shifted }),
          late.map((r) => r.id),
        );
        assert.deepEqual(
          await ids({ since: '2000-01-01', until: '2999-01-01T00:00:00Z' }),
          [...early, ...late].map((r) => r.id),
        );
      });

      void test('a time filter that is not ISO 8601 is refused', async () => {
        await assert.rejects(
          store.listEvents({ since: 'yesterday' }, { limit: 10 }),
          rejectsWith('API_BAD_REQUEST'),
        );
        await assert.rejects(
          store.listEvents({ until: '2024-13-45T99:00:00Z' }, { limit: 10 }),
          rejectsWith('API_BAD_REQUEST'),
        );
      });

      void test('a limit that is not a positive integer is refused', async () => {
        await assert.rejects(store.listEvents({}, { limit: 0 }), rejectsWith('API_BAD_REQUEST'));
        await assert.rejects(store.listEvents({}, { limit: 2.5 }), rejectsWith('API_BAD_REQUEST'));
        await assert.rejects(store.pendingOutbox(-1), rejectsWith('API_BAD_REQUEST'));
      });

      void test('order is newest first by default', async () => {
        await store.appendEvents(many(4), TOPIC);
        const page = await store.listEvents({}, { limit: 10 });
        assert.equal(page.next, null);
        assert.ok(isStrictlyIncreasing(seqs(page.items).reverse()));
      });

      for (const order of ['asc', 'desc'] as const) {
        void test(`pagination (${order}) walks every event once, and next is null on the last page`, async () => {
          const results = await store.appendEvents(many(23), TOPIC);
          const walked = await listAll(store, {}, order, 5);
          assert.equal(walked.pages, 5);
          const expected = results.map((r) => r.id);
          assert.deepEqual(
            walked.items.map((i) => i.id),
            order === 'asc' ? expected : expected.toReversed(),
          );
          // An exact multiple of the limit ends without an empty page.
          await store.appendEvents(many(2), TOPIC);
          const exact = await listAll(store, {}, order, 5);
          assert.equal(exact.pages, 5);
          assert.equal(exact.items.length, 25);
          const single = await store.listEvents({}, { limit: 25, order });
          assert.equal(single.next, null);
        });

        void test(`pagination (${order}) with a filter stays inside the filter`, async () => {
          // Interleave two types so pages cross over the other type's rows.
          const interleaved = Array.from({ length: 7 }, () => [
            ...many(1, { type: 'a.kind' }),
            ...many(1, { type: 'b.kind' }),
          ]).flat();
          await store.appendEvents(interleaved, TOPIC);
          const walked = await listAll(store, { type: 'b.kind' }, order, 3);
          assert.equal(walked.items.length, 7);
          assert.equal(walked.pages, 3);
          assert.ok(walked.items.every((i) => i.event.type === 'b.kind'));
          const ordered = order === 'asc' ? seqs(walked.items) : seqs(walked.items).reverse();
          assert.ok(isStrictlyIncreasing(ordered));
        });

        void test(`pagination (${order}) has no gaps or repeats while events are appended between pages`, async () => {
          const original = await store.appendEvents(many(12), TOPIC);
          const appended: string[] = [];
          const walked = await listAll(store, {}, order, 4, async () => {
            const more = await store.appendEvents(many(3), TOPIC);
            appended.push(...more.map((r) => r.id));
          });
          const ids = walked.items.map((i) => i.id);
          assert.equal(new Set(ids).size, ids.length, 'no repeats');
          const ordered = order === 'asc' ? seqs(walked.items) : seqs(walked.items).reverse();
          assert.ok(isStrictlyIncreasing(ordered));
          for (const r of original) assert.ok(ids.includes(r.id), 'every original event is listed');
          if (order === 'desc') {
            // Newer events sort before the cursor, so a newest-first walk never sees them.
            assert.deepEqual(ids, original.map((r) => r.id).toReversed());
          } else {
            // An oldest-first walk reaches the newer events at its end, up to the last append.
            assert.deepEqual(ids, [...original.map((r) => r.id), ...appended]);
          }
        });
      }

      void test('a cursor keeps its order', async () => {
        await store.appendEvents(many(6), TOPIC);
        const first = await store.listEvents({}, { limit: 2, order: 'asc' });
        const second = await store.listEvents({}, { limit: 2, cursor: first.next! });
        assert.ok(isStrictlyIncreasing([...seqs(first.items), ...seqs(second.items)]));
      });

      void test('a cursor not issued by the store is API_CURSOR_INVALID', async () => {
        await store.appendEvents(many(3), TOPIC);
        const encode = (value: string): string => Buffer.from(value, 'utf8').toString('base64url');
        const bad = [
          'not a cursor!',
          'abc',
          '%%%',
          encode('not json'),
          encode('[1, "asc"]'),
          encode('null'),
          encode('{"s":"1","o":"asc"}'),
          encode('{"s":1}'),
          encode('{"s":1,"o":"sideways"}'),
          encode('{"s":-1,"o":"asc"}'),
          encode('{"s":1.5,"o":"desc"}'),
          encode('{"s":1,"o":"asc","x":1}'),
        ];
        for (const cursor of bad) {
          await assert.rejects(
            store.listEvents({}, { limit: 2, cursor }),
            rejectsWith('API_CURSOR_INVALID'),
            cursor,
          );
        }
      });
    });

    void describe('routing: decisions and runs', () => {
      const decision = (pipeline: string, triggerIndex: number, runId: string | null): NewDecision => ({
        pipeline,
        triggerIndex,
        matched: runId !== null,
        reason: runId !== null ? 'matched' : "branch 'dev' not in [main]",
        pipelineDigest: 'd'.repeat(64),
        runId,
      });
      const newRun = (id: string, pipeline: string, triggerIndex: number): NewRun => ({
        id,
        pipeline,
        triggerIndex,
        status: 'queued',
        pipelineDigest: 'd'.repeat(64),
        spec: '{"name":"x"}',
      });
      async function storedEventId(): Promise<string> {
        const [result] = await store.appendEvents([entry(cloudEvent())], TOPIC);
        return result!.id;
      }

      void test('records decisions and runs, lists them back, and reads a run', async () => {
        const eventId = await storedEventId();
        const runId = `run_${randomUUID()}`;
        const result = await store.recordRouting(
          eventId,
          [decision('deploy', 1, null), decision('ci', 0, runId)],
          [newRun(runId, 'ci', 0)],
        );
        assert.deepEqual(result, { createdRuns: [runId] });
        const decisions = await store.listDecisions(eventId);
        assert.deepEqual(
          decisions.map((d) => [d.pipeline, d.triggerIndex, d.matched, d.reason, d.runId]),
          [
            ['ci', 0, true, 'matched', runId],
            ['deploy', 1, false, "branch 'dev' not in [main]", null],
          ],
        );
        for (const d of decisions) {
          assert.equal(d.eventId, eventId);
          assert.equal(d.pipelineDigest, 'd'.repeat(64));
          assert.match(d.decidedAt, ISO_MILLIS_UTC);
        }
        const run = await store.getRun(runId);
        assert.ok(run);
        assert.deepEqual(
          { ...run, createdAt: 'x' },
          {
            id: runId,
            eventId,
            pipeline: 'ci',
            triggerIndex: 0,
            status: 'queued',
            pipelineDigest: 'd'.repeat(64),
            createdAt: 'x',
            startedAt: null,
            finishedAt: null,
            reason: null,
          },
        );
        assert.match(run.createdAt, ISO_MILLIS_UTC);
        assert.equal(await store.getRun('run_unknown'), undefined);
        assert.deepEqual(await store.listDecisions(randomUUID()), []);
      });

      void test('routing the same event again inserts nothing twice and keeps the first rows', async () => {
        const eventId = await storedEventId();
        const runId = `run_${randomUUID()}`;
        const decisions = [decision('ci', 0, runId)];
        const runs = [newRun(runId, 'ci', 0)];
        assert.deepEqual((await store.recordRouting(eventId, decisions, runs)).createdRuns, [runId]);
        const first = await store.listDecisions(eventId);
        const again = await store.recordRouting(
          eventId,
          [{ ...decisions[0]!, reason: 'changed' }],
          [{ ...runs[0]!, status: 'running' }],
        );
        assert.deepEqual(again.createdRuns, []);
        assert.deepEqual(await store.listDecisions(eventId), first);
        assert.equal((await store.getRun(runId))!.status, 'queued');
        // A second id for the same (event, pipeline, trigger) is refused by the unique key.
        const other = await store.recordRouting(eventId, [], [newRun(`run_${randomUUID()}`, 'ci', 0)]);
        assert.deepEqual(other.createdRuns, []);
        assert.equal((await store.listRuns({ eventId }, { limit: 10 })).items.length, 1);
      });

      void test('concurrent routing of one event creates each run once', async () => {
        const eventId = await storedEventId();
        const runIds = [`run_${randomUUID()}`, `run_${randomUUID()}`];
        const call = () =>
          store.recordRouting(
            eventId,
            [decision('a', 0, runIds[0]!), decision('b', 2, runIds[1]!), decision('c', 0, null)],
            [newRun(runIds[0]!, 'a', 0), newRun(runIds[1]!, 'b', 2)],
          );
        const results = await Promise.all(Array.from({ length: 8 }, call));
        const created = results.flatMap((r) => r.createdRuns).sort();
        assert.deepEqual(created, [...runIds].sort());
        assert.equal((await store.listDecisions(eventId)).length, 3);
        assert.equal((await store.listRuns({ eventId }, { limit: 10 })).items.length, 2);
      });

      void test('an unknown event is EVENT_NOT_FOUND and writes nothing', async () => {
        const runId = `run_${randomUUID()}`;
        await assert.rejects(
          store.recordRouting(randomUUID(), [decision('ci', 0, runId)], [newRun(runId, 'ci', 0)]),
          rejectsWith('EVENT_NOT_FOUND'),
        );
        assert.equal(await store.getRun(runId), undefined);
      });

      void test('listRuns filters by pipeline, status and event, and pages newest first', async () => {
        const eventIds = [await storedEventId(), await storedEventId()];
        const ids: string[] = [];
        for (const [n, eventId] of eventIds.entries()) {
          for (const pipeline of ['ci', 'deploy']) {
            const id = `run_${n}_${pipeline}_${randomUUID().slice(0, 8)}`;
            ids.push(id);
            await store.recordRouting(eventId, [decision(pipeline, 0, id)], [newRun(id, pipeline, 0)]);
          }
        }
        const all = await store.listRuns({}, { limit: 100 });
        assert.deepEqual(
          all.items.map((r) => r.id),
          [...ids].reverse(),
        );
        assert.equal(all.next, null);
        const ci = await store.listRuns({ pipeline: 'ci' }, { limit: 100, order: 'asc' });
        assert.deepEqual(
          ci.items.map((r) => r.id),
          [ids[0], ids[2]],
        );
        assert.equal((await store.listRuns({ status: 'running' }, { limit: 100 })).items.length, 0);
        assert.deepEqual(
          (await store.listRuns({ eventId: eventIds[1]!, pipeline: 'deploy' }, { limit: 100 })).items.map(
            (r) => r.id,
          ),
          [ids[3]],
        );
        const seen: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await store.listRuns({}, { limit: 3, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.items.map((r) => r.id));
          if (page.next === null) break;
          cursor = page.next;
        }
        assert.deepEqual(seen, [...ids].reverse());
      });
    });

    void describe('run state: runs, jobs, leases, steps, logs, groups, secrets', () => {
      async function runFor(
        id = `run_${randomUUID()}`,
        rerunOf?: string,
      ): Promise<{ eventId: string; runId: string }> {
        const [result] = await store.appendEvents([entry(cloudEvent())], TOPIC);
        const eventId = result!.id;
        const run: NewRun & { rerunOf?: string } = {
          id,
          pipeline: 'ci',
          triggerIndex: 0,
          status: 'queued',
          pipelineDigest: null,
          spec: '{"name":"ci"}',
          ...(rerunOf === undefined ? {} : { rerunOf }),
        };
        assert.equal(await store.createRun(eventId, run), true);
        return { eventId, runId: id };
      }
      const job = (runId: string, name: string, status = 'queued', matrixKey = ''): NewJob => ({
        id: `${runId}.${name}${matrixKey === '' ? '' : `.${matrixKey}`}`,
        runId,
        name,
        matrixKey,
        matrix: matrixKey === '' ? null : { os: matrixKey },
        status,
        needs: [],
      });

      void test('createRun is idempotent by id, allows re-runs of one origin, and refuses unknown events', async () => {
        const { eventId, runId } = await runFor();
        const again: NewRun = {
          id: runId,
          pipeline: 'ci',
          triggerIndex: 0,
          status: 'queued',
          pipelineDigest: null,
          spec: null,
        };
        assert.equal(await store.createRun(eventId, again), false);
        const rerun = `run_${randomUUID()}`;
        assert.equal(await store.createRun(eventId, { ...again, id: rerun, rerunOf: runId }), true);
        const detail = await store.getRunDetail(rerun);
        assert.equal(detail?.rerunOf, runId);
        assert.equal(detail?.eventId, eventId);
        assert.ok((detail?.eventSeq ?? 0) > 0);
        await assert.rejects(
          store.createRun(randomUUID(), { ...again, id: 'x' }),
          rejectsWith('EVENT_NOT_FOUND'),
        );
      });

      void test('updateRun is compare-and-set on status and lists active runs in event order', async () => {
        const first = await runFor();
        const second = await runFor();
        assert.deepEqual(
          (await store.listActiveRuns(10)).map((r) => r.id),
          [first.runId, second.runId],
        );
        assert.equal(
          await store.updateRun(first.runId, { status: 'running', startedAt: '2024-05-01T10:00:00.000Z' }, [
            'queued',
          ]),
          true,
        );
        assert.equal(
          await store.updateRun(first.runId, { status: 'running' }, ['queued']),
          false,
          'second mover loses',
        );
        assert.equal(
          await store.updateRun(first.runId, {
            status: 'succeeded',
            outputs: { a: '1' },
            cancelRequested: true,
          }),
          true,
        );
        const detail = await store.getRunDetail(first.runId);
        assert.equal(detail?.status, 'succeeded');
        assert.deepEqual(detail?.outputs, { a: '1' });
        assert.equal(detail?.cancelRequested, true);
        assert.equal(detail?.startedAt, '2024-05-01T10:00:00.000Z');
        assert.deepEqual(
          (await store.listActiveRuns(10)).map((r) => r.id),
          [second.runId],
        );
        assert.equal(await store.getRunDetail('missing'), undefined);
      });

      void test('jobs are created once per (run, name, matrix key) and update with expectations', async () => {
        const { runId } = await runFor();
        const created = await store.createJobs([job(runId, 'build'), job(runId, 'test', 'queued', 'linux')]);
        assert.equal(created.length, 2);
        assert.deepEqual(await store.createJobs([job(runId, 'build')]), [], 'a repeat inserts nothing');
        const jobs = await store.listJobs(runId);
        assert.deepEqual(
          jobs.map((j) => [j.name, j.matrixKey, j.status]),
          [
            ['build', '', 'queued'],
            ['test', 'linux', 'queued'],
          ],
        );
        assert.deepEqual(jobs[1]?.matrix, { os: 'linux' });
        const id = jobs[0]!.id;
        assert.equal(
          await store.updateJob(id, { status: 'failed', exitCode: 2, reason: 'r' }, { status: ['running'] }),
          false,
        );
        assert.equal(
          await store.updateJob(
            id,
            { status: 'failed', exitCode: 2, reason: 'r', outputs: { x: 'y' } },
            { status: ['queued'] },
          ),
          true,
        );
        const updated = await store.getJob(id);
        assert.equal(updated?.exitCode, 2);
        assert.deepEqual(updated?.outputs, { x: 'y' });
      });

      void test('claimJob hands each job to one owner, oldest first, honouring available_at', async () => {
        const { runId } = await runFor();
        const later = new Date(Date.now() + 60_000).toISOString();
        await store.createJobs([
          job(runId, 'a'),
          { ...job(runId, 'b'), availableAt: later },
          job(runId, 'c', 'waiting'),
        ]);
        const claims = await Promise.all([store.claimJob('w1', 30_000), store.claimJob('w2', 30_000)]);
        const claimed = claims.filter((c) => c !== undefined);
        assert.equal(claimed.length, 1, 'one claimable job, one claim');
        assert.equal(claimed[0]?.name, 'a');
        assert.equal(claimed[0]?.status, 'running');
        assert.equal(await store.claimJob('w3', 30_000), undefined, 'b is not available yet; c is waiting');
        const inFuture = await store.claimJob('w3', 30_000, new Date(Date.now() + 120_000));
        assert.equal(inFuture?.name, 'b');
        const owner = claimed[0].leaseOwner!;
        assert.equal(await store.renewLease(claimed[0].id, owner, 30_000), true);
        assert.equal(await store.renewLease(claimed[0].id, 'intruder', 30_000), false);
        assert.deepEqual(await store.listExpiredLeases(new Date()), []);
        const expired = await store.listExpiredLeases(new Date(Date.now() + 3_600_000));
        assert.deepEqual(expired.map((j) => j.name).sort(), ['a', 'b']);
        assert.equal(
          await store.updateJob(
            claimed[0].id,
            { status: 'succeeded' },
            { status: ['running'], leaseOwner: 'intruder' },
          ),
          false,
        );
      });

      void test('steps are saved by id and listed per run; logs page by id per run and job', async () => {
        const { runId } = await runFor();
        const other = await runFor();
        await store.createJobs([job(runId, 'a'), job(runId, 'b'), job(other.runId, 'a')]);
        const [a, b] = await store.listJobs(runId);
        const step = {
          id: `${a!.id}.1.0`,
          jobId: a!.id,
          attempt: 1,
          index: 0,
          try: 1,
          name: 'build',
          status: 'running',
          exitCode: null,
          startedAt: '2024-05-01T10:00:00.000Z',
          finishedAt: null,
          reason: null,
          outputs: null,
        };
        await store.saveStep(step);
        await store.saveStep({ ...step, status: 'succeeded', exitCode: 0, outputs: { v: '1' } });
        const steps = await store.listSteps(runId);
        assert.equal(steps.length, 1);
        assert.equal(steps[0]?.status, 'succeeded');
        assert.deepEqual(steps[0]?.outputs, { v: '1' });

        const line = (text: string) => ({
          stepId: step.id,
          attempt: 1,
          stream: 'stdout' as const,
          ts: '2024-05-01T10:00:00.000Z',
          text,
        });
        assert.equal(await store.appendLogs(runId, a!.id, []), 0);
        const lastA = await store.appendLogs(runId, a!.id, [line('one'), line('two')]);
        await store.appendLogs(runId, b!.id, [{ ...line('three'), stepId: null, stream: 'system' }]);
        await store.appendLogs(other.runId, (await store.listJobs(other.runId))[0]!.id, [line('elsewhere')]);
        const all = await store.readLogs({ runId }, 100);
        assert.deepEqual(
          all.map((l) => l.text),
          ['one', 'two', 'three'],
        );
        assert.ok(isStrictlyIncreasing(all.map((l) => l.id)));
        assert.equal(all[1]?.id, lastA);
        assert.deepEqual(
          (await store.readLogs({ runId, afterId: lastA }, 100)).map((l) => l.text),
          ['three'],
        );
        assert.deepEqual(
          (await store.readLogs({ runId, jobId: a!.id }, 1)).map((l) => l.text),
          ['one'],
        );
        assert.deepEqual((await store.readLogs({ runId, stepId: step.id }, 100)).length, 2);
        assert.equal(all[2]?.stream, 'system');
      });

      void test('a concurrency group reports its holder and its waiting runs in event order', async () => {
        const one = await runFor();
        const two = await runFor();
        const three = await runFor();
        assert.deepEqual(await store.getConcurrencyGroup('g'), { name: 'g', holder: null, waiting: [] });
        await store.setConcurrencyHolder('g', one.runId);
        for (const r of [three, two]) {
          await store.updateRun(r.runId, {
            status: 'waiting',
            concurrencyGroup: 'g',
            concurrencyMode: 'queue',
          });
        }
        const state = await store.getConcurrencyGroup('g');
        assert.equal(state.holder?.runId, one.runId);
        assert.deepEqual(
          state.waiting.map((w) => w.runId),
          [two.runId, three.runId],
        );
        assert.ok(state.waiting[0]!.seq < state.waiting[1]!.seq);
        assert.deepEqual(
          (await store.listConcurrencyGroups()).map((g) => g.name),
          ['g'],
        );
        await store.setConcurrencyHolder('g', two.runId);
        assert.equal((await store.getConcurrencyGroup('g')).holder?.runId, two.runId);
        await store.setConcurrencyHolder('g', null);
        assert.equal((await store.getConcurrencyGroup('g')).holder, null);
      });

      void test('secrets are stored sealed, listed without values, replaced and deleted', async () => {
        assert.equal(await store.putSecret('TOKEN', 'v1.sealed-a'), 'created');
        assert.equal(await store.putSecret('TOKEN', 'v1.sealed-b'), 'updated');
        await store.putSecret('OTHER', 'v1.sealed-c');
        const found = await store.getSecrets(['TOKEN', 'MISSING', 'TOKEN']);
        assert.deepEqual([...found], [['TOKEN', 'v1.sealed-b']]);
        const listed = await store.listSecrets();
        assert.deepEqual(
          listed.map((s) => s.name),
          ['OTHER', 'TOKEN'],
        );
        assert.ok(!JSON.stringify(listed).includes('sealed'), 'listing carries no values');
        assert.equal(await store.deleteSecret('TOKEN'), true);
        assert.equal(await store.deleteSecret('TOKEN'), false);
      });

      async function deploymentFor(
        service: string,
        version: string,
        status = 'waiting',
        environment = 'prod',
      ): Promise<DeploymentRecord> {
        const { eventId, runId } = await runFor();
        await store.createJobs([job(runId, 'deploy', 'waiting')]);
        return store.createDeployment({
          id: `dep_${runId}`,
          environment,
          service,
          version,
          runId,
          jobId: `${runId}.deploy`,
          eventId,
          pipeline: 'ci',
          jobName: 'deploy',
          status,
        });
      }

      void test('deployments are recorded once per id and keep what they were given', async () => {
        const first = await deploymentFor('api', '1.0.0');
        assert.equal(first.status, 'waiting');
        assert.equal(first.isRollback, false);
        assert.equal(first.url, null);
        const again = await store.createDeployment({ ...first, version: '9.9.9', status: 'running' });
        assert.equal(again.version, '1.0.0', 'a repeat changes nothing');
        assert.equal((await store.getDeployment(first.id))?.status, 'waiting');
        assert.equal(await store.getDeployment('dep_missing'), undefined);
        assert.ok(first.eventSeq > 0);
      });

      void test('startDeployment lets one deployment per (environment, service) run, in order', async () => {
        const a = await deploymentFor('api', '1');
        const b = await deploymentFor('api', '2');
        const other = await deploymentFor('web', '1');
        const staging = await deploymentFor('api', '1', 'waiting', 'staging');
        const at = '2026-01-01T00:00:00.000Z';
        assert.deepEqual(await store.startDeployment(b.id, at), { started: false, behind: a.id });
        assert.deepEqual(await store.startDeployment(a.id, at), { started: true });
        assert.deepEqual(await store.startDeployment(a.id, at), { started: true }, 'running stays started');
        assert.deepEqual(await store.startDeployment(b.id, at), { started: false, behind: a.id });
        assert.deepEqual(await store.startDeployment(other.id, at), { started: true });
        assert.deepEqual(await store.startDeployment(staging.id, at), { started: true });
        assert.equal((await store.getDeployment(a.id))?.startedAt, at);
        assert.equal(
          await store.updateDeployment(a.id, { status: 'succeeded', finishedAt: at }, ['running']),
          true,
        );
        assert.equal(await store.updateDeployment(a.id, { status: 'failed' }, ['running']), false);
        assert.deepEqual(await store.startDeployment(b.id, at), { started: true });
        assert.deepEqual(await store.startDeployment('dep_missing', at), { started: false });
        const refused = await deploymentFor('api', '3', 'refused');
        assert.deepEqual(await store.startDeployment(refused.id, at), { started: false });
      });

      void test('listDeployments filters and orders; currentDeployment is the last success', async () => {
        const one = await deploymentFor('svc', '1', 'running');
        await store.updateDeployment(one.id, { status: 'succeeded', finishedAt: '2026-01-01T00:00:01.000Z' });
        const two = await deploymentFor('svc', '2', 'running');
        await store.updateDeployment(two.id, { status: 'succeeded', finishedAt: '2026-01-01T00:00:02.000Z' });
        const three = await deploymentFor('svc', '3', 'running');
        await store.updateDeployment(three.id, { status: 'failed', reason: 'x'.repeat(5000) });
        await deploymentFor('svc', '4', 'waiting', 'dev');
        assert.deepEqual(
          (await store.listDeployments({ service: 'svc', environment: 'prod' }, 10)).map((d) => d.version),
          ['3', '2', '1'],
        );
        assert.deepEqual(
          (await store.listDeployments({ service: 'svc', order: 'asc' }, 2)).map((d) => d.version),
          ['1', '2'],
        );
        assert.deepEqual(
          (await store.listDeployments({ service: 'svc', active: true }, 10)).map((d) => d.version),
          ['4'],
        );
        assert.deepEqual(
          (await store.listDeployments({ status: ['failed'] }, 10)).map((d) => d.version),
          ['3'],
        );
        assert.ok(((await store.getDeployment(three.id))?.reason?.length ?? 0) <= 2000, 'reasons are capped');
        assert.equal((await store.currentDeployment('prod', 'svc'))?.version, '2');
        assert.equal(await store.currentDeployment('prod', 'nothing'), undefined);
      });

      void test('approvals are kept per run with their author, oldest first', async () => {
        const { runId } = await runFor();
        await store.createJobs([job(runId, 'deploy', 'waiting')]);
        const first = await store.addApproval({
          runId,
          jobId: `${runId}.deploy`,
          decision: 'approved',
          author: 'alice',
          comment: 'looks good',
        });
        assert.equal(first.author, 'alice');
        await store.addApproval({ runId, jobId: `${runId}.deploy`, decision: 'rejected', author: 'bob' });
        assert.deepEqual(
          (await store.listApprovals(runId)).map((a) => [a.decision, a.author, a.comment]),
          [
            ['approved', 'alice', 'looks good'],
            ['rejected', 'bob', null],
          ],
        );
        assert.deepEqual(await store.listApprovals('run_none'), []);
      });
    });

    void describe('checkpoints and catching up', () => {
      void test('a checkpoint is absent until set, then holds the last value', async () => {
        assert.equal(await store.getCheckpoint('router.events'), undefined);
        await store.setCheckpoint('router.events', '5');
        await store.setCheckpoint('router.events', '9');
        await store.setCheckpoint('other', 'x');
        assert.equal(await store.getCheckpoint('router.events'), '9');
        assert.equal(await store.getCheckpoint('other'), 'x');
      });

      void test('listEvents with afterSeq returns only later events, oldest first', async () => {
        await store.appendEvents(many(5), TOPIC);
        const all = (await store.listEvents({}, { limit: 10, order: 'asc' })).items;
        const after = await store.listEvents({ afterSeq: all[1]!.seq }, { limit: 10, order: 'asc' });
        assert.deepEqual(
          after.items.map((e) => e.id),
          all.slice(2).map((e) => e.id),
        );
      });
    });

    void describe('dead letters', () => {
      const history = [
        { at: '2026-03-29T01:15:00.000Z', status: 503, error: null, durationMs: 12 },
        { at: '2026-03-29T01:15:01.000Z', status: null, error: 'connection refused', durationMs: 3 },
      ];

      void test('a dead letter is kept as given and listed oldest first', async () => {
        const body = JSON.stringify({ state: 'success' });
        const first = await store.addDeadLetter({
          kind: 'delivery',
          code: 'NOTIFY_FAILED',
          reason: 'github-status: 503 after 2 attempts',
          attempts: 2,
          payload: body,
          contentType: 'application/json',
          headers: { accept: 'application/vnd.github+json' },
          destination: 'https://api.github.com/repos/acme/app/statuses/abc',
          eventId: 'evt-1',
          history,
        });
        const second = await store.addDeadLetter({
          kind: 'routing',
          code: 'STORE_UNAVAILABLE',
          reason: 'x'.repeat(5_000),
          attempts: 0,
        });
        assert.match(first, UUID_V7);
        const all = await store.listDeadLetters({}, 10);
        assert.deepEqual(
          all.map((letter) => letter.id),
          [first, second],
        );
        const [kept] = all;
        assert.equal(kept!.kind, 'delivery');
        assert.equal(kept!.code, 'NOTIFY_FAILED');
        assert.equal(kept!.attempts, 2);
        assert.equal(Buffer.from(kept!.payload!).toString('utf8'), body);
        assert.equal(kept!.contentType, 'application/json');
        assert.deepEqual(kept!.headers, { accept: 'application/vnd.github+json' });
        assert.equal(kept!.destination, 'https://api.github.com/repos/acme/app/statuses/abc');
        assert.equal(kept!.eventId, 'evt-1');
        assert.deepEqual(kept!.history, history);
        assert.match(kept!.createdAt, ISO_MILLIS_UTC);
        assert.equal(kept!.replayedAt, null);
        const bare = all[1]!;
        assert.equal(bare.payload, null);
        assert.equal(bare.headers, null);
        assert.deepEqual(bare.history, []);
        assert.ok(bare.reason.length <= 2_000, 'a long reason is cut');
      });

      void test('dead letters filter by kind and event, and honour the limit', async () => {
        for (const kind of ['delivery', 'intake', 'delivery'] as const) {
          await store.addDeadLetter({
            kind,
            code: 'NOTIFY_FAILED',
            reason: kind,
            attempts: 1,
            eventId: kind,
          });
        }
        assert.equal((await store.listDeadLetters({ kind: 'delivery' }, 10)).length, 2);
        assert.equal((await store.listDeadLetters({ eventId: 'intake' }, 10)).length, 1);
        assert.equal((await store.listDeadLetters({}, 1)).length, 1);
        await assert.rejects(store.listDeadLetters({}, 0), rejectsWith('API_BAD_REQUEST'));
      });

      void test('a bad kind or attempt count is refused and nothing is written', async () => {
        await assert.rejects(
          store.addDeadLetter({ kind: 'nope' as 'intake', code: 'INTERNAL', reason: 'r', attempts: 1 }),
          rejectsWith('API_BAD_REQUEST'),
        );
        await assert.rejects(
          store.addDeadLetter({ kind: 'intake', code: 'INTERNAL', reason: 'r', attempts: -1 }),
          rejectsWith('API_BAD_REQUEST'),
        );
        assert.deepEqual(await store.listDeadLetters({}, 10), []);
      });

      void test('one dead letter by id; filters by receiver and after an id; marked replayed; deleted', async () => {
        const ids: string[] = [];
        for (const receiver of ['github', 'events', 'github']) {
          ids.push(
            await store.addDeadLetter({
              kind: 'intake',
              code: 'SOURCE_PAYLOAD_INVALID',
              reason: 'r',
              attempts: 1,
              receiver,
            }),
          );
        }
        const [first, second, third] = ids as [string, string, string];
        assert.equal((await store.getDeadLetter(second))?.receiver, 'events');
        assert.equal(await store.getDeadLetter('no-such-letter'), undefined);
        assert.deepEqual(
          (await store.listDeadLetters({ receiver: 'github' }, 10)).map((d) => d.id),
          [first, third],
        );
        assert.deepEqual(
          (await store.listDeadLetters({ afterId: first }, 10)).map((d) => d.id),
          [second, third],
        );
        const [stored] = await store.appendEvents([entry(cloudEvent())], TOPIC);
        assert.equal(await store.markDeadLetterReplayed(first, stored!.id), true);
        assert.equal(await store.markDeadLetterReplayed('no-such-letter', null), false);
        const replayed = await store.getDeadLetter(first);
        assert.match(replayed!.replayedAt!, ISO_MILLIS_UTC);
        assert.equal(replayed!.replayEventId, stored!.id);
        assert.equal((await store.getDeadLetter(second))!.replayedAt, null);
        assert.equal(await store.deleteDeadLetter(second), true);
        assert.equal(await store.deleteDeadLetter(second), false);
        assert.equal(await store.getDeadLetter(second), undefined);
      });
    });

    void describe('schedule slots', () => {
      const key = { pipeline: 'nightly', triggerIndex: 0, cron: '*/15 * * * *' };

      void test('a slot is absent until recorded, then only moves forward', async () => {
        assert.equal(await store.getScheduleSlot(key), undefined);
        await store.recordScheduleSlot(key, '2026-03-29T01:15:00Z');
        assert.equal(await store.getScheduleSlot(key), '2026-03-29T01:15:00.000Z');
        await store.recordScheduleSlot(key, '2026-03-29T03:30:00.000+02:00');
        assert.equal(await store.getScheduleSlot(key), '2026-03-29T01:30:00.000Z');
        // An older slot (a slower node, a clock set back) never moves it back.
        await store.recordScheduleSlot(key, '2026-03-29T01:00:00.000Z');
        await store.recordScheduleSlot(key, '2026-03-29T01:30:00.000Z');
        assert.equal(await store.getScheduleSlot(key), '2026-03-29T01:30:00.000Z');
      });

      void test('slots are kept per pipeline, trigger index and cron text', async () => {
        await store.recordScheduleSlot(key, '2026-03-29T01:15:00.000Z');
        await store.recordScheduleSlot({ ...key, triggerIndex: 1 }, '2026-03-29T02:00:00.000Z');
        await store.recordScheduleSlot({ ...key, pipeline: 'other' }, '2026-03-29T03:00:00.000Z');
        assert.equal(await store.getScheduleSlot({ ...key, cron: '*/5 * * * *' }), undefined);
        assert.equal(await store.getScheduleSlot(key), '2026-03-29T01:15:00.000Z');
        assert.equal(await store.getScheduleSlot({ ...key, triggerIndex: 1 }), '2026-03-29T02:00:00.000Z');
        assert.equal(await store.getScheduleSlot({ ...key, pipeline: 'other' }), '2026-03-29T03:00:00.000Z');
      });

      void test('a slot that is not a time is refused and nothing is written', async () => {
        for (const bad of ['', 'yesterday', '2026-13-40T00:00:00Z', "x'); DROP TABLE schedule_slots; --"]) {
          await assert.rejects(store.recordScheduleSlot(key, bad), rejectsWith('API_BAD_REQUEST'));
        }
        assert.equal(await store.getScheduleSlot(key), undefined);
        // Hostile key text is data, not SQL.
        const hostile = { pipeline: "a'; DROP TABLE schedule_slots; --", triggerIndex: 2, cron: '@daily' };
        await store.recordScheduleSlot(hostile, '2026-03-29T00:00:00Z');
        assert.equal(await store.getScheduleSlot(hostile), '2026-03-29T00:00:00.000Z');
      });
    });

    void describe('tokens', () => {
      const token = (n: number, createdAt: string) =>
        ({
          id: `tok${n}-${randomUUID().slice(0, 8)}`,
          name: `token ${n}`,
          scopes: n === 1 ? (['emit'] as const) : (['read', 'operate', 'admin'] as const),
          hash: randomUUID().replaceAll('-', '').repeat(2),
          createdAt,
        }) as const;

      void test('create, find, list, touch and revoke', async () => {
        assert.equal(await store.hasTokens(), false);
        assert.deepEqual(await store.listTokens(), []);
        const one = token(1, '2024-05-01T10:00:00.000Z');
        const two = token(2, '2024-05-01T11:00:00.000Z');
        await store.createToken(two);
        await store.createToken(one);
        assert.equal(await store.hasTokens(), true);

        assert.deepEqual(await store.findTokenByHash(one.hash), {
          ...one,
          lastUsedAt: null,
          revokedAt: null,
        });
        assert.equal(await store.findTokenByHash('0'.repeat(64)), undefined);
        assert.deepEqual(
          (await store.listTokens()).map((t) => t.id),
          [one.id, two.id],
        );

        await store.touchToken(one.id, '2024-05-02T09:30:00.000Z');
        await store.touchToken('unknown', '2024-05-02T09:30:00.000Z');
        assert.equal((await store.findTokenByHash(one.hash))!.lastUsedAt, '2024-05-02T09:30:00.000Z');

        assert.equal(await store.revokeToken(one.id), true);
        const revoked = await store.findTokenByHash(one.hash);
        assert.ok(revoked?.revokedAt !== null && revoked?.revokedAt !== undefined);
        assert.match(revoked.revokedAt, ISO_MILLIS_UTC);
        assert.equal(await store.revokeToken(one.id), false, 'already revoked');
        assert.equal(
          (await store.findTokenByHash(one.hash))!.revokedAt,
          revoked.revokedAt,
          'first revocation kept',
        );
        assert.equal(await store.revokeToken('unknown'), false);
        assert.equal(await store.hasTokens(), true, 'one unrevoked token remains');

        assert.equal(await store.revokeToken(two.id), true);
        assert.equal(await store.hasTokens(), false);
        assert.equal((await store.listTokens()).length, 2, 'revoked tokens are still listed');
      });

      void test('a second token with the same id or hash is refused', async () => {
        const one = token(1, '2024-05-01T10:00:00.000Z');
        await store.createToken(one);
        await assert.rejects(store.createToken({ ...one, hash: 'f'.repeat(64) }), (error) =>
          isJunctionError(error),
        );
        await assert.rejects(store.createToken({ ...one, id: 'other' }), (error) => isJunctionError(error));
        assert.equal((await store.listTokens()).length, 1);
      });
    });

    void describe('causal chain links', () => {
      async function appendOne(fields: Partial<CloudEvent> = {}): Promise<string> {
        const [result] = await store.appendEvents([entry(cloudEvent(fields))], TOPIC);
        return result!.id;
      }
      const linkRun = (id: string, pipeline: string, triggerIndex: number): NewRun => ({
        id,
        pipeline,
        triggerIndex,
        status: 'queued',
        pipelineDigest: null,
        spec: null,
      });

      void test("listRunsOfEvent lists an event's runs oldest first, without re-runs", async () => {
        const eventId = await appendOne();
        const other = await appendOne();
        await store.recordRouting(
          eventId,
          [],
          [linkRun('run_b', 'deploy', 0), linkRun('run_a', 'ci', 0), linkRun('run_c', 'ci', 1)],
        );
        await store.recordRouting(other, [], [linkRun('run_other', 'ci', 0)]);
        assert.equal(
          await store.createRun(eventId, { ...linkRun('run_again', 'ci', 0), rerunOf: 'run_a' }),
          true,
        );
        const runs = await store.listRunsOfEvent(eventId, 10);
        assert.deepEqual(
          runs.map((r) => [r.id, r.pipeline, r.eventId, r.rerunOf]),
          [
            ['run_b', 'deploy', eventId, null],
            ['run_a', 'ci', eventId, null],
            ['run_c', 'ci', eventId, null],
          ],
          'insertion order; the re-run is not among them',
        );
        assert.deepEqual(
          (await store.listRunsOfEvent(eventId, 2)).map((r) => r.id),
          ['run_b', 'run_a'],
          'at most limit',
        );
        assert.deepEqual(await store.listRunsOfEvent('no-such-event', 10), []);
        await assert.rejects(store.listRunsOfEvent(eventId, 0), rejectsWith('API_BAD_REQUEST'));
      });

      void test('listRerunsOf lists the re-runs of a run, oldest first', async () => {
        const eventId = await appendOne();
        await store.recordRouting(eventId, [], [linkRun('run_first', 'ci', 0)]);
        for (const id of ['run_r1', 'run_r2']) {
          await store.createRun(eventId, { ...linkRun(id, 'ci', 0), rerunOf: 'run_first' });
        }
        await store.createRun(eventId, { ...linkRun('run_r3', 'ci', 0), rerunOf: 'run_r1' });
        const reruns = await store.listRerunsOf('run_first', 10);
        assert.deepEqual(
          reruns.map((r) => [r.id, r.rerunOf]),
          [
            ['run_r1', 'run_first'],
            ['run_r2', 'run_first'],
          ],
        );
        assert.deepEqual(
          (await store.listRerunsOf('run_r1', 10)).map((r) => r.id),
          ['run_r3'],
        );
        assert.deepEqual(await store.listRerunsOf('run_r3', 10), []);
        assert.deepEqual(await store.listRerunsOf("x' OR '1'='1", 10), [], 'an id is data, not SQL');
      });

      void test('listEventsLinkedTo matches source or subject, each event once, in seq order', async () => {
        const bySource = await appendOne({ source: '/junction/runs/run_x', type: 'a' });
        await appendOne({ source: '/junction/runs/run_y', type: 'b' });
        const bySubject = await appendOne({ source: '/junction/pipelines/ci', subject: 'run_x', type: 'c' });
        const both = await appendOne({ source: '/junction/runs/run_x', subject: 'run_x', type: 'd' });
        await appendOne({ source: '/elsewhere', subject: 'run_y', type: 'e' });
        const ids = async (link: { source?: string; subject?: string }, limit = 10): Promise<string[]> =>
          (await store.listEventsLinkedTo(link, limit)).map((e) => e.id);
        assert.deepEqual(await ids({ source: '/junction/runs/run_x', subject: 'run_x' }), [
          bySource,
          bySubject,
          both,
        ]);
        assert.deepEqual(await ids({ source: '/junction/runs/run_x', subject: 'run_x' }, 2), [
          bySource,
          bySubject,
        ]);
        assert.deepEqual(await ids({ source: '/junction/runs/run_x' }), [bySource, both]);
        assert.deepEqual(await ids({ subject: 'run_x' }), [bySubject, both]);
        assert.deepEqual(await ids({}), [], 'no field matches nothing');
        assert.deepEqual(await ids({ source: '/junction/runs/none', subject: 'none' }), []);
        const [first] = await store.listEventsLinkedTo({ subject: 'run_x' }, 1);
        assert.equal(first?.event.source, '/junction/pipelines/ci', 'the whole stored event');
        await assert.rejects(
          store.listEventsLinkedTo({ subject: 'run_x' }, -1),
          rejectsWith('API_BAD_REQUEST'),
        );
      });
    });
  });
}
