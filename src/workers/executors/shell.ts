/**
 * The shell executor: runs one step's script as its own process group and streams its output
 * line by line while it runs.
 *
 * What callers may assume:
 * - The script runs as `/bin/sh -e -c <script>` (or `shell` followed by the script) in `cwd`, with
 *   exactly `env` as its environment: nothing of Junction's own environment is inherited. stdin is
 *   closed (`/dev/null`). The shell leads a new process group whose id is `pid`.
 * - Output arrives through `onLine` as it is printed, one call per line, in order within each
 *   stream (stdout and stderr are two pipes, so their relative order is only approximate). Lines
 *   end at LF; one trailing CR is dropped; a last line without LF is delivered when the stream
 *   ends. `ts` is the time Junction read the line.
 * - Text is safe to store and to print on a terminal: bytes are decoded as UTF-8, every invalid
 *   sequence becomes U+FFFD, and so does every control character except TAB (C0 such as NUL, ESC
 *   and a CR inside a line, DEL, and the C1 range U+0080–U+009F), one U+FFFD per character. Colour
 *   escapes therefore show as `�[31m`; nothing the step prints can drive the viewer's terminal.
 * - Lines are split on the LF byte before decoding, so a multi-byte character split across pipe
 *   reads is whole again when decoded. A line longer than `maxLineBytes` bytes is delivered in
 *   pieces of at most that many bytes, cut before a character, never inside one.
 * - At most `maxOutputBytes` bytes (counted as read, both streams together) reach `onLine`. The
 *   first byte past the cap ends delivery: what is pending is delivered, then one marker line on
 *   stderr (`[junction] output truncated: …`), then nothing more. The step keeps running and its
 *   pipes are still read (and dropped), so it never blocks on a full pipe; `truncated` is true.
 * - `timeoutMs` and `signal` stop the step the same way: SIGTERM to the whole group, then SIGKILL
 *   to the group when anything of it is still alive `killGraceMs` later. A script that ignores
 *   SIGTERM still dies. The outcome is `timed-out` or `cancelled`, whichever came first while the
 *   shell was running. An already aborted signal starts nothing: the result is `cancelled` with
 *   `pid` 0.
 * - When the shell exits, whatever is left in its group (`sleep 100 &`) gets the same SIGTERM then
 *   SIGKILL. The promise does not wait for leftovers that hold the pipes: it resolves once both
 *   pipes are closed or `DRAIN_AFTER_EXIT_MS` after the shell exited, whichever is first; the
 *   SIGKILL, if still needed, follows after the grace. A process that left the group (setsid) is
 *   beyond reach.
 * - No path leaves a process of the group behind: an `onLine` that throws stops the step (the
 *   promise then rejects with that error once the shell is gone).
 * - A step that cannot be started rejects with STEP_SPAWN_FAILED and leaves no process: a missing
 *   or non-executable shell, a `cwd` that does not exist or is not a directory, an environment
 *   variable with an empty name, `=` in its name or a NUL byte (the message names the variable,
 *   never its value), or an option out of range.
 * - With `launcher` (launcher.ts; the worker pool passes its own), the shell is forked by the
 *   launcher's small helper process instead of this one, which keeps the fork cheap and off this
 *   event loop; everything above holds the same, signals included (they go to the process group
 *   from here). Without it, the shell is spawned from this process. When the helper dies while the
 *   step runs, the step's group gets the SIGTERM, grace, SIGKILL of a timeout and the promise
 *   rejects with STEP_LAUNCHER_FAILED.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { isJunctionError, JunctionError } from '../../errors/index.ts';
import type { ProcessWatcher, StepLauncher } from './launcher.ts';

export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** ISO 8601 with milliseconds, when the line was read. */
  readonly ts: string;
}

