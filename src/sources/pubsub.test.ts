import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { PUBSUB_MAX_ATTRIBUTES, createPubSubSource } from './pubsub.ts';
import type { HookRequest, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/gcp-pubsub');
const present = fs.existsSync(fixtures);
const skip = present ? false : `pubsub fixtures not found at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping pubsub fixture tests: ${fixtures} is absent`);

const source = createPubSubSource({ name: 'gcp', type: 'pubsub', token: 'relay-token' });
const SUB = 'projects/p/subscriptions/s';

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers, body: bytes, receivedAt: new Date(0) };
}

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8')) as Record<string, unknown>;
}

function only(result: SourceResult): {
  event: CloudEvent;
  data: Record<string, unknown>;
  key: string | undefined;
} {
  assert.equal(result.events.length, 1);
  const mapped = result.events[0];
  assert.ok(mapped !== undefined);
  validateCloudEvent(mapped.event);
  return { event: mapped.event, data: mapped.event.data as Record<string, unknown>, key: mapped.dedupeKey };
}

function push(message: Record<string, unknown>, subscription: unknown = SUB): Record<string, unknown> {
  return {
    subscription,
    message: { messageId: 'm-1', publishTime: '2026-11-27T10:00:00.123Z', ...message },
  };
}

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');
}

