/**
 * The NATS JetStream bus against the bus contract, on the NATS server at NATS_URL (default
 * nats://127.0.0.1:4222, which must run with JetStream). Streams get a prefix unique to this run
 * and are deleted at the end. Without a reachable server the suite is skipped with the reason,
 * except under CI=true, where that is a failure.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ack, openBus } from '../src/bus/index.ts';
import { createNatsBus, deleteNatsStreams, natsStreamName } from '../src/bus/nats/nats-bus.ts';
import { errorMessage } from '../src/errors/index.ts';
import { runBusContract } from './conformance/bus.ts';

const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const prefix = `t${process.pid}x${Date.now()}`;

async function natsProblem(): Promise<string | undefined> {
  try {
    const bus = await createNatsBus({ servers, prefix });
    await bus.close();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

const problem = await natsProblem();

if (problem === undefined) {
  void after(async () => {
    await deleteNatsStreams(servers, prefix);
  });

  runBusContract('nats', async () => {
    const bus = await createNatsBus({ servers, prefix });
    return { bus, cleanup: () => bus.close() };
  });

  void describe('nats bus specifics', { timeout: 60_000 }, () => {
    void it('is opened by openBus from a nats:// url', { timeout: 10_000 }, async () => {
      const bus = await openBus(servers, { prefix });
      try {
        assert.equal(bus.kind, 'nats');
        assert.deepEqual(bus.capabilities, { durable: true, publishDedupe: true, distributed: true });
        await bus.ping();
      } finally {
        await bus.close();
      }
    });

    void it('keeps a long-running handler from being redelivered', { timeout: 15_000 }, async () => {
      const bus = await createNatsBus({ servers, prefix, ackWaitMs: 1_000 });
      try {
        const topic = `slow-${process.pid}`;
        const attempts: number[] = [];
        let done = false;
        await bus.subscribe(
          topic,
          'g-slow',
          async (d) => {
            attempts.push(d.attempt);
            await new Promise((resolve) => setTimeout(resolve, 2_500));
            done = true;
            return ack;
          },
          { maxInFlight: 2 },
        );
        await bus.publish(topic, { id: 'slow-1', data: new Uint8Array([1]) });
        const deadline = Date.now() + 10_000;
        while (!done && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(done, 'the handler finished');
        assert.deepEqual(attempts, [1], 'the message was not redelivered while its handler worked');
      } finally {
        await bus.close();
      }
    });

    void it(
      'refuses a message larger than max_payload with BUS_MESSAGE_INVALID',
      { timeout: 10_000 },
      async () => {
        const bus = await createNatsBus({ servers, prefix });
        try {
          await assert.rejects(bus.publish('big', { id: 'big-1', data: new Uint8Array(2 * 1024 * 1024) }), {
            code: 'BUS_MESSAGE_INVALID',
          });
        } finally {
          await bus.close();
        }
      },
    );

    void it('creates a stream again when it was deleted behind its back', { timeout: 10_000 }, async () => {
      const own = `${prefix}r`; // its own prefix: deleting it cannot disturb other tests
      const bus = await createNatsBus({ servers, prefix: own });
      try {
        await bus.publish('gone', { id: 'g-1', data: new Uint8Array(1) });
        const deleted = await deleteNatsStreams(servers, own);
        assert.deepEqual(deleted, [natsStreamName(own, 'gone')]);
        await bus.publish('gone', { id: 'g-2', data: new Uint8Array(1) });
      } finally {
        await bus.close();
        await deleteNatsStreams(servers, own);
      }
    });

    void it(
      'rejects a connection to a port without NATS with BUS_UNAVAILABLE naming the url',
      { timeout: 10_000 },
      async () => {
        await assert.rejects(createNatsBus({ servers: 'nats://127.0.0.1:1', prefix }), (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.equal((error as { code?: string }).code, 'BUS_UNAVAILABLE');
          assert.match(error.message, /nats:\/\/127\.0\.0\.1:1/);
          assert.match(error.message, /nats-server -js/);
          return true;
        });
      },
    );
  });
} else if (process.env.CI === 'true') {
  void it('nats bus contract', () => {
    assert.fail(`NATS is required under CI but not reachable at ${servers}: ${problem}`);
  });
} else {
  void it(
    'nats bus contract',
    { skip: `NATS not reachable at ${servers} (${problem}); start it with 'nats-server -js'` },
    () => {},
  );
}
