/**
 * Sealing of secret values for the store, and the rules a secret's name and value follow.
 *
 * What callers may assume:
 * - `encryptSecret` uses AES-256-GCM with a fresh random 12-byte IV each time (so sealing the same
 *   value twice gives different text) and a 16-byte tag. The secret's name is authenticated with
 *   it: a sealed value copied to another name does not decrypt.
 * - Sealed text reads `v1.<iv>.<tag>.<ciphertext>`, each part unpadded base64url, so it is plain
 *   ASCII without `.` inside a part. The `v1` prefix leaves room for another format later.
 * - `decryptSecret` either returns exactly the value that was sealed under that key and name, or
 *   throws `SECRET_DECRYPT_FAILED` (wrong key, changed text, another name, not a sealed value).
 *   Its message names the secret, never a value or the sealed text.
 * - A key must be 32 bytes (`SECRET_KEY_INVALID` otherwise); secret-key.ts loads it.
 * - Values are UTF-8 text. The box itself accepts any value up to `MAX_SECRET_BYTES`, the empty
 *   string included; `checkSecretValue` holds the stricter rules for values people set.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { JunctionError } from '../errors/index.ts';
import { MIN_MASKED_LENGTH } from './masker.ts';

/** Largest value, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Same rule as environment variable names, upper-case only. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

export const MAX_SECRET_NAME_LENGTH = 128;

/** Shortest value `checkSecretValue` accepts: shorter ones could not be masked in logs. */
export const MIN_SECRET_LENGTH = MIN_MASKED_LENGTH;

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PART = '[A-Za-z0-9_-]';
/** Unpadded base64url of 12 and 16 bytes is 16 and 22 characters. */
const SEALED_PATTERN = new RegExp(`^${VERSION}\\.(${PART}{16})\\.(${PART}{22})\\.(${PART}*)$`);
/** The longest sealed text a `MAX_SECRET_BYTES` value gives. */
const MAX_SEALED_LENGTH = VERSION.length + 3 + 16 + 22 + Math.ceil((MAX_SECRET_BYTES * 4) / 3);

/** Throws `SECRET_NAME_INVALID` unless `name` matches `SECRET_NAME_PATTERN` and is short enough. */
export function checkSecretName(name: string): void {
  if (name.length > MAX_SECRET_NAME_LENGTH) {
    throw new JunctionError(
      'SECRET_NAME_INVALID',
      `secret name '${name.slice(0, 40)}…' is longer than ${MAX_SECRET_NAME_LENGTH} characters`,
    );
  }
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new JunctionError(
      'SECRET_NAME_INVALID',
      `secret name '${name}' is not valid: use A-Z, 0-9 and _, not starting with a digit (like DEPLOY_TOKEN)`,
    );
  }
}

/**
 * Throws `SECRET_VALUE_INVALID` for a value people should not store: empty, shorter than
 * `MIN_SECRET_LENGTH` characters, only whitespace, holding a NUL character, or larger than
 * `MAX_SECRET_BYTES`. The message describes the value, never quotes it.
 */
export function checkSecretValue(name: string, value: string): void {
  const problem =
    value.length === 0
      ? 'is empty'
      : value.length < MIN_SECRET_LENGTH
        ? `is shorter than ${MIN_SECRET_LENGTH} characters, too short to be masked in logs`
        : value.trim().length === 0
          ? 'is only whitespace, which could not be masked in logs'
          : value.includes('\0')
            ? 'contains a NUL character'
            : Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES
              ? `is larger than ${MAX_SECRET_BYTES} bytes`
              : undefined;
  if (problem !== undefined) throw new JunctionError('SECRET_VALUE_INVALID', `secret '${name}' ${problem}`);
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) {
    throw new JunctionError(
      'SECRET_KEY_INVALID',
      `the secret key must be ${KEY_BYTES} bytes, got ${key.length}`,
    );
  }
}

const additionalData = (name: string): Buffer => Buffer.from(`${VERSION}:${name}`, 'utf8');

/** Seals `value` under `key` for the secret `name`. */
export function encryptSecret(key: Buffer, name: string, value: string): string {
  checkKey(key);
  const plain = Buffer.from(value, 'utf8');
  if (plain.length > MAX_SECRET_BYTES) {
    throw new JunctionError(
      'SECRET_VALUE_INVALID',
      `secret '${name}' is larger than ${MAX_SECRET_BYTES} bytes`,
    );
  }
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(name));
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv, tag, ciphertext]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Decodes one unpadded base64url part, refusing any spelling `toString('base64url')` would not give. */
function decodePart(part: string): Buffer | undefined {
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}

function decryptFailed(name: string, why: string, cause?: unknown): JunctionError {
  return new JunctionError('SECRET_DECRYPT_FAILED', `cannot decrypt secret '${name}': ${why}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { secret: name },
  });
}

/** The value sealed by `encryptSecret(key, name, value)`; throws `SECRET_DECRYPT_FAILED` otherwise. */
export function decryptSecret(key: Buffer, name: string, sealed: string): string {
  checkKey(key);
  const parts = sealed.length <= MAX_SEALED_LENGTH ? SEALED_PATTERN.exec(sealed) : null;
  const iv = parts?.[1] === undefined ? undefined : decodePart(parts[1]);
  const tag = parts?.[2] === undefined ? undefined : decodePart(parts[2]);
  const ciphertext = parts?.[3] === undefined ? undefined : decodePart(parts[3]);
  if (iv === undefined || tag === undefined || ciphertext === undefined) {
    throw decryptFailed(name, `the stored text is not a sealed ${VERSION} value`);
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(name));
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (error) {
    throw decryptFailed(
      name,
      'wrong secret key, or the stored value was changed or belongs to another name',
      error,
    );
  }
  return plain.toString('utf8');
}
