/**
 * `junction secret set NAME` · `secret list [--json]` · `secret rm NAME`: secrets for pipeline
 * steps, kept in the local store sealed with the secret key (see docs/secrets.md).
 *
 * - `set` reads the value from stdin up to EOF and strips one trailing newline; it refuses a
 *   terminal on stdin, so a value is never typed where it echoes or lands in shell history. It
 *   creates the key file when there is none, and refuses to seal with a key that does not open
 *   the secrets already stored, so the store never holds secrets under two keys.
 * - `list` prints names and times, never values; it needs no key.
 * - `rm` exits with 5 when the secret does not exist.
 * Nothing here prints or logs a value.
 */
import type { Command } from 'commander';
import type { Store } from '../../store/index.ts';
import {
  MAX_SECRET_BYTES,
  SECRET_KEY_ENV,
  checkSecretName,
  checkSecretValue,
  createSecretKeyFile,
  decryptSecret,
  encryptSecret,
  loadSecretKey,
  resolveSecretKeyFile,
} from '../../security/index.ts';
import { JunctionError, isJunctionError } from '../../errors/index.ts';
import { formatTable, printJson } from '../output.ts';

export interface SecretCommandDeps {
  /** Opens the store of the local configuration; the caller of `store` closes it. */
  readonly openLocalStore: () => Promise<{ store: Store; dataDir: string }>;
}

/** A value, its trailing newline and a carriage return before it. */
const MAX_INPUT_BYTES = MAX_SECRET_BYTES + 2;

const pipeHint = (name: string): string => `printf %s "$VALUE" | junction secret set ${name}`;

/** Reads stdin to EOF, refusing more than `MAX_INPUT_BYTES`. */
async function readStdin(name: string, input: NodeJS.ReadStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    if (size > MAX_INPUT_BYTES) {
      input.destroy();
      throw new JunctionError(
        'SECRET_VALUE_INVALID',
        `secret '${name}' is larger than ${MAX_SECRET_BYTES} bytes`,
      );
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

/** The value piped to `secret set`: UTF-8, one trailing newline removed, checked. */
export async function readSecretValue(
  name: string,
  input: NodeJS.ReadStream = process.stdin,
): Promise<string> {
  if (input.isTTY === true) {
    throw new JunctionError(
      'CLI_USAGE',
      `secret set reads the value from stdin, not from a terminal; pipe it in: ${pipeHint(name)}`,
    );
  }
  const bytes = await readStdin(name, input);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new JunctionError(
      'SECRET_VALUE_INVALID',
      `secret '${name}' is not UTF-8 text (base64-encode binary values first)`,
      { cause: error },
    );
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') {
    throw new JunctionError(
      'SECRET_VALUE_INVALID',
      `secret '${name}' is empty; pipe the value in: ${pipeHint(name)}`,
    );
  }
  checkSecretValue(name, value);
  return value;
}

/**
 * The key to seal with. The key file is created when neither it nor JUNCTION_SECRET_KEY exists
 * and no secret is stored yet; an existing secret must open with the key.
 */
async function sealingKey(store: Store, dataDir: string): Promise<Buffer> {
  const keyFile = resolveSecretKeyFile(dataDir);
  const stored = await store.listSecrets();
  if (process.env[SECRET_KEY_ENV] === undefined && stored.length === 0) {
    if ((await createSecretKeyFile(keyFile)) === 'created') {
      process.stderr.write(
        `created secret key ${keyFile} (mode 0600): back it up; stored secrets cannot be read without it\n`,
      );
    }
  }
  let key: Buffer;
  try {
    key = loadSecretKey({ keyFile });
  } catch (error) {
    if (!isJunctionError(error, 'SECRET_KEY_MISSING') || stored.length === 0) throw error;
    throw new JunctionError(
      'SECRET_KEY_MISSING',
      `${stored.length} secret(s) are stored but the key that sealed them is not at '${keyFile}' and ${SECRET_KEY_ENV} is not set; restore the key file or set ${SECRET_KEY_ENV}, or remove them with 'junction secret rm' before setting new ones`,
      { cause: error },
    );
  }
  const first = stored[0];
  if (first !== undefined) {
    const sealed = (await store.getSecrets([first.name])).get(first.name);
    if (sealed !== undefined) {
      try {
        decryptSecret(key, first.name, sealed);
      } catch (error) {
        throw new JunctionError(
          'SECRET_DECRYPT_FAILED',
          `this secret key does not open the stored secret '${first.name}'; use the key the stored secrets were sealed with (secrets are never stored under two keys)`,
          { cause: error },
        );
      }
    }
  }
  return key;
}

async function withStore<T>(
  deps: SecretCommandDeps,
  fn: (store: Store, dataDir: string) => Promise<T>,
): Promise<T> {
  const { store, dataDir } = await deps.openLocalStore();
  try {
    return await fn(store, dataDir);
  } finally {
    await store.close();
  }
}

export function registerSecret(program: Command, deps: SecretCommandDeps): void {
  const secret = program
    .command('secret')
    .description('manage secrets for pipeline steps (works on the local store; values are never shown)');

  secret
    .command('set')
    .description(`store a secret, value read from stdin: ${pipeHint('NAME')}`)
    .argument('<name>', 'upper-case name, like DEPLOY_TOKEN')
    .action(async (name: string) => {
      checkSecretName(name);
      const value = await readSecretValue(name);
      await withStore(deps, async (store, dataDir) => {
        const key = await sealingKey(store, dataDir);
        const result = await store.putSecret(name, encryptSecret(key, name, value));
        process.stdout.write(`${result} secret ${name}\n`);
      });
    });

  secret
    .command('list')
    .description('list secret names and when they were set (never their values)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      await withStore(deps, async (store) => {
        const items = await store.listSecrets();
        if (flags.json === true) printJson({ items, next: null });
        else if (items.length === 0) process.stdout.write('no secrets\n');
        else
          process.stdout.write(
            formatTable(
              ['NAME', 'CREATED', 'UPDATED'],
              items.map((s) => [s.name, s.createdAt, s.updatedAt]),
            ),
          );
      });
    });

  secret
    .command('rm')
    .description('delete a secret (exit code 5 when there is none by that name)')
    .argument('<name>')
    .action(async (name: string) => {
      checkSecretName(name);
      await withStore(deps, async (store) => {
        if (!(await store.deleteSecret(name)))
          throw new JunctionError('SECRET_NOT_FOUND', `no secret named '${name}'`, {
            details: { secret: name },
          });
        process.stdout.write(`removed secret ${name}\n`);
      });
    });
}
