import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import type { HookRequest, Source, SourceSettings } from './source.ts';
import { createWebhookSource } from './webhook.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const vectorFile = path.resolve(repoRoot, '../shared/fixtures/standard-webhooks/reference.vector.json');
const present = fs.existsSync(vectorFile);
const skip = present ? false : `standard webhooks vector not found at ${vectorFile}`;
if (!present) console.log(`# NOTICE: skipping standard webhooks vector tests: ${vectorFile} is absent`);

interface Vector {
  secret: string;
  headers: Record<string, string>;
  body_raw: string;
}

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const KEY = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
const NOW = 1_700_000_000;

function source(extra: Partial<SourceSettings> = {}, map: unknown = { type: "'deploy.requested'" }): Source {
  return createWebhookSource({ name: 'hooky', type: 'webhook', secret: SECRET, map, ...extra });
}

function sign(id: string, timestamp: string, body: string, key: Buffer = KEY): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

function signed(body: unknown, options: { id?: string; at?: number; now?: number } = {}): HookRequest {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const id = options.id ?? 'msg_1';
  const timestamp = String(options.at ?? NOW);
  return {
    headers: {
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': sign(id, timestamp, text),
    },
    body: Buffer.from(text),
    receivedAt: new Date((options.now ?? NOW) * 1000),
  };
}

function refused(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isJunctionError(error), String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

void test('the standard webhooks reference vector verifies at its own time', { skip }, () => {
  const vector = JSON.parse(fs.readFileSync(vectorFile, 'utf8')) as Vector;
  const at = Number(vector.headers['webhook-timestamp']);
  const hook = createWebhookSource({
    name: 'v',
    type: 'webhook',
    secret: vector.secret,
    map: { type: "'x.y'" },
  });
  const request = (now: number, headers = vector.headers, body = vector.body_raw): HookRequest => ({
    headers,
    body: Buffer.from(body),
    receivedAt: new Date(now * 1000),
  });
  hook.authenticate(request(at));
  hook.authenticate(request(at + 300));
  refused(
    () => hook.authenticate(request(at + 301)),
    'SOURCE_UNAUTHENTICATED',
    /301s old.*tolerance of 300s/,
  );
  refused(() => hook.authenticate(request(at - 301)), 'SOURCE_UNAUTHENTICATED', /in the future/);
  // one byte of the body changed: the signature is for other content
  const other = vector.body_raw.replace('2432232314', '2432232315');
  refused(() => hook.authenticate(request(at, vector.headers, other)), 'SOURCE_UNAUTHENTICATED', /refused/);
  // the same signature presented as v2 only is not accepted
  const v2 = {
    ...vector.headers,
    'webhook-signature': vector.headers['webhook-signature']!.replace('v1,', 'v2,'),
  };
  refused(() => hook.authenticate(request(at, v2)), 'SOURCE_UNAUTHENTICATED', /refused/);
  // several entries: any one may match
  const several = {
    ...vector.headers,
    'webhook-signature': `v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,xyz ${vector.headers['webhook-signature']!}`,
  };
  hook.authenticate(request(at, several));
  const [event] = hook.map(request(at)).events;
  assert.equal(event?.event.id, 'msg_p5jXN8AQM9LWM0D4loKWxJek');
  assert.equal(event?.event.time, new Date(at * 1000).toISOString());
  assert.deepEqual(event?.event.data, { test: 2432232314 });
});

void test('missing or malformed signature headers are refused without saying which', () => {
  const hook = source();
  const good = signed({ a: 1 });
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const headers = { ...good.headers, [name]: undefined };
    refused(
      () => hook.authenticate({ ...good, headers }),
      'SOURCE_UNAUTHENTICATED',
      /webhook-id, webhook-timestamp or webhook-signature/,
    );
  }
  for (const signature of ['', 'v1,', 'v1,!!!!', 'v1', ' ', 'v1,'.padEnd(5000, 'A')]) {
    const headers = { ...good.headers, 'webhook-signature': signature };
    refused(() => hook.authenticate({ ...good, headers }), 'SOURCE_UNAUTHENTICATED', /refused/);
  }
  const otherKey = createHash('sha256').update('other').digest();
  const wrong = { ...good.headers, 'webhook-signature': sign('msg_1', String(NOW), '{"a":1}', otherKey) };
  refused(() => hook.authenticate({ ...good, headers: wrong }), 'SOURCE_UNAUTHENTICATED', /refused/);
  // a timestamp that is not digits is refused as unauthenticated, not parsed
  const odd = { ...good.headers, 'webhook-timestamp': '1e9' };
  refused(() => hook.authenticate({ ...good, headers: odd }), 'SOURCE_UNAUTHENTICATED', /refused/);
  hook.authenticate(good);
});

