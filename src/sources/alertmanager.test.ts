import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { MAX_ALERTS, alertmanagerSource, labelsFingerprint } from './alertmanager.ts';
import type { HookRequest, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/alertmanager/payloads');
const present = fs.existsSync(fixtures);
const skip = present ? false : `alertmanager fixtures not found at ${fixtures}`;
if (!present) console.warn(`notice: skipping alertmanager fixture tests: ${fixtures} is absent`);

const source = alertmanagerSource({ name: 'prod', type: 'alertmanager', token: 'tok' });

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers, body: bytes, receivedAt: new Date(0) };
}

function map(body: unknown): SourceResult {
  return source.map(req(body));
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  assert.equal(typeof event.data, 'object');
  return event.data as Record<string, unknown>;
}

function alert(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: 'firing',
    labels: { alertname: 'HighLatency', severity: 'page', service: 'api', env: 'prod' },
    annotations: { summary: 'p99 too high' },
    startsAt: '2026-11-27T10:00:00.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint: '0123456789abcdef',
    ...extra,
  };
}

function group(alerts: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'junction',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
    ...extra,
  };
}

function refused(body: unknown, pattern: RegExp): void {
  assert.throws(
    () => source.map(req(body)),
    (error: unknown) => {
      assert.ok(isJunctionError(error, 'SOURCE_PAYLOAD_INVALID'), String(error));
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

void test('every fixture maps to events with the required fields', { skip }, () => {
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 4, 'expected the shared alertmanager fixtures');
  for (const file of files) {
    const bytes = fs.readFileSync(path.join(fixtures, file));
    const raw = JSON.parse(bytes.toString('utf8')) as { alerts: unknown[] };
    const { events } = source.map(req(bytes));
    assert.equal(events.length, raw.alerts.length, file);
    for (const { event, dedupeKey } of events) {
      assert.equal(event.specversion, '1.0');
      assert.match(event.type, /^alert\.(firing|resolved)$/);
      assert.equal(event.source, 'alertmanager/prod');
      const data = dataOf(event);
      assert.equal(typeof data.alertname, 'string', file);
      assert.match(String(data.fingerprint), /^[0-9a-f]{16}$/, file);
      assert.equal(event.id, `${String(data.fingerprint)}:${String(data.status)}:${String(data.startsAt)}`);
      assert.equal(event.subject, data.alertname);
      assert.equal(dedupeKey, `alertmanager:prod:${event.id}`);
      assert.equal(typeof data.payload, 'object');
    }
  }
});

void test(
  'fixture: old payloads without fingerprint or per-alert status use the group and the labels',
  { skip },
  () => {
    const bytes = fs.readFileSync(path.join(fixtures, 'firing.single.json'));
    const [first] = source.map(req(bytes)).events;
    assert.ok(first);
    const data = dataOf(first.event);
    assert.equal(first.event.type, 'alert.firing');
    assert.equal(data.endsAt, null);
    assert.equal(data.severity, 'warning');
    assert.equal(data.fingerprint, labelsFingerprint(data.labels as Record<string, string>));
    assert.equal(first.event.time, '2018-03-07T06:33:21.873077559-05:00');
  },
);

void test('fixture: a resolved alert takes its time from endsAt', { skip }, () => {
  const bytes = fs.readFileSync(path.join(fixtures, 'resolved.single.json'));
  const [first] = source.map(req(bytes)).events;
  assert.ok(first);
  assert.equal(first.event.type, 'alert.resolved');
  assert.equal(first.event.time, '2017-05-09T07:08:37.818278Z');
  assert.equal(first.event.id, 'dd19ae3d4e06ac55:resolved:2017-05-09T07:01:37.803000Z');
  assert.equal(dataOf(first.event).severity, 'severe');
  assert.equal(dataOf(first.event).generatorURL, 'my.prometheusserver.url');
});

void test('the fingerprint is computed as Alertmanager does (prometheus/common vectors)', () => {
  assert.equal(labelsFingerprint({}), 'cbf29ce484222325');
  assert.equal(
    labelsFingerprint({ name: 'garland, briggs', fear: 'love is not enough' }),
    '507a62d79ee76c9a',
  );
  assert.equal(labelsFingerprint({ a: 'b', c: 'd' }), labelsFingerprint({ c: 'd', a: 'b' }));
  assert.notEqual(labelsFingerprint({ a: 'bb', b: 'c' }), labelsFingerprint({ a: 'b', bb: 'c' }));
});

void test('firing and resolved alerts in one group map by their own status', () => {
  const resolved = alert({
    status: 'resolved',
    fingerprint: 'fedcba9876543210',
    endsAt: '2026-11-27T10:05:00Z',
    labels: { alertname: 'DiskFull', environment: 'staging', env: 'ignored' },
  });
  const { events, note } = map(group([alert(), resolved]));
  assert.equal(note, undefined);
  assert.equal(events.length, 2);
  const [firing, done] = events.map((m) => m.event) as [CloudEvent, CloudEvent];
  assert.equal(firing.type, 'alert.firing');
  assert.equal(firing.time, '2026-11-27T10:00:00.123456789Z');
  assert.equal(firing.id, '0123456789abcdef:firing:2026-11-27T10:00:00.123456789Z');
  assert.deepEqual(
    { ...dataOf(firing), payload: undefined },
    {
      alertname: 'HighLatency',
      status: 'firing',
      labels: { alertname: 'HighLatency', severity: 'page', service: 'api', env: 'prod' },
      annotations: { summary: 'p99 too high' },
      severity: 'page',
      fingerprint: '0123456789abcdef',
      startsAt: '2026-11-27T10:00:00.123456789Z',
      endsAt: null,
      generatorURL: 'http://prometheus:9090/graph',
      receiver: 'junction',
      groupKey: '{}:{alertname="HighLatency"}',
      externalURL: 'http://alertmanager:9093',
      service: 'api',
      environment: 'prod',
      payload: undefined,
    },
  );
  const payload = dataOf(firing).payload as Record<string, unknown>;
  assert.equal(payload.fingerprint, '0123456789abcdef');
  assert.equal((payload.group as Record<string, unknown>).receiver, 'junction');
  assert.equal((payload.group as Record<string, unknown>).alerts, undefined);

  assert.equal(done.type, 'alert.resolved');
  assert.equal(done.time, '2026-11-27T10:05:00Z');
  assert.equal(dataOf(done).endsAt, '2026-11-27T10:05:00Z');
  assert.equal(dataOf(done).severity, null);
  assert.equal(dataOf(done).service, null);
  assert.equal(dataOf(done).environment, 'staging');
});

void test('a redelivery maps to identical ids; the resolution of the same alert is a new id', () => {
  const body = group([alert()]);
  const a = map(body);
  const b = map(structuredClone(body));
  assert.deepEqual(a, b);
  const resolved = map(
    group([alert({ status: 'resolved', endsAt: '2026-11-27T11:00:00Z' })], { status: 'resolved' }),
  );
  assert.notEqual(resolved.events[0]?.event.id, a.events[0]?.event.id);
  assert.notEqual(resolved.events[0]?.dedupeKey, a.events[0]?.dedupeKey);
});

void test('an empty group is a note, not an error', () => {
  const result = map(group([]));
  assert.deepEqual(result.events, []);
  assert.match(result.note ?? '', /no alerts/);
});

void test('hostile and malformed payloads are refused with SOURCE_PAYLOAD_INVALID only', () => {
  refused('not json', /not valid json/);
  refused('', /empty/);
  refused(Buffer.from([0xff, 0xfe, 0x7b]), /utf-8/i);
  refused('[1,2]', /must be a json object \(got an array\)/);
  refused('null', /must be a json object/);
  refused('"x"', /must be a json object/);
  refused('['.repeat(10_000), /deep|nest/i);
  refused(group(undefined), /needs 'alerts' as an array \(got nothing\)/);
  refused(group({}), /needs 'alerts' as an array \(got an object\)/);
  refused(group([alert()], { version: '3' }), /version '3' is not supported \(supported: '4'\)/);
  refused(group([alert()], { version: 4 }), /version a number is not supported/);
  refused(group(Array.from({ length: MAX_ALERTS + 1 }, () => alert())), /1001 alerts \(at most 1000/);
  refused(group([alert(), 'x']), /alerts\[1\] must be an object/);
  refused(group([alert({ labels: 'a=b' })]), /alerts\[0\]\.labels must be an object/);
  refused(group([alert({ labels: ['a'] })]), /alerts\[0\]\.labels must be an object/);
  refused(group([alert({ labels: { a: 1 } })]), /alerts\[0\]\.labels\.a must be a string/);
  refused(group([alert({ annotations: 5 })]), /annotations must be an object/);
  refused(group([alert({ status: 'pending' })]), /status is 'pending' \(expected 'firing' or 'resolved'\)/);
  refused(group([alert({ status: undefined })], { status: undefined }), /status is missing/);
  refused(group([alert({ startsAt: undefined })]), /startsAt is missing/);
  refused(group([alert({ startsAt: 'yesterday' })]), /startsAt is not an rfc 3339/);
  refused(group([alert({ endsAt: 7 })]), /endsAt must be a string/);
  refused(group([alert({ fingerprint: 12 })]), /fingerprint must be a string/);
  refused(group([alert({ fingerprint: '' })]), /fingerprint is empty/);
  refused(group([alert(), alert({ labels: 1 }), alert({ startsAt: 2 })]), /alerts\[1\].*\(and 1 more\)/);
});

void test('problem lists are bounded and never echo label values', () => {
  const bad = Array.from({ length: MAX_ALERTS }, () => alert({ labels: { secretish: 42 } }));
  assert.throws(
    () => map(group(bad)),
    (error: unknown) =>
      isJunctionError(error, 'SOURCE_PAYLOAD_INVALID') &&
      Array.isArray(error.details?.problems) &&
      error.details.problems.length <= 20,
  );
  assert.throws(
    () => map(group([alert({ status: 'S3CRET'.repeat(100) })])),
    (error: unknown) => isJunctionError(error) && error.message.length < 300,
  );
});

void test('huge strings and odd keys do not crash the mapper', () => {
  const huge = 'x'.repeat(2_000_000);
  const { events } = map(
    group([alert({ labels: { alertname: huge }, annotations: { d: huge }, fingerprint: undefined })]),
  );
  assert.equal(events.length, 1);
  assert.match(String(dataOf(events[0]!.event).fingerprint), /^[0-9a-f]{16}$/);
  const proto = map(
    '{"version":"4","alerts":[' + JSON.stringify(alert()).replace('{', '{"__proto__":{"polluted":1},') + ']}',
  );
  assert.equal(proto.events.length, 1);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

void test('authenticate uses the configured credentials', () => {
  const basic = alertmanagerSource({ name: 'am', type: 'alertmanager', username: 'u', password: 'p:w' });
  basic.authenticate(req('{}', { authorization: `basic ${Buffer.from('u:p:w').toString('base64')}` }));
  assert.throws(
    () => basic.authenticate(req('{}')),
    (e: unknown) => isJunctionError(e, 'SOURCE_UNAUTHENTICATED'),
  );
  source.authenticate(req('{}', { authorization: 'bearer tok  ' }));
  assert.throws(
    () => source.authenticate(req('{}', { authorization: 'Bearer tok2' })),
    (e: unknown) => isJunctionError(e, 'SOURCE_UNAUTHENTICATED'),
  );
  assert.throws(
    () => alertmanagerSource({ name: 'am', type: 'alertmanager' }),
    (e: unknown) => isJunctionError(e, 'CONFIG_INVALID') && e.message.includes('sources[name=am]'),
  );
});
