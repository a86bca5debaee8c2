import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJunctionError, type JunctionError } from '../../errors/index.ts';
import { createStepLauncher, LAUNCHER_SCRIPT, type LaunchedProcess, type StepLauncher } from './launcher.ts';
import { runShellStep } from './shell.ts';
import { groupMembers, isRunning, waitUntil } from '../../../test/helpers/processes.ts';

const TIMEOUT = { timeout: 30_000 };
const ENV = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'junction-launcher-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Spawns a shell that writes its pid to `pidFile` and sleeps; resolves to the error the spawn
 * rejected with (undefined when it started normally).
 */
function spawnPidWriter(launcher: StepLauncher, pidFile: string): Promise<unknown> {
  return launcher
    .spawn({ command: '/bin/sh', args: ['-c', `echo $$ > ${pidFile}; exec sleep 30`], cwd: dir, env: ENV })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
}

const hasPid = (pidFile: string): boolean =>
  existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes('\n');
const readPid = (pidFile: string): number => Number(readFileSync(pidFile, 'utf8').trim());

function assertLauncherFailed(caught: unknown): asserts caught is JunctionError {
  assert.ok(isJunctionError(caught), `expected a JunctionError, got ${String(caught)}`);
  assert.equal(caught.code, 'STEP_LAUNCHER_FAILED');
}

const waitUntilGroupGone = (pgid: number): Promise<void> =>
  waitUntil(`process group ${pgid} is gone`, () => groupMembers(pgid).length === 0, 5_000);

/** Everything the process prints and how it exits. */
async function collect(launched: LaunchedProcess): Promise<{
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal: string | null;
}> {
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const closed = (['stdout', 'stderr'] as const).map(
    (name) =>
      new Promise<void>((resolve, reject) => {
        launched[name].on('data', (chunk: Buffer) => {
          assert.ok(Buffer.isBuffer(chunk));
          chunks[name].push(chunk);
        });
        launched[name].once('close', resolve);
        launched[name].once('error', reject);
      }),
  );
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) =>
    launched.watch({ onExit: (code, signal) => resolve({ code, signal }), onError: reject }),
  );
  const [{ code, signal }] = await Promise.all([exit, ...closed]);
  return { stdout: Buffer.concat(chunks.stdout), stderr: Buffer.concat(chunks.stderr), code, signal };
}

describe('step launcher', () => {
  let launcher: StepLauncher;
  before(async () => {
    launcher = createStepLauncher();
    await launcher.start();
  });
  after(async () => {
    await launcher.close();
  });

  test('runs from the sibling script, with no flags and none of our environment', TIMEOUT, () => {
    const pid = launcher.pid();
    assert.ok(pid !== undefined && isRunning(pid));
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // No flags before the script; its one argument is the growth after which it retires.
    assert.deepEqual(argv.slice(0, 2), [process.execPath, LAUNCHER_SCRIPT]);
    assert.equal(argv.length, 3);
    // Only what Node.js sets up for the IPC channel itself.
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(
      environ.filter((entry) => !entry.startsWith('NODE_CHANNEL_')),
      [],
    );
  });

  test('relays both streams byte for byte, and the exit', TIMEOUT, async () => {
    // 4 MiB of every byte value, and text on stderr; the exit code comes last.
    const launched = await launcher.spawn({
      command: '/bin/sh',
      args: ['-c', 'head -c 4194304 /dev/urandom | tee out.bin; echo oops >&2; exit 3'],
      cwd: dir,
      env: ENV,
    });
    assert.ok(launched.pid > 0);
    const { stdout, stderr, code, signal } = await collect(launched);
    assert.equal(stdout.length, 4_194_304);
    const written = readFileSync(join(dir, 'out.bin'));
    assert.equal(
      createHash('sha256').update(stdout).digest('hex'),
      createHash('sha256').update(written).digest('hex'),
    );
    assert.equal(stderr.toString(), 'oops\n');
    assert.equal(code, 3);
    assert.equal(signal, null);
  });

  test('the process leads its own group and gets exactly the given environment', TIMEOUT, async () => {
    const launched = await launcher.spawn({
      command: '/bin/sh',
      args: ['-c', 'ps -o pgid= -p $$; env'],
      cwd: dir,
      env: { ...ENV, ONLY: 'this' },
    });
    const { stdout, code } = await collect(launched);
    assert.equal(code, 0);
    const [pgid, ...env] = stdout.toString().trim().split('\n');
    assert.equal(Number(pgid), launched.pid);
    assert.ok(env.includes('ONLY=this'));
    assert.ok(!env.some((line) => line.startsWith('NODE_')));
  });

  test('a command that cannot start rejects with the system error code', TIMEOUT, async () => {
    for (const [command, cwd, code] of [
      [join(dir, 'missing'), dir, 'ENOENT'],
      ['/bin/sh', join(dir, 'no-dir'), 'ENOENT'],
      [dir, dir, 'EACCES'],
    ] as const) {
      await assert.rejects(launcher.spawn({ command, args: [], cwd, env: ENV }), (error: unknown) => {
        assert.equal((error as NodeJS.ErrnoException).code, code);
        return true;
      });
    }
  });

  test(
    'a spawn still waiting when the launcher closes rejects with STEP_LAUNCHER_FAILED',
    TIMEOUT,
    async () => {
      const other = createStepLauncher();
      const pending = other.spawn({ command: '/bin/true', args: [], cwd: dir, env: ENV });
      const rejected = assert.rejects(
        pending,
        (error: unknown) => isJunctionError(error) && error.code === 'STEP_LAUNCHER_FAILED',
      );
      await other.close();
      await rejected;
      // A closed launcher starts a new helper when asked again.
      const launched = await other.spawn({ command: '/bin/sh', args: ['-c', 'exit 0'], cwd: dir, env: ENV });
      assert.equal((await collect(launched)).code, 0);
      await other.close();
    },
  );
});

