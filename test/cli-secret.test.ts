/**
 * `junction secret set|list|rm` as a user runs them, against a temp project with a real SQLite
 * store: the value goes in on stdin and never comes out, the database holds only sealed text, and
 * the key file is created, checked and never silently replaced.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { cliPath, runCli, tempDir, type CliResult } from './helpers/app.ts';
import { decryptSecret, loadSecretKey } from '../src/security/index.ts';

const VALUE = 'tok-9f86d081884c7d659a2feaa0c55ad015';
const posix = process.platform !== 'win32';

/** Runs the CLI with raw bytes on stdin (runCli only takes text). */
function runWithBytes(args: readonly string[], cwd: string, input: Buffer): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

function assertNoValue(result: CliResult, value = VALUE): void {
  assert.ok(!result.stdout.includes(value), `stdout shows the value: ${result.stdout}`);
  assert.ok(!result.stderr.includes(value), `stderr shows the value: ${result.stderr}`);
}

/** Every byte Junction keeps in the data folder (database, WAL, key). */
function dataFolderBytes(dataDir: string): Buffer {
  return Buffer.concat(
    readdirSync(dataDir)
      .map((name) => join(dataDir, name))
      .filter((file) => statSync(file).isFile())
      .map((file) => readFileSync(file)),
  );
}

