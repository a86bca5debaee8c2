/**
 * The commit-status notifier as a bus consumer, with SQLite and the embedded bus: which messages
 * it reads. Run statuses are decoded; anything whose `ce-type` header names another type is
 * passed without reading its body; a message without that header is decoded as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEmbeddedBus, type Bus } from '../src/bus/index.ts';
import { EVENTS_TOPIC } from '../src/intake/index.ts';
import { createNotifier, type Notifier } from '../src/notifiers/index.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { eventually } from './helpers/app.ts';
import { logCapture } from './helpers/logs.ts';

describe('notifier on the events topic', { timeout: 30_000 }, () => {
  let store: Store;
  let bus: Bus;
  let notifier: Notifier;
  const log = logCapture();

  before(async () => {
    const sqlite = createSqliteStore({ path: ':memory:' });
    await sqlite.migrate();
    store = sqlite;
    bus = createEmbeddedBus();
    notifier = createNotifier({
      store,
      bus,
      logger: log.logger,
      notifiers: [],
      sources: [],
      runUrl: (runId) => `http://127.0.0.1/runs/${runId}`,
      maxInFlight: 1,
    });
    await notifier.start();
  });

  after(async () => {
    await notifier.stop();
    await bus.close();
    await store.close();
  });

  test('reads the body of run statuses only, by the ce-type header', async () => {
    const garbage = Buffer.from('not json');
    const publish = (id: string, headers?: Record<string, string>) =>
      bus.publish(EVENTS_TOPIC, { id, data: garbage, ...(headers === undefined ? {} : { headers }) });
    await publish('n-push', { 'ce-type': 'git.push' });
    // A type named like an Object property is still just another type.
    await publish('n-constructor', { 'ce-type': 'constructor' });
    await publish('n-status', { 'ce-type': 'pipeline.failed' });
    await publish('n-no-header');
    await publish('n-last');
    const refused = (): string[] =>
      log
        .lines()
        .filter((l) => l['code'] === 'BUS_MESSAGE_INVALID')
        .map((l) => String(l['messageId']));
    await eventually(() => (refused().includes('n-last') ? true : undefined), 5000, 'the last message');
    assert.deepEqual(refused(), ['n-status', 'n-no-header', 'n-last']);
  });
});