describe('step launcher: replacing a helper that grew', () => {
  test('steps run on through new helpers and the old ones exit', TIMEOUT, async () => {
    // 0: the helper asks to be replaced after every step.
    const launcher = createStepLauncher({ retireAfterGrowthBytes: 0 });
    try {
      await launcher.start();
      const helpers: number[] = [];
      for (const word of ['one', 'two', 'three']) {
        helpers.push(launcher.pid()!);
        const lines: string[] = [];
        const result = await runShellStep({
          script: `echo ${word}`,
          cwd: dir,
          env: ENV,
          launcher,
          onLine: (line) => lines.push(line.text),
        });
        assert.equal(result.exitCode, 0);
        assert.deepEqual(lines, [word]);
        await waitUntil('a new helper took over', () => launcher.pid() !== helpers.at(-1));
      }
      assert.equal(new Set(helpers).size, 3);
      for (const pid of helpers) await waitUntil(`retired helper ${pid} is gone`, () => !isRunning(pid));
    } finally {
      await launcher.close();
    }
  });
});

describe('step launcher: losing the helper', () => {
  test('a killed launcher fails its steps, stops their groups and is replaced', TIMEOUT, async () => {
    const launcher = createStepLauncher();
    try {
      await launcher.start();
      const first = launcher.pid()!;
      let shellPid = 0;
      // The group ignores SIGTERM, so only the SIGKILL after the grace ends it.
      const step = runShellStep({
        script: "trap '' TERM; sleep 30 & echo $$; wait",
        cwd: dir,
        env: ENV,
        killGraceMs: 300,
        launcher,
        onLine: (line) => {
          shellPid = Number(line.text);
          process.kill(first, 'SIGKILL');
        },
      });
      let caught: unknown;
      await step.catch((error: unknown) => (caught = error));
      assertLauncherFailed(caught);
      assert.match(
        (caught as Error).message,
        new RegExp(`step launcher \\(pid ${first}\\) exited by SIGKILL`),
      );
      assert.ok(shellPid > 0);
      await waitUntilGroupGone(shellPid);

      const lines: string[] = [];
      const result = await runShellStep({
        script: 'echo again',
        cwd: dir,
        env: ENV,
        launcher,
        onLine: (line) => lines.push(line.text),
      });
      assert.equal(result.exitCode, 0);
      assert.deepEqual(lines, ['again']);
      const second = launcher.pid();
      assert.ok(second !== undefined && second !== first);
    } finally {
      await launcher.close();
    }
  });

  test(
    'a step the launcher starts while it is being closed is stopped, not left running',
    TIMEOUT,
    async () => {
      const launcher = createStepLauncher();
      const pidFile = join(dir, 'closing.pid');
      try {
        await launcher.start();
        const failure = spawnPidWriter(launcher, pidFile);
        // The request is on its way; the launcher still starts the shell after its channel closes.
        await new Promise((resolve) => setImmediate(resolve));
        await launcher.close();
        assertLauncherFailed(await failure);
        await waitUntil('the shell wrote its pid', () => hasPid(pidFile), 5_000);
        await waitUntilGroupGone(readPid(pidFile));
      } finally {
        await launcher.close();
      }
    },
  );

  test('a step whose start never reached us before the launcher died is stopped', TIMEOUT, async () => {
    const launcher = createStepLauncher();
    const pidFile = join(dir, 'unreported.pid');
    const busyWait = (ms: number, done: () => boolean = () => false): void => {
      const until = Date.now() + ms;
      while (Date.now() < until && !done()) {
        // This process reads nothing meanwhile, so the launcher's channel fills up.
      }
    };
    try {
      await launcher.start();
      const helperPid = launcher.pid()!;
      const flood = await launcher.spawn({
        command: '/bin/sh',
        args: ['-c', 'exec head -c 100000000 /dev/zero'],
        cwd: dir,
        env: ENV,
      });
      flood.stdout.resume();
      flood.stderr.resume();
      flood.watch({ onExit: () => undefined, onError: () => undefined });
      busyWait(300);
      const failure = spawnPidWriter(launcher, pidFile);
      // The request goes out from a microtask; the answer cannot get past the full channel.
      await Promise.resolve();
      await Promise.resolve();
      busyWait(5_000, () => hasPid(pidFile));
      // The launcher writes the pid just after the shell starts; give it that moment.
      busyWait(100);
      process.kill(helperPid, 'SIGKILL');
      assertLauncherFailed(await failure);
      const shellPid = readPid(pidFile);
      assert.ok(shellPid > 0);
      await waitUntilGroupGone(shellPid);
    } finally {
      await launcher.close();
    }
  });

  test('the launcher exits when its parent is killed, and never holds an idle parent', TIMEOUT, async () => {
    // A real parent process: it starts a launcher, runs one step, prints the helper's pid and
    // exits on its own (the idle helper must not keep it alive) unless told to stay.
    const parentScript = `
      import { createStepLauncher } from ${JSON.stringify(new URL('./launcher.ts', import.meta.url).href)};
      const launcher = createStepLauncher();
      const step = await launcher.spawn({ command: '/bin/true', args: [], cwd: '/', env: {} });
      step.stdout.resume();
      step.stderr.resume();
      await new Promise((resolve) => step.watch({ onExit: resolve, onError: resolve }));
      console.log(launcher.pid());
      if (process.argv.includes('stay')) setInterval(() => {}, 1000);
    `;
    const runParent = (
      stay: boolean,
    ): { done: Promise<number | null>; helperPid: Promise<number>; pid: number } => {
      const parent = spawn(
        process.execPath,
        ['--input-type=module', '-e', parentScript, ...(stay ? ['stay'] : [])],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      const helperPid = new Promise<number>((resolve) =>
        parent.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(Number(out.trim()));
        }),
      );
      const done = new Promise<number | null>((resolve) => parent.once('exit', (code) => resolve(code)));
      return { done, helperPid, pid: parent.pid! };
    };

    const idle = runParent(false);
    const idleHelper = await idle.helperPid;
    assert.ok(idleHelper > 0);
    assert.equal(await idle.done, 0);
    await waitUntil('the idle parent’s helper is gone', () => !isRunning(idleHelper));

    const staying = runParent(true);
    const helper = await staying.helperPid;
    assert.ok(isRunning(helper));
    process.kill(staying.pid, 'SIGKILL');
    await staying.done;
    await waitUntil('the killed parent’s helper is gone', () => !isRunning(helper));
  });
});
