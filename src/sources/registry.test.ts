import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { REGISTRY_EVENTS_MEDIA_TYPE, REGISTRY_MAX_EVENTS, createRegistrySource } from './registry.ts';
import type { HookRequest, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/registry-distribution/payloads');
const present = fs.existsSync(fixtures);
const skip = present ? false : `registry fixtures not found at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping registry fixture tests: ${fixtures} is absent`);

const source = createRegistrySource({ name: 'hub', type: 'registry', token: 'reg-token' });
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    headers: { 'content-type': REGISTRY_EVENTS_MEDIA_TYPE, ...headers },
    body: bytes,
    receivedAt: new Date(0),
  };
}

function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixtures, name));
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  assert.equal(typeof event.data, 'object');
  return event.data as Record<string, unknown>;
}

function entry(
  extra: Record<string, unknown> = {},
  target: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: 'e-1',
    timestamp: '2026-11-27T15:14:26.694241032Z',
    action: 'push',
    target: {
      mediaType: MANIFEST,
      size: 349,
      digest: 'sha256:2e51a17f',
      repository: 'demo/busybox',
      tag: 'v1',
      ...target,
    },
    request: { host: '127.0.0.1:15000', method: 'PUT' },
    actor: {},
    ...extra,
  };
}

function refused(body: unknown, pattern: RegExp, headers: Record<string, string> = {}): void {
  assert.throws(
    () => source.map(req(body, headers)),
    (error: unknown) => {
      assert.ok(isJunctionError(error, 'SOURCE_PAYLOAD_INVALID'), String(error));
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

function unauthenticated(headers: Record<string, string>): void {
  assert.throws(
    () => source.authenticate(req({ events: [] }, headers)),
    (error: unknown) =>
      isJunctionError(error, 'SOURCE_UNAUTHENTICATED') && !error.message.includes('reg-token'),
  );
}

void test('fixture: a batched push maps the manifest and skips the blobs', { skip }, () => {
  const result: SourceResult = source.map(req(fixture('envelope.push.batched.event_test.json')));
  assert.equal(result.events.length, 1);
  assert.equal(result.note, 'skipped 2 blob pushes');
  const [first] = result.events;
  assert.ok(first);
  const { event, dedupeKey } = first;
  validateCloudEvent(event);
  assert.equal(event.type, 'image.pushed');
  assert.equal(event.id, 'asdf-asdf-asdf-asdf-0');
  assert.equal(event.source, 'registry/hub');
  assert.equal(event.time, '2006-01-02T15:04:05Z');
  assert.equal(event.subject, 'library/test@sha256:0123456789abcdef0');
  assert.equal(dedupeKey, 'registry:hub:asdf-asdf-asdf-asdf-0');
  const data = dataOf(event);
  assert.equal(data.registry, 'registrycluster.local');
  assert.equal(data.repository, 'library/test');
  assert.equal(data.tag, null);
  assert.equal(data.digest, 'sha256:0123456789abcdef0');
  assert.equal(data.media_type, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(data.size, 1);
  assert.equal(data.actor, 'test-actor');
  assert.equal((data.payload as { id: string }).id, 'asdf-asdf-asdf-asdf-0');
});

void test('fixture: a pull is skipped with a note', { skip }, () => {
  const result = source.map(req(fixture('envelope.pull.single.docs.json')));
  assert.deepEqual(result.events, []);
  assert.equal(result.note, 'skipped 1 pull');
});

void test('fixture: a delete target (wrapped in an envelope) maps to image.deleted', { skip }, () => {
  const fragment = JSON.parse(fixture('delete-target.fragment.docs.json').toString('utf8')) as {
    target: Record<string, unknown>;
  };
  const body = {
    events: [{ id: 'd-1', action: 'delete', target: fragment.target, request: { host: 'r.example' } }],
  };
  const [first] = source.map(req(body)).events;
  assert.ok(first);
  validateCloudEvent(first.event);
  assert.equal(first.event.type, 'image.deleted');
  assert.equal(
    first.event.subject,
    'library/test@sha256:d89e1bee20d9cb344674e213b581f14fbd8e70274ecf9d10c514bab78a307845',
  );
  assert.equal(dataOf(first.event).media_type, null);
  assert.equal(dataOf(first.event).registry, 'r.example');
  assert.equal(first.event.time, undefined);
});

void test('a tagged push maps tag, subject, and the registry setting overrides request.host', () => {
  const named = createRegistrySource({
    name: 'r',
    type: 'registry',
    token: 't',
    registry: 'registry.example.com',
  });
  const [first] = named.map(req({ events: [entry({ actor: { name: 'ci' } })] })).events;
  assert.ok(first);
  assert.equal(first.event.subject, 'demo/busybox:v1');
  assert.equal(dataOf(first.event).registry, 'registry.example.com');
  assert.equal(dataOf(first.event).tag, 'v1');
  assert.equal(dataOf(first.event).actor, 'ci');
  const [plain] = source.map(req({ events: [entry()] })).events;
  assert.equal(plain && dataOf(plain.event).registry, '127.0.0.1:15000');
  assert.equal(plain && dataOf(plain.event).actor, null);
});

void test('index and docker v2 manifests map; a tag-only delete maps; mounts are skipped', () => {
  const result = source.map(
    req({
      events: [
        entry({ id: 'a' }, { mediaType: 'application/vnd.oci.image.index.v1+json' }),
        entry({ id: 'b' }, { mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json' }),
        entry({ id: 'c', action: 'delete' }, { mediaType: undefined, digest: undefined }),
        entry({ id: 'd', action: 'mount' }),
        entry({ id: 'e', action: 'pull' }),
      ],
    }),
  );
  assert.deepEqual(
    result.events.map((e) => [e.event.id, e.event.type]),
    [
      ['a', 'image.pushed'],
      ['b', 'image.pushed'],
      ['c', 'image.deleted'],
    ],
  );
  assert.equal(result.note, 'skipped 1 pull, 1 other action');
});

void test('authentication: bearer token, and basic auth when configured', () => {
  source.authenticate(req({ events: [] }, { authorization: 'Bearer reg-token' }));
  unauthenticated({});
  unauthenticated({ authorization: 'Bearer reg-token-x' });
  unauthenticated({ authorization: 'Basic cmVnLXRva2Vu' });
  const basic = createRegistrySource({ name: 'b', type: 'registry', username: 'u', password: 'p:w' });
  basic.authenticate(req({}, { authorization: `Basic ${Buffer.from('u:p:w').toString('base64')}` }));
  assert.throws(
    () => basic.authenticate(req({}, { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })),
    (error: unknown) => isJunctionError(error, 'SOURCE_UNAUTHENTICATED'),
  );
});

void test('settings: missing credentials and a bad registry setting are CONFIG_INVALID', () => {
  assert.throws(
    () => createRegistrySource({ name: 'x', type: 'registry' }),
    (error: unknown) => isJunctionError(error, 'CONFIG_INVALID'),
  );
  assert.throws(
    () => createRegistrySource({ name: 'x', type: 'registry', token: 't', registry: 5 }),
    (error: unknown) => isJunctionError(error, 'CONFIG_INVALID') && /registry/.test(error.message),
  );
});

void test('replays map to the same ids and dedupe keys', () => {
  const body = { events: [entry()] };
  const a = source.map(req(body));
  const b = source.map(req(body));
  assert.deepEqual(a, b);
  assert.equal(a.events[0]?.dedupeKey, 'registry:hub:e-1');
});

void test('hostile input is refused with SOURCE_PAYLOAD_INVALID', () => {
  refused('{"events": [', /json/i);
  refused('', /empty/);
  refused(Buffer.from([0xff, 0xfe, 0x00]), /utf-8|json/i);
  refused([], /must be a json object/);
  refused({}, /'events' as an array/);
  refused({ events: {} }, /'events' as an array/);
  refused({ events: [1] }, /events\[0\] must be an object/);
  refused({ events: [entry({ id: '' })] }, /events\[0\]\.id/);
  refused({ events: [entry({ id: 7 })] }, /events\[0\]\.id/);
  refused({ events: [entry({ target: 'x' })] }, /events\[0\]\.target must be an object/);
  refused({ events: [entry({}, { repository: ['a'] })] }, /target\.repository/);
  refused({ events: [entry({}, { digest: undefined })] }, /digest/);
  refused(
    { events: [entry({ action: 'delete' }, { tag: undefined, digest: undefined })] },
    /digest or a tag/,
  );
  refused({ events: [entry({}, { size: 'big' })] }, /target\.size must be a number/);
  refused({ events: [entry(), entry({ request: 'x' })] }, /events\[1\]\.request/);
  refused({ events: [entry({}, { repository: 'r'.repeat(5000) })] }, /longer than/);
  refused({ events: [entry()] }, /must be sent as/, { 'content-type': 'text/plain' });
  const many = Array.from({ length: REGISTRY_MAX_EVENTS + 1 }, (_, i) => entry({ id: `e${i}` }));
  refused({ events: many }, /at most 1000/);
  let deep = '[]';
  for (let i = 0; i < 200; i++) deep = `[${deep}]`;
  refused(`{"events": ${deep}}`, /depth|deep|nest/i);
});

void test('exactly the bound is accepted, and an empty envelope carries a note', () => {
  const many = Array.from({ length: REGISTRY_MAX_EVENTS }, (_, i) => entry({ id: `e${i}` }));
  assert.equal(source.map(req({ events: many })).events.length, REGISTRY_MAX_EVENTS);
  assert.equal(source.map(req({ events: [] })).note, 'registry notification holds no events');
  assert.equal(
    source.map(req({ events: [entry()] }, { 'content-type': 'application/json; charset=utf-8' })).events
      .length,
    1,
  );
});
