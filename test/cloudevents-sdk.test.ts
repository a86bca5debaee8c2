/**
 * A client nobody here wrote: the `cloudevents` npm SDK's HTTP emitter sends to POST /events in
 * binary, structured and batched modes, and the events read back equal what it sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP, Mode, emitterFor, httpTransport } from 'cloudevents';
import { startTestApp, type TestApp } from './helpers/app.ts';

describe('cloudevents SDK as a client', { timeout: 30_000 }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  async function findByCeId(id: string): Promise<any> {
    const page = await t.get('/api/v1/events?limit=1000');
    return (page.body.items as { event: { id: string } }[]).find((item) => item.event.id === id);
  }

  for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
    test(`emitter in ${mode} mode`, async () => {
      const emit = emitterFor(httpTransport(`${t.url}/events`), { mode });
      const event = new CloudEvent({
        type: 'dev.junction.sdk',
        source: '/sdk/test',
        subject: `mode-${mode}`,
        data: { hello: 'world', n: 42, nested: { list: [1, 2, 3] } },
        sdkext: 'value',
      });
      const answer = (await emit(event)) as { body?: string };
      const body = JSON.parse(String(answer.body)) as { id: string; duplicate: boolean };
      assert.equal(body.duplicate, false);
      const stored = await findByCeId(event.id);
      assert.ok(stored, 'stored');
      assert.equal(stored.id, body.id);
      assert.equal(stored.event.type, 'dev.junction.sdk');
      assert.equal(stored.event.source, '/sdk/test');
      assert.equal(stored.event.sdkext, 'value');
      assert.equal(stored.event.time, event.time);
      assert.deepEqual(stored.event.data, { hello: 'world', n: 42, nested: { list: [1, 2, 3] } });
    });
  }

  test('a batch serialised by the SDK', async () => {
    const events = [1, 2, 3].map(
      (n) => new CloudEvent({ type: 'dev.junction.sdk.batch', source: '/sdk/batch', data: { n } }),
    );
    const message = HTTP.structured(events[0]!);
    const body = `[${events.map((event) => JSON.stringify(event.toJSON())).join(',')}]`;
    const response = await t.post('/events', body, { 'content-type': 'application/cloudevents-batch+json' });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(response.body.ids.length, 3);
    assert.ok(message.headers['content-type']);
    for (const event of events) assert.ok(await findByCeId(event.id));
  });
});
