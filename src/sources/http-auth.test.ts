import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HookRequest, SourceSettings } from './source.ts';

function request(authorization?: string): HookRequest {
  return { headers: { authorization }, body: Buffer.from('{}'), receivedAt: new Date(0) };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function settings(extra: Record<string, unknown>): SourceSettings {
  return { name: 'am', type: 'alertmanager', ...extra };
}

function accepts(settingsValue: SourceSettings, header: string | undefined): boolean {
  const auth = httpAuthFromSettings(settingsValue);
  try {
    checkHttpAuth(auth, request(header), settingsValue.name);
    return true;
  } catch (error) {
    assert.ok(isJunctionError(error, 'SOURCE_UNAUTHENTICATED'), String(error));
    assert.equal(error.httpStatus, 401);
    return false;
  }
}

void test('config: exactly one scheme, every problem named with the entry', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /needs credentials/],
    [{ token: 't', username: 'u', password: 'p' }, /not both/],
    [{ username: 'u' }, /'username' is set without 'password'/],
    [{ password: 'p' }, /'password' is set without 'username'/],
    [{ token: '' }, /'token' is empty/],
    [{ token: 42 }, /'token' must be a string/],
    [{ token: 'abc ' }, /whitespace/],
    [{ username: 'a:b', password: 'p' }, /must not contain ':'/],
  ];
  for (const [extra, pattern] of cases) {
    assert.throws(
      () => httpAuthFromSettings(settings(extra)),
      (error: unknown) =>
        isJunctionError(error, 'CONFIG_INVALID') &&
        error.message.startsWith('sources[name=am]: ') &&
        pattern.test(error.message),
      JSON.stringify(extra),
    );
  }
});

void test('config errors never echo a secret', () => {
  assert.throws(
    () => httpAuthFromSettings(settings({ token: 's3cret-value ' })),
    (error: unknown) =>
      isJunctionError(error) &&
      !error.message.includes('s3cret') &&
      !JSON.stringify(error.details).includes('s3cret'),
  );
});

void test('bearer: right token passes, scheme is case-insensitive, surrounding spaces ignored', () => {
  const s = settings({ token: 'tok-123' });
  assert.equal(accepts(s, 'Bearer tok-123'), true);
  assert.equal(accepts(s, 'bearer tok-123'), true);
  assert.equal(accepts(s, 'BEARER tok-123'), true);
  assert.equal(accepts(s, 'Bearer tok-123   '), true);
  assert.equal(accepts(s, '  Bearer   tok-123'), true);
});

void test('bearer: wrong, missing or malformed credentials are refused', () => {
  const s = settings({ token: 'tok-123' });
  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Bearer tok-12',
    'Bearer tok-1234',
    'Bearer TOK-123',
    'Bearertok-123',
    'tok-123',
    'Token tok-123',
    basic('tok-123', 'tok-123'),
    'Bearer tok-123 extra',
    `Bearer ${'x'.repeat(100_000)}`,
  ]) {
    assert.equal(accepts(s, header), false, String(header).slice(0, 40));
  }
});

void test('basic: password may contain colons; scheme case-insensitive', () => {
  const s = settings({ username: 'alert', password: 'pa:ss:word' });
  assert.equal(accepts(s, basic('alert', 'pa:ss:word')), true);
  assert.equal(accepts(s, basic('alert', 'pa:ss:word').replace('Basic', 'basic')), true);
  const unicode = settings({ username: 'ünï', password: 'pässwörd ✓' });
  assert.equal(accepts(unicode, basic('ünï', 'pässwörd ✓')), true);
});

void test('basic: wrong user, wrong password, bad base64 and missing colon are refused', () => {
  const s = settings({ username: 'alert', password: 'pa:ss' });
  for (const header of [
    undefined,
    basic('alert', 'pa:s'),
    basic('alert', 'pa:ss '),
    basic('Alert', 'pa:ss'),
    basic('', ''),
    `Basic ${Buffer.from('alertpa:ss').toString('base64').slice(0, 3)}`,
    `Basic ${Buffer.from('alert').toString('base64')}`,
    'Basic !!!not-base64!!!',
    'Basic',
    `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString('base64')}`,
    'Bearer pa:ss',
  ]) {
    assert.equal(accepts(s, header), false, String(header));
  }
});

void test('the refusal names neither the secret nor what was sent', () => {
  const auth = httpAuthFromSettings(settings({ token: 'very-secret' }));
  assert.throws(
    () => checkHttpAuth(auth, request('Bearer very-secreX'), 'am'),
    (error: unknown) =>
      isJunctionError(error, 'SOURCE_UNAUTHENTICATED') &&
      !error.message.includes('very-secre') &&
      !JSON.stringify(error.details).includes('very-secre'),
  );
});
