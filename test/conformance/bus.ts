/**
 * The behavioural contract every bus adapter passes (see src/bus/bus.ts). An adapter's test file
 * calls `runBusContract(name, factory)`; `factory` opens a fresh bus (buses of one run may share
 * a broker and its state) and `cleanup` closes it. Every test uses its own topic and group names,
 * waits by polling with a deadline, and finishes in well under a few seconds.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Bus, BusMessage, Delivery, Handler } from '../../src/bus/index.ts';
import { ack, reject, retryAfter } from '../../src/bus/index.ts';
import { isJunctionError } from '../../src/errors/index.ts';

export interface BusUnderTest {
  readonly bus: Bus;
  /** Closes the bus (and anything else the factory opened for it). */
  readonly cleanup: () => Promise<void>;
}

export type BusFactory = () => Promise<BusUnderTest>;

const TEST_TIMEOUT = { timeout: 15_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let counter = 0;
/** A name no other test (or run) uses. */
function unique(kind: string): string {
  counter++;
  return `${kind}-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`;
}

function text(id: string, body = id): BusMessage {
  return { id, data: encoder.encode(body) };
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Watches for something that must NOT happen for `ms` (a redelivery that should never come).
 * This is the only kind of fixed wait here: absence cannot be polled for.
 */
async function quietPeriod(ms: number, check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    assert.ok(check(), what);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(check(), what);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function collector(): { deliveries: Delivery[]; handler: Handler; ids(): string[] } {
  const deliveries: Delivery[] = [];
  return {
    deliveries,
    handler: (delivery) => {
      deliveries.push(delivery);
      return Promise.resolve(ack);
    },
    ids: () => deliveries.map((d) => d.message.id),
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isJunctionError(error), `expected a JunctionError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

export function runBusContract(name: string, factory: BusFactory): void {
  /** Runs `body` with a fresh bus and always cleans up. */
  async function withBus(body: (bus: Bus) => Promise<void>): Promise<void> {
    const { bus, cleanup } = await factory();
    try {
      await body(bus);
    } finally {
      await cleanup();
    }
  }

  void describe(`bus contract: ${name}`, { timeout: 180_000 }, () => {
    void it('declares its kind and capabilities and answers ping', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        assert.equal(typeof bus.kind, 'string');
        assert.ok(bus.kind.length > 0);
        for (const key of ['durable', 'publishDedupe', 'distributed'] as const) {
          assert.equal(typeof bus.capabilities[key], 'boolean', key);
        }
        await bus.ping();
      }),
    );

    void it('delivers a message with its id, binary data and headers', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('roundtrip');
        const got = collector();
        await bus.subscribe(topic, unique('g'), got.handler);
        const data = Uint8Array.from({ length: 256 }, (_, i) => i);
        const headers = {
          'content-type': 'application/octet-stream',
          'X-Trace-Id': 'abc-123',
          'ce-source': 'é/ü',
        };
        await bus.publish(topic, { id: 'm-1', data, headers });
        await waitFor('the message', () => got.deliveries.length === 1);
        const [delivery] = got.deliveries;
        assert.equal(delivery!.topic, topic);
        assert.equal(delivery!.attempt, 1);
        assert.equal(delivery!.message.id, 'm-1');
        assert.ok(delivery!.message.data instanceof Uint8Array);
        assert.deepEqual([...delivery!.message.data], [...data]);
        assert.deepEqual({ ...delivery!.message.headers }, headers);
      }),
    );

    void it('delivers a message without headers and with empty data', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('empty');
        const got = collector();
        await bus.subscribe(topic, unique('g'), got.handler);
        await bus.publish(topic, { id: 'e-1', data: new Uint8Array(0) });
        await waitFor('the message', () => got.deliveries.length === 1);
        assert.equal(got.deliveries[0]!.message.data.byteLength, 0);
        assert.equal(Object.keys(got.deliveries[0]!.message.headers ?? {}).length, 0);
      }),
    );

    void it('lets a group see only messages published after it was first subscribed', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('late');
        await bus.publish(topic, text('before'));
        const got = collector();
        await bus.subscribe(topic, unique('g'), got.handler);
        await bus.publish(topic, text('after'));
        await waitFor('the later message', () => got.ids().includes('after'));
        // 'before' would have been delivered first, in publish order.
        assert.deepEqual(got.ids(), ['after']);
      }),
    );

    void it('gives every message to each of two groups', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('fanout');
        const a = collector();
        const b = collector();
        await bus.subscribe(topic, unique('ga'), a.handler);
        await bus.subscribe(topic, unique('gb'), b.handler);
        const ids = Array.from({ length: 10 }, (_, i) => `f-${i}`);
        for (const id of ids) await bus.publish(topic, text(id));
        await waitFor('both groups', () => a.deliveries.length === 10 && b.deliveries.length === 10);
        assert.deepEqual(a.ids().sort(), [...ids].sort());
        assert.deepEqual(b.ids().sort(), [...ids].sort());
      }),
    );

    void it('shares the work of a group between its subscribers', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('shared');
        const group = unique('g');
        const seen: Record<string, string[]> = { one: [], two: [] };
        const worker =
          (who: 'one' | 'two'): Handler =>
          async (d) => {
            seen[who]!.push(d.message.id);
            await new Promise((resolve) => setTimeout(resolve, 5));
            return ack;
          };
        await bus.subscribe(topic, group, worker('one'));
        await bus.subscribe(topic, group, worker('two'));
        const ids = Array.from({ length: 30 }, (_, i) => `s-${i}`);
        await Promise.all(ids.map((id) => bus.publish(topic, text(id))));
        await waitFor('all messages', () => seen.one!.length + seen.two!.length >= ids.length);
        const all = [...seen.one!, ...seen.two!].sort();
        assert.deepEqual(all, [...ids].sort(), 'each message handled exactly once');
        assert.ok(seen.one!.length > 0, 'the first subscriber got some');
        assert.ok(seen.two!.length > 0, 'the second subscriber got some');
      }),
    );

    void it('redelivers after retryAfter, with attempt 2, no sooner than asked', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('retry');
        const times: { attempt: number; at: number }[] = [];
        await bus.subscribe(topic, unique('g'), (d) => {
          times.push({ attempt: d.attempt, at: performance.now() });
          return Promise.resolve(d.attempt === 1 ? retryAfter(300) : ack);
        });
        await bus.publish(topic, text('r-1'));
        await waitFor('the redelivery', () => times.length === 2);
        assert.deepEqual(
          times.map((t) => t.attempt),
          [1, 2],
        );
        const waited = times[1]!.at - times[0]!.at;
        assert.ok(waited >= 290, `redelivered after ${waited.toFixed(0)} ms; expected at least 300`);
        await quietPeriod(150, () => times.length === 2, 'an acked message is not delivered again');
      }),
    );

    void it('redelivers when the handler throws', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('throw');
        const attempts: number[] = [];
        await bus.subscribe(
          topic,
          unique('g'),
          (d) => {
            attempts.push(d.attempt);
            if (d.attempt < 3) return Promise.reject(new Error('handler failed on purpose'));
            return Promise.resolve(ack);
          },
          { retryDelayMs: 50 },
        );
        await bus.publish(topic, text('t-1'));
        await waitFor('two redeliveries', () => attempts.length === 3);
        assert.deepEqual(attempts, [1, 2, 3]);
      }),
    );

    void it('never delivers a rejected message again', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('reject');
        const got: string[] = [];
        await bus.subscribe(topic, unique('g'), (d) => {
          got.push(d.message.id);
          return Promise.resolve(d.message.id === 'bad' ? reject('not wanted') : ack);
        });
        await bus.publish(topic, text('bad'));
        await bus.publish(topic, text('good'));
        await waitFor('the later message', () => got.includes('good'));
        await quietPeriod(300, () => got.filter((id) => id === 'bad').length === 1, 'rejected once only');
      }),
    );

    void it('keeps publish order within a group with maxInFlight 1', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('order');
        const got = collector();
        await bus.subscribe(topic, unique('g'), got.handler, { maxInFlight: 1 });
        const ids = Array.from({ length: 50 }, (_, i) => `o-${String(i).padStart(3, '0')}`);
        for (const id of ids) await bus.publish(topic, text(id));
        await waitFor('all messages', () => got.deliveries.length === ids.length);
        assert.deepEqual(got.ids(), ids);
      }),
    );

    void it('never runs more handlers at once than maxInFlight', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('inflight');
        let running = 0;
        let most = 0;
        let done = 0;
        // Handlers hold until everything is published, so the bus has more work than allowance.
        const published = deferred();
        await bus.subscribe(
          topic,
          unique('g'),
          async () => {
            running++;
            most = Math.max(most, running);
            await published.promise;
            await new Promise((resolve) => setTimeout(resolve, 5));
            running--;
            done++;
            return ack;
          },
          { maxInFlight: 3 },
        );
        await Promise.all(Array.from({ length: 30 }, (_, i) => bus.publish(topic, text(`i-${i}`))));
        published.resolve();
        await waitFor('all messages', () => done === 30);
        assert.ok(most <= 3, `ran ${most} handlers at once; expected at most 3`);
        assert.equal(
          most,
          3,
          `ran at most ${most} handlers at once; expected the bus to use its allowance of 3`,
        );
      }),
    );

    void it('delivers a re-published id once when it declares publishDedupe', TEST_TIMEOUT, (t) =>
      withBus(async (bus) => {
        if (!bus.capabilities.publishDedupe) {
          t.skip(`${bus.kind} does not declare publishDedupe`);
          return;
        }
        const topic = unique('dedupe');
        const got = collector();
        await bus.subscribe(topic, unique('g'), got.handler, { maxInFlight: 1 });
        await bus.publish(topic, text('same', 'first'));
        await bus.publish(topic, text('same', 'second'));
        await bus.publish(topic, text('canary'));
        await waitFor('the canary', () => got.ids().includes('canary'));
        assert.deepEqual(got.ids(), ['same', 'canary']);
        assert.equal(decoder.decode(got.deliveries[0]!.message.data), 'first');
      }),
    );

    void it(
      'lets a closing subscription finish its running handler, and applies its outcome',
      TEST_TIMEOUT,
      () =>
        withBus(async (bus) => {
          const topic = unique('subdrain');
          const group = unique('g');
          const started = deferred();
          const release = deferred();
          let finished = false;
          const sub = await bus.subscribe(topic, group, async (d) => {
            started.resolve();
            await release.promise;
            finished = true;
            return d.message.id === 'slow' ? retryAfter(0) : ack;
          });
          await bus.publish(topic, text('slow'));
          await started.promise;
          const closing = sub.close();
          setTimeout(release.resolve, 50);
          await closing;
          assert.ok(finished, 'close waited for the running handler');
          // The outcome reached while closing counts: the message comes back to the group.
          const again = collector();
          await bus.subscribe(topic, group, again.handler);
          await waitFor('the retried message', () => again.deliveries.length === 1);
          assert.equal(again.deliveries[0]!.message.id, 'slow');
          assert.equal(again.deliveries[0]!.attempt, 2);
        }),
    );

    void it(
      'drains on close: a running handler finishes, nothing is delivered afterwards',
      TEST_TIMEOUT,
      async () => {
        const { bus, cleanup } = await factory();
        try {
          const topic = unique('drain');
          const started = deferred();
          const release = deferred();
          const events: string[] = [];
          await bus.subscribe(
            topic,
            unique('g'),
            async (d) => {
              events.push(`start ${d.message.id}`);
              started.resolve();
              await release.promise;
              events.push(`end ${d.message.id}`);
              return ack;
            },
            { maxInFlight: 1 },
          );
          await bus.publish(topic, text('d-1'));
          await bus.publish(topic, text('d-2'));
          await bus.publish(topic, text('d-3'));
          await started.promise;
          const closing = bus.close().then(() => events.push('closed'));
          setTimeout(release.resolve, 50);
          await closing;
          await bus.close(); // idempotent
          await quietPeriod(100, () => events.length === 3, 'nothing delivered after close');
          assert.deepEqual(events, ['start d-1', 'end d-1', 'closed']);
        } finally {
          await cleanup();
        }
      },
    );

    void it(
      'keeps an outcome reached while closing, across bus instances, when durable',
      TEST_TIMEOUT,
      async (t) => {
        const first = await factory();
        const topic = unique('durable');
        const group = unique('g');
        try {
          if (!first.bus.capabilities.durable) {
            t.skip(`${first.bus.kind} is not durable`);
            return;
          }
          const started = deferred();
          const release = deferred();
          await first.bus.subscribe(topic, group, async () => {
            started.resolve();
            await release.promise;
            return retryAfter(0);
          });
          await first.bus.publish(topic, text('kept'));
          await started.promise;
          const closing = first.bus.close();
          setTimeout(release.resolve, 50);
          await closing;
        } finally {
          await first.cleanup();
        }
        if (!first.bus.capabilities.durable) return;
        await withBus(async (bus) => {
          const got = collector();
          await bus.subscribe(topic, group, got.handler);
          await waitFor('the message on the second bus', () => got.deliveries.length === 1);
          assert.equal(got.deliveries[0]!.message.id, 'kept');
          assert.equal(got.deliveries[0]!.attempt, 2);
        });
      },
    );

    void it('rejects publish and subscribe after close with BUS_CLOSED', TEST_TIMEOUT, async () => {
      const { bus, cleanup } = await factory();
      try {
        await bus.close();
        await rejectsWith(bus.publish(unique('closed'), text('x')), 'BUS_CLOSED');
        await rejectsWith(bus.subscribe(unique('closed'), unique('g'), collector().handler), 'BUS_CLOSED');
      } finally {
        await cleanup();
      }
    });

    void it('rejects invalid topic and group names with BUS_TOPIC_INVALID', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        for (const topic of ['', 'a.b', 'a b', '*', '>', 'ünï', 'x'.repeat(101)]) {
          await rejectsWith(bus.publish(topic, text('x')), 'BUS_TOPIC_INVALID');
          await rejectsWith(bus.subscribe(topic, 'g', collector().handler), 'BUS_TOPIC_INVALID');
        }
        for (const group of ['', 'g.1', 'g 1', 'g*']) {
          await rejectsWith(bus.subscribe(unique('t'), group, collector().handler), 'BUS_TOPIC_INVALID');
        }
      }),
    );

    void it('rejects messages it cannot carry with BUS_MESSAGE_INVALID', TEST_TIMEOUT, () =>
      withBus(async (bus) => {
        const topic = unique('badmsg');
        const data = new Uint8Array(1);
        const bad: BusMessage[] = [
          { id: '', data },
          { id: 'a\nb', data },
          { id: 'h1', data, headers: { 'bad name': 'x' } },
          { id: 'h2', data, headers: { 'a:b': 'x' } },
          { id: 'h3', data, headers: { ok: 'two\r\nlines' } },
          { id: 'h4', data, headers: { 'Nats-Msg-Id': 'spoof' } },
        ];
        for (const message of bad) await rejectsWith(bus.publish(topic, message), 'BUS_MESSAGE_INVALID');
      }),
    );

    void it('delivers 2,000 messages exactly once, without retries', { timeout: 30_000 }, () =>
      withBus(async (bus) => {
        const topic = unique('many');
        const counts = new Map<string, number>();
        let retried = 0;
        await bus.subscribe(
          topic,
          unique('g'),
          (d) => {
            if (d.attempt !== 1) retried++;
            counts.set(d.message.id, (counts.get(d.message.id) ?? 0) + 1);
            return Promise.resolve(ack);
          },
          { maxInFlight: 16 },
        );
        const total = 2_000;
        for (let start = 0; start < total; start += 100) {
          await Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              bus.publish(topic, text(`n-${start + i}`, `payload ${start + i}`)),
            ),
          );
        }
        await waitFor('all messages', () => counts.size === total, 20_000);
        const deliveries = () => [...counts.values()].reduce((a, b) => a + b, 0);
        await quietPeriod(100, () => deliveries() === total, 'no message delivered twice');
        assert.equal(retried, 0);
        assert.ok(
          [...counts.values()].every((n) => n === 1),
          'each message delivered once',
        );
      }),
    );
  });
}
