import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Bus, Delivery, Handler, Outcome } from '../bus.ts';
import { ack, retryAfter } from '../bus.ts';
import { createEmbeddedBus, type EmbeddedBusOptions } from './embedded-bus.ts';

const data = new Uint8Array([1]);

async function waitFor(what: string, check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function withBus(body: (bus: Bus) => Promise<void>, options?: EmbeddedBusOptions): Promise<void> {
  const bus = createEmbeddedBus(options);
  try {
    await body(bus);
  } finally {
    await bus.close();
  }
}

function recorder(outcome: (d: Delivery) => Outcome = () => ack): { got: Delivery[]; handler: Handler } {
  const got: Delivery[] = [];
  return {
    got,
    handler: (d) => {
      got.push(d);
      return Promise.resolve(outcome(d));
    },
  };
}

void describe('embedded bus', { timeout: 20_000 }, () => {
  void it('declares what it is', () => {
    const bus = createEmbeddedBus();
    assert.equal(bus.kind, 'embedded');
    assert.deepEqual(bus.capabilities, { durable: false, publishDedupe: true, distributed: false });
    return bus.close();
  });

  void it('delivers the data it was given, without a copy, to every group', () =>
    withBus(async (bus) => {
      const a = recorder();
      const b = recorder();
      await bus.subscribe('t', 'g1', a.handler);
      await bus.subscribe('t', 'g2', b.handler);
      const buffer = new Uint8Array([1, 2, 3]);
      await bus.publish('t', { id: 'a', data: buffer });
      await waitFor('the messages', () => a.got.length === 1 && b.got.length === 1);
      assert.equal(a.got[0]!.message.data, buffer);
      assert.equal(b.got[0]!.message.data, buffer);
    }));

  void it('trims header values and freezes the headers it delivers', () =>
    withBus(async (bus) => {
      const r = recorder();
      await bus.subscribe('t', 'g', r.handler);
      await bus.publish('t', { id: 'a', data, headers: { 'X-A': '  spaced  ' } });
      await waitFor('the message', () => r.got.length === 1);
      assert.deepEqual(r.got[0]!.message.headers, { 'X-A': 'spaced' });
      assert.ok(Object.isFrozen(r.got[0]!.message.headers));
    }));

  void it('forgets ids after the dedupe window', () =>
    withBus(
      async (bus) => {
        const r = recorder();
        await bus.subscribe('t', 'g', r.handler);
        await bus.publish('t', { id: 'a', data });
        await bus.publish('t', { id: 'a', data });
        const after = Date.now() + 40;
        await waitFor('the window to pass', () => Date.now() > after);
        await bus.publish('t', { id: 'a', data });
        await waitFor('two deliveries', () => r.got.length === 2);
      },
      { dedupeWindowMs: 30 },
    ));

  void it('forgets the oldest ids beyond dedupeMaxIds', () =>
    withBus(
      async (bus) => {
        const r = recorder();
        await bus.subscribe('t', 'g', r.handler);
        for (const id of ['a', 'b', 'a', 'c', 'a']) await bus.publish('t', { id, data });
        await waitFor('four deliveries', () => r.got.length === 4);
        assert.deepEqual(
          r.got.map((d) => d.message.id),
          ['a', 'b', 'c', 'a'],
        );
      },
      { dedupeMaxIds: 2 },
    ));

  void it('queues for a group with no subscriber left and delivers on the next subscribe', () =>
    withBus(async (bus) => {
      const first = recorder();
      const sub = await bus.subscribe('t', 'g', first.handler);
      await sub.close();
      await sub.close(); // idempotent
      await bus.publish('t', { id: 'waiting', data });
      const second = recorder();
      await bus.subscribe('t', 'g', second.handler);
      await waitFor('the waiting message', () => second.got.length === 1);
      assert.equal(first.got.length, 0);
    }));

  void it('puts a retried message ahead of the queue once its delay has passed', () =>
    withBus(async (bus) => {
      const r = recorder((d) => (d.message.id === 'first' && d.attempt === 1 ? retryAfter(0) : ack));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const order: string[] = [];
      await bus.subscribe(
        't',
        'g',
        async (d) => {
          order.push(`${d.message.id}#${d.attempt}`);
          if (d.message.id === 'second') await gate;
          return r.handler(d);
        },
        { maxInFlight: 1 },
      );
      await bus.publish('t', { id: 'first', data });
      await bus.publish('t', { id: 'second', data });
      await bus.publish('t', { id: 'third', data });
      await waitFor('second to start', () => order.includes('second#1'));
      const after = Date.now() + 10;
      await waitFor('the retry timer to fire', () => Date.now() > after);
      release();
      await waitFor('all', () => order.length === 4);
      assert.deepEqual(order, ['first#1', 'second#1', 'first#2', 'third#1']);
    }));

  void it('treats a synchronous throw, a bad outcome and a bad delay as retries', () =>
    withBus(async (bus) => {
      const attempts = new Map<string, number[]>();
      const handler = ((d: Delivery) => {
        const list = attempts.get(d.message.id) ?? [];
        list.push(d.attempt);
        attempts.set(d.message.id, list);
        if (d.attempt > 1) return Promise.resolve(ack);
        if (d.message.id === 'sync') throw new Error('sync throw');
        if (d.message.id === 'bad') return Promise.resolve(undefined as unknown as Outcome);
        return Promise.resolve(retryAfter(Number.NaN));
      }) as Handler;
      await bus.subscribe('t', 'g', handler, { retryDelayMs: 1, maxInFlight: 3 });
      for (const id of ['sync', 'bad', 'nan']) await bus.publish('t', { id, data });
      await waitFor(
        'the retries',
        () => [...attempts.values()].every((a) => a.length === 2) && attempts.size === 3,
      );
    }));

  void it('takes turns between free subscribers of a group', () =>
    withBus(async (bus) => {
      const who: string[] = [];
      const hold =
        (name: string): Handler =>
        async () => {
          who.push(name);
          await new Promise((resolve) => setTimeout(resolve, 1));
          return ack;
        };
      await bus.subscribe('t', 'g', hold('a'));
      await bus.subscribe('t', 'g', hold('b'));
      await bus.subscribe('t', 'g', hold('c'));
      await Promise.all(['1', '2', '3'].map((id) => bus.publish('t', { id, data })));
      await waitFor('three', () => who.length === 3);
      assert.deepEqual([...who].sort(), ['a', 'b', 'c']);
    }));

  void it('cancels pending retries on close', async () => {
    const bus = createEmbeddedBus();
    let calls = 0;
    await bus.subscribe('t', 'g', () => {
      calls++;
      return Promise.resolve(retryAfter(60_000));
    });
    await bus.publish('t', { id: 'a', data });
    await waitFor('the first delivery', () => calls === 1);
    await bus.close(); // a pending 60 s timer would keep the test process alive
    await assert.rejects(bus.ping(), { code: 'BUS_CLOSED' });
  });
});
