import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { createSources, unauthenticatedSources } from './index.ts';
import { QUAY_MAX_TAGS, createQuaySource } from './quay.ts';
import type { HookRequest } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(repoRoot, 'test/fixtures/quay');
const source = createQuaySource({ name: 'quay', type: 'quay', auth: 'none' });
const receivedAt = new Date('2026-11-27T10:00:00.000Z');

function req(body: unknown, at: Date = receivedAt): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers: { 'content-type': 'application/json' }, body: bytes, receivedAt: at };
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  assert.equal(typeof event.data, 'object');
  return event.data as Record<string, unknown>;
}

function delivery(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'api',
    repository: 'acme/api',
    namespace: 'acme',
    docker_url: 'quay.io/acme/api',
    homepage: 'https://quay.io/repository/acme/api',
    updated_tags: ['v2'],
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

void test('fixture: a repo_push makes one valid image.pushed per updated tag', () => {
  const { events } = source.map(req(fs.readFileSync(path.join(fixtures, 'repo-push.json'))));
  assert.deepEqual(
    events.map(({ event }) => event.subject),
    ['acme-platform/billing-api:2.4.1', 'acme-platform/billing-api:latest'],
  );
  for (const { event } of events) validateCloudEvent(event);
  const [first] = events;
  assert.ok(first);
  assert.equal(first.event.type, 'image.pushed');
  assert.equal(first.event.source, 'quay/quay');
  assert.equal(first.event.id, 'acme-platform/billing-api:2.4.1:1795773600000');
  assert.equal(first.dedupeKey, 'quay:quay:acme-platform/billing-api:2.4.1:1795773600000');
  assert.equal(first.event.time, '2026-11-27T10:00:00.000Z');
  const data = dataOf(first.event);
  assert.equal(data.registry, 'quay.io');
  assert.equal(data.repository, 'acme-platform/billing-api');
  assert.equal(data.namespace, 'acme-platform');
  assert.equal(data.name, 'billing-api');
  assert.equal(data.tag, '2.4.1');
  assert.equal(data.digest, null);
  assert.equal(data.repo_url, 'https://quay.io/repository/acme-platform/billing-api');
  assert.deepEqual((data.payload as { updated_tags: string[] }).updated_tags, ['2.4.1', 'latest']);
});

void test('the source refuses to start without auth: none, and is listed as unauthenticated', () => {
  for (const value of [undefined, false, 'None', 'token', 1]) {
    assert.throws(
      () => createQuaySource({ name: 'x', type: 'quay', auth: value }),
      (error: unknown) => isJunctionError(error, 'CONFIG_INVALID') && /add `auth: none`/.test(error.message),
    );
  }
  assert.throws(
    () => createQuaySource({ name: 'x', type: 'quay', auth: 'none', registry: '' }),
    (error: unknown) => isJunctionError(error, 'CONFIG_INVALID') && /'registry'/.test(error.message),
  );
  const entries = [
    { name: 'gh', type: 'github', secret: 's' },
    { name: 'q', type: 'quay', auth: 'none' },
  ];
  assert.deepEqual([...createSources(entries).keys()], ['gh', 'q']);
  assert.deepEqual(unauthenticatedSources(entries), ['q']);
  source.authenticate(req({}));
});

void test('the same request maps to the same ids; a later push of the same tag is new', () => {
  const a = source.map(req(delivery()));
  assert.deepEqual(a, source.map(req(delivery())));
  const b = source.map(req(delivery(), new Date(receivedAt.getTime() + 1)));
  assert.notEqual(a.events[0]?.event.id, b.events[0]?.event.id);
  const twice = source.map(req(delivery({ updated_tags: ['v2', 'v2'] })));
  assert.equal(twice.events.length, 1);
});

void test('docker_url must name the configured registry host', () => {
  for (const url of [
    'quay.io.evil.example/acme/api',
    'evil.example/quay.io/acme/api',
    'quay.io@evil.example/acme/api',
    'quay.io:8443/acme/api',
    '/acme/api',
  ]) {
    assert.throws(() => source.map(req(delivery({ docker_url: url }))), /docker_url/, url);
  }
  assert.equal(source.map(req(delivery({ docker_url: 'https://QUAY.io/acme/api' }))).events.length, 1);
  const own = createQuaySource({ name: 'own', type: 'quay', auth: 'none', registry: 'quay.acme.io:8443' });
  const [mapped] = own.map(req(delivery({ docker_url: 'quay.acme.io:8443/acme/api' }))).events;
  assert.equal(mapped && dataOf(mapped.event).registry, 'quay.acme.io:8443');
  assert.throws(() => own.map(req(delivery())), /docker_url must name the registry quay\.acme\.io:8443/);
});

void test('other notifications and empty tag lists map to no event with a note', () => {
  const build = source.map(req({ build_id: 'b1', docker_tags: ['latest'], repository: 'acme/api' }));
  assert.deepEqual(build.events, []);
  assert.match(build.note ?? '', /not a quay repository push/);
  const empty = source.map(req(delivery({ updated_tags: [] })));
  assert.deepEqual(empty.events, []);
  assert.match(empty.note ?? '', /names no tag/);
});

void test('hostile input is refused with SOURCE_PAYLOAD_INVALID', () => {
  refused('{"updated_tags":', /json/i);
  refused('', /empty/);
  refused('[1]', /must be a json object/);
  refused(delivery({ updated_tags: 'latest' }), /updated_tags must be an array/);
  refused(delivery({ updated_tags: [5] }), /updated_tags\[0\]/);
  refused(delivery({ updated_tags: [''] }), /updated_tags\[0\]/);
  refused(delivery({ updated_tags: ['t'.repeat(300)] }), /updated_tags\[0\]/);
  refused(
    delivery({ updated_tags: Array.from({ length: QUAY_MAX_TAGS + 1 }, (_, i) => `t${i}`) }),
    /more than/,
  );
  refused(delivery({ repository: null }), /repository must be a non-empty string/);
  refused(delivery({ docker_url: 7 }), /docker_url/);
  refused(delivery({ namespace: { x: 1 } }), /namespace must be a string/);
  refused(delivery({ homepage: 'h'.repeat(3000) }), /longer than/);
});
