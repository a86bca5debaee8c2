import { describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../store/index.ts';
import { JunctionError, isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { createIntake } from './intake.ts';

let n = 0;
const event = (fields: Partial<CloudEvent> = {}): CloudEvent => ({
  specversion: '1.0',
  id: `i${++n}`,
  source: 'unit',
  type: 'com.example.unit',
  ...fields,
});

/** A real in-memory store whose writes take `delayMs`, as on a slow disk. */
function slowed(store: Store, delayMs: number): Store & { commits: number } {
  const wrapper = Object.create(store) as Store & { commits: number };
  wrapper.commits = 0;
  wrapper.appendEvents = async (events, topic) => {
    await new Promise((r) => setTimeout(r, delayMs));
    wrapper.commits += 1;
    return store.appendEvents(events, topic);
  };
  return wrapper;
}

/** A real store that records the size of each write handed to it and the most in flight at once. */
function watched(store: Store): Store & { sizes: number[]; maxInFlight: number } {
  const wrapper = Object.create(store) as Store & { sizes: number[]; maxInFlight: number };
  wrapper.sizes = [];
  wrapper.maxInFlight = 0;
  let inFlight = 0;
  wrapper.appendEvents = async (events, topic) => {
    wrapper.sizes.push(events.length);
    inFlight += 1;
    wrapper.maxInFlight = Math.max(wrapper.maxInFlight, inFlight);
    try {
      return await store.appendEvents(events, topic);
    } finally {
      inFlight -= 1;
    }
  };
  return wrapper;
}

describe('intake', { timeout: 20_000 }, () => {
  test('with a store that commits off the event loop, full batches go at once, two in flight, answered in commit order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-intake-'));
    const file = await openStore(`sqlite:${join(dir, 'junction.db')}`);
    const memory = await openStore('sqlite::memory:');
    try {
      for (const [real, offLoop] of [
        [file, true],
        [memory, false],
      ] as const) {
        assert.equal(real.appendsOffEventLoop?.() ?? false, offLoop);
        const store = watched(real);
        const told: number[] = [];
        const intake = createIntake({
          store,
          eagerBatchEvents: 20,
          onStored: (entries) => told.push(...(entries ?? []).map((entry) => entry.event.seq)),
        });
        const answered: number[] = [];
        const submissions = Array.from({ length: 100 }, (_, i) =>
          intake.submit('events', [event()]).then((results) => {
            answered.push(i);
            return results[0]!;
          }),
        );
        const results = await Promise.all(submissions);
        await intake.close();
        assert.deepEqual(
          answered,
          [...answered].sort((a, b) => a - b),
          'callers are answered in submission order',
        );
        const seqs = results.map((result) => result.outbox!.event.seq);
        assert.deepEqual(told, seqs, 'the relay hears of every event, in commit order');
        if (offLoop) {
          assert.equal(store.sizes[0], 20, `the first write started at 20 events: ${store.sizes.join(', ')}`);
          assert.equal(store.maxInFlight, 2);
        } else {
          assert.deepEqual(store.sizes, [100], 'one write at the end of the turn');
          assert.equal(store.maxInFlight, 1);
        }
      }
    } finally {
      await file.close();
      await memory.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('submissions arriving during a write are committed together (group commit)', async () => {
    const store = slowed(await openStore('sqlite::memory:', {}), 30);
    const intake = createIntake({ store });
    const results = await Promise.all(Array.from({ length: 50 }, () => intake.submit('events', [event()])));
    assert.equal(results.flat().length, 50);
    assert.ok(store.commits <= 3, `50 submissions took ${store.commits} commits`);
    await intake.close();
    await store.close();
  });

  test('beyond maxPendingEvents submissions are refused with INTAKE_OVERLOADED, the rest stored', async () => {
    const store = slowed(await openStore('sqlite::memory:', {}), 30);
    const intake = createIntake({ store, maxPendingEvents: 5 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => intake.submit('events', [event()])),
    );
    const refused = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(refused.length, 5);
    for (const o of refused) assert.ok(isJunctionError(o.reason, 'INTAKE_OVERLOADED'));
    assert.equal((await store.listEvents({}, { limit: 100 })).items.length, 5);
    await intake.close();
    await store.close();
  });

  test('close waits for queued writes and then refuses new submissions', async () => {
    const store = slowed(await openStore('sqlite::memory:', {}), 20);
    const intake = createIntake({ store });
    const pending = intake.submit('events', [event(), event()]);
    await intake.close();
    assert.equal((await pending).length, 2);
    await assert.rejects(intake.submit('events', [event()]), (e: unknown) =>
      isJunctionError(e, 'INTAKE_SHUTTING_DOWN'),
    );
    await store.close();
  });

  test('a schema failure inside a batch names the index and stores nothing', async () => {
    const store = await openStore('sqlite::memory:', {});
    const intake = createIntake({
      store,
      validateData: (e) => {
        if (e.data === 'bad') throw new JunctionError('EVENT_DATA_INVALID', 'data does not match');
      },
    });
    await assert.rejects(intake.submit('events', [event(), event({ data: 'bad' })]), (e: unknown) => {
      assert.ok(isJunctionError(e, 'EVENT_BATCH_INVALID'));
      assert.equal(e.details?.['index'], 1);
      assert.equal(e.httpStatus, 422);
      return true;
    });
    assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 0);
    await store.close();
  });

  test('a failing store rejects every waiting submission with a retryable error', async () => {
    const real = await openStore('sqlite::memory:', {});
    const broken = Object.create(real) as Store;
    broken.appendEvents = () => Promise.reject(new Error('disk on fire'));
    const intake = createIntake({ store: broken });
    const outcomes = await Promise.allSettled([
      intake.submit('events', [event()]),
      intake.submit('events', [event()]),
    ]);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      const reason = o.reason as { code: string; retryable: boolean };
      assert.equal(reason.code, 'STORE_UNAVAILABLE');
      assert.equal(reason.retryable, true);
    }
    await real.close();
  });
});
