/**
 * Backpressure and group commit: concurrent senders all get durable answers; past the bound of
 * events waiting for a write, intake answers 503 with Retry-After instead of queueing without
 * limit, and every event that got a 2xx is stored.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cloudEvent, startTestApp } from './helpers/app.ts';

const CE_JSON = { 'content-type': 'application/cloudevents+json' };

describe('intake under load', { timeout: 60_000 }, () => {
  test('200 concurrent requests are all stored', async () => {
    const t = await startTestApp();
    try {
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => t.post('/events', JSON.stringify(cloudEvent()), CE_JSON)),
      );
      assert.ok(answers.every((a) => a.status === 202));
      const ids = new Set(answers.map((a) => a.body.id as string));
      assert.equal(ids.size, 200);
      const page = await t.get('/api/v1/events?limit=1000');
      assert.equal(page.body.items.length, 200);
    } finally {
      await t.close();
    }
  });

  test('past maxPendingEvents intake answers 503 with Retry-After; every 2xx is stored', async () => {
    const t = await startTestApp({ intake: { maxPendingEvents: 2 } });
    try {
      // A batch that alone exceeds the bound is always turned away.
      const batch = JSON.stringify([cloudEvent(), cloudEvent(), cloudEvent()]);
      const refused = await t.post('/events', batch, {
        'content-type': 'application/cloudevents-batch+json',
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'INTAKE_OVERLOADED');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      // Concurrent senders: each gets either a durable 202 or a 503 to retry, nothing else.
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => t.post('/events', JSON.stringify(cloudEvent()), CE_JSON)),
      );
      const accepted = answers.filter((a) => a.status === 202);
      const overloaded = answers.filter((a) => a.status === 503);
      assert.equal(
        accepted.length + overloaded.length,
        100,
        `statuses: ${answers.map((a) => a.status).join(',')}`,
      );
      for (const answer of overloaded) assert.equal(answer.body.error.code, 'INTAKE_OVERLOADED');
      const page = await t.get('/api/v1/events?limit=1000');
      const stored = new Set((page.body.items as { id: string }[]).map((i) => i.id));
      for (const answer of accepted) assert.ok(stored.has(answer.body.id as string));
      assert.equal(stored.size, accepted.length);
    } finally {
      await t.close();
    }
  });
});
