import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMetrics } from './metrics.ts';

void describe('intake metrics', { timeout: 30_000 }, () => {
  test('event counts are exact at every scrape and keep adding up across scrapes', async () => {
    const metrics = createMetrics({ processMetrics: false, maxTypeLabels: 2 });
    metrics.intake.received('events', 'a');
    metrics.intake.received('events', 'a', 2);
    metrics.intake.accepted('hook', 'b');
    let text = await metrics.render();
    assert.match(text, /junction_events_received_total\{receiver="events",type="a"\} 3\n/);
    assert.match(text, /junction_events_accepted_total\{receiver="hook",type="b"\} 1\n/);
    assert.doesNotMatch(text, /junction_events_duplicate_total\{/);

    metrics.intake.received('events', 'a');
    metrics.intake.duplicate('events', 'a');
    // A third type is past maxTypeLabels: it counts under `other`.
    metrics.intake.received('events', 'c');
    text = await metrics.render();
    assert.match(text, /junction_events_received_total\{receiver="events",type="a"\} 4\n/);
    assert.match(text, /junction_events_received_total\{receiver="events",type="other"\} 1\n/);
    assert.match(text, /junction_events_duplicate_total\{receiver="events",type="a"\} 1\n/);
    assert.match(await metrics.render(), /junction_events_received_total\{receiver="events",type="a"\} 4\n/);
  });
});
