import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isJunctionError } from '../errors/index.ts';
import {
  createSecretKeyFile,
  decodeSecretKey,
  defaultSecretKeyFile,
  loadSecretKey,
  resolveSecretKeyFile,
} from './secret-key.ts';

const root = mkdtempSync(join(tmpdir(), 'junction-secret-key-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => join(root, `d${++counter}`);
const posix = process.platform !== 'win32';

function writeKey(text: string, mode = 0o600): string {
  const dir = fresh();
  mkdirSync(dir);
  const file = join(dir, 'secret.key');
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return file;
}

function assertCode(fn: () => unknown, code: string, hidden: readonly string[] = []): Error {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return isJunctionError(error, code as never);
  });
  const error = caught as Error;
  for (const text of hidden) assert.ok(!error.message.includes(text), error.message);
  return error;
}

describe('secret key', { timeout: 30_000 }, () => {
  const key = randomBytes(32);
  const encodings = {
    base64: key.toString('base64'),
    base64Unpadded: key.toString('base64').replace(/=$/, ''),
    base64url: key.toString('base64url'),
    base64urlPadded: `${key.toString('base64url')}=`,
    hex: key.toString('hex'),
    HEX: key.toString('hex').toUpperCase(),
    surrounded: `\n  ${key.toString('base64')}\r\n\n`,
  };

  test('decodeSecretKey accepts base64, base64url and hex of exactly 32 bytes', () => {
    for (const [kind, text] of Object.entries(encodings)) assert.deepEqual(decodeSecretKey(text), key, kind);
    const refused = [
      '',
      'short',
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(31).toString('hex'),
      randomBytes(48).toString('base64'),
      `${key.toString('base64')}==`,
      key.toString('hex').slice(1) + 'g',
      // Mixed alphabets.
      `A+B_${'A'.repeat(39)}`,
    ];
    for (const text of refused) assert.equal(decodeSecretKey(text), undefined, text);
  });

  test('the spare bits of the last base64 character must be zero', () => {
    const text = key.toString('base64');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(text[42]!);
    const spelled = `${text.slice(0, 42)}${alphabet[last ^ 1]}=`;
    assert.deepEqual(Buffer.from(spelled, 'base64'), key, 'Node decodes it to the same bytes');
    assert.equal(decodeSecretKey(spelled), undefined);
  });

  test('JUNCTION_SECRET_KEY wins over the key file, in every encoding', () => {
    const file = writeKey(randomBytes(32).toString('base64'));
    for (const [kind, text] of Object.entries(encodings)) {
      assert.deepEqual(loadSecretKey({ env: { JUNCTION_SECRET_KEY: text }, keyFile: file }), key, kind);
    }
  });

  test('a bad or empty JUNCTION_SECRET_KEY is an error, not a fallback, and is never quoted', () => {
    const file = writeKey(key.toString('base64'));
    const bad = randomBytes(24).toString('base64');
    assertCode(
      () => loadSecretKey({ env: { JUNCTION_SECRET_KEY: bad }, keyFile: file }),
      'SECRET_KEY_INVALID',
      [bad],
    );
    const empty = assertCode(
      () => loadSecretKey({ env: { JUNCTION_SECRET_KEY: '  ' }, keyFile: file }),
      'SECRET_KEY_INVALID',
    );
    assert.match(empty.message, /set but empty/);
  });

  test('the key file in each encoding, surrounding whitespace ignored', () => {
    for (const [kind, text] of Object.entries(encodings)) {
      assert.deepEqual(loadSecretKey({ env: {}, keyFile: writeKey(text) }), key, kind);
    }
  });

  test('no variable and no file: SECRET_KEY_MISSING says what to do', () => {
    const file = join(fresh(), 'secret.key');
    const error = assertCode(() => loadSecretKey({ env: {}, keyFile: file }), 'SECRET_KEY_MISSING');
    assert.match(error.message, /junction init/);
    assert.match(error.message, /JUNCTION_SECRET_KEY/);
    assert.match(error.message, /junction secret set/);
    assert.ok(error.message.includes(file));
  });

  test('a key file with the wrong content is SECRET_KEY_INVALID without quoting it', () => {
    const contents = [
      '',
      'not a key',
      randomBytes(16).toString('base64'),
      `${key.toString('base64')}\n${key.toString('base64')}`,
      'x'.repeat(5000),
      `\u00ff${key.toString('hex')}`,
    ];
    for (const text of contents) {
      const hidden = text.length >= 8 ? [text.trim()] : [];
      assertCode(() => loadSecretKey({ env: {}, keyFile: writeKey(text) }), 'SECRET_KEY_INVALID', hidden);
    }
    const folder = fresh();
    mkdirSync(folder);
    assertCode(() => loadSecretKey({ env: {}, keyFile: folder }), 'SECRET_KEY_INVALID');
  });

  test(
    'a key file readable or writable by group or others is refused with the chmod to run',
    { skip: !posix },
    () => {
      for (const mode of [0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o601]) {
        const file = writeKey(key.toString('base64'), mode);
        const error = assertCode(() => loadSecretKey({ env: {}, keyFile: file }), 'SECRET_KEY_INSECURE', [
          key.toString('base64'),
        ]);
        assert.ok(error.message.includes(`chmod 600 ${file}`), error.message);
      }
      for (const mode of [0o600, 0o400]) {
        assert.deepEqual(loadSecretKey({ env: {}, keyFile: writeKey(key.toString('base64'), mode) }), key);
      }
    },
  );

  test('createSecretKeyFile writes a private 32-byte key once and never overwrites', async () => {
    const dir = join(fresh(), 'nested', '.junction');
    const file = defaultSecretKeyFile(dir);
    assert.equal(await createSecretKeyFile(file), 'created');
    const first = readFileSync(file, 'utf8');
    assert.match(first, /^[A-Za-z0-9+/]{43}=\n$/);
    if (posix) {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
    }
    assert.equal(loadSecretKey({ env: {}, keyFile: file }).length, 32);
    assert.equal(await createSecretKeyFile(file), 'exists');
    assert.equal(readFileSync(file, 'utf8'), first);
    assert.deepEqual(readdirSync(dir), ['secret.key'], 'no temporary file is left behind');
  });

  test('an existing file, even an invalid one, is kept', async () => {
    const file = writeKey('not a key');
    assert.equal(await createSecretKeyFile(file), 'exists');
    assert.equal(readFileSync(file, 'utf8'), 'not a key');
  });

  test('concurrent creations agree on one key', async () => {
    const file = join(fresh(), 'secret.key');
    const results = await Promise.all(Array.from({ length: 8 }, () => createSecretKeyFile(file)));
    assert.equal(results.filter((r) => r === 'created').length, 1);
    assert.equal(results.filter((r) => r === 'exists').length, 7);
    assert.equal(loadSecretKey({ env: {}, keyFile: file }).length, 32);
    assert.deepEqual(readdirSync(join(file, '..')), ['secret.key']);
  });

  test('a key file that cannot be created is SECRET_KEY_INVALID', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'blocker'), 'a file, not a folder');
    await assert.rejects(createSecretKeyFile(join(dir, 'blocker', 'secret.key')), (error: unknown) => {
      assert.ok(isJunctionError(error, 'SECRET_KEY_INVALID'));
      assert.match(error.message, /cannot create the secret key file .*(ENOTDIR|EEXIST)/);
      return true;
    });
  });

  test('the key file path: JUNCTION_SECRET_KEY_FILE overrides <dataDir>/secret.key', () => {
    assert.equal(defaultSecretKeyFile('/srv/junction'), join('/srv/junction', 'secret.key'));
    assert.equal(resolveSecretKeyFile('/srv/junction', {}), join('/srv/junction', 'secret.key'));
    assert.equal(
      resolveSecretKeyFile('/srv/junction', { JUNCTION_SECRET_KEY_FILE: '' }),
      join('/srv/junction', 'secret.key'),
    );
    assert.equal(
      resolveSecretKeyFile('/srv/junction', { JUNCTION_SECRET_KEY_FILE: '/run/secrets/key' }),
      '/run/secrets/key',
    );
    assert.equal(
      resolveSecretKeyFile('/srv/junction', { JUNCTION_SECRET_KEY_FILE: 'keys/k' }),
      resolve('keys/k'),
    );
  });
});
