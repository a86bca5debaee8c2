/**
 * End to end with a real Prometheus Alertmanager: alerts posted to its API come back as webhook
 * deliveries to a small local HTTP server, which runs them through the alertmanager source
 * (authenticate + map) exactly as the hook route does. Skipped with a notice when no
 * `prometheus-alertmanager` / `alertmanager` binary is installed, except under CI=true.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { CloudEvent } from '../src/events/index.ts';
import { alertmanagerSource, labelsFingerprint } from '../src/sources/alertmanager.ts';
import type { MappedEvent } from '../src/sources/source.ts';
import { eventually } from './helpers/app.ts';
import { findBinary, startAlertmanager } from './helpers/peers.ts';

const TOKEN = 'e2e-webhook-token';
const binary = findBinary(['prometheus-alertmanager', 'alertmanager']);
const skip =
  binary === undefined ? 'alertmanager binary not found (apt-get install prometheus-alertmanager)' : false;
if (binary === undefined) {
  if (process.env.CI === 'true') {
    void test('alertmanager is installed', () => assert.fail('CI needs the prometheus-alertmanager binary'));
  } else {
    console.warn('notice: skipping alertmanager end-to-end test: no alertmanager binary on PATH');
  }
}

void test(
  'a real alertmanager delivers firing then resolved alerts that map to stable events',
  { skip, timeout: 60_000 },
  async (t) => {
    const source = alertmanagerSource({ name: 'am-e2e', type: 'alertmanager', token: TOKEN });
    const received: MappedEvent[] = [];
    const failures: string[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headers: Record<string, string | undefined> = {};
        for (const [key, value] of Object.entries(req.headers))
          headers[key] = Array.isArray(value) ? value.join(', ') : value;
        const request = { headers, body: Buffer.concat(chunks), receivedAt: new Date() };
        try {
          source.authenticate(request);
          received.push(...source.map(request).events);
          res.writeHead(200).end('ok');
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
          res.writeHead(400).end('refused');
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.after(() => receiver.close());
    const address = receiver.address();
    assert.ok(address !== null && typeof address === 'object');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'junction-am-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const alertmanager = await startAlertmanager({
      binary: binary ?? 'alertmanager',
      dir,
      webhookUrl: `http://127.0.0.1:${address.port}/hooks/am-e2e`,
      token: TOKEN,
      cleanup: (fn) => t.after(fn),
    });
    const base = alertmanager.url;

    const labels = { alertname: 'JunctionE2E', service: 'web', severity: 'critical', env: 'test' };
    const startsAt = new Date(Date.now() - 1000).toISOString();
    const post = async (extra: Record<string, string>): Promise<void> => {
      const response = await fetch(`${base}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels, annotations: { summary: 'posted by a test' }, startsAt, ...extra }]),
      });
      assert.equal(response.status, 200, await response.text());
    };

    await post({});
    const firing = await eventually(
      () => received.find((m) => m.event.type === 'alert.firing'),
      15_000,
      'the firing webhook',
    );
    await post({ endsAt: new Date().toISOString() });
    const resolved = await eventually(
      () => received.find((m) => m.event.type === 'alert.resolved'),
      15_000,
      'the resolved webhook',
    );
    assert.deepEqual(failures, []);

    const data = (event: CloudEvent): Record<string, unknown> => event.data as Record<string, unknown>;
    const fingerprint = labelsFingerprint(labels);
    for (const mapped of [firing, resolved]) {
      const { event } = mapped;
      assert.equal(event.source, 'alertmanager/am-e2e');
      assert.equal(event.subject, 'JunctionE2E');
      assert.equal(data(event).fingerprint, fingerprint, 'computed fingerprint equals alertmanager’s');
      assert.equal(data(event).service, 'web');
      assert.equal(data(event).environment, 'test');
      assert.equal(data(event).severity, 'critical');
      assert.equal(data(event).externalURL, base);
      assert.equal(mapped.dedupeKey, `alertmanager:am-e2e:${event.id}`);
    }
    assert.equal(firing.event.id, `${fingerprint}:firing:${String(data(firing.event).startsAt)}`);
    assert.equal(data(firing.event).endsAt, null);
    assert.equal(resolved.event.id, `${fingerprint}:resolved:${String(data(resolved.event).startsAt)}`);
    assert.equal(resolved.event.time, data(resolved.event).endsAt);
    assert.notEqual(resolved.event.id, firing.event.id);
  },
);
