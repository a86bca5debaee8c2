/** GET /api/v1/events: filters, cursor pagination, bad queries; and /metrics counters. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cloudEvent, startTestApp, type TestApp } from './helpers/app.ts';

const CE_JSON = { 'content-type': 'application/cloudevents+json' };

describe('GET /api/v1/events', { timeout: 60_000 }, () => {
  let t: TestApp;
  const ids: string[] = [];
  before(async () => {
    t = await startTestApp();
    for (let i = 0; i < 25; i++) {
      const type = i % 2 === 0 ? 'com.example.even' : 'com.example.odd';
      const response = await t.post(
        '/events',
        JSON.stringify(cloudEvent({ type, source: i < 5 ? 'src/a' : 'src/b' })),
        CE_JSON,
      );
      ids.push(response.body.id as string);
    }
  });
  after(async () => t.close());

  test('pages walk every event once, newest first, and end with next null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; next: string | null } } = await t.get(
        `/api/v1/events?limit=7${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      assert.equal(page.status, 200);
      seen.push(...page.body.items.map((item) => item.id));
      cursor = page.body.next;
    } while (cursor !== null);
    assert.deepEqual(seen, [...ids].reverse());
  });

  test('ascending order', async () => {
    const page = await t.get('/api/v1/events?order=asc&limit=1000');
    assert.deepEqual(
      page.body.items.map((i: { id: string }) => i.id),
      ids,
    );
  });

  test('filters by type and source and time', async () => {
    const even = await t.get('/api/v1/events?type=com.example.even&limit=1000');
    assert.equal(even.body.items.length, 13);
    const a = await t.get('/api/v1/events?source=src%2Fa&limit=1000');
    assert.equal(a.body.items.length, 5);
    const future = await t.get(`/api/v1/events?since=${new Date(Date.now() + 60_000).toISOString()}`);
    assert.equal(future.body.items.length, 0);
    const past = await t.get(
      `/api/v1/events?until=${new Date(Date.now() + 60_000).toISOString()}&limit=1000`,
    );
    assert.equal(past.body.items.length, 25);
  });

  test('bad queries answer 400 with a code', async () => {
    for (const [query, code] of [
      ['limit=0', 'API_BAD_REQUEST'],
      ['limit=abc', 'API_BAD_REQUEST'],
      ['limit=5000', 'API_BAD_REQUEST'],
      ['order=sideways', 'API_BAD_REQUEST'],
      ['since=yesterday', 'API_BAD_REQUEST'],
      ['cursor=not-a-cursor', 'API_CURSOR_INVALID'],
      ['type=a&type=b', 'API_BAD_REQUEST'],
    ] as const) {
      const response = await t.get(`/api/v1/events?${query}`);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.error.code, code, query);
    }
  });

  test('an unknown id answers 404 EVENT_NOT_FOUND', async () => {
    const response = await t.get('/api/v1/events/00000000-0000-7000-8000-000000000000');
    assert.equal(response.status, 404);
    assert.equal(response.body.error.code, 'EVENT_NOT_FOUND');
  });

  test('metrics count accepted, duplicate and rejected events, and the outbox', async () => {
    const event = cloudEvent({ type: 'com.example.metric' });
    await t.post('/events', JSON.stringify(event), CE_JSON);
    await t.post('/events', JSON.stringify(event), CE_JSON);
    await t.post('/events', '{', CE_JSON);
    const metrics = await t.get('/metrics');
    assert.equal(metrics.status, 200);
    const text = metrics.body as string;
    assert.match(text, /junction_events_accepted_total\{receiver="events",type="com.example.metric"\} 1/);
    assert.match(text, /junction_events_duplicate_total\{receiver="events",type="com.example.metric"\} 1/);
    assert.match(text, /junction_events_rejected_total\{receiver="events",code="EVENT_MALFORMED_JSON"\} 1/);
    assert.match(text, /junction_ingest_duration_seconds_bucket/);
    assert.match(text, /junction_outbox_pending \d+/);
    assert.match(text, /junction_outbox_lag_seconds \d/);
  });
});
