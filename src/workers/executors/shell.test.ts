import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJunctionError } from '../../errors/index.ts';
import { createStepLauncher, type StepLauncher } from './launcher.ts';
import {
  createLineSplitter,
  runShellStep,
  truncationMarker,
  type OutputLine,
  type ShellResult,
  type ShellStepOptions,
} from './shell.ts';
import { groupMembers, isRunning, waitUntil } from '../../../test/helpers/processes.ts';

const TIMEOUT = { timeout: 30_000 };
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'junction-shell-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly result: ShellResult;
  readonly lines: OutputLine[];
  readonly stdout: string[];
  readonly stderr: string[];
  readonly elapsedMs: number;
}

const MODES = ['in-process', 'launcher'] as const;
/** The launcher of the mode being tested; tests in this file run one at a time. */
let launcher: StepLauncher | undefined;

function runStep(options: ShellStepOptions): Promise<ShellResult> {
  return runShellStep(launcher === undefined ? options : { ...options, launcher });
}

async function run(script: string, extra: Partial<ShellStepOptions> = {}): Promise<Run> {
  const lines: OutputLine[] = [];
  const started = performance.now();
  const result = await runStep({
    script,
    cwd: dir,
    env: BASE_ENV,
    onLine: (line) => lines.push(line),
    ...extra,
  });
  return {
    result,
    lines,
    stdout: lines.filter((l) => l.stream === 'stdout').map((l) => l.text),
    stderr: lines.filter((l) => l.stream === 'stderr').map((l) => l.text),
    elapsedMs: performance.now() - started,
  };
}

async function assertGroupGone(pgid: number): Promise<void> {
  await waitUntil(`process group ${pgid} is gone`, () => groupMembers(pgid).length === 0, 3_000);
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<Error> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${code}`),
    (error: unknown) => {
      caught = error;
    },
  );
  assert.ok(isJunctionError(caught), `expected a JunctionError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (pattern !== undefined) assert.match(caught.message, pattern);
  return caught;
}

