import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { HARBOR_MAX_RESOURCES, createHarborSource } from './harbor.ts';
import type { HookRequest, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/harbor/payloads');
const present = fs.existsSync(fixtures);
const skip = present ? false : `harbor fixtures not found at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping harbor fixture tests: ${fixtures} is absent`);

const source = createHarborSource({ name: 'h', type: 'harbor', token: 'Bearer harbor-secret' });
const DIGEST = 'sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4';

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers, body: bytes, receivedAt: new Date(0) };
}

function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixtures, name));
}

function mapFixture(name: string): SourceResult {
  return source.map(req(fixture(name)));
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  assert.equal(typeof event.data, 'object');
  return event.data as Record<string, unknown>;
}

function push(resources: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'PUSH_ARTIFACT',
    occur_at: 1680501893,
    operator: 'admin',
    event_data: {
      resources,
      repository: {
        name: 'alpine',
        namespace: 'harbor',
        repo_full_name: 'harbor/alpine',
        repo_type: 'private',
      },
    },
    ...extra,
  };
}

function resource(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { digest: DIGEST, tag: '3.8', resource_url: 'harbor.example.com/harbor/alpine:3.8', ...extra };
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

void test('every fixture maps to valid events or a note', { skip }, () => {
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 10);
  let mapped = 0;
  for (const file of files) {
    const result = mapFixture(file);
    if (result.events.length === 0) assert.match(result.note ?? '', /is not mapped/, file);
    for (const { event, dedupeKey } of result.events) {
      validateCloudEvent(event);
      assert.match(event.type, /^(image\.pushed|image\.deleted|security\.scan\.completed)$/, file);
      assert.equal(dedupeKey, `harbor:h:${event.id}`);
      mapped += 1;
    }
  }
  assert.equal(mapped, 4);
  assert.match(mapFixture('PULL_ARTIFACT.default.json').note ?? '', /'PULL_ARTIFACT' is not mapped/);
  assert.match(mapFixture('SCANNING_STOPPED.cloudevents.json').note ?? '', /'harbor\.scan\.stopped'/);
});

void test('fixture: a push by digest (default format) maps with a null tag', { skip }, () => {
  const [first] = mapFixture('PUSH_ARTIFACT.default.json').events;
  assert.ok(first);
  const { event } = first;
  assert.equal(event.type, 'image.pushed');
  assert.equal(event.source, 'harbor/h');
  assert.match(event.id, /^harbor-[0-9a-f]{32}$/);
  assert.equal(event.time, '2023-04-03T06:04:53.000Z');
  assert.equal(event.subject, `harbor/alpine@${DIGEST}`);
  const data = dataOf(event);
  assert.equal(data.registry, 'localhost');
  assert.equal(data.repository, 'harbor/alpine');
  assert.equal(data.namespace, 'harbor');
  assert.equal(data.name, 'alpine');
  assert.equal(data.tag, null);
  assert.equal(data.digest, DIGEST);
  assert.equal(data.actor, 'harbor-jobservice');
  assert.equal((data.payload as { type: string }).type, 'PUSH_ARTIFACT');
  assert.equal(mapFixture('PUSH_ARTIFACT.default.json').events[0]?.event.id, event.id);
});

void test('fixture: a delete (cloudevents format) maps with the harbor id', { skip }, () => {
  const [first] = mapFixture('DELETE_ARTIFACT.cloudevents.json').events;
  assert.ok(first);
  assert.equal(first.event.type, 'image.deleted');
  assert.equal(first.event.id, '343f1623-7cba-487c-88f1-c5ebf55e93aa:0');
  assert.equal(first.event.time, '2023-04-03T06:16:38Z');
  assert.equal(first.event.subject, 'harbor/alpine:3.8');
  assert.equal(dataOf(first.event).tag, '3.8');
  assert.equal(dataOf(first.event).resource_url, 'localhost/harbor/alpine:3.8');
});