describe('junction secret', { timeout: 300_000 }, () => {
  const project = tempDir('junction-secret-');
  const dataDir = join(project.path, '.junction');
  const keyFile = join(dataDir, 'secret.key');
  const cli = (args: string[], input?: string, env?: Record<string, string>): Promise<CliResult> =>
    runCli(args, {
      cwd: project.path,
      ...(input === undefined ? {} : { input }),
      ...(env === undefined ? {} : { env }),
    });

  before(async () => {
    const init = await cli(['init']);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /wrote\s+\.junction\/secret\.key \(secret key, mode 0600\)/);
  });
  after(() => project.remove());

  test('init creates a private key file once, inside the ignored state folder', async () => {
    assert.ok(existsSync(keyFile));
    if (posix) assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(join(project.path, '.gitignore'), 'utf8'), /^\.junction\/$/m);
    const before = readFileSync(keyFile, 'utf8');
    const again = await cli(['init', '--force']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /kept\s+\.junction\/secret\.key \(secret key exists; never overwritten\)/);
    assert.equal(readFileSync(keyFile, 'utf8'), before);
  });

  test('set reads stdin, strips one newline, stores only sealed text; list shows names only', async () => {
    const created = await cli(['secret', 'set', 'DEPLOY_TOKEN'], `${VALUE}\n`);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created secret DEPLOY_TOKEN\n');
    assertNoValue(created);

    const listed = await cli(['secret', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^NAME\s+CREATED\s+UPDATED$/m);
    assert.match(listed.stdout, /^DEPLOY_TOKEN\s+\d{4}-\d\d-\d\dT/m);
    assertNoValue(listed);

    const json = await cli(['secret', 'list', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout) as { items: Record<string, string>[]; next: null };
    assert.deepEqual(
      page.items.map((item) => Object.keys(item).sort()),
      [['createdAt', 'name', 'updatedAt']],
    );
    assert.equal(page.items[0]!['name'], 'DEPLOY_TOKEN');
    assertNoValue(json);

    const db = new DatabaseSync(join(dataDir, 'junction.db'), { readOnly: true });
    let sealed: string;
    try {
      const rows = db.prepare('SELECT name, sealed FROM secrets').all() as { name: string; sealed: string }[];
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.name, 'DEPLOY_TOKEN');
      sealed = rows[0]!.sealed;
    } finally {
      db.close();
    }
    assert.match(sealed, /^v1\./);
    assert.ok(!sealed.includes(VALUE));
    const files = dataFolderBytes(dataDir);
    for (const form of [VALUE, Buffer.from(VALUE).toString('base64').slice(0, 20)]) {
      assert.equal(files.indexOf(form), -1, `the data folder holds '${form}'`);
    }
    // The stored text opens with the key file, to the value without its newline.
    assert.equal(decryptSecret(loadSecretKey({ env: {}, keyFile }), 'DEPLOY_TOKEN', sealed), VALUE);

    const updated = await cli(['secret', 'set', 'DEPLOY_TOKEN'], `${VALUE}-2\r\n`);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.stdout, 'updated secret DEPLOY_TOKEN\n');
  });

  test('values and names that cannot be stored are refused with a clear message', async () => {
    // Independent refusals, run side by side (each is a separate process).
    const cases: [Promise<CliResult>, string, RegExp][] = [
      [
        cli(['secret', 'set', 'SHORT'], ''),
        'SECRET_VALUE_INVALID',
        /secret 'SHORT' is empty; pipe the value in: printf %s "\$VALUE" \| junction secret set SHORT/,
      ],
      [cli(['secret', 'set', 'SHORT'], 'abc\n'), 'SECRET_VALUE_INVALID', /shorter than 4 characters/],
      [cli(['secret', 'set', 'SHORT'], '      \n'), 'SECRET_VALUE_INVALID', /only whitespace/],
      [
        cli(['secret', 'set', 'LARGE'], 'x'.repeat(64 * 1024 + 3)),
        'SECRET_VALUE_INVALID',
        /larger than 65536 bytes/,
      ],
      [
        runWithBytes(['secret', 'set', 'BINARY'], project.path, Buffer.from([0xff, 0xfe, 0x41, 0x42, 0x43])),
        'SECRET_VALUE_INVALID',
        /not UTF-8 text/,
      ],
      [
        cli(['secret', 'set', 'deploy-token'], `${VALUE}\n`),
        'SECRET_NAME_INVALID',
        /'deploy-token' is not valid/,
      ],
    ];
    const results = await Promise.all(cases.map(([run]) => run));
    results.forEach((result, i) => {
      const [, code, message] = cases[i]!;
      assert.equal(result.code, 6, result.stderr);
      assert.ok(result.stderr.includes(`[${code}]`), result.stderr);
      assert.match(result.stderr, message);
      assertNoValue(result);
    });
    const listed = await cli(['secret', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { items: { name: string }[] }).items.map((i) => i.name),
      ['DEPLOY_TOKEN'],
    );
  });

  test('a terminal on stdin is refused with the pipe to use', { skip: !posix }, () => {
    const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (script.error !== undefined) {
      assert.notEqual(process.env['CI'], 'true', 'script(1) from util-linux is needed under CI');
      return;
    }
    const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
    const result = spawnSync(
      'script',
      ['-qec', `${quote(process.execPath)} ${quote(cliPath)} secret set TTY_SECRET`, '/dev/null'],
      {
        cwd: project.path,
        env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
        encoding: 'utf8',
        input: '',
        timeout: 30_000,
      },
    );
    assert.equal(result.status, 2, result.stdout);
    assert.match(
      result.stdout,
      /not from a terminal; pipe it in: printf %s "\$VALUE" \| junction secret set TTY_SECRET/,
    );
  });

  test('rm deletes; a second rm exits 5', async () => {
    assert.equal((await cli(['secret', 'set', 'TO_REMOVE'], 'remove-me')).code, 0);
    const removed = await cli(['secret', 'rm', 'TO_REMOVE']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed secret TO_REMOVE\n');
    const again = await cli(['secret', 'rm', 'TO_REMOVE']);
    assert.equal(again.code, 5, again.stderr);
    assert.match(again.stderr, /no secret named 'TO_REMOVE' \[SECRET_NOT_FOUND\]/);
  });

  test('a key that does not open the stored secrets is refused, and so is a readable key file', async () => {
    const otherKey = Buffer.alloc(32, 7).toString('base64');
    const mixed = await cli(['secret', 'set', 'OTHER'], 'other-value', { JUNCTION_SECRET_KEY: otherKey });
    assert.equal(mixed.code, 7, mixed.stderr);
    assert.match(mixed.stderr, /does not open the stored secret 'DEPLOY_TOKEN'.*\[SECRET_DECRYPT_FAILED\]/);
    assert.ok(!mixed.stderr.includes(otherKey));

    if (posix) {
      chmodSync(keyFile, 0o644);
      try {
        const insecure = await cli(['secret', 'set', 'OTHER'], 'other-value');
        assert.equal(insecure.code, 7, insecure.stderr);
        assert.match(insecure.stderr, /SECRET_KEY_INSECURE/);
        assert.ok(insecure.stderr.includes(`chmod 600 ${keyFile}`), insecure.stderr);
        assert.equal((await cli(['secret', 'list'])).code, 0, 'list needs no key');
      } finally {
        chmodSync(keyFile, 0o600);
      }
    }
  });

  test('with secrets stored and the key gone, set refuses to make a new key', async () => {
    const saved = readFileSync(keyFile);
    rmSync(keyFile);
    try {
      const result = await cli(['secret', 'set', 'OTHER'], 'other-value');
      assert.equal(result.code, 7, result.stderr);
      assert.match(
        result.stderr,
        /secret\(s\) are stored but the key that sealed them is not at .*\[SECRET_KEY_MISSING\]/,
      );
      assert.equal(existsSync(keyFile), false, 'no new key was made');
    } finally {
      writeFileSync(keyFile, saved, { mode: 0o600 });
    }
  });

  test('in a folder without a key, the first set creates it and says so', async () => {
    const bare = tempDir('junction-secret-bare-');
    try {
      const result = await runCli(['secret', 'set', 'FIRST'], { cwd: bare.path, input: 'first-value' });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /created secret key .*secret\.key \(mode 0600\): back it up/);
      const created = join(bare.path, '.junction', 'secret.key');
      if (posix) assert.equal(statSync(created).mode & 0o777, 0o600);
      const second = await runCli(['secret', 'set', 'SECOND'], { cwd: bare.path, input: 'second-value' });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stderr, '', 'the key is created once');
    } finally {
      bare.remove();
    }
  });
});