// Every case runs twice: with the shell spawned from this process, and through a step launcher.
for (const mode of MODES) {
  describe(`runShellStep (${mode})`, () => {
    before(async () => {
      if (mode === 'launcher') {
        launcher = createStepLauncher();
        await launcher.start();
      }
    });
    after(async () => {
      await launcher?.close();
      launcher = undefined;
    });

    describe(`runShellStep (${mode}): exit and output`, () => {
      for (const code of [0, 1, 42]) {
        test(`reports exit code ${code}`, TIMEOUT, async () => {
          const { result } = await run(`exit ${code}`);
          assert.equal(result.outcome, 'exited');
          assert.equal(result.exitCode, code);
          assert.equal(result.signal, null);
          assert.equal(result.truncated, false);
          assert.ok(result.pid > 0);
          assert.ok(result.durationMs >= 0);
          await assertGroupGone(result.pid);
        });
      }

      test('runs with sh -e: a failing command stops the script', TIMEOUT, async () => {
        const { result, lines } = await run('false; echo no');
        assert.equal(result.exitCode, 1);
        assert.deepEqual(lines, []);
      });

      test('keeps stdout and stderr apart, in order within each stream', TIMEOUT, async () => {
        const { result, stdout, stderr, lines } = await run(
          'for i in 1 2 3 4 5; do echo "out $i"; echo "err $i" >&2; done',
        );
        assert.equal(result.exitCode, 0);
        assert.deepEqual(stdout, ['out 1', 'out 2', 'out 3', 'out 4', 'out 5']);
        assert.deepEqual(stderr, ['err 1', 'err 2', 'err 3', 'err 4', 'err 5']);
        for (const line of lines) assert.match(line.ts, ISO_MS);
        assert.deepEqual(
          lines.map((l) => l.ts),
          lines.map((l) => l.ts).sort(),
        );
      });

      test('delivers lines while the step runs, not at the end', TIMEOUT, async () => {
        // The script only finishes after the test has seen its first line and created the file.
        const go = join(dir, `${mode}-go-streaming`);
        const seen: string[] = [];
        const { result } = await run(`echo ready; while [ ! -e '${go}' ]; do sleep 0.02; done; echo done`, {
          timeoutMs: 10_000,
          onLine: (line) => {
            seen.push(line.text);
            if (line.text === 'ready') writeFileSync(go, '');
          },
        });
        assert.equal(result.outcome, 'exited');
        assert.equal(result.exitCode, 0);
        assert.deepEqual(seen, ['ready', 'done']);
      });

      test('delivers a last line without newline, and drops one trailing CR', TIMEOUT, async () => {
        const { stdout, stderr } = await run("printf 'one\\r\\ntwo\\r\\n\\nthree'; printf 'tail' >&2");
        assert.deepEqual(stdout, ['one', 'two', '', 'three']);
        assert.deepEqual(stderr, ['tail']);
      });

      test('replaces invalid UTF-8 and control characters with U+FFFD, keeps TAB', TIMEOUT, async () => {
        const { result, stdout } = await run(
          "printf '\\000\\377\\376\\n'; printf '\\033[31mred\\tok\\n'; printf 'a\\rb\\n'; printf 'caf\\303\\251 \\342\\202\\254\\n'",
        );
        assert.equal(result.exitCode, 0);
        assert.deepEqual(stdout, ['\uFFFD\uFFFD\uFFFD', '\uFFFD[31mred\tok', 'a\uFFFDb', 'café €']);
      });

      test('decodes a character split across two reads', TIMEOUT, async () => {
        const { stdout } = await run("printf '\\303'; sleep 0.2; printf '\\251\\n'");
        assert.deepEqual(stdout, ['é']);
      });

      test('splits a line longer than maxLineBytes into pieces', TIMEOUT, async () => {
        const { stdout } = await run("printf '0123456789abcdefghijXYZ\\n0123456789\\n0123456789\\r\\n'", {
          maxLineBytes: 10,
        });
        assert.deepEqual(stdout, ['0123456789', 'abcdefghij', 'XYZ', '0123456789', '0123456789']);
      });

      test('cuts long lines before a character, never inside one', TIMEOUT, async () => {
        const text = 'é€'.repeat(50) + '😀'.repeat(20);
        const file = join(dir, `${mode}-multibyte.txt`);
        writeFileSync(file, `${text}\n`);
        const { stdout } = await run(`cat '${file}'`, { maxLineBytes: 16 });
        assert.ok(stdout.length > 1);
        for (const piece of stdout) {
          assert.ok(Buffer.byteLength(piece) <= 16, `piece of ${Buffer.byteLength(piece)} bytes`);
          assert.ok(!piece.includes('\uFFFD'));
        }
        assert.equal(stdout.join(''), text);
      });
    });

    describe(`runShellStep (${mode}): environment and working directory`, () => {
      test('passes exactly the given environment, nothing inherited', TIMEOUT, async () => {
        process.env.JUNCTION_SHELL_TEST_LEAK = 'leaked';
        try {
          const { result, stdout } = await run('env; echo "leak=${JUNCTION_SHELL_TEST_LEAK-unset}"', {
            env: { ...BASE_ENV, GREETING: 'hello world', MULTI: 'a\nb' },
          });
          assert.equal(result.exitCode, 0);
          assert.ok(stdout.includes('GREETING=hello world'));
          assert.ok(stdout.includes('MULTI=a'));
          assert.equal(stdout.at(-1), 'leak=unset');
          const names = stdout
            .slice(0, -1)
            .filter((line) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line))
            .map((line) => line.slice(0, line.indexOf('=')));
          // The shell itself may add PWD, OLDPWD, SHLVL and _.
          const allowed = new Set(['PATH', 'GREETING', 'MULTI', 'PWD', 'OLDPWD', 'SHLVL', '_']);
          assert.deepEqual(
            names.filter((name) => !allowed.has(name)),
            [],
          );
          assert.ok(!stdout.some((line) => line.includes('leaked')));
        } finally {
          delete process.env.JUNCTION_SHELL_TEST_LEAK;
        }
      });

      test('runs in the given working directory', TIMEOUT, async () => {
        const { stdout } = await run('pwd -P');
        assert.deepEqual(stdout, [realpathSync(dir)]);
      });

      test('a missing working directory is STEP_SPAWN_FAILED', TIMEOUT, async () => {
        const missing = join(dir, 'does-not-exist');
        await rejectsWith(
          runStep({ script: 'echo hi', cwd: missing, env: BASE_ENV, onLine: () => {} }),
          'STEP_SPAWN_FAILED',
          /working directory '.*does-not-exist' does not exist/,
        );
      });

      test('a file as working directory is STEP_SPAWN_FAILED', TIMEOUT, async () => {
        const file = join(dir, `${mode}-plain-file`);
        writeFileSync(file, '');
        await rejectsWith(
          runStep({ script: 'echo hi', cwd: file, env: BASE_ENV, onLine: () => {} }),
          'STEP_SPAWN_FAILED',
          /is not a directory/,
        );
      });

      test('a missing shell is STEP_SPAWN_FAILED', TIMEOUT, async () => {
        await rejectsWith(
          runStep({
            script: 'echo hi',
            shell: [join(dir, 'no-such-shell'), '-c'],
            cwd: dir,
            env: BASE_ENV,
            onLine: () => {},
          }),
          'STEP_SPAWN_FAILED',
          /could not start '.*no-such-shell'.*ENOENT/,
        );
      });

      test('an empty shell is STEP_SPAWN_FAILED', TIMEOUT, async () => {
        await rejectsWith(
          runStep({ script: 'true', shell: [], cwd: dir, env: BASE_ENV, onLine: () => {} }),
          'STEP_SPAWN_FAILED',
        );
      });

      test('hostile environment entries are refused without quoting the value', TIMEOUT, async () => {
        const secret = 's3cr3t-token';
        for (const env of [
          { TOKEN: `${secret}\0tail` },
          { 'A=B': secret },
          { '': secret },
          { [`TOKEN=${secret}`]: 'x' },
          { [`TOKEN\0${secret}`]: 'x' },
        ]) {
          const error = await rejectsWith(
            runStep({ script: 'true', cwd: dir, env: { ...BASE_ENV, ...env }, onLine: () => {} }),
            'STEP_SPAWN_FAILED',
            /environment variable/,
          );
          assert.ok(!error.message.includes(secret));
          assert.ok(!JSON.stringify((error as { details?: unknown }).details ?? {}).includes(secret));
        }
      });

      test('a NUL byte in the script or out-of-range options are STEP_SPAWN_FAILED', TIMEOUT, async () => {
        const base = { script: 'true', cwd: dir, env: BASE_ENV, onLine: () => {} };
        await rejectsWith(runStep({ ...base, script: 'echo a\0b' }), 'STEP_SPAWN_FAILED', /NUL/);
        for (const bad of [
          { timeoutMs: 0 },
          { timeoutMs: Number.NaN },
          { timeoutMs: 2 ** 40 },
          { killGraceMs: -1 },
          { maxOutputBytes: 0 },
          { maxLineBytes: 1.5 },
        ]) {
          await rejectsWith(runStep({ ...base, ...bad }), 'STEP_SPAWN_FAILED', /must be an integer/);
        }
      });
    });

    describe(`runShellStep (${mode}): timeouts, cancellation and leftovers`, () => {
      test('a timeout stops the step with SIGTERM', TIMEOUT, async () => {
        const { result, elapsedMs } = await run('sleep 30', { timeoutMs: 200, killGraceMs: 20_000 });
        assert.equal(result.outcome, 'timed-out');
        assert.equal(result.exitCode, null);
        assert.equal(result.signal, 'SIGTERM');
        assert.ok(elapsedMs < 5_000, `took ${elapsedMs} ms`);
        await assertGroupGone(result.pid);
      });

      test('a timeout kills a script that ignores SIGTERM after the grace', TIMEOUT, async () => {
        const { result, stdout, elapsedMs } = await run("trap '' TERM; sleep 30 & echo $!; wait", {
          timeoutMs: 300,
          killGraceMs: 300,
        });
        assert.equal(result.outcome, 'timed-out');
        assert.equal(result.signal, 'SIGKILL');
        assert.equal(result.exitCode, null);
        assert.ok(elapsedMs >= 550, `took only ${elapsedMs} ms: the grace was not given`);
        assert.ok(elapsedMs < 3_000, `took ${elapsedMs} ms`);
        const sleepPid = Number(stdout[0]);
        assert.ok(sleepPid > 0);
        await waitUntil('the ignoring sleep is gone', () => !isRunning(sleepPid));
        await assertGroupGone(result.pid);
      });

      test('an abort signal cancels a running step', TIMEOUT, async () => {
        const controller = new AbortController();
        const seen: string[] = [];
        const { result, elapsedMs } = await run('echo started; sleep 30; echo never', {
          signal: controller.signal,
          killGraceMs: 1_000,
          onLine: (line) => {
            seen.push(line.text);
            if (line.text === 'started') controller.abort();
          },
        });
        assert.equal(result.outcome, 'cancelled');
        assert.equal(result.exitCode, null);
        assert.equal(result.signal, 'SIGTERM');
        assert.deepEqual(seen, ['started']);
        assert.ok(elapsedMs < 5_000, `took ${elapsedMs} ms`);
        await assertGroupGone(result.pid);
      });

      test('an abort while the shell is being started still stops it', TIMEOUT, async () => {
        const controller = new AbortController();
        const started = performance.now();
        const promise = runStep({
          script: 'sleep 30',
          cwd: dir,
          env: BASE_ENV,
          signal: controller.signal,
          killGraceMs: 1_000,
          onLine: () => {},
        });
        controller.abort();
        const result = await promise;
        assert.equal(result.outcome, 'cancelled');
        assert.equal(result.signal, 'SIGTERM');
        assert.ok(result.pid > 0);
        assert.ok(performance.now() - started < 5_000);
        await assertGroupGone(result.pid);
      });

      test('an already aborted signal starts nothing', TIMEOUT, async () => {
        const marker = join(dir, `${mode}-must-not-exist`);
        const { result, lines } = await run(`touch '${marker}'`, { signal: AbortSignal.abort() });
        assert.deepEqual(result, {
          outcome: 'cancelled',
          exitCode: null,
          signal: null,
          durationMs: 0,
          truncated: false,
          pid: 0,
        });
        assert.deepEqual(lines, []);
        assert.equal(existsSync(marker), false);
      });

      test('the first of timeout and cancellation names the outcome', TIMEOUT, async () => {
        const controller = new AbortController();
        // The shell ignores SIGTERM, so the abort lands during the grace that followed the timeout.
        const abortLater = setTimeout(() => controller.abort(), 300);
        try {
          const { result, elapsedMs } = await run("trap '' TERM; sleep 30", {
            signal: controller.signal,
            timeoutMs: 100,
            killGraceMs: 600,
          });
          assert.equal(controller.signal.aborted, true);
          assert.ok(elapsedMs >= 600, `took only ${elapsedMs} ms`);
          assert.equal(result.outcome, 'timed-out');
          assert.equal(result.signal, 'SIGKILL');
        } finally {
          clearTimeout(abortLater);
        }
      });

      test('a background child holding the pipes does not keep the step waiting', TIMEOUT, async () => {
        const { result, stdout, elapsedMs } = await run('sleep 30 & echo $!; echo started');
        assert.equal(result.outcome, 'exited');
        assert.equal(result.exitCode, 0);
        assert.equal(stdout[1], 'started');
        assert.ok(elapsedMs < 5_000, `took ${elapsedMs} ms`);
        const sleepPid = Number(stdout[0]);
        assert.ok(sleepPid > 0);
        await waitUntil('the background sleep is gone', () => !isRunning(sleepPid));
        await assertGroupGone(result.pid);
      });

      for (const holdsPipes of [false, true]) {
        test(
          `a background child ignoring SIGTERM is killed after the grace (holds pipes: ${holdsPipes})`,
          TIMEOUT,
          async () => {
            // One name per mode: a file left by the other mode would end the wait before the trap is set.
            const ready = join(dir, `ignoring-ready-${mode}-${holdsPipes}`);
            const redirect = holdsPipes ? '' : '>/dev/null 2>&1';
            // The child reports ready only once its trap is set, so SIGTERM cannot come before it.
            const { result, stdout, elapsedMs } = await run(
              `(trap '' TERM; touch '${ready}'; exec sleep 30) ${redirect} &
        while [ ! -e '${ready}' ]; do sleep 0.01; done; echo $!`,
              { killGraceMs: 1_500 },
            );
            assert.equal(result.exitCode, 0);
            const sleepPid = Number(stdout[0]);
            assert.ok(sleepPid > 0);
            // Resolved after at most the short drain, before the grace ran out; the child still runs.
            assert.ok(elapsedMs < 1_000, `took ${elapsedMs} ms`);
            assert.ok(
              isRunning(sleepPid),
              'the child ignoring SIGTERM should outlive the step until the grace ends',
            );
            await waitUntil('the ignoring sleep is gone', () => !isRunning(sleepPid), 5_000);
            await assertGroupGone(result.pid);
          },
        );
      }

      test('an onLine that throws stops the step and rejects with its error', TIMEOUT, async () => {
        let pid = 0;
        const failure = new Error('consumer broke');
        const promise = runStep({
          script: 'echo $$; sleep 30',
          cwd: dir,
          env: BASE_ENV,
          killGraceMs: 1_000,
          onLine: (line) => {
            pid = Number(line.text);
            throw failure;
          },
        });
        await assert.rejects(promise, (error) => error === failure);
        assert.ok(pid > 0);
        await assertGroupGone(pid);
      });
    });

    describe(`runShellStep (${mode}): output cap`, () => {
      test(
        '50 MB of output with a 1 MB cap: one marker, bounded delivery, step completes',
        TIMEOUT,
        async () => {
          const finished = join(dir, `${mode}-finished-after-flood`);
          let delivered = 0;
          let markers = 0;
          let after = 0;
          const marker = truncationMarker(1_000_000);
          const rssBefore = process.memoryUsage().rss;
          const result = await runStep({
            script: `head -c 50000000 /dev/zero | tr '\\0' 'a'; touch '${finished}'`,
            cwd: dir,
            env: BASE_ENV,
            maxOutputBytes: 1_000_000,
            timeoutMs: 60_000,
            onLine: (line) => {
              if (markers > 0) after += 1;
              if (line.text === marker) {
                markers += 1;
                assert.equal(line.stream, 'stderr');
              } else delivered += Buffer.byteLength(line.text);
            },
          });
          const rssGrowth = process.memoryUsage().rss - rssBefore;
          assert.equal(result.outcome, 'exited');
          assert.equal(result.exitCode, 0);
          assert.equal(result.truncated, true);
          assert.equal(markers, 1);
          assert.equal(after, 0);
          assert.equal(delivered, 1_000_000);
          assert.ok(existsSync(finished), 'the step must keep running after the cap');
          assert.ok(rssGrowth < 40 * 1024 * 1024, `rss grew by ${rssGrowth} bytes`);
        },
      );

      test('many short lines: complete lines up to the cap, then the marker', TIMEOUT, async () => {
        const { result, stdout, stderr } = await run('yes | head -n 100000', { maxOutputBytes: 1_001 });
        assert.equal(result.truncated, true);
        // 1000 bytes of "y\n" make 500 lines; the 1001st byte is an unfinished line, delivered as is.
        assert.equal(stdout.length, 501);
        assert.ok(stdout.every((line) => line === 'y'));
        assert.deepEqual(stderr, [truncationMarker(1_001)]);
      });

      test('output exactly at the cap is not truncated', TIMEOUT, async () => {
        const { result, stdout, stderr } = await run("printf 'abcd\\n'", { maxOutputBytes: 5 });
        assert.equal(result.truncated, false);
        assert.deepEqual(stdout, ['abcd']);
        assert.deepEqual(stderr, []);
      });
    });
  });
}

