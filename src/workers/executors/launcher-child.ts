/**
 * The step launcher's own process: started by launcher.ts with `child_process.fork`, it starts step
 * shells on request and relays what happens to them over its IPC channel. It exists because
 * `fork()` costs time in proportion to the forking process's memory: this process stays small, so
 * starting a step here takes a fraction of what it takes in Junction's process, and none of
 * Junction's event loop.
 *
 * What the parent may assume:
 * - It imports only `node:` built-ins, so it stays a lean process; it must stay that way.
 * - It sends `{ t: 'ready' }` once it listens for requests.
 * - `spawn` starts the command exactly as shell.ts does in-process (`detached`, stdin ignored,
 *   stdout and stderr piped) and answers `started` with the pid, or `error` with the system's
 *   error code. After `started` come, in the order they happened: `data` (a Buffer), `end` and
 *   `close` for each stream, `exit` once, `fault` if the stream or the process reports an error.
 * - `drop` stops relaying the output of a process, whose pipes are still read (so it never blocks
 *   on a full pipe); `end` and `close` still come. `release` closes its pipes and forgets it.
 * - It never signals a step: timeouts, cancellation and leftovers are the parent's, by process
 *   group. When the IPC channel closes (Junction exited or was killed), it exits at once and
 *   leaves the steps as Junction's own exit would.
 * - Before it answers `started`, it writes `<id> <pid>\n` to file descriptor 4 (a pipe from the
 *   parent), synchronously. That pipe is not the IPC channel: a message waiting in the channel's
 *   queue dies with this process, a line written to the pipe does not, so the parent learns every
 *   pid it started even if it never gets the answer.
 * - When the parent reads slower than steps print, it pauses reading the pipes until the channel
 *   has room again, so its memory stays bounded and the steps block on their pipes as they would.
 * - Relaying much output leaves memory behind (freed buffers the allocator keeps), and every later
 *   fork pays for it. Once its resident size has grown by more than the bytes given as its first
 *   argument since it became ready, it sends `{ t: 'retire' }` when it runs nothing; the parent
 *   then sends its requests to a new launcher and closes this one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import type { Readable } from 'node:stream';

type StreamName = 'stdout' | 'stderr';

interface Running {
  readonly child: ChildProcess;
  readonly streams: readonly (readonly [StreamName, Readable])[];
  isDropped: boolean;
  exited: boolean;
  openStreams: number;
}

/** The pipe the parent reads the pids of started processes from (launcher.ts). */
const PID_FD = 4;
const running = new Map<number, Running>();
const retireAfterGrowth = Number(process.argv[2] ?? Number.POSITIVE_INFINITY);
let readyRss = 0;
let isRetiring = false;
/** Sends that found the channel's buffer full and have not been written yet. */
let backlog = 0;

if (process.send === undefined) {
  process.stderr.write('junction step launcher: start it through launcher.ts (no IPC channel)\n');
  process.exit(2);
}

function send(message: Record<string, unknown>): void {
  if (!process.connected) return;
  // The callback comes once the message is written, or failed because the channel closed (and
  // this process is about to exit on `disconnect`).
  const isBelowLimit = process.send!(message, undefined, {}, () => {
    if (!isBelowLimit) {
      backlog -= 1;
      if (backlog === 0) for (const entry of running.values()) resumeStreams(entry);
    }
  });
  if (!isBelowLimit) {
    backlog += 1;
    if (backlog === 1) for (const entry of running.values()) pauseStreams(entry);
  }
}

function pauseStreams(entry: Running): void {
  for (const [, stream] of entry.streams) stream.pause();
}

function resumeStreams(entry: Running): void {
  for (const [, stream] of entry.streams) stream.resume();
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return 'unknown';
}

function forgetWhenDone(id: number, entry: Running): void {
  if (!entry.exited || entry.openStreams !== 0) return;
  running.delete(id);
  retireWhenGrown();
}

function retireWhenGrown(): void {
  if (isRetiring || running.size > 0) return;
  // 0: after every step (tests).
  if (retireAfterGrowth > 0 && process.memoryUsage.rss() - readyRss <= retireAfterGrowth) return;
  isRetiring = true;
  send({ t: 'retire', id: 0 });
}

function start(id: number, command: string, args: string[], cwd: string, env: Record<string, string>): void {
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    send({ t: 'error', id, code: errorCode(error) });
    return;
  }
  if (child.pid === undefined) {
    child.once('error', (error) => send({ t: 'error', id, code: errorCode(error) }));
    return;
  }
  const entry: Running = {
    child,
    streams: [
      ['stdout', child.stdout!],
      ['stderr', child.stderr!],
    ],
    isDropped: false,
    exited: false,
    openStreams: 2,
  };
  running.set(id, entry);
  try {
    writeSync(PID_FD, `${id} ${child.pid}\n`);
  } catch {
    // No pid pipe (started by hand): the answer below is all there is.
  }
  send({ t: 'started', id, pid: child.pid });
  for (const [stream, readable] of entry.streams) {
    readable.on('data', (chunk: Buffer) => {
      if (!entry.isDropped) send({ t: 'data', id, stream, chunk });
    });
    readable.once('end', () => send({ t: 'end', id, stream }));
    readable.once('close', () => {
      entry.openStreams -= 1;
      send({ t: 'close', id, stream });
      forgetWhenDone(id, entry);
    });
    readable.on('error', (error) => send({ t: 'fault', id, stream, code: errorCode(error) }));
    if (backlog > 0) readable.pause();
  }
  child.on('error', (error) => send({ t: 'fault', id, code: errorCode(error) }));
  child.once('exit', (code, signal) => {
    entry.exited = true;
    send({ t: 'exit', id, code, signal });
    forgetWhenDone(id, entry);
  });
}

process.on('message', (message: unknown) => {
  if (typeof message !== 'object' || message === null) return;
  const request = message as Record<string, unknown>;
  const id = request['id'];
  if (typeof id !== 'number') return;
  switch (request['t']) {
    case 'spawn':
      start(
        id,
        request['command'] as string,
        request['args'] as string[],
        request['cwd'] as string,
        request['env'] as Record<string, string>,
      );
      return;
    case 'drop': {
      const entry = running.get(id);
      if (entry !== undefined) entry.isDropped = true;
      return;
    }
    case 'release': {
      const entry = running.get(id);
      if (entry === undefined) return;
      entry.isDropped = true;
      for (const [, stream] of entry.streams) stream.destroy();
      running.delete(id);
      retireWhenGrown();
      return;
    }
    default:
      return;
  }
});

// Junction exited or was killed: nobody is left to relay to.
process.on('disconnect', () => process.exit(0));

readyRss = process.memoryUsage.rss();
send({ t: 'ready' });