function refused(body: unknown, pattern: RegExp): void {
  assert.throws(
    () => source.map(req(body)),
    (error: unknown) => {
      assert.ok(isJunctionError(error, 'SOURCE_PAYLOAD_INVALID'), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

void test('the bearer token is required and compared; Google OIDC tokens are not accepted', () => {
  assert.doesNotThrow(() => source.authenticate(req('{}', { authorization: 'Bearer relay-token' })));
  for (const headers of [
    {},
    { authorization: 'Bearer relay-toke' },
    { authorization: 'Bearer eyJhbGciOi.x.y' },
  ]) {
    assert.throws(
      () => source.authenticate(req('{}', headers)),
      (error: unknown) =>
        isJunctionError(error, 'SOURCE_UNAUTHENTICATED') && !/relay-token/.test(error.message),
    );
  }
  assert.throws(() => createPubSubSource({ name: 'x', type: 'pubsub' }), /sources\[name=x\]/);
});

void test('every push fixture maps to gcp.pubsub.message', { skip }, () => {
  for (const file of ['push-body.complex.json', 'push-body.simple.json', 'push-body.text.json']) {
    const raw = fixture(file);
    const { event, data, key } = only(source.map(req(fs.readFileSync(path.join(fixtures, file)))));
    const subscription = String(raw['subscription']);
    assert.equal(event.type, 'gcp.pubsub.message', file);
    assert.equal(event.id, 'message-id');
    assert.equal(event.source, `//pubsub.googleapis.com/${subscription}`);
    assert.equal(event.subject, subscription);
    assert.equal(event.time, '2021-02-05T04:06:14.109Z');
    assert.equal(key, `pubsub:${event.source}:message-id`);
    assert.deepEqual(data['payload'], raw);
  }
  const complex = only(source.map(req(fixture('push-body.complex.json'))));
  assert.equal(complex.data['data'], 'test message 3');
  assert.deepEqual(complex.data['attributes'], { attr1: 'attr1-value' });
  assert.equal(complex.data['orderingKey'], 'ordering-key');
  const simple = only(source.map(req(fixture('push-body.simple.json'))));
  assert.equal(simple.data['data'], '\u0001\u0002\u0003\u0004');
  assert.deepEqual(simple.data['attributes'], {});
});

void test('the structured CloudEvent fixture passes through, as a body and as message data', { skip }, () => {
  const raw = fixture('cloudevent.structured.messagePublished.json');
  const direct = only(source.map(req(raw)));
  assert.deepEqual(direct.event, raw);
  assert.equal(direct.key, undefined);
  const wrapped = only(source.map(req(push({ data: b64(raw) }))));
  assert.equal(wrapped.event.type, 'google.cloud.pubsub.topic.v1.messagePublished');
  assert.equal(wrapped.event.id, '3103425958877813');
  assert.deepEqual(wrapped.event, raw);
});

void test('JSON data is decoded; non-UTF-8 data is null and stays in the payload', () => {
  const json = only(source.map(req(push({ data: b64({ build: { status: 'SUCCESS' } }) }))));
  assert.deepEqual(json.data['data'], { build: { status: 'SUCCESS' } });
  const binary = only(source.map(req(push({ data: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') }))));
  assert.equal(binary.data['data'], null);
  const empty = only(source.map(req(push({}))));
  assert.equal(empty.data['data'], null);
  const snake = only(
    source.map(
      req({ subscription: SUB, message: { message_id: 'm-2', publish_time: '2026-01-01T00:00:00Z' } }),
    ),
  );
  assert.equal(snake.event.id, 'm-2');
});

void test('ce-* attributes make a binary-mode CloudEvent that keeps its own type', () => {
  const attributes = {
    'ce-specversion': '1.0',
    'ce-id': 'ce-42',
    'ce-source': '//example/app',
    'ce-type': 'com.example.deployed',
    'ce-datacontenttype': 'application/json',
    'ce-tenant': 'blue',
  };
  const { event, key } = only(source.map(req(push({ attributes, data: b64({ ok: true }) }))));
  assert.equal(event.type, 'com.example.deployed');
  assert.equal(event.id, 'ce-42');
  assert.equal(event['tenant'], 'blue');
  assert.deepEqual(event.data, { ok: true });
  assert.equal(key, undefined);
  const textEvent = only(
    source.map(
      req(push({ attributes: { ...attributes, 'ce-datacontenttype': 'text/plain' }, data: b64('hi') })),
    ),
  );
  assert.equal(textEvent.event.data, 'hi');
  const bin = only(
    source.map(
      req(
        push({
          attributes: { ...attributes, 'ce-datacontenttype': 'application/octet-stream' },
          data: 'AQID',
        }),
      ),
    ),
  );
  assert.equal(bin.event.data_base64, 'AQID');
  refused(push({ attributes: { 'ce-specversion': '1.0', 'ce-id': 'x' } }), /valid CloudEvent/);
  refused(push({ attributes: { ...attributes, 'ce-specversion': '0.3' } }), /valid CloudEvent/);
  refused(push({ attributes, data: b64('{oops') }), /not valid JSON/);
});

void test('redeliveries keep the id and dedupe key', () => {
  const a = only(source.map(req(push({ data: b64('x') }))));
  const b = only(source.map(req(push({ data: b64('x') }))));
  assert.deepEqual(a, b);
});

void test('hostile and malformed bodies are refused', () => {
  refused('nope', /not valid JSON/);
  refused([], /json object/);
  refused(push({}, null), /subscription/);
  refused(push({}, 'projects/p/topics/t'), /subscription/);
  refused({ subscription: SUB, message: 'x' }, /message must be an object/);
  refused(push({ messageId: '' }), /messageId/);
  refused(push({ publishTime: 'now' }), /publishTime/);
  refused(push({ data: 'not base64!' }), /base64/);
  refused(push({ data: 12 }), /base64/);
  refused(push({ attributes: [] }), /attributes must be an object/);
  refused(push({ attributes: { a: 1 } }), /attributes\.a must be a string/);
  const many = Object.fromEntries(
    Array.from({ length: PUBSUB_MAX_ATTRIBUTES + 1 }, (_, i) => [`k${i}`, 'v']),
  );
  refused(push({ attributes: many }), /at most/);
  refused(push({ messageId: 'a\nb' }), /valid CloudEvent/);
  refused({ specversion: '1.0', id: 'x' }, /structured CloudEvent/);
  refused(push({ data: b64({ specversion: '1.0', id: 'x', source: 's' }) }), /structured CloudEvent/);
});