export interface ShellStepOptions {
  /** Shell text, run as `<shell...> <script>`. */
  readonly script: string;
  /** The shell and its flags; the script is appended as the last argument. Default `/bin/sh -e -c`. */
  readonly shell?: readonly string[];
  /** Working directory; must exist. */
  readonly cwd: string;
  /** The whole environment of the step: nothing is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Stop the step after this long (SIGTERM, then SIGKILL after `killGraceMs`). No limit when absent. */
  readonly timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. Default 5000. */
  readonly killGraceMs?: number;
  /** Cancels the step: the same SIGTERM, grace, SIGKILL as a timeout. */
  readonly signal?: AbortSignal;
  /** Receives each line as it is read. Must not block; a throw stops the step. */
  readonly onLine: (line: OutputLine) => void;
  /** Bytes of output delivered per step, both streams together. Default 16 MiB. */
  readonly maxOutputBytes?: number;
  /** Longest line delivered in one piece, in bytes. Default 64 KiB. */
  readonly maxLineBytes?: number;
  /** Starts the shell through this launcher's helper process; in this process when absent. */
  readonly launcher?: StepLauncher;
}

export interface ShellResult {
  readonly outcome: 'exited' | 'timed-out' | 'cancelled';
  /** The shell's exit status; null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended the shell, such as `SIGKILL`; null when it exited by itself. */
  readonly signal: string | null;
  /** From start to the shell's exit. */
  readonly durationMs: number;
  readonly truncated: boolean;
  /** The shell's pid, which is also the process group id; 0 when nothing was started. */
  readonly pid: number;
}

export const DEFAULT_SHELL: readonly string[] = Object.freeze(['/bin/sh', '-e', '-c']);
export const DEFAULT_KILL_GRACE_MS = 5000;
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** How long output is still read after the shell exited while something else holds its pipes. */
export const DRAIN_AFTER_EXIT_MS = 200;

/** How often a terminating group is checked for survivors during the grace. */
const GROUP_POLL_MS = 25;
/** The longest delay a Node.js timer accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const LF = 0x0a;
const CR = 0x0d;

interface Limits {
  readonly shell: readonly string[];
  readonly timeoutMs: number | undefined;
  readonly killGraceMs: number;
  readonly maxOutputBytes: number;
  readonly maxLineBytes: number;
}

type Outcome = ShellResult['outcome'];

export async function runShellStep(options: ShellStepOptions): Promise<ShellResult> {
  const limits = checkOptions(options);
  checkWorkingDirectory(options.cwd);
  if (options.signal?.aborted === true) return notStarted();
  const child = await startShell(options, limits.shell);
  return supervise(child, options, limits);
}

function notStarted(): ShellResult {
  return { outcome: 'cancelled', exitCode: null, signal: null, durationMs: 0, truncated: false, pid: 0 };
}

// ---------------------------------------------------------------------------------------------
// Starting

function spawnFailed(message: string, details?: Record<string, unknown>, cause?: unknown): JunctionError {
  return new JunctionError('STEP_SPAWN_FAILED', message, {
    ...(details === undefined ? {} : { details }),
    ...(cause === undefined ? {} : { cause }),
  });
}

function checkOptions(options: ShellStepOptions): Limits {
  const shell = options.shell ?? DEFAULT_SHELL;
  if (shell.length === 0 || shell[0] === '') throw spawnFailed('the step shell is empty');
  if (shell.some((arg) => arg.includes('\0'))) throw spawnFailed('the step shell contains a NUL byte');
  if (options.script.includes('\0')) throw spawnFailed('the step script contains a NUL byte');
  for (const [name, value] of Object.entries(options.env)) {
    if (name === '') throw spawnFailed('an environment variable has an empty name');
    const bad = name.search(/[=\0]/);
    if (bad !== -1) {
      // Quote only what comes before: a name like `TOKEN=abc` carries a value after the `=`.
      const prefix = name.slice(0, bad);
      const character = name[bad] === '=' ? "'='" : 'a NUL byte';
      throw spawnFailed(`environment variable name '${prefix}…' contains ${character}`, { name: prefix });
    }
    if (value.includes('\0')) {
      throw spawnFailed(`environment variable '${name}' has a NUL byte in its value`, { name });
    }
  }
  return {
    shell,
    timeoutMs: options.timeoutMs === undefined ? undefined : integerOption('timeoutMs', options.timeoutMs, 1),
    killGraceMs: integerOption('killGraceMs', options.killGraceMs ?? DEFAULT_KILL_GRACE_MS, 0),
    maxOutputBytes: integerOption('maxOutputBytes', options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, 1),
    maxLineBytes: integerOption('maxLineBytes', options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, 4),
  };
}

function integerOption(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > MAX_TIMER_MS) {
    throw spawnFailed(`${name} must be an integer from ${min} to ${MAX_TIMER_MS}, got ${value}`, {
      [name]: value,
    });
  }
  return value;
}

function checkWorkingDirectory(cwd: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(cwd).isDirectory();
  } catch (error) {
    throw spawnFailed(`working directory '${cwd}' does not exist or cannot be read`, { cwd }, error);
  }
  if (!isDirectory) throw spawnFailed(`working directory '${cwd}' is not a directory`, { cwd });
}

/** What supervising needs of a started shell: a ChildProcess, or one the launcher started. */
interface StepProcess {
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Reports the exit once, and errors; what already happened is reported at the call. */
  watch(watcher: ProcessWatcher): void;
  /** Output past the cap is not wanted; the pipes must still be drained. */
  dropOutput?(): void;
}

