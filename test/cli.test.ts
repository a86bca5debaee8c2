/**
 * The `junction` command as a user runs it: init, config print, token create, serve as a real
 * child process, emit and events against it, exit codes, and a graceful SIGTERM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, runCli, tempDir } from './helpers/app.ts';
import { serve, type Served } from './helpers/serve.ts';
import { openStore } from '../src/store/index.ts';

describe('junction CLI', { timeout: 120_000 }, () => {
  const dir = tempDir();
  let served: Served;
  let token: string;

  before(async () => {
    const init = await runCli(['init'], { cwd: dir.path });
    assert.equal(init.code, 0, init.stderr);
    assert.ok(existsSync(join(dir.path, 'junction.yaml')));
    const created = await runCli(['token', 'create', '--scope', 'emit,read', '--name', 'cli-test'], {
      cwd: dir.path,
    });
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.trimEnd().split('\n').at(-1)!;
    assert.match(token, /^jct_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    served = await serve(dir.path);
  });

  after(async () => {
    if (served.child.exitCode === null) {
      served.child.kill('SIGKILL');
      await served.exited;
    }
    dir.remove();
  });

  test('init leaves existing files alone', async () => {
    const again = await runCli(['init'], { cwd: dir.path });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /kept/);
  });

  test('emit and events round trip, with --json', async () => {
    const env = { JUNCTION_URL: served.url, JUNCTION_TOKEN: token };
    const emitted = await runCli(
      ['emit', '--type', 'com.example.cli', '--subject', 'main', '--data', '{"n":1}', '--json'],
      { env },
    );
    assert.equal(emitted.code, 0, emitted.stderr);
    const answer = JSON.parse(emitted.stdout) as { status: number; id: string; duplicate: boolean };
    assert.equal(answer.status, 202);

    const listed = await runCli(['events', '--json', '--type', 'com.example.cli'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout) as {
      items: { id: string; event: { data: unknown; subject: string } }[];
      next: null;
    };
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0]!.id, answer.id);
    assert.deepEqual(page.items[0]!.event.data, { n: 1 });

    const table = await runCli(['events'], { env });
    assert.match(table.stdout, /^RECEIVED\s+ID\s+TYPE/m);
    assert.match(table.stdout, /com\.example\.cli/);
    assert.ok(!table.stdout.includes('\u001b['), 'no colour codes with NO_COLOR');

    const one = await runCli(['events', answer.id], { env });
    assert.equal(JSON.parse(one.stdout).id, answer.id);

    const dup = await runCli(['emit', '--type', 'com.example.cli', '--id', 'fixed-1'], { env });
    const dup2 = await runCli(['emit', '--type', 'com.example.cli', '--id', 'fixed-1'], { env });
    assert.match(dup.stdout, /^stored /);
    assert.match(dup2.stdout, /^duplicate of /);
  });

  test('exit codes mean something', async () => {
    const noToken = await runCli(['emit', '--type', 't'], { env: { JUNCTION_URL: served.url } });
    assert.equal(noToken.code, 4, noToken.stderr);
    assert.match(noToken.stderr, /API_UNAUTHENTICATED/);
    const missing = await runCli(['events', 'nope'], {
      env: { JUNCTION_URL: served.url, JUNCTION_TOKEN: token },
    });
    assert.equal(missing.code, 5);
    const unreachable = await runCli(['events'], { env: { JUNCTION_URL: 'http://127.0.0.1:9' } });
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /cannot reach junction/);
    const usage = await runCli(['emit']);
    assert.equal(usage.code, 2);
    const badData = await runCli(['emit', '--type', 't', '--data', '{nope'], {
      env: { JUNCTION_URL: served.url, JUNCTION_TOKEN: token },
    });
    assert.equal(badData.code, 2);
    const badScope = await runCli(['token', 'create', '--scope', 'root'], { cwd: dir.path });
    assert.equal(badScope.code, 2);
  });

  test('config print redacts secrets; an invalid config exits 78 with every problem', async () => {
    const other = tempDir();
    try {
      writeFileSync(
        join(other.path, 'junction.yaml'),
        'bus: nats://user:hunter2@127.0.0.1:4222\nsources:\n  - name: gh\n    type: github\n    secret: ${GH_SECRET}\n',
      );
      const printed = await runCli(['config', 'print'], {
        cwd: other.path,
        env: { GH_SECRET: 's3cr3t-value' },
      });
      assert.equal(printed.code, 0, printed.stderr);
      assert.doesNotMatch(printed.stdout, /s3cr3t-value|hunter2/);
      assert.match(printed.stdout, /\*\*\*/);

      writeFileSync(
        join(other.path, 'junction.yaml'),
        'server:\n  prot: 80\n  port: 70000\nlog:\n  level: loud\n',
      );
      const invalid = await runCli(['config', 'print'], { cwd: other.path });
      assert.equal(invalid.code, 78);
      assert.match(invalid.stderr, /CONFIG_INVALID/);
      assert.match(invalid.stderr, /prot.*did you mean 'port'/);
      assert.match(invalid.stderr, /junction\.yaml:3:\d+/);
      assert.match(invalid.stderr, /level/);
    } finally {
      other.remove();
    }
  });

  test('SIGTERM stops intake, publishes the outbox and exits 0', async () => {
    const env = { JUNCTION_URL: served.url, JUNCTION_TOKEN: token };
    for (let i = 0; i < 5; i++)
      assert.equal((await runCli(['emit', '--type', 'com.example.bye'], { env })).code, 0);
    served.child.kill('SIGTERM');
    assert.equal(await served.exited, 0, served.stderr());
    assert.match(served.stderr(), /shutting down/);
    const store = await openStore(`sqlite:${join(dir.path, '.junction', 'junction.db')}`, {});
    try {
      assert.equal((await store.outboxStats()).pending, 0);
      const page = await store.listEvents({ type: 'com.example.bye' }, { limit: 100 });
      assert.equal(page.items.length, 5);
    } finally {
      await store.close();
    }
  });
});