describe('createLineSplitter', () => {
  test('byte-by-byte input gives the same lines as one chunk', () => {
    const input = Buffer.from('héllo wörld\r\n€uro\n\n😀 tail', 'utf8');
    const whole: string[] = [];
    const split = createLineSplitter(1024, (t) => whole.push(t));
    split.push(input);
    split.flush();
    const bytewise: string[] = [];
    const split2 = createLineSplitter(1024, (t) => bytewise.push(t));
    for (const byte of input) split2.push(Buffer.from([byte]));
    split2.flush();
    assert.deepEqual(whole, ['héllo wörld', '€uro', '', '😀 tail']);
    assert.deepEqual(bytewise, whole);
  });

  test('a CR at the limit before LF does not make an extra line', () => {
    const lines: string[] = [];
    const split = createLineSplitter(4, (t) => lines.push(t));
    split.push(Buffer.from('abcd\r'));
    split.push(Buffer.from('\nabcd\rx\n'));
    split.flush();
    assert.deepEqual(lines, ['abcd', 'abcd', '\uFFFDx']);
  });

  test('invalid bytes at a cut still make progress', () => {
    const lines: string[] = [];
    const split = createLineSplitter(4, (t) => lines.push(t));
    split.push(Buffer.alloc(10, 0x80));
    split.flush();
    assert.deepEqual(lines, ['\uFFFD'.repeat(4), '\uFFFD'.repeat(4), '\uFFFD'.repeat(2)]);
  });
});
