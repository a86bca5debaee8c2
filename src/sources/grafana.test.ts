import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { grafanaSource } from './grafana.ts';
import type { HookRequest } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/grafana');
const present = fs.existsSync(fixtures);
const skip = present ? false : `grafana fixtures not found at ${fixtures}`;
if (!present) console.warn(`notice: skipping grafana fixture tests: ${fixtures} is absent`);

const source = grafanaSource({ name: 'grafana-prod', type: 'grafana', username: 'grafana', password: 'x:y' });

function req(body: string | Buffer, headers: Record<string, string> = {}): HookRequest {
  return { headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body), receivedAt: new Date(0) };
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  return event.data as Record<string, unknown>;
}

function fixture(): Buffer {
  return fs.readFileSync(path.join(fixtures, 'webhook.firing.two-alerts.docs.json'));
}

void test('every fixture maps to events with the required fields', { skip }, () => {
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 1);
  for (const file of files) {
    const bytes = fs.readFileSync(path.join(fixtures, file));
    const raw = JSON.parse(bytes.toString('utf8')) as { alerts: unknown[] };
    const { events } = source.map(req(bytes));
    assert.equal(events.length, raw.alerts.length, file);
    for (const { event, dedupeKey } of events) {
      assert.equal(event.specversion, '1.0');
      assert.equal(event.source, 'grafana/grafana-prod');
      assert.match(event.type, /^alert\.(firing|resolved)$/);
      const data = dataOf(event);
      assert.equal(typeof data.alertname, 'string');
      assert.equal(typeof data.fingerprint, 'string');
      assert.equal(event.id, `${String(data.fingerprint)}:${String(data.status)}:${String(data.startsAt)}`);
      assert.equal(dedupeKey, `grafana:grafana-prod:${event.id}`);
    }
  }
});

void test('fixture: grafana fields are kept, empty urls become null', { skip }, () => {
  const [first, second] = source.map(req(fixture())).events;
  assert.ok(first && second);
  const data = dataOf(first.event);
  assert.equal(first.event.type, 'alert.firing');
  assert.equal(first.event.subject, 'High memory usage');
  assert.equal(first.event.id, 'c6eadffa33fcdf37:firing:2021-10-12T09:51:03.157076+02:00');
  assert.deepEqual(data.values, { B: 44.23943737541908, C: 1 });
  assert.equal(data.dashboardURL, null);
  assert.equal(data.panelURL, null);
  assert.match(String(data.silenceURL), /^https:\/\/play\.grafana\.org\/alerting\/silence/);
  assert.equal(data.endsAt, null);
  assert.equal(data.severity, null);
  assert.equal(data.receiver, 'My Super Webhook');
  assert.equal(data.externalURL, 'https://play.grafana.org/');
  assert.equal(((data.payload as Record<string, unknown>).group as Record<string, unknown>).orgId, 1);
  assert.equal(dataOf(second.event).fingerprint, 'bc97ff14869b13e3');
});

void test('fixture: a redelivery maps identically; a resolved copy is a new event', { skip }, () => {
  assert.deepEqual(source.map(req(fixture())), source.map(req(fixture())));
  const body = JSON.parse(fixture().toString('utf8')) as { alerts: Record<string, unknown>[] };
  const [a] = body.alerts;
  assert.ok(a);
  a.status = 'resolved';
  a.endsAt = '2021-10-12T10:00:00+02:00';
  a.dashboardURL = 'https://grafana/d/abc';
  const [resolved, firing] = source.map(req(JSON.stringify(body))).events;
  assert.equal(resolved?.event.type, 'alert.resolved');
  assert.equal(resolved.event.time, '2021-10-12T10:00:00+02:00');
  assert.equal(dataOf(resolved.event).dashboardURL, 'https://grafana/d/abc');
  assert.equal(firing?.event.type, 'alert.firing');
});

void test('non-unified and hostile payloads are refused with SOURCE_PAYLOAD_INVALID', () => {
  const legacy = JSON.stringify({ title: '[Alerting] x', ruleName: 'x', state: 'alerting', evalMatches: [] });
  for (const [body, pattern] of [
    [legacy, /version nothing is not supported \(supported: '1'\)/],
    ['{"version":"4","alerts":[]}', /version '4' is not supported/],
    ['{"version":"1","alerts":"none"}', /'alerts' as an array/],
    ['[]', /json object/],
    ['{', /not valid json/],
    [
      '{"version":"1","alerts":[{"status":"firing","labels":null,"startsAt":"2021-10-12T09:51:03Z"}]}',
      /labels must be an object/,
    ],
  ] as const) {
    assert.throws(
      () => source.map(req(body)),
      (error: unknown) => isJunctionError(error, 'SOURCE_PAYLOAD_INVALID') && pattern.test(error.message),
      body,
    );
  }
});

void test('values that are not an object become null', () => {
  const body = {
    version: '1',
    status: 'firing',
    alerts: [
      { status: 'firing', labels: { alertname: 'A' }, startsAt: '2021-10-12T09:51:03Z', values: 'B=1' },
    ],
  };
  const [only] = source.map(req(JSON.stringify(body))).events;
  assert.ok(only);
  assert.equal(dataOf(only.event).values, null);
  assert.match(String(dataOf(only.event).fingerprint), /^[0-9a-f]{16}$/);
});

void test('authenticate: basic with a colon in the password; bearer is not accepted for a basic source', () => {
  source.authenticate(req('{}', { authorization: `Basic ${Buffer.from('grafana:x:y').toString('base64')}` }));
  for (const authorization of ['Bearer x:y', `Basic ${Buffer.from('grafana:x').toString('base64')}`, '']) {
    assert.throws(
      () => source.authenticate(req('{}', { authorization })),
      (e: unknown) => isJunctionError(e, 'SOURCE_UNAUTHENTICATED'),
    );
  }
});
