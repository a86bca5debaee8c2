import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { createDockerHubSource } from './dockerhub.ts';
import type { HookRequest } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/dockerhub/payloads');
const present = fs.existsSync(fixtures);
const skip = present ? false : `docker hub fixtures not found at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping docker hub fixture tests: ${fixtures} is absent`);

const source = createDockerHubSource({ name: 'hub', type: 'dockerhub', auth: 'none' });

function req(body: unknown): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers: { 'content-type': 'application/json' }, body: bytes, receivedAt: new Date(0) };
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  assert.equal(typeof event.data, 'object');
  return event.data as Record<string, unknown>;
}

function delivery(
  push: Record<string, unknown> = {},
  repo: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    callback_url: 'https://registry.hub.docker.com/u/acme/api/hook/abc/',
    push_data: { pushed_at: 1764250000, pusher: 'ci-bot', tag: 'v2', images: [], ...push },
    repository: {
      repo_name: 'acme/api',
      namespace: 'acme',
      name: 'api',
      repo_url: 'https://hub.docker.com/r/acme/api',
      ...repo,
    },
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

void test('every fixture maps to one valid image.pushed', { skip }, () => {
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 1);
  for (const file of files) {
    const { events } = source.map(req(fs.readFileSync(path.join(fixtures, file))));
    assert.equal(events.length, 1, file);
    for (const { event } of events) validateCloudEvent(event);
  }
});

void test('fixture: the documented build notice maps its fields', { skip }, () => {
  const [first] = source.map(req(fs.readFileSync(path.join(fixtures, 'build-notice.json')))).events;
  assert.ok(first);
  const { event, dedupeKey } = first;
  assert.equal(event.type, 'image.pushed');
  assert.equal(event.source, 'dockerhub/hub');
  assert.equal(event.id, 'svendowideit/testhook:latest:1417566161');
  assert.equal(dedupeKey, 'dockerhub:hub:svendowideit/testhook:latest:1417566161');
  assert.equal(event.subject, 'svendowideit/testhook:latest');
  assert.equal(event.time, '2014-12-03T00:22:41.000Z');
  const data = dataOf(event);
  assert.equal(data.registry, 'docker.io');
  assert.equal(data.repository, 'svendowideit/testhook');
  assert.equal(data.namespace, 'svendowideit');
  assert.equal(data.name, 'testhook');
  assert.equal(data.tag, 'latest');
  assert.equal(data.actor, 'trustedbuilder');
  assert.equal(data.digest, null);
  assert.equal((data.payload as { callback_url: string }).callback_url.startsWith('https://'), true);
});

void test('the source refuses to start without auth: none', () => {
  for (const value of [undefined, false, 'None', 'true', 1, ['none']]) {
    assert.throws(
      () => createDockerHubSource({ name: 'x', type: 'dockerhub', auth: value }),
      (error: unknown) => isJunctionError(error, 'CONFIG_INVALID') && /add `auth: none`/.test(error.message),
    );
  }
  // The older spelling is no longer an opt-in.
  assert.throws(
    () => createDockerHubSource({ name: 'x', type: 'dockerhub', allowUnauthenticated: true }),
    (error: unknown) => isJunctionError(error, 'CONFIG_INVALID'),
  );
  source.authenticate(req({}));
});

void test('replays map to the same id; another push time is a new event', () => {
  const a = source.map(req(delivery()));
  assert.deepEqual(a, source.map(req(delivery())));
  const b = source.map(req(delivery({ pushed_at: 1764250001 })));
  assert.notEqual(a.events[0]?.event.id, b.events[0]?.event.id);
  assert.equal(a.events[0]?.event.subject, 'acme/api:v2');
});

void test('a callback_url not on registry.hub.docker.com is refused', () => {
  for (const url of [
    'http://registry.hub.docker.com/u/a/b/hook/x/',
    'https://registry.hub.docker.com.evil.example/u/a/',
    'https://registry.hub.docker.com@evil.example/',
    'https://registry.hub.docker.com:8443/u/a/',
    'https://evil.example/?registry.hub.docker.com',
    'not a url',
  ]) {
    refused(delivery({}, {}, { callback_url: url }), /callback_url must be an https url/);
  }
  refused(delivery({}, {}, { callback_url: undefined }), /callback_url must be a non-empty string/);
});

void test('hostile input is refused with SOURCE_PAYLOAD_INVALID', () => {
  refused('{"push_data":', /json/i);
  refused('', /empty/);
  refused('[1]', /must be a json object/);
  refused(delivery({}, {}, { push_data: [] }), /push_data must be an object/);
  refused(delivery({ tag: '' }), /push_data\.tag/);
  refused(delivery({ tag: 5 }), /push_data\.tag/);
  refused(delivery({ pushed_at: 'yesterday' }), /pushed_at must be a number/);
  refused(delivery({ pushed_at: -1 }), /pushed_at must be unix seconds/);
  refused(delivery({ pushed_at: undefined }), /pushed_at/);
  refused(delivery({}, { repo_name: null }), /repository\.repo_name/);
  refused(delivery({ tag: 't'.repeat(300) }), /longer than/);
  refused(delivery({ pusher: { name: 'x' } }), /push_data\.pusher must be a string/);
});