void test('fixture: a completed scan maps to security.scan.completed with a summary', { skip }, () => {
  for (const file of ['SCANNING_COMPLETED.default.json', 'SCANNING_COMPLETED.cloudevents.json']) {
    const [first] = mapFixture(file).events;
    assert.ok(first, file);
    assert.equal(first.event.type, 'security.scan.completed');
    const data = dataOf(first.event);
    assert.equal(data.scan_status, 'Success');
    assert.equal(data.severity, 'None');
    assert.equal(data.total, 0);
    assert.equal(data.fixable, 0);
    assert.deepEqual(data.scanner, { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.37.2' });
    assert.equal((data.reports as unknown[]).length, 1);
    assert.equal(data.actor, 'auto');
  }
});

void test('authentication compares the whole authorization header', () => {
  source.authenticate(req({}, { authorization: 'Bearer harbor-secret' }));
  for (const header of [
    'harbor-secret',
    'bearer harbor-secret',
    'Bearer harbor-secret ',
    'Bearer harbor-secreT',
    '',
  ]) {
    assert.throws(
      () => source.authenticate(req({}, { authorization: header })),
      (error: unknown) =>
        isJunctionError(error, 'SOURCE_UNAUTHENTICATED') && !error.message.includes('harbor-secret'),
      header,
    );
  }
  assert.throws(
    () => source.authenticate(req({})),
    (error: unknown) => isJunctionError(error, 'SOURCE_UNAUTHENTICATED'),
  );
  for (const token of [undefined, '']) {
    assert.throws(
      () => createHarborSource({ name: 'x', type: 'harbor', ...(token === undefined ? {} : { token }) }),
      (error: unknown) => isJunctionError(error, 'CONFIG_INVALID'),
    );
  }
});

void test('one event per resource, with distinct stable ids; the registry setting wins', () => {
  const named = createHarborSource({ name: 'h', type: 'harbor', token: 't', registry: 'harbor.acme.io' });
  const body = push([
    resource(),
    resource({ tag: 'latest', resource_url: 'harbor.example.com/harbor/alpine:latest' }),
  ]);
  const a = named.map(req(body));
  assert.equal(a.events.length, 2);
  assert.notEqual(a.events[0]?.event.id, a.events[1]?.event.id);
  assert.deepEqual(a, named.map(req(body)));
  assert.equal(a.events[1] && dataOf(a.events[1].event).registry, 'harbor.acme.io');
  const [plain] = source.map(req(push([resource()]))).events;
  assert.equal(plain && dataOf(plain.event).registry, 'harbor.example.com');
  const later = source.map(req(push([resource()], { occur_at: 1680501894 }))).events[0];
  assert.notEqual(later?.event.id, plain?.event.id);
  assert.equal(source.map(req(push([]))).note, 'harbor PUSH_ARTIFACT delivery holds no resources');
});

void test('hostile input is refused with SOURCE_PAYLOAD_INVALID', () => {
  refused('{"type":', /json/i);
  refused('', /empty/);
  refused('"PUSH_ARTIFACT"', /must be a json object/);
  refused({ event_data: {} }, /type must be a non-empty string/);
  refused({ type: ['PUSH_ARTIFACT'] }, /type must be a string/);
  refused(push(undefined), /event_data\.resources must be an array/);
  refused(push({}), /event_data\.resources must be an array/);
  refused(push(['x']), /resources\[0\] must be an object/);
  refused(push([resource({ digest: undefined })]), /resources\[0\]\.digest/);
  refused(push([resource({ tag: 1 })]), /resources\[0\]\.tag must be a string/);
  refused(push([resource()], { event_data: { resources: [resource()] } }), /repository must be an object/);
  refused(push([resource()], { occur_at: 'now' }), /occur_at must be a number/);
  refused({ specversion: '1.0', type: 'harbor.artifact.pushed', data: { resources: [] } }, /id must be/);
  refused(
    {
      type: 'SCANNING_COMPLETED',
      occur_at: 1,
      event_data: { resources: [{ digest: DIGEST }], repository: { repo_full_name: 'a/b' } },
    },
    /scan_overview must be an object/,
  );
  refused(push(Array.from({ length: HARBOR_MAX_RESOURCES + 1 }, () => resource())), /at most 1000/);
});