void test('the tolerance window is configurable and a stale message never reaches an unsigned sender', () => {
  const hook = source({ tolerance: 10 });
  hook.authenticate(signed({ a: 1 }, { at: NOW - 10 }));
  refused(
    () => hook.authenticate(signed({ a: 1 }, { at: NOW - 11 })),
    'SOURCE_UNAUTHENTICATED',
    /11s old.*tolerance of 10s/,
  );
  refused(
    () => hook.authenticate(signed({ a: 1 }, { at: NOW + 3600 })),
    'SOURCE_UNAUTHENTICATED',
    /3600s in the future/,
  );
  // a badly signed stale request gets the generic answer, not the clock message
  const stale = signed({ a: 1 }, { at: NOW - 9999 });
  const headers = { ...stale.headers, 'webhook-signature': 'v1,AAAA' };
  refused(() => hook.authenticate({ ...stale, headers }), 'SOURCE_UNAUTHENTICATED', /missing or wrong/);
});

void test('bad settings are CONFIG_INVALID, listing every problem and never the secret', () => {
  const bad = (settings: Partial<SourceSettings>, pattern: RegExp): void => {
    refused(
      () => createWebhookSource({ name: 'w', type: 'webhook', map: { type: "'a.b'" }, ...settings }),
      'CONFIG_INVALID',
      pattern,
    );
  };
  bad({ secret: 'whsec_not base64!' }, /'secret' must be 'whsec_' followed by base64/);
  bad({ secret: 'whsec_c2hvcnQ=' }, /decodes to 5 bytes/);
  bad({ secret: SECRET, token: 't' }, /not both/);
  bad({}, /needs 'secret' \(standard webhooks\) or 'token'/);
  bad({ secret: SECRET, tolerance: 0 }, /'tolerance' must be a whole number/);
  bad({ token: 't', tolerance: 60 }, /'tolerance' applies only with 'secret'/);
  bad({ token: 't', map: undefined }, /needs 'map'/);
  bad({ token: 't', map: { subject: 'body.x' } }, /'map.type' is required/);
  bad({ token: 't', map: { type: "'a.b'", kind: 'x' } }, /'map.kind' is not known/);
  bad(
    { token: 't', map: { type: 'body.(' } },
    /^sources\[name=w\]\.map\.type: expression 'body\.\(' is not valid CEL/,
  );
  bad({ token: 't', map: { type: "'a.b'", data: 'bogus.x' } }, /sources\[name=w\]\.map\.data: .*bogus/);
  refused(
    () => createWebhookSource({ name: 'w', type: 'webhook', secret: 'whsec_###', map: {} }),
    'CONFIG_INVALID',
    /secret.*; .*map\.type/,
  );
  assert.throws(
    () =>
      createWebhookSource({ name: 'w', type: 'webhook', secret: 'whsec_top$ecret', map: { type: "'a.b'" } }),
    (error: unknown) => error instanceof Error && !error.message.includes('top$ecret'),
  );
});

void test('map builds the event from the expressions and keeps the original under payload', () => {
  const hook = source(
    {},
    {
      type: "'deploy.' + body.action",
      subject: 'body.service',
      data: "{'service': body.service, 'by': headers['x-user']}",
    },
  );
  const body = { action: 'requested', service: 'api', extra: [1, 2] };
  const request = signed(body);
  const withHeader = {
    ...request,
    headers: { ...request.headers, 'x-user': 'ana', authorization: 'Bearer s3cr3t' },
  };
  const result = hook.map(withHeader);
  assert.equal(result.events.length, 1);
  const mapped = result.events[0]!;
  assert.equal(mapped.event.type, 'deploy.requested');
  assert.equal(mapped.event.subject, 'api');
  assert.equal(mapped.event.source, 'webhook/hooky');
  assert.equal(mapped.event.id, 'msg_1');
  assert.equal(mapped.dedupeKey, 'webhook:hooky:msg_1');
  assert.deepEqual(mapped.event.data, { service: 'api', by: 'ana', payload: body });
  validateCloudEvent(mapped.event);
  // the same delivery maps to the same id and dedupe key (a replay is stored once)
  assert.deepEqual(hook.map(withHeader), result);
});

void test('expressions never see the authorization header', () => {
  const hook = createWebhookSource({
    name: 't',
    type: 'webhook',
    token: 's3cr3t',
    map: { type: "'a.b'", data: "{'auth': 'authorization' in headers}" },
  });
  const request: HookRequest = {
    headers: { authorization: 'Bearer s3cr3t' },
    body: Buffer.from('[1,2]'),
    receivedAt: new Date(),
  };
  hook.authenticate(request);
  const [mapped] = hook.map(request).events;
  assert.deepEqual(mapped?.event.data, { auth: false, payload: [1, 2] });
});