describe('junction serve and signals around start-up', { timeout: 120_000 }, () => {
  function project(pipelines: number): ReturnType<typeof tempDir> {
    const dir = tempDir();
    writeFileSync(join(dir.path, 'junction.yaml'), 'dataDir: ./.junction\n');
    mkdirSync(join(dir.path, 'pipelines'));
    for (let i = 0; i < pipelines; i++) {
      writeFileSync(
        join(dir.path, 'pipelines', `p${i}.yaml`),
        `name: p${i}\non:\n  - event: type.${i}\njobs:\n  a:\n    steps:\n      - run: echo ${i}\n`,
      );
    }
    return dir;
  }

  test('SIGTERM the moment the server says it listens shuts it down cleanly', async () => {
    const dir = project(0);
    try {
      const served = await serve(dir.path);
      served.child.kill('SIGTERM');
      assert.equal(await served.exited, 0, served.stderr());
      assert.match(served.stderr(), /SIGTERM: shutting down/);
    } finally {
      dir.remove();
    }
  });

  test('SIGTERM during start-up is kept until the server is up, then shuts it down', async () => {
    // Enough pipelines that loading them takes a while after the store is open.
    const dir = project(400);
    try {
      const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0'], {
        cwd: dir.path,
        env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<[number | null, string | null]>((resolve) =>
        child.on('exit', (code, signal) => resolve([code, signal])),
      );
      // The signal handlers are in place before the store opens: wait until the process holds the
      // database file open, and signal it before it says it listens.
      const database = join(dir.path, '.junction', 'junction.db');
      const holdsDatabase = (): boolean => {
        try {
          return readdirSync(`/proc/${child.pid}/fd`).some((fd) => {
            try {
              return readlinkSync(`/proc/${child.pid}/fd/${fd}`) === database;
            } catch {
              return false;
            }
          });
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 30_000;
      while (!holdsDatabase()) {
        if (Date.now() > deadline) assert.fail(`serve never opened its database: ${stderr}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      assert.doesNotMatch(stderr, /listening/, 'signalled before it listens');
      child.kill('SIGTERM');
      assert.deepEqual(await exited, [0, null], stderr);
      assert.match(stderr, /SIGTERM during start-up: shutting down once started/);
      assert.match(stderr, /junction listening on/);
      assert.match(stderr, /SIGTERM: shutting down/);
    } finally {
      dir.remove();
    }
  });
});
