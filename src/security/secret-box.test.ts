import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isJunctionError } from '../errors/index.ts';
import {
  MAX_SECRET_BYTES,
  checkSecretName,
  checkSecretValue,
  decryptSecret,
  encryptSecret,
} from './secret-box.ts';

const key = randomBytes(32);
const VALUE = 'correct horse battery staple';

/** Asserts `fn` throws `code` and that the message leaks none of `hidden`. */
function assertFails(fn: () => unknown, code: string, hidden: readonly string[] = [VALUE]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isJunctionError(error), String(error));
    assert.equal(error.code, code);
    for (const text of hidden) if (text !== '') assert.ok(!error.message.includes(text), error.message);
    return true;
  });
}

/** `text` with the character at `index` replaced by another character of the base64url alphabet. */
function flip(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The base64url character whose 6-bit value differs from `c`'s in the lowest bit. */
const spareBitFlipped = (c: string): string => ALPHABET[ALPHABET.indexOf(c) ^ 1]!;

describe('secret box', { timeout: 30_000 }, () => {
  test('round trip: ascii, unicode, empty, 64 KiB', () => {
    const values = [
      VALUE,
      'пароль 😀 密码 \u0000\t\n',
      '',
      'x'.repeat(MAX_SECRET_BYTES),
      randomBytes(100).toString('latin1'),
    ];
    for (const value of values) {
      const sealed = encryptSecret(key, 'NAME', value);
      assert.match(sealed, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]*$/);
      assert.equal(decryptSecret(key, 'NAME', sealed), value);
    }
  });

  test('each sealing uses a fresh IV, and the sealed text does not contain the value', () => {
    const a = encryptSecret(key, 'NAME', VALUE);
    const b = encryptSecret(key, 'NAME', VALUE);
    assert.notEqual(a, b);
    assert.notEqual(a.split('.')[1], b.split('.')[1]);
    for (const sealed of [a, b]) {
      assert.ok(!sealed.includes(VALUE));
      assert.ok(!sealed.includes(Buffer.from(VALUE).toString('base64url').slice(0, 8)));
    }
  });

  test('a value larger than 64 KiB is refused', () => {
    assertFails(
      () => encryptSecret(key, 'NAME', 'é'.repeat(MAX_SECRET_BYTES / 2 + 1)),
      'SECRET_VALUE_INVALID',
    );
  });

  test('changing any part of the sealed text makes decryption fail', () => {
    const sealed = encryptSecret(key, 'NAME', VALUE);
    const [version, iv, tag, ciphertext] = sealed.split('.') as [string, string, string, string];
    const variants = [
      ['v2', iv, tag, ciphertext],
      [version, flip(iv, 0), tag, ciphertext],
      [version, flip(iv, 15), tag, ciphertext],
      [version, iv, flip(tag, 0), ciphertext],
      [version, iv, flip(tag, 21), ciphertext],
      // The last character's spare bits: decodes to the same bytes, refused as non-canonical.
      [version, iv, tag.slice(0, 21) + spareBitFlipped(tag.at(-1)!), ciphertext],
      [version, iv, tag, flip(ciphertext, 0)],
      [version, iv, tag, flip(ciphertext, ciphertext.length - 1)],
      [version, iv, tag, ciphertext.slice(0, -1)],
      [version, iv, tag, `${ciphertext}A`],
      [version, iv, tag, ''],
    ].map((parts) => parts.join('.'));
    for (const variant of variants) {
      assert.notEqual(variant, sealed);
      assertFails(() => decryptSecret(key, 'NAME', variant), 'SECRET_DECRYPT_FAILED', [VALUE, variant]);
    }
  });

  test('malformed sealed text is refused without quoting it', () => {
    const sealed = encryptSecret(key, 'NAME', VALUE);
    const malformed = [
      '',
      VALUE,
      'v1',
      'v1...',
      `${sealed}.extra`,
      sealed.replaceAll('.', ':'),
      sealed.replace(/^v1\./, 'V1.'),
      ` ${sealed}`,
      `${sealed}\n`,
      `${sealed}==`,
      sealed.replace(/\.([^.]+)$/, '.+/+/'),
      `v1.${'A'.repeat(16)}.${'A'.repeat(22)}.${'A'.repeat(200_000)}`,
    ];
    for (const text of malformed) {
      const quoted = text.length >= 8 ? text : '';
      assertFails(() => decryptSecret(key, 'NAME', text), 'SECRET_DECRYPT_FAILED', [VALUE, quoted]);
    }
  });

  test('a sealed value moved to another name does not decrypt', () => {
    const sealed = encryptSecret(key, 'DEPLOY_TOKEN', VALUE);
    for (const other of ['DEPLOY_TOKEN2', 'deploy_token', 'DEPLOY_TOKE', '', 'v1:DEPLOY_TOKEN']) {
      assertFails(() => decryptSecret(key, other, sealed), 'SECRET_DECRYPT_FAILED');
    }
    assert.equal(decryptSecret(key, 'DEPLOY_TOKEN', sealed), VALUE);
  });

  test('the wrong key fails; a key that is not 32 bytes is refused', () => {
    const sealed = encryptSecret(key, 'NAME', VALUE);
    const other = Buffer.from(key);
    other[31] = other[31]! ^ 1;
    assertFails(() => decryptSecret(other, 'NAME', sealed), 'SECRET_DECRYPT_FAILED');
    for (const bad of [Buffer.alloc(0), randomBytes(16), randomBytes(31), randomBytes(33)]) {
      assertFails(() => encryptSecret(bad, 'NAME', VALUE), 'SECRET_KEY_INVALID');
      assertFails(() => decryptSecret(bad, 'NAME', sealed), 'SECRET_KEY_INVALID');
    }
  });

  test('the failure message names the secret, has a cause, and says what may be wrong', () => {
    const sealed = encryptSecret(key, 'NAME', VALUE);
    try {
      decryptSecret(randomBytes(32), 'NAME', sealed);
      assert.fail('decrypted with another key');
    } catch (error) {
      assert.ok(isJunctionError(error, 'SECRET_DECRYPT_FAILED'));
      assert.match(error.message, /secret 'NAME'.*wrong secret key/);
      assert.equal(error.httpStatus, 500);
      assert.equal(error.retryable, false);
      assert.ok(error.cause instanceof Error);
    }
  });

  test('secret names follow the upper-case environment variable rule', () => {
    for (const name of ['A', '_', 'DEPLOY_TOKEN', '_X1', 'A'.repeat(128)]) checkSecretName(name);
    for (const name of ['', 'a', 'Deploy', '1ABC', 'A-B', 'A B', 'A.B', 'É', 'A\n', 'A'.repeat(129)]) {
      assertFails(() => checkSecretName(name), 'SECRET_NAME_INVALID', []);
    }
  });

  test('values people set: not empty, not too short, not blank, no NUL, not too large', () => {
    checkSecretValue('N', 'abcd');
    checkSecretValue('N', ' ab ');
    checkSecretValue('N', 'x'.repeat(MAX_SECRET_BYTES));
    const refused: [string, RegExp][] = [
      ['', /is empty/],
      ['abc', /shorter than 4/],
      ['    \n', /whitespace/],
      ['abc\0def', /NUL/],
      ['x'.repeat(MAX_SECRET_BYTES + 1), /larger than 65536 bytes/],
    ];
    for (const [value, message] of refused) {
      assert.throws(
        () => checkSecretValue('N', value),
        (error: unknown) =>
          isJunctionError(error, 'SECRET_VALUE_INVALID') &&
          message.test(error.message) &&
          (value.trim() === '' || !error.message.includes(value)),
      );
    }
  });
});
