/**
 * The secret key: the 32 bytes that seal every stored secret (see secret-box.ts).
 *
 * Where it comes from, first match wins:
 * 1. `JUNCTION_SECRET_KEY`: the key itself, as base64 or base64url (43 characters, or 44 with its
 *    `=`) or as 64 hex characters. Set but empty is an error, not a fallback, so a blank variable
 *    in a deployment never silently picks another key.
 * 2. The key file: `JUNCTION_SECRET_KEY_FILE` if set, else `<dataDir>/secret.key`, holding the key
 *    in the same encodings (surrounding whitespace ignored).
 *
 * What callers may assume:
 * - `loadSecretKey` returns exactly 32 bytes or throws `SECRET_KEY_MISSING` (no variable, no
 *   file; the message says how to create one), `SECRET_KEY_INVALID` (wrong length or encoding,
 *   unreadable file) or `SECRET_KEY_INSECURE` (a key file that group or others may read; the
 *   message gives the `chmod`). No message contains key material.
 * - `createSecretKeyFile` never overwrites: it writes 32 random bytes to a private temporary file
 *   (mode 0600, flushed to disk), then links it into place, so the key file either does not exist
 *   or is complete. Its folder is created with mode 0700 when missing. Two processes racing both
 *   end up with the same key.
 * - Losing the key loses every stored secret; there is no recovery and no rotation yet.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { link, lstat, mkdir, open, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { JunctionError } from '../errors/index.ts';

export const SECRET_KEY_ENV = 'JUNCTION_SECRET_KEY';
export const SECRET_KEY_FILE_ENV = 'JUNCTION_SECRET_KEY_FILE';
export const SECRET_KEY_FILE_NAME = 'secret.key';

const KEY_BYTES = 32;
/** A key file is one encoded key; anything larger is not one. */
const MAX_KEY_FILE_BYTES = 1024;
const checksPermissions = process.platform !== 'win32';

type Env = Readonly<Record<string, string | undefined>>;

export function defaultSecretKeyFile(dataDir: string): string {
  return join(dataDir, SECRET_KEY_FILE_NAME);
}

/** `JUNCTION_SECRET_KEY_FILE` (resolved against the working directory) when set, else the default. */
export function resolveSecretKeyFile(dataDir: string, env: Env = process.env): string {
  const file = env[SECRET_KEY_FILE_ENV]?.trim();
  return file === undefined || file === '' ? defaultSecretKeyFile(dataDir) : resolve(file);
}

/** The 32 bytes `text` encodes as base64, base64url or hex; undefined for anything else. */
export function decodeSecretKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (!/^(?:[A-Za-z0-9+/]{43}|[A-Za-z0-9_-]{43})=?$/.test(trimmed)) return undefined;
  const standard = trimmed.replace(/=$/, '').replaceAll('-', '+').replaceAll('_', '/');
  const bytes = Buffer.from(standard, 'base64');
  // The last character carries two spare bits; a spelling with them set is not a key we wrote.
  const canonical = bytes.toString('base64').replace(/=$/, '');
  return bytes.length === KEY_BYTES && canonical === standard ? bytes : undefined;
}

function parseKey(text: string, origin: string): Buffer {
  const key = decodeSecretKey(text);
  if (key === undefined) {
    throw new JunctionError(
      'SECRET_KEY_INVALID',
      `${origin} is not a ${KEY_BYTES}-byte key: expected base64 (44 characters with '=', 43 without) or 64 hex characters, got ${text.trim().length} characters`,
    );
  }
  return key;
}

const errnoOf = (error: unknown): string | undefined =>
  error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;

function missing(file: string): JunctionError {
  return new JunctionError(
    'SECRET_KEY_MISSING',
    `no secret key: ${SECRET_KEY_ENV} is not set and '${file}' does not exist; create the key file with 'junction init' (or 'junction secret set', which creates it), or set ${SECRET_KEY_ENV} to 32 random bytes in base64 (openssl rand -base64 32)`,
    { details: { keyFile: file } },
  );
}

function readKeyFile(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw missing(file);
    throw new JunctionError(
      'SECRET_KEY_INVALID',
      `cannot read the secret key file '${file}': ${errnoOf(error) ?? 'unknown error'}`,
      { cause: error },
    );
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new JunctionError('SECRET_KEY_INVALID', `the secret key file '${file}' is not a regular file`);
    }
    if (checksPermissions && (stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new JunctionError(
        'SECRET_KEY_INSECURE',
        `the secret key file '${file}' can be read or written by other users (mode ${mode}); run: chmod 600 ${file}`,
        { details: { keyFile: file, mode } },
      );
    }
    if (stats.size > MAX_KEY_FILE_BYTES) {
      throw new JunctionError(
        'SECRET_KEY_INVALID',
        `the secret key file '${file}' is ${stats.size} bytes; a key file holds one ${KEY_BYTES}-byte key`,
      );
    }
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > MAX_KEY_FILE_BYTES) {
      throw new JunctionError('SECRET_KEY_INVALID', `the secret key file '${file}' grew while it was read`);
    }
    return parseKey(buffer.subarray(0, length).toString('utf8'), `the secret key file '${file}'`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The secret key from `JUNCTION_SECRET_KEY` in `env` (default `process.env`), else from
 * `keyFile`. Throws `SECRET_KEY_MISSING`, `SECRET_KEY_INVALID` or `SECRET_KEY_INSECURE`.
 */
export function loadSecretKey(options: { env?: NodeJS.ProcessEnv; keyFile: string }): Buffer {
  const value = (options.env ?? process.env)[SECRET_KEY_ENV];
  if (value === undefined) return readKeyFile(options.keyFile);
  if (value.trim() === '') {
    throw new JunctionError(
      'SECRET_KEY_INVALID',
      `${SECRET_KEY_ENV} is set but empty; unset it to use the key file '${options.keyFile}', or set it to a ${KEY_BYTES}-byte key`,
    );
  }
  return parseKey(value, SECRET_KEY_ENV);
}

async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writePrivateFile(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

async function placeKeyFile(file: string): Promise<'created' | 'exists'> {
  const folder = dirname(file);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  if (await exists(file)) return 'exists';
  const text = `${randomBytes(KEY_BYTES).toString('base64')}\n`;
  const temporary = join(folder, `.${SECRET_KEY_FILE_NAME}.${randomBytes(6).toString('hex')}.tmp`);
  await writePrivateFile(temporary, text);
  try {
    await link(temporary, file);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return 'exists';
    // A file system without hard links: create the file in place, still never overwriting.
    try {
      await writePrivateFile(file, text);
    } catch (inPlace) {
      if (errnoOf(inPlace) === 'EEXIST') return 'exists';
      throw inPlace;
    }
  } finally {
    await rm(temporary, { force: true });
  }
  await syncFolder(folder);
  return 'created';
}

/** Creates the key file with a new random key (mode 0600); an existing file is left alone. */
export async function createSecretKeyFile(file: string): Promise<'created' | 'exists'> {
  try {
    return await placeKeyFile(file);
  } catch (error) {
    throw new JunctionError(
      'SECRET_KEY_INVALID',
      `cannot create the secret key file '${file}': ${errnoOf(error) ?? String(error)}`,
      { cause: error },
    );
  }
}
