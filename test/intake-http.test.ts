/**
 * POST /events end to end over real HTTP against a real SQLite store: the three CloudEvents HTTP
 * modes, dedupe, and every kind of bad input the issue lists. After each refusal the server must
 * keep serving and nothing may have been stored.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { cloudEvent, startTestApp, type TestApp } from './helpers/app.ts';

const CE_JSON = { 'content-type': 'application/cloudevents+json' };

describe('POST /events', { timeout: 60_000 }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ server: { bodyLimit: '64KiB', maxJsonDepth: 32, maxBatchEvents: 10 } });
  });
  after(async () => t.close());

  async function storedCount(): Promise<number> {
    const page = await t.get('/api/v1/events?limit=1000');
    return page.body.items.length as number;
  }

  async function refused(
    body: string | Uint8Array,
    headers: Record<string, string>,
    status: number,
    code: string,
  ) {
    const beforeCount = await storedCount();
    const response = await t.post('/events', body, headers);
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.equal(response.body.error.code, code);
    assert.equal(typeof response.body.error.message, 'string');
    assert.equal(response.body.error.requestId, response.headers.get('x-request-id'));
    assert.equal(await storedCount(), beforeCount, 'nothing stored');
    assert.equal((await t.get('/healthz')).status, 200, 'server keeps serving');
    return response;
  }

  test('structured mode stores the event and answers 202 with the stored id', async () => {
    const event = cloudEvent({ subject: 'main', myext: 'x' });
    const response = await t.post('/events', JSON.stringify(event), CE_JSON);
    assert.equal(response.status, 202);
    assert.equal(response.body.duplicate, false);
    assert.match(response.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(response.headers.get('location'), `/api/v1/events/${response.body.id}`);
    const stored = await t.get(`/api/v1/events/${response.body.id}`);
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body.event, event);
    assert.equal(stored.body.receiver, 'events');
  });

  test('structured mode stores data as the JSON text it arrived as; the API gives the same value', async () => {
    const id = `raw-data-${Date.now()}`;
    const body = `{"specversion":"1.0","id":"${id}","source":"test/raw","type":"t",\n "data" : { "n": 1.50, "s": "caf\\u00e9" } }`;
    const response = await t.post('/events', body, CE_JSON);
    assert.equal(response.status, 202);
    const db = new DatabaseSync(join(t.dir, '.junction', 'junction.db'), { readOnly: true });
    try {
      const row = db.prepare('SELECT body FROM events WHERE id = ?').get(response.body.id as string);
      assert.equal(
        row?.['body'],
        `{"specversion":"1.0","id":"${id}","source":"test/raw","type":"t","data":{ "n": 1.50, "s": "caf\\u00e9" }}`,
      );
    } finally {
      db.close();
    }
    const stored = await t.get(`/api/v1/events/${response.body.id}`);
    assert.deepEqual(stored.body.event.data, { n: 1.5, s: 'café' });
  });

  test('binary mode maps ce- headers and the body', async () => {
    const response = await t.post('/events', JSON.stringify({ ref: 'refs/heads/main' }), {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': `bin-${Date.now()}`,
      'ce-source': 'test/binary',
      'ce-type': 'com.example.binary',
      'ce-subject': 'caf%C3%A9',
    });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const stored = await t.get(`/api/v1/events/${response.body.id}`);
    assert.equal(stored.body.event.type, 'com.example.binary');
    assert.equal(stored.body.event.subject, 'café');
    assert.deepEqual(stored.body.event.data, { ref: 'refs/heads/main' });
  });

  test('a duplicate (same source and id) answers 200 with the first id and stores nothing', async () => {
    const event = cloudEvent();
    const first = await t.post('/events', JSON.stringify(event), CE_JSON);
    const count = await storedCount();
    const second = await t.post('/events', JSON.stringify({ ...event, data: { changed: true } }), CE_JSON);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, { id: first.body.id, duplicate: true });
    assert.equal(await storedCount(), count);
  });

  test('batched mode stores all and answers their ids in order', async () => {
    const events = [cloudEvent(), cloudEvent(), cloudEvent()];
    const response = await t.post('/events', JSON.stringify(events), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(response.status, 202);
    assert.equal(response.body.ids.length, 3);
    assert.equal(response.body.duplicates, 0);
    for (const [i, id] of (response.body.ids as string[]).entries()) {
      const stored = await t.get(`/api/v1/events/${id}`);
      assert.equal(stored.body.event.id, events[i]!.id);
    }
    const again = await t.post('/events', JSON.stringify(events), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { ids: response.body.ids, duplicates: 3 });
  });

  test('a batch with one bad event is refused whole and names the bad one', async () => {
    const events = [cloudEvent(), { ...cloudEvent(), specversion: '0.3' }, cloudEvent()];
    const response = await refused(
      JSON.stringify(events),
      { 'content-type': 'application/cloudevents-batch+json' },
      400,
      'EVENT_BATCH_INVALID',
    );
    assert.match(response.body.error.message, /\b1\b/);
    assert.equal(response.body.error.details.index, 1);
  });

  test('a batch larger than the limit answers 413', async () => {
    const events = Array.from({ length: 11 }, () => cloudEvent());
    await refused(
      JSON.stringify(events),
      { 'content-type': 'application/cloudevents-batch+json' },
      413,
      'EVENT_BATCH_TOO_LARGE',
    );
  });

  test('malformed JSON', async () => {
    await refused('{"specversion": "1.0", ', CE_JSON, 400, 'EVENT_MALFORMED_JSON');
  });

  test('wrong content type', async () => {
    await refused('<event/>', { 'content-type': 'application/xml' }, 415, 'EVENT_UNSUPPORTED_MEDIA_TYPE');
    await refused(
      'x',
      { 'content-type': 'application/cloudevents+xml' },
      415,
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
    );
  });

  test('missing required attributes', async () => {
    for (const attribute of ['id', 'source', 'type', 'specversion']) {
      const event = cloudEvent();
      delete event[attribute];
      const response = await refused(JSON.stringify(event), CE_JSON, 400, 'EVENT_ATTRIBUTE_MISSING');
      assert.match(response.body.error.message, new RegExp(attribute));
    }
  });

  test('wrong specversion', async () => {
    await refused(
      JSON.stringify(cloudEvent({ specversion: '0.3' })),
      CE_JSON,
      400,
      'EVENT_SPECVERSION_UNSUPPORTED',
    );
  });

  test('sources under /junction/ are reserved for Junction itself', async () => {
    // A forged schedule tick or pipeline result would start pipelines that trust them.
    const tick = cloudEvent({ type: 'schedule.tick', source: '/junction/schedule', subject: 'nightly/0' });
    await refused(JSON.stringify(tick), CE_JSON, 403, 'EVENT_SOURCE_RESERVED');
    const result = cloudEvent({ type: 'pipeline.succeeded', source: '/junction/pipelines/ci' });
    const batch = [cloudEvent(), result];
    await refused(
      JSON.stringify(batch),
      { 'content-type': 'application/cloudevents-batch+json' },
      403,
      'EVENT_SOURCE_RESERVED',
    );
    const ok = await t.post('/events', JSON.stringify(cloudEvent({ source: '/ci/junction/x' })), CE_JSON);
    assert.equal(ok.status, 202, 'only the prefix is reserved');
  });

  test('body over the configured limit answers 413', async () => {
    const big = cloudEvent({ data: { pad: 'x'.repeat(70 * 1024) } });
    await refused(JSON.stringify(big), CE_JSON, 413, 'EVENT_TOO_LARGE');
  });

  test('JSON nested deeper than the limit', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    await refused(
      `{"specversion":"1.0","id":"d","source":"s","type":"t","data":${deep}}`,
      CE_JSON,
      400,
      'EVENT_TOO_DEEP',
    );
  });

  test('invalid UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from('{"specversion":"1.0","id":"u","source":"s","type":"t","data":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    await refused(body, CE_JSON, 400, 'EVENT_INVALID_UTF8');
  });

  test('an unsupported charset is refused', async () => {
    await refused(
      JSON.stringify(cloudEvent()),
      { 'content-type': 'application/cloudevents+json; charset=latin1' },
      415,
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
    );
  });

  test('extension attributes with bad names or values', async () => {
    await refused(JSON.stringify(cloudEvent({ 'Bad-Name': 'x' })), CE_JSON, 400, 'EVENT_ATTRIBUTE_INVALID');
    await refused(JSON.stringify(cloudEvent({ nested: { a: 1 } })), CE_JSON, 400, 'EVENT_ATTRIBUTE_INVALID');
  });

  test('header injection attempts never reach the store', async () => {
    // Percent-encoded CR LF decodes to control characters: the binding refuses them.
    await refused(
      '{}',
      {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'a%0D%0AX-Evil:%201',
        'ce-source': 's',
        'ce-type': 't',
      },
      400,
      'EVENT_ATTRIBUTE_INVALID',
    );
    // Raw CR LF inside a header value is refused by the HTTP parser before any route runs.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(t.url);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/events',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', () => resolve(-1));
      try {
        req.setHeader('ce-id', 'a\r\nX-Evil: 1');
        req.end('{}');
      } catch {
        req.destroy();
        resolve(-1);
      }
      setTimeout(() => reject(new Error('no answer')), 5000).unref();
    });
    assert.ok(status === -1 || status === 400, `status ${status}`);
    assert.equal((await t.get('/healthz')).status, 200);
  });

  test('prototype pollution through the body does nothing', async () => {
    const response = await t.post(
      '/events',
      '{"specversion":"1.0","id":"p1","source":"s","type":"t","__proto__":{"polluted":true},"data":{"__proto__":{"polluted":true}}}',
      CE_JSON,
    );
    assert.ok(response.status === 202 || response.status === 400, String(response.status));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('unknown routes answer the error shape', async () => {
    const response = await t.get('/nope');
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, 'API_NOT_FOUND');
  });
});
