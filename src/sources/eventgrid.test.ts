import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { EVENTGRID_MAX_EVENTS, createEventGridSource, eventGridValidationCode } from './eventgrid.ts';
import type { HookRequest, MappedEvent, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/azure-eventgrid');
const present = fs.existsSync(fixtures);
const skip = present ? false : `event grid fixtures not found at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping event grid fixture tests: ${fixtures} is absent`);

const source = createEventGridSource({ name: 'azure', type: 'eventgrid', token: 'grid-token' });

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers, body: bytes, receivedAt: new Date(0) };
}

function fixture(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8')) as unknown;
}

function dataOf(mapped: MappedEvent | undefined): Record<string, unknown> {
  assert.ok(mapped !== undefined);
  validateCloudEvent(mapped.event);
  return mapped.event.data as Record<string, unknown>;
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

function gridEvent(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'g-1',
    topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    subject: '/blobServices/default/containers/c/blobs/b.txt',
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: '2026-11-27T10:00:00.1234567Z',
    data: { api: 'PutBlob' },
    dataVersion: '',
    metadataVersion: '1',
    ...extra,
  };
}

void test('the bearer token from the delivery property header is checked', () => {
  assert.doesNotThrow(() => source.authenticate(req('[]', { authorization: 'Bearer grid-token' })));
  for (const headers of [{}, { authorization: 'Bearer grid' }, { 'aeg-sas-key': 'grid-token' }]) {
    assert.throws(
      () => source.authenticate(req('[]', headers)),
      (error: unknown) =>
        isJunctionError(error, 'SOURCE_UNAUTHENTICATED') && !/grid-token/.test(error.message),
    );
  }
  assert.throws(() => createEventGridSource({ name: 'x', type: 'eventgrid' }), /sources\[name=x\]/);
});

void test('ACR image pushed, Event Grid schema → image.pushed', { skip }, () => {
  const raw = fixture('acr.image-pushed.eventgrid-schema.sdk-java.json') as Record<string, unknown>[];
  const result = source.map(
    req(fs.readFileSync(path.join(fixtures, 'acr.image-pushed.eventgrid-schema.sdk-java.json'))),
  );
  assert.equal(result.events.length, 1);
  const mapped = result.events[0];
  const data = dataOf(mapped);
  assert.equal(mapped?.event.type, 'image.pushed');
  assert.equal(mapped?.event.id, '56afc886-767b-d359-d59e-0da7877166b2');
  assert.equal(mapped?.event.source, raw[0]?.['topic']);
  assert.equal(mapped?.event.time, '2018-01-02T19:17:44.4383997Z');
  assert.equal(
    mapped?.dedupeKey,
    `eventgrid:${String(raw[0]?.['topic'])}:56afc886-767b-d359-d59e-0da7877166b2`,
  );
  assert.equal(data['registry'], 'test');
  assert.equal(data['repository'], 'test');
  assert.equal(data['tag'], 'test');
  assert.equal(data['digest'], 'digest1');
  assert.deepEqual(data['payload'], raw[0]);
});