async function startShell(options: ShellStepOptions, shell: readonly string[]): Promise<StepProcess> {
  const [command, ...flags] = shell as [string, ...string[]];
  if (options.launcher !== undefined) {
    try {
      return await options.launcher.spawn({
        command,
        args: [...flags, options.script],
        cwd: options.cwd,
        env: options.env,
      });
    } catch (error) {
      if (isJunctionError(error)) throw error;
      throw spawnFailed(
        `could not start '${command}' in '${options.cwd}' (${errorCode(error)})`,
        { shell: command, cwd: options.cwd, reason: errorCode(error) },
        error,
      );
    }
  }
  let child: ChildProcess;
  try {
    child = spawn(command, [...flags, options.script], {
      cwd: options.cwd,
      env: { ...options.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    // Node's own message may quote option values (the environment); keep only its code.
    throw spawnFailed(`could not start '${command}' in '${options.cwd}'`, {
      shell: command,
      cwd: options.cwd,
      reason: errorCode(error),
    });
  }
  if (child.pid !== undefined) return fromChildProcess(child);
  const [error] = (await once(child, 'error')) as [unknown];
  throw spawnFailed(
    `could not start '${command}' in '${options.cwd}' (${errorCode(error)})`,
    { shell: command, cwd: options.cwd, reason: errorCode(error) },
    error,
  );
}

function fromChildProcess(child: ChildProcess): StepProcess {
  return {
    pid: child.pid!,
    stdout: child.stdout!,
    stderr: child.stderr!,
    watch(watcher) {
      child.on('error', (error) => watcher.onError(error));
      child.once('exit', (code, signal) => watcher.onExit(code, signal));
    },
  };
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return 'unknown';
}

// ---------------------------------------------------------------------------------------------
// Running

function supervise(child: StepProcess, options: ShellStepOptions, limits: Limits): Promise<ShellResult> {
  const { pid, stdout, stderr } = child;
  const startedAt = performance.now();
  const reaper = createGroupReaper(pid, limits.killGraceMs);

  return new Promise<ShellResult>((resolve, reject) => {
    let outcome: Outcome = 'exited';
    let exit: { code: number | null; signal: string | null; at: number } | undefined;
    let openStreams = 2;
    let settled = false;
    let failure: { error: unknown } | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const output = createOutputGate(
      options.onLine,
      limits,
      (error) => stop('exited', error),
      () => child.dropOutput?.(),
    );

    function stop(reason: Outcome, error?: unknown): void {
      if (error !== undefined) failure ??= { error };
      if (exit === undefined && outcome === 'exited') outcome = reason;
      reaper.terminate();
    }

    const onAbort = (): void => stop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The signal may have fired while the shell was being started (a launcher answers later).
    if (options.signal?.aborted === true) stop('cancelled');
    if (limits.timeoutMs !== undefined) {
      timeoutTimer = setTimeout(() => stop('timed-out'), limits.timeoutMs);
    }

    function finish(): void {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(drainTimer);
      options.signal?.removeEventListener('abort', onAbort);
      output.flush('stdout');
      output.flush('stderr');
      stdout.destroy();
      stderr.destroy();
      if (failure !== undefined) {
        reject(asError(failure.error));
        return;
      }
      const end = exit?.at ?? performance.now();
      resolve({
        outcome,
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        durationMs: Math.round(end - startedAt),
        truncated: output.isTruncated(),
        pid,
      });
    }

    function streamClosed(): void {
      openStreams -= 1;
      if (openStreams === 0 && exit !== undefined) finish();
    }

    for (const [name, stream] of [
      ['stdout', stdout],
      ['stderr', stderr],
    ] as const) {
      stream.on('data', (chunk: Buffer) => output.push(name, chunk));
      stream.once('end', () => output.flush(name));
      stream.once('close', streamClosed);
      stream.on('error', (error: Error) => stop('exited', readFailed(name, error)));
    }

    child.watch({
      onError(error) {
        const failed = isJunctionError(error) ? error : spawnFailed('the step shell failed', { pid }, error);
        stop('exited', failed);
      },
      onExit(code, signal) {
        exit = { code, signal, at: performance.now() };
        clearTimeout(timeoutTimer);
        // Leftovers in the group (background jobs) are stopped like a timed-out step.
        reaper.terminate();
        if (openStreams === 0) finish();
        else drainTimer = setTimeout(finish, DRAIN_AFTER_EXIT_MS);
      },
    });
  });
}

function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new JunctionError('INTERNAL', 'the output callback threw a value that is not an error', {
    cause: value,
  });
}

function readFailed(stream: string, error: Error): JunctionError {
  return new JunctionError('INTERNAL', `reading the step's ${stream} failed`, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Process group

interface GroupReaper {
  /** SIGTERM to the group now, SIGKILL after the grace if anything of it is alive. Idempotent. */
  terminate(): void;
}

function createGroupReaper(pgid: number, graceMs: number): GroupReaper {
  let started = false;
  return {
    terminate() {
      if (started) return;
      started = true;
      if (!signalGroup(pgid, 'SIGTERM')) return;
      const deadline = performance.now() + graceMs;
      const check = (): void => {
        if (!signalGroup(pgid, 0)) return;
        const left = deadline - performance.now();
        if (left <= 0) {
          signalGroup(pgid, 'SIGKILL');
          return;
        }
        setTimeout(check, Math.min(GROUP_POLL_MS, left));
      };
      setTimeout(check, Math.min(GROUP_POLL_MS, graceMs));
    },
  };
}

/** Sends `signal` to every process of the group; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false;
    // EPERM: a member changed its user; nothing more this process can do about it.
    if (errorCode(error) === 'EPERM') return false;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Output

interface OutputGate {
  push(stream: OutputLine['stream'], chunk: Buffer): void;
  /** Delivers the stream's unfinished last line, if any. */
  flush(stream: OutputLine['stream']): void;
  isTruncated(): boolean;
}

/**
 * Applies the output cap and turns bytes into lines for `onLine`; a throw from it calls `onError`,
 * reaching the cap calls `onTruncated`.
 */
function createOutputGate(
  onLine: (line: OutputLine) => void,
  limits: Limits,
  onError: (error: unknown) => void,
  onTruncated: () => void,
): OutputGate {
  let consumed = 0;
  let truncated = false;
  let broken = false;

  function deliver(stream: OutputLine['stream'], text: string): void {
    if (broken || truncated) return;
    try {
      onLine({ stream, text, ts: new Date().toISOString() });
    } catch (error) {
      broken = true;
      onError(error);
    }
  }

  const splitters = {
    stdout: createLineSplitter(limits.maxLineBytes, (text) => deliver('stdout', text)),
    stderr: createLineSplitter(limits.maxLineBytes, (text) => deliver('stderr', text)),
  };

  return {
    push(stream, chunk) {
      if (truncated || broken) return;
      const room = limits.maxOutputBytes - consumed;
      if (chunk.length <= room) {
        consumed += chunk.length;
        splitters[stream].push(chunk);
        return;
      }
      consumed = limits.maxOutputBytes;
      splitters[stream].push(chunk.subarray(0, room));
      splitters.stdout.flush();
      splitters.stderr.flush();
      deliver('stderr', truncationMarker(limits.maxOutputBytes));
      truncated = true;
      onTruncated();
    },
    flush(stream) {
      splitters[stream].flush();
    },
    isTruncated: () => truncated,
  };
}

export function truncationMarker(maxOutputBytes: number): string {
  return `[junction] output truncated: the step printed more than ${maxOutputBytes} bytes; the rest is dropped`;
}

export interface LineSplitter {
  /** Splits the bytes into lines; each complete line (or full piece) is emitted at once. */
  push(bytes: Buffer): void;
  /** Emits the pending unfinished line, if any. */
  flush(): void;
}

/**
 * Turns a byte stream into text lines: LF ends a line, one trailing CR is dropped, a line longer
 * than `maxLineBytes` is emitted in pieces cut before a UTF-8 character, and every line is
 * decoded and cleaned by `toSafeText`. Holds at most `maxLineBytes` + one chunk.
 */
export function createLineSplitter(maxLineBytes: number, emit: (text: string) => void): LineSplitter {
  let pending: Buffer[] = [];
  let size = 0;

  function emitBytes(bytes: Buffer, isLineEnd: boolean): void {
    const end =
      isLineEnd && bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    emit(toSafeText(bytes.subarray(0, end)));
  }

  function takePending(): Buffer {
    const bytes = pending.length === 1 ? pending[0]! : Buffer.concat(pending, size);
    pending = [];
    size = 0;
    return bytes;
  }

  function append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (size + bytes.length <= maxLineBytes) {
      pending.push(bytes);
      size += bytes.length;
      return;
    }
    pending.push(bytes);
    size += bytes.length;
    let buffer = takePending();
    // One byte past the limit may be the CR of a CRLF, which is dropped at the line end.
    while (
      buffer.length > maxLineBytes &&
      !(buffer.length === maxLineBytes + 1 && buffer[maxLineBytes] === CR)
    ) {
      const cut = characterBoundary(buffer, maxLineBytes);
      emitBytes(buffer.subarray(0, cut), false);
      buffer = buffer.subarray(cut);
    }
    if (buffer.length > 0) {
      pending.push(buffer);
      size = buffer.length;
    }
  }

  return {
    push(bytes) {
      let start = 0;
      while (start < bytes.length) {
        const newline = bytes.indexOf(LF, start);
        if (newline === -1) {
          append(bytes.subarray(start));
          return;
        }
        append(bytes.subarray(start, newline));
        emitBytes(takePending(), true);
        start = newline + 1;
      }
    },
    flush() {
      if (size > 0) emitBytes(takePending(), true);
    },
  };
}

/** The largest cut ≤ `limit` that does not split a UTF-8 character (`limit` for invalid bytes). */
function characterBoundary(bytes: Buffer, limit: number): number {
  let cut = limit;
  while (cut > limit - 3 && cut > 0 && isContinuationByte(bytes[cut]!)) cut -= 1;
  return cut > 0 && !isContinuationByte(bytes[cut]!) ? cut : limit;
}

function isContinuationByte(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

// C0 controls except TAB, DEL and the C1 range: everything a terminal may act on.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** UTF-8 with U+FFFD for invalid sequences and for control characters other than TAB. */
export function toSafeText(bytes: Buffer): string {
  return bytes.toString('utf8').replace(CONTROL_CHARACTERS, '\uFFFD');
}
