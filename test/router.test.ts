/**
 * The router against a real SQLite store and the embedded bus: decisions and queued runs are
 * recorded once per event even when the event is delivered again, store failures are retried,
 * messages that are not stored events are dropped; and through the full app: an event posted to
 * /events shows its decisions at /api/v1/events/:id/decisions, and pipeline files changed on disk
 * are routed against from the next event on.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEmbeddedBus, type Bus } from '../src/bus/index.ts';
import { JunctionError } from '../src/errors/index.ts';
import { EVENTS_TOPIC, SEQ_HEADER, TYPE_HEADER, encodeStoredEvent } from '../src/intake/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { parsePipeline } from '../src/pipelines/index.ts';
import { createRouter, type Router } from '../src/runs/index.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { compilePipelines, runIdFor, type RoutablePipelines } from '../src/triggers/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';
import { logCapture } from './helpers/logs.ts';

const PIPELINES = {
  ci: 'name: ci\non:\n  - event: git.push\n    branches: [main]\n  - event: git.tag\njobs:\n  a:\n    steps:\n      - run: echo ci\n',
  deploy:
    'name: deploy\non:\n  - event: git.push\n    if: event.data.deploy == true\njobs:\n  a:\n    steps:\n      - run: echo deploy\n',
  images: 'name: images\non:\n  - event: image.pushed\njobs:\n  a:\n    steps:\n      - run: echo images\n',
};

function routable(...names: (keyof typeof PIPELINES)[]): RoutablePipelines {
  const loaded = names.map((name) => {
    const result = parsePipeline(PIPELINES[name], `${name}.yaml`);
    assert.ok(result.pipeline, JSON.stringify(result.problems));
    return { spec: result.pipeline, file: `${name}.yaml` };
  });
  const compiled = compilePipelines(loaded);
  assert.deepEqual(compiled.problems, []);
  return compiled.routable;
}

describe('router with SQLite and the embedded bus', { timeout: 30_000 }, () => {
  let store: Store;
  let bus: Bus;
  let router: Router;
  const log = logCapture();
  let failNext = 0;

  before(async () => {
    const sqlite = createSqliteStore({ path: ':memory:' });
    await sqlite.migrate();
    // Fails `recordRouting` while `failNext` > 0, as a busy store would.
    store = {
      ...sqlite,
      recordRouting: (...args) => {
        if (failNext > 0) {
          failNext -= 1;
          return Promise.reject(new JunctionError('STORE_UNAVAILABLE', 'sqlite store is busy'));
        }
        return sqlite.recordRouting(...args);
      },
    };
    bus = createEmbeddedBus();
    router = createRouter({
      store,
      bus,
      logger: log.logger,
      getPipelines: () => routable('ci', 'deploy', 'images'),
      maxBackoffMs: 50,
    });
    await router.start();
  });

  after(async () => {
    await router.stop();
    await bus.close();
    await store.close();
  });

  async function storeAndPublish(fields: Record<string, unknown>, messageId?: string) {
    const event = cloudEvent(fields) as never;
    const [appended] = await store.appendEvents([{ event, receiver: 'events' }], EVENTS_TOPIC);
    const stored = (await store.getEvent(appended!.id))!;
    await bus.publish(EVENTS_TOPIC, { id: messageId ?? stored.id, data: encodeStoredEvent(stored) });
    return stored;
  }

  test('records a decision per candidate trigger and a queued run per match', async () => {
    const stored = await storeAndPublish({ type: 'git.push', data: { branch: 'main', deploy: false } });
    const decisions = await eventually(async () => {
      const list = await store.listDecisions(stored.id);
      return list.length > 0 ? list : undefined;
    });
    const runId = runIdFor(stored.id, 'ci', 0);
    assert.deepEqual(
      decisions.map((d) => [d.pipeline, d.triggerIndex, d.matched, d.reason, d.runId]),
      [
        ['ci', 0, true, 'matched', runId],
        ['deploy', 0, false, "if 'event.data.deploy == true' is false", null],
      ],
    );
    const run = await store.getRun(runId);
    assert.equal(run?.status, 'queued');
    assert.equal(run.eventId, stored.id);
    assert.ok(
      log.lines().some((l) => l['msg'] === 'run queued' && l['runId'] === runId && l['pipeline'] === 'ci'),
    );
  });

  test('a redelivered event creates nothing twice', async () => {
    const stored = await storeAndPublish({ type: 'git.tag', data: { tag: 'v1' } });
    await eventually(async () => ((await store.getRun(runIdFor(stored.id, 'ci', 1))) ? true : undefined));
    const first = await store.listDecisions(stored.id);
    // Another message id, so the bus's own dedupe does not hide the repeat.
    await bus.publish(EVENTS_TOPIC, { id: `${stored.id}-again`, data: encodeStoredEvent(stored) });
    const marker = await storeAndPublish({ type: 'image.pushed' });
    await eventually(async () => ((await store.listDecisions(marker.id)).length > 0 ? true : undefined));
    assert.deepEqual(await store.listDecisions(stored.id), first);
    assert.equal((await store.listRuns({ eventId: stored.id }, { limit: 10 })).items.length, 1);
  });

  test('an event no pipeline listens for records nothing', async () => {
    const stored = await storeAndPublish({ type: 'nobody.listens' });
    const marker = await storeAndPublish({ type: 'image.pushed' });
    await eventually(async () => ((await store.listDecisions(marker.id)).length > 0 ? true : undefined));
    assert.deepEqual(await store.listDecisions(stored.id), []);
  });

  test('a store failure is retried until the routing is recorded', async () => {
    failNext = 2;
    const stored = await storeAndPublish({ type: 'image.pushed' });
    await eventually(async () => ((await store.listDecisions(stored.id)).length > 0 ? true : undefined));
    assert.equal(failNext, 0);
    assert.ok(
      log
        .lines()
        .some((l) => l['code'] === 'STORE_UNAVAILABLE' && l['eventId'] === stored.id && 'retryInMs' in l),
    );
  });

  test('a message that is not a stored event is rejected and logged with a code', async () => {
    await bus.publish(EVENTS_TOPIC, { id: 'garbage-1', data: Buffer.from('not json') });
    await bus.publish(EVENTS_TOPIC, { id: 'garbage-2', data: Buffer.from('{"id":1}') });
    await eventually(() =>
      log.lines().filter((l) => l['code'] === 'BUS_MESSAGE_INVALID').length === 2 ? true : undefined,
    );
    const after = await storeAndPublish({ type: 'image.pushed' });
    await eventually(async () => ((await store.listDecisions(after.id)).length > 0 ? true : undefined));
  });

  test('an event no trigger listens for passes on its headers; otherwise the body decides', async () => {
    // Bodies that cannot be decoded: only the headers can let a message pass.
    const publishGarbage = (id: string, headers: Record<string, string>) =>
      bus.publish(EVENTS_TOPIC, { id, data: Buffer.from('not json'), headers });
    // Nobody listens for the type: passed without reading the body.
    await publishGarbage('h-nobody', { [TYPE_HEADER]: 'nobody.listens', [SEQ_HEADER]: '7' });
    // A trigger listens for the type: the body is read and this one is refused.
    await publishGarbage('h-listened', { [TYPE_HEADER]: 'image.pushed', [SEQ_HEADER]: '8' });
    // A seq that is not a plain positive number, or none: the body is read.
    await publishGarbage('h-bad-seq', { [TYPE_HEADER]: 'nobody.listens', [SEQ_HEADER]: '08' });
    await publishGarbage('h-no-seq', { [TYPE_HEADER]: 'nobody.listens' });
    const marker = await storeAndPublish({ type: 'image.pushed' });
    await eventually(async () => ((await store.listDecisions(marker.id)).length > 0 ? true : undefined));
    const refused = log
      .lines()
      .filter((l) => l['code'] === 'BUS_MESSAGE_INVALID' && String(l['messageId']).startsWith('h-'))
      .map((l) => l['messageId'])
      .sort();
    assert.deepEqual(refused, ['h-bad-seq', 'h-listened', 'h-no-seq']);
  });
});

describe('routing in the full app', { timeout: 30_000 }, () => {
  const dir = tempDir('junction-router-app-');
  const pipelinesDir = join(dir.path, 'pipelines');
  let app: TestApp;

  before(async () => {
    mkdirSync(pipelinesDir);
    writeFileSync(join(pipelinesDir, 'ci.yaml'), PIPELINES.ci);
    writeFileSync(join(pipelinesDir, 'deploy.yaml'), PIPELINES.deploy);
    writeFileSync(
      join(pipelinesDir, 'broken.yaml'),
      'name: broken\non:\n  - event: git.push\n    if: "event.data.x ==("\njobs:\n  a:\n    steps:\n      - run: x\n',
    );
    app = await startTestApp({}, dir.path);
  });

  after(async () => {
    await app?.close();
    dir.remove();
  });

  async function post(fields: Record<string, unknown>): Promise<string> {
    const response = await app.post('/events', JSON.stringify(cloudEvent(fields)));
    assert.equal(response.status, 202, JSON.stringify(response.body));
    return response.body.id as string;
  }

  async function decisionsOf(id: string, count: number): Promise<any[]> {
    return eventually(
      async () => {
        const { status, body } = await app.get(`/api/v1/events/${id}/decisions`);
        assert.equal(status, 200);
        return body.items.length >= count ? (body.items as any[]) : undefined;
      },
      10_000,
      `${count} decisions for ${id}`,
    );
  }

  test('loads the valid files and leaves the broken one out', () => {
    assert.deepEqual([...app.app.pipelines().pipelines.keys()].sort(), ['ci', 'deploy']);
  });

  test('an event posted to /events has its decisions at the API', async () => {
    const id = await post({ type: 'git.push', data: { branch: 'dev', deploy: true } });
    const items = await decisionsOf(id, 2);
    assert.deepEqual(
      items.map((d) => [d.pipeline, d.triggerIndex, d.matched, d.reason, d.runId]),
      [
        ['ci', 0, false, "branch 'dev' not in [main]", null],
        ['deploy', 0, true, 'matched', runIdFor(id, 'deploy', 0)],
      ],
    );
    assert.match(items[0].decidedAt, /^\d{4}-\d{2}-\d{2}T/);
    const { body } = await app.get(`/api/v1/events/${id}/decisions`);
    assert.equal(body.next, null);
  });

  test('the runs API lists and shows the runs an event created', async () => {
    const id = await post({ type: 'git.push', data: { branch: 'main', deploy: true } });
    await decisionsOf(id, 2);
    const list = await app.get(`/api/v1/runs?event=${id}&order=asc`);
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((r: any) => [r.id, r.pipeline, r.triggerIndex]),
      [
        [runIdFor(id, 'ci', 0), 'ci', 0],
        [runIdFor(id, 'deploy', 0), 'deploy', 0],
      ],
    );
    for (const run of list.body.items) assert.match(run.status, /^(queued|running|succeeded)$/);
    assert.equal(list.body.next, null);
    const ci = await app.get(`/api/v1/runs?event=${id}&pipeline=ci`);
    assert.equal(ci.body.items.length, 1);
    const one = await app.get(`/api/v1/runs/${runIdFor(id, 'ci', 0)}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.eventId, id);
    const missing = await app.get('/api/v1/runs/run_nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'RUN_NOT_FOUND');
    const bad = await app.get('/api/v1/runs?limit=0');
    assert.equal(bad.status, 400);
  });

  test('an unknown event is 404 EVENT_NOT_FOUND', async () => {
    const { status, body } = await app.get('/api/v1/events/no-such-event/decisions');
    assert.equal(status, 404);
    assert.equal(body.error.code, 'EVENT_NOT_FOUND');
  });

  test('a pipeline file added on disk routes the next event', async () => {
    writeFileSync(join(pipelinesDir, 'images.yaml'), PIPELINES.images);
    await eventually(
      () => (app.app.pipelines().pipelines.has('images') ? true : undefined),
      10_000,
      'reload',
    );
    const id = await post({ type: 'image.pushed' });
    const items = await decisionsOf(id, 1);
    assert.deepEqual(
      items.map((d) => [d.pipeline, d.matched]),
      [['images', true]],
    );
  });
});

describe('router catch-up after a restart (embedded bus keeps nothing)', { timeout: 30_000 }, () => {
  test('events stored but never routed are routed from the checkpoint on start', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'j.db');
    const logger = createLogger({ level: 'silent', format: 'json' });
    try {
      // A first life: events stored and (as if) published, the process dies before routing them.
      const first = createSqliteStore({ path });
      await first.migrate();
      const appended = await first.appendEvents(
        [1, 2, 3].map((n) => ({
          event: cloudEvent({ type: 'git.push', data: { branch: 'main', n } }) as never,
          receiver: 'events',
        })),
        EVENTS_TOPIC,
      );
      await first.markOutboxPublished((await first.pendingOutbox(10)).map((e) => e.seq));
      await first.close();

      // The next life: a fresh embedded bus has none of them; catch-up routes them from the store.
      const store = createSqliteStore({ path });
      await store.migrate();
      const bus = createEmbeddedBus();
      const router = createRouter({
        store,
        bus,
        logger,
        getPipelines: () => routable('ci', 'images'),
        catchUp: true,
      });
      await router.start();
      for (const { id } of appended) {
        const decisions = await store.listDecisions(id);
        assert.equal(decisions.length, 1, `decisions for ${id}`);
        assert.equal(decisions[0]!.runId, runIdFor(id, 'ci', 0));
      }
      const seqs = await Promise.all(appended.map(async ({ id }) => (await store.getEvent(id))!.seq));
      assert.equal(await store.getCheckpoint('router.events'), String(Math.max(...seqs)));

      // Routed events after the checkpoint advance it; nothing before it is routed again.
      const later = await store.appendEvents(
        [{ event: cloudEvent({ type: 'image.pushed' }) as never, receiver: 'events' }],
        EVENTS_TOPIC,
      );
      const laterStored = (await store.getEvent(later[0]!.id))!;
      await bus.publish(EVENTS_TOPIC, { id: laterStored.id, data: encodeStoredEvent(laterStored) });
      await eventually(
        async () => ((await store.listDecisions(laterStored.id)).length === 1 ? true : undefined),
        5000,
        'the later event routed',
      );
      await router.stop();
      assert.equal(await store.getCheckpoint('router.events'), String(laterStored.seq));
      await bus.close();
      await store.close();
    } finally {
      dir.remove();
    }
  });
});