void test('ACR image pushed, CloudEvents schema (array and single event) → image.pushed', { skip }, () => {
  const raw = fixture('acr.image-pushed.cloudevents-schema.json') as Record<string, unknown>[];
  for (const body of [raw, raw[0]]) {
    const result = source.map(req(body));
    assert.equal(result.events.length, 1);
    const mapped = result.events[0];
    const data = dataOf(mapped);
    assert.equal(mapped?.event.type, 'image.pushed');
    assert.equal(mapped?.event.id, '831e1650-001e-001b-66ab-eeb76e069631');
    assert.equal(mapped?.event.subject, 'aci-helloworld:v1');
    assert.match(mapped?.event.source ?? '', /^\/subscriptions\/%3Csubscription-id%3E\/resourceGroups\//);
    assert.equal(data['registry'], 'demo.azurecr.io');
    assert.equal(data['repository'], 'aci-helloworld');
    assert.equal(data['tag'], 'v1');
    assert.equal(data['digest'], 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5');
    assert.equal(data['media_type'], 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(data['payload'], raw[0]);
  }
});

void test('the subscription validation handshake maps to nothing and exposes the code', { skip }, () => {
  const wrapper = fixture('subscription-validation.eventgrid-schema.json') as Record<string, unknown>;
  const body = Buffer.from(JSON.stringify(wrapper['body']));
  const result = source.map(req(body, { 'aeg-event-type': 'SubscriptionValidation' }));
  assert.equal(result.events.length, 0);
  assert.match(result.note ?? '', /subscription validation/);
  const expected = wrapper['expected_response'] as Record<string, unknown>;
  assert.deepEqual({ validationResponse: eventGridValidationCode(body) }, expected);
});

void test('validation hostile cases: mixed batches, bad codes; the code helper never throws', () => {
  const validation = gridEvent({
    eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
    data: { validationCode: 'abc' },
  });
  assert.equal(eventGridValidationCode(Buffer.from(JSON.stringify([validation]))), 'abc');
  refused([validation, gridEvent()], /must hold one event/);
  refused([{ ...validation, data: { validationCode: 'a b\n' } }], /validationCode/);
  refused([{ ...validation, data: {} }], /validationCode/);
  for (const body of [
    '',
    '{',
    '[1]',
    JSON.stringify([gridEvent()]),
    JSON.stringify([validation, validation]),
  ]) {
    assert.equal(eventGridValidationCode(Buffer.from(body)), undefined, body);
  }
});

void test('other event types → infra.changed with provider azure, in order', () => {
  const result = source.map(req([gridEvent(), gridEvent({ id: 'g-2', subject: '' })]));
  assert.equal(result.events.length, 2);
  const first = dataOf(result.events[0]);
  assert.equal(result.events[0]?.event.type, 'infra.changed');
  assert.equal(first['provider'], 'azure');
  assert.equal(first['resource'], '/blobServices/default/containers/c/blobs/b.txt');
  assert.equal(first['kind'], 'Microsoft.Storage.BlobCreated');
  assert.deepEqual(first['detail'], { api: 'PutBlob' });
  const second = dataOf(result.events[1]);
  assert.equal(second['resource'], gridEvent()['topic']);
  assert.equal(result.events[1]?.event.id, 'g-2');
});

void test('redeliveries keep ids and dedupe keys; an empty batch is a note', () => {
  assert.deepEqual(source.map(req([gridEvent()])), source.map(req([gridEvent()])));
  const empty = source.map(req([]));
  assert.equal(empty.events.length, 0);
  assert.match(empty.note ?? '', /no events/);
});

void test('hostile and malformed deliveries are refused as a whole', () => {
  refused('not json', /not valid JSON/);
  refused({ eventType: 'x' }, /array of events or one CloudEvent/);
  refused('"text"', /array of events or one CloudEvent/);
  refused([gridEvent(), 'x'], /\[1\] must be an object/);
  refused([gridEvent({ id: '' })], /\[0\]\.id/);
  refused([gridEvent({ topic: undefined })], /\[0\]\.topic/);
  refused([gridEvent({ eventTime: 'soon' })], /eventTime/);
  refused([gridEvent({ subject: 5 })], /subject must be a string/);
  refused([gridEvent({ id: 'a\u0000b' })], /valid CloudEvent/);
  refused(
    [gridEvent({ eventType: 'Microsoft.ContainerRegistry.ImagePushed', data: { target: {} } })],
    /target and request/,
  );
  refused([{ specversion: '1.0', id: 'x', type: 't' }], /\[0\]\.source/);
  refused([{ specversion: '1.0', id: 'x', source: 's' }], /valid CloudEvent/);
  refused([{ specversion: '1.0', id: 'x', type: 't', source: 's' }], /time is missing/);
  refused([gridEvent({ topic: '/t/\ud800' })], /unpaired surrogate/);
  const odd = source.map(req([gridEvent({ topic: '/a b/100%/%41' })]));
  assert.equal(odd.events[0]?.event.source, '/a%20b/100%25/%41');
  refused(
    Array.from({ length: EVENTGRID_MAX_EVENTS + 1 }, () => 0),
    /at most/,
  );
});

void test('every fixture maps or is the handshake', { skip }, () => {
  for (const file of fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'))) {
    const raw = fixture(file) as Record<string, unknown>;
    const body = file.startsWith('subscription-validation') ? raw['body'] : raw;
    const result: SourceResult = source.map(req(body));
    assert.ok(result.events.length > 0 || result.note !== undefined, file);
    for (const mapped of result.events) validateCloudEvent(mapped.event);
  }
});