void test('token scheme: bearer checked, id is the sha-256 of the body, data defaults to the body', () => {
  const hook = createWebhookSource({ name: 't', type: 'webhook', token: 'tok', map: { type: "'a.b'" } });
  const body = Buffer.from('{"k":"v"}');
  const request: HookRequest = { headers: { authorization: 'Bearer tok' }, body, receivedAt: new Date() };
  hook.authenticate(request);
  refused(
    () => hook.authenticate({ ...request, headers: { authorization: 'Bearer nope' } }),
    'SOURCE_UNAUTHENTICATED',
    /refused/,
  );
  refused(() => hook.authenticate({ ...request, headers: {} }), 'SOURCE_UNAUTHENTICATED', /refused/);
  const [mapped] = hook.map(request).events;
  const digest = createHash('sha256').update(body).digest('hex');
  assert.equal(mapped?.event.id, digest);
  assert.equal(mapped?.dedupeKey, `webhook:t:${digest}`);
  assert.deepEqual(mapped?.event.data, { k: 'v' });
  assert.equal(mapped?.event.time, undefined);
  // a webhook-id header without the signing scheme is not trusted as the id
  const [again] = hook.map({ ...request, headers: { ...request.headers, 'webhook-id': 'x' } }).events;
  assert.equal(again?.event.id, digest);
});

void test('map.id sets the id; different deliveries with the same mapped id share a dedupe key', () => {
  const hook = source({}, { type: "'a.b'", id: 'body.delivery' });
  const first = hook.map(signed({ delivery: 'd-1', n: 1 }, { id: 'msg_a' })).events[0];
  const second = hook.map(signed({ delivery: 'd-1', n: 2 }, { id: 'msg_b' })).events[0];
  assert.equal(first?.event.id, 'd-1');
  assert.equal(first?.dedupeKey, second?.dedupeKey);
  refused(
    () => hook.map(signed({ delivery: '' })),
    'SOURCE_PAYLOAD_INVALID',
    /map\.id returned an id that is empty/,
  );
  refused(() => hook.map(signed({ delivery: 'x'.repeat(300) })), 'SOURCE_PAYLOAD_INVALID', /longer than 256/);
  refused(
    () => hook.map(signed({ delivery: 7 })),
    'SOURCE_PAYLOAD_INVALID',
    /map\.id 'body\.delivery' returned number/,
  );
});

void test('run-time expression failures are SOURCE_PAYLOAD_INVALID without the data', () => {
  const divide = source({}, { type: "'a.b'", data: '{"r": body.n / body.zero}' });
  refused(
    () => divide.map(signed({ n: 1, zero: 0, secretValue: 'hush' })),
    'SOURCE_PAYLOAD_INVALID',
    /map\.data: .*(division|divide)/i,
  );
  const missing = source({}, { type: 'body.kind' });
  assert.throws(
    () => missing.map(signed({ other: 'hush-hush' })),
    (error: unknown) =>
      isJunctionError(error, 'SOURCE_PAYLOAD_INVALID') &&
      /map\.type: .*kind/.test(error.message) &&
      !error.message.includes('hush-hush'),
  );
  const notString = source({}, { type: "'a.b'", subject: 'body.n' });
  refused(
    () => notString.map(signed({ n: 3 })),
    'SOURCE_PAYLOAD_INVALID',
    /map\.subject 'body\.n' returned number, expected a string/,
  );
  const badType = source({}, { type: 'body.kind' });
  refused(() => badType.map(signed({ kind: '' })), 'SOURCE_PAYLOAD_INVALID', /not a valid cloudevent/);
  refused(
    () => badType.map(signed({ kind: 'a\u0001b' })),
    'SOURCE_PAYLOAD_INVALID',
    /not a valid cloudevent/,
  );
});

void test('the body must be json: an object or an array', () => {
  const hook = source();
  refused(() => hook.map(signed('not json')), 'SOURCE_PAYLOAD_INVALID', /json/i);
  refused(() => hook.map(signed('')), 'SOURCE_PAYLOAD_INVALID', /empty/);
  refused(() => hook.map(signed('"text"')), 'SOURCE_PAYLOAD_INVALID', /object or array \(got string\)/);
  refused(() => hook.map(signed('null')), 'SOURCE_PAYLOAD_INVALID', /got null/);
  refused(
    () => hook.map(signed('['.repeat(200) + ']'.repeat(200))),
    'SOURCE_PAYLOAD_INVALID',
    /deep|depth|nest/i,
  );
  const [mapped] = hook.map(signed([{ a: 1 }])).events;
  assert.deepEqual(mapped?.event.data, [{ a: 1 }]);
});

void test('the registry knows the webhook type', async () => {
  const { SOURCE_FACTORIES } = await import('./index.ts');
  assert.equal(SOURCE_FACTORIES.webhook, createWebhookSource);
});
