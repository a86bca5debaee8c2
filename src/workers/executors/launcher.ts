/**
 * The step launcher: a small Node.js process of its own (launcher-child.ts) that starts step
 * shells for this process. `fork()` copies the page tables of the process that calls it, so its
 * cost grows with that process's memory: in Junction's process (120 MB idle, more under load) one
 * `child_process.spawn` blocks the event loop 7–15 ms, in a lean process about 2 ms. With the
 * launcher the fork happens there, and this process only sends a message (docs/decisions/0009).
 *
 * What callers may assume:
 * - `spawn` starts the command as shell.ts does in-process (own process group, stdin closed,
 *   stdout and stderr piped, exactly `env`) and resolves with its pid once it runs; a command that
 *   cannot be started rejects with an `Error` whose `code` is the system's (`ENOENT`, `EACCES`).
 * - The returned process has `stdout` and `stderr` as Readables that carry the bytes in order and
 *   end and close as the pipes do, and `watch()`, which reports the exit once; events that came
 *   before `watch()` are delivered when it is called. Destroying both streams closes the pipes in
 *   the helper, as destroying a child's pipes does.
 * - Signals are not the launcher's: the caller signals the process group by pid
 *   (`process.kill(-pid)`), which works for any process of the same user.
 * - When the helper dies, every process it was relaying for reports an error with the code
 *   STEP_LAUNCHER_FAILED (or, when its shell had already exited, just closes its streams), and
 *   every spawn waiting for an answer rejects with it. The caller stops those process groups. The
 *   next `spawn` starts a new helper.
 * - A process the helper started but whose answer never arrived (the helper died with the answer
 *   still queued in its channel, or was closed while starting it) is stopped here: the helper
 *   writes each pid to a pipe of its own before it answers, and once the helper is gone every pid
 *   on that pipe whose answer was not taken gets SIGKILL on its process group. Only a helper
 *   killed between starting a shell and writing its pid, a few microseconds, leaves that shell.
 *   `close()` resolves after this.
 * - The helper exits by itself when this process exits or is killed (its IPC channel closes).
 *   It does not keep this process alive while it has nothing to do.
 * - `start()` starts the helper ahead of the first step and waits until it listens; `close()`
 *   stops it. Both may be called again; `spawn` after `close` starts a new helper.
 * - A helper whose memory grew by `retireAfterGrowthBytes` (much output relayed) asks to retire
 *   when idle: a new one is started at once for the next steps, the old one is closed once it has
 *   answered what was already sent to it. Nothing fails.
 * - For benchmarks, the diagnostics channel `junction:step-launcher` receives `{ event, id }` at
 *   `spawn` (with the request's `env`), `started`, `exit` and `close` (exited and both streams
 *   closed), on this process's thread.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { JunctionError } from '../../errors/index.ts';
import type { Logger } from '../../observability/index.ts';

export interface SpawnRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface ProcessWatcher {
  onExit(code: number | null, signal: string | null): void;
  onError(error: Error): void;
}

/** A process started by the launcher; shell.ts supervises it like a ChildProcess. */
export interface LaunchedProcess {
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Reports the exit (once) and errors; what already happened is reported now. */
  watch(watcher: ProcessWatcher): void;
  /** Output is no longer wanted: the helper stops relaying it and still drains the pipes. */
  dropOutput(): void;
}

export interface StepLauncher {
  /** Starts the helper process unless it runs; resolves once it takes requests. */
  start(): Promise<void>;
  spawn(request: SpawnRequest): Promise<LaunchedProcess>;
  /** Stops the helper; processes it still relays for report STEP_LAUNCHER_FAILED. */
  close(): Promise<void>;
  /** The helper's pid while it runs. */
  pid(): number | undefined;
}

export interface StepLauncherOptions {
  readonly logger?: Logger;
  /** How long the helper may take to start. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Growth of the helper's resident memory after which it is replaced; 0: after every step. Default 32 MiB. */
  readonly retireAfterGrowthBytes?: number;
}

/** The helper's script, beside this module: `.ts` when run from src/, `.js` from the build. */
export const LAUNCHER_SCRIPT = join(
  dirname(fileURLToPath(import.meta.url)),
  `launcher-child${extname(fileURLToPath(import.meta.url))}`,
);
const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Past its start size plus this, fork() in the helper costs about 1.5× more (measured). */
const DEFAULT_RETIRE_AFTER_GROWTH_BYTES = 32 * 1024 * 1024;
/** How long `close` waits for the helper to exit after its channel closed before SIGKILL. */
const CLOSE_TIMEOUT_MS = 2_000;

const diagnostics = channel('junction:step-launcher');

type StreamName = 'stdout' | 'stderr';

/** A launched process as the relay sees it: what the helper's messages do to it. */
interface Relay extends LaunchedProcess {
  readonly id: number;
  data(stream: StreamName, chunk: Uint8Array): void;
  end(stream: StreamName): void;
  closed(stream: StreamName): void;
  exited(code: number | null, signal: string | null): void;
  fault(stream: StreamName | undefined, code: string): void;
  /** The helper is gone: nothing more will be relayed. */
  lost(error: JunctionError): void;
}

interface Helper {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly processes: Map<number, Relay>;
  readonly waiting: Map<number, Waiting>;
  readonly exited: Promise<void>;
  isReady: boolean;
  /** Asked to be replaced: takes no new requests, closes once it has nothing to do. */
  isRetiring: boolean;
  isGone: boolean;
  /**
   * Pids the helper wrote to its pid pipe for requests whose `started` answer was not taken (yet):
   * once it is gone, these are processes nobody supervises, and they are stopped.
   */
  readonly unclaimed: Map<number, number>;
  /** Requests whose `started` answer was taken before their pid line arrived. */
  readonly claimed: Set<number>;
  /** Resolves once the pid pipe ended and the unclaimed processes were stopped. */
  readonly reaped: Promise<void>;
}

interface Waiting {
  readonly request: SpawnRequest;
  resolve(process: Relay): void;
  reject(error: Error): void;
}

type Message = Record<string, unknown> & { readonly t: string; readonly id: number };

export function createStepLauncher(options: StepLauncherOptions = {}): StepLauncher {
  const { logger } = options;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const retireAfterGrowthBytes = options.retireAfterGrowthBytes ?? DEFAULT_RETIRE_AFTER_GROWTH_BYTES;
  let helper: Helper | undefined;
  /** Replaced helpers still answering what was sent to them. */
  const retiring = new Set<Helper>();
  let nextId = 1;

  function launch(): Helper {
    const child = fork(LAUNCHER_SCRIPT, [String(retireAfterGrowthBytes)], {
      execPath: process.execPath,
      // Not Junction's flags (--inspect, --cpu-prof, …): the helper is plain and small.
      execArgv: [],
      // Nothing of Junction's environment (secrets, NODE_OPTIONS): each step gets its own `env`.
      env: {},
      serialization: 'advanced',
      // Its own messages go to Junction's stderr; it writes nothing else.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc', 'pipe'],
    });
    let markReady!: () => void;
    let markFailed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    // Nobody may await `ready` (a helper started by `spawn` that died at once).
    ready.catch(() => undefined);
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    let markReaped!: () => void;
    const reaped = new Promise<void>((resolve) => (markReaped = resolve));
    const started: Helper = {
      child,
      ready,
      processes: new Map(),
      waiting: new Map(),
      exited,
      isReady: false,
      isRetiring: false,
      isGone: false,
      unclaimed: new Map(),
      claimed: new Set(),
      reaped,
    };
    let pidsEnded = false;
    readPids(started, () => {
      pidsEnded = true;
      reapWhenDone();
    });
    /** Once the helper is gone and its pid pipe has ended, nothing more can start or be claimed. */
    const reapWhenDone = (): void => {
      if (!started.isGone || !pidsEnded) return;
      reap(started);
      markReaped();
    };
    started.exited.then(reapWhenDone, () => undefined);
    const timer = setTimeout(() => {
      markFailed(launcherFailed(`the step launcher did not start within ${startTimeoutMs} ms`, child));
      child.kill('SIGKILL');
    }, startTimeoutMs);
    timer.unref();

    child.on('message', (message: Message) => {
      if (message.t === 'ready') {
        clearTimeout(timer);
        started.isReady = true;
        markReady();
        keepAlive(started);
        return;
      }
      if (message.t === 'retire') {
        retire(started);
        return;
      }
      onMessage(started, message);
    });
    child.on('error', (error) => {
      // A failed fork (EAGAIN, ENOMEM) or a send on a closed channel.
      logger?.warn({ code: 'STEP_LAUNCHER_FAILED', err: error.message }, 'step launcher: process error');
      if (child.pid === undefined) {
        clearTimeout(timer);
        const failed = launcherFailed('the step launcher could not be started', child, error);
        markFailed(failed);
        gone(started, failed);
      }
    });
    // Gone once it exited and its channel closed: a message sent just before the exit (a step's
    // own exit) is read before the channel reports its end.
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const ended = (): void => {
      if (exit === undefined || child.connected) return;
      clearTimeout(timer);
      markExited();
      const how = exit.signal === null ? `with code ${exit.code}` : `by ${exit.signal}`;
      const error = launcherFailed(`the step launcher (pid ${child.pid}) exited ${how}`, child);
      markFailed(error);
      if (!started.isGone && (started.processes.size > 0 || started.waiting.size > 0)) {
        logger?.warn(
          { code: 'STEP_LAUNCHER_FAILED', pid: child.pid, exitCode: exit.code, signal: exit.signal },
          'step launcher: exited while steps ran; they are stopped and fail',
        );
      }
      gone(started, error);
    };
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      ended();
    });
    child.once('disconnect', ended);
    child.unref();
    keepAlive(started);
    return started;
  }

  /** The helper died or was closed: fail what it was doing and let the next spawn start one. */
  function gone(dead: Helper, error: JunctionError): void {
    if (dead.isGone) return;
    dead.isGone = true;
    if (helper === dead) helper = undefined;
    retiring.delete(dead);
    for (const waiting of dead.waiting.values()) waiting.reject(error);
    dead.waiting.clear();
    for (const launched of dead.processes.values()) launched.lost(error);
    dead.processes.clear();
  }

  /** Reads the helper's pid pipe (`<id> <pid>` lines) until it ends. */
  function readPids(target: Helper, onEnd: () => void): void {
    const pipe = target.child.stdio[4] as Socket | null | undefined;
    if (pipe === null || pipe === undefined) {
      onEnd();
      return;
    }
    // The channel decides whether this process stays alive, never this pipe.
    pipe.unref();
    let partial = '';
    pipe.setEncoding('latin1');
    pipe.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const [id, pid] = line.split(' ').map(Number);
        if (!Number.isSafeInteger(id) || !Number.isSafeInteger(pid) || pid! <= 0) continue;
        if (!target.claimed.delete(id!)) target.unclaimed.set(id!, pid!);
      }
    });
    pipe.once('error', () => undefined);
    pipe.once('close', onEnd);
  }

  /**
   * Stops the process groups the gone helper started but never reported, or reported after their
   * request had failed (the helper was closed while starting it): nobody else knows them.
   */
  function reap(dead: Helper): void {
    const pids = [...dead.unclaimed.values()];
    dead.unclaimed.clear();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    logger?.warn(
      { code: 'STEP_LAUNCHER_FAILED', launcherPid: dead.child.pid, pids },
      'step launcher: stopped step processes it started after their steps had failed',
    );
  }

  /** A new helper takes the next requests; the old one is closed once it has nothing to do. */
  function retire(old: Helper): void {
    if (old.isGone || old.isRetiring) return;
    old.isRetiring = true;
    retiring.add(old);
    logger?.debug({ pid: old.child.pid }, 'step launcher: replacing a launcher that grew');
    if (helper === old) helper = launch();
    keepAlive(old);
  }

  /**
   * The channel keeps this process alive only while the helper starts or works for it; a
   * retiring helper is closed once it does neither.
   */
  function keepAlive(target: Helper): void {
    const isIdle = target.processes.size === 0 && target.waiting.size === 0;
    if (target.isRetiring && isIdle && target.child.connected) {
      target.child.disconnect();
      return;
    }
    const control = target.child.channel;
    if (control === null || control === undefined) return;
    if (!target.isReady || target.processes.size > 0 || target.waiting.size > 0) control.ref();
    else control.unref();
  }

  function onMessage(from: Helper, message: Message): void {
    const { id } = message;
    if (message.t === 'started' || message.t === 'error') {
      const waiting = from.waiting.get(id);
      if (waiting === undefined) return;
      from.waiting.delete(id);
      if (message.t === 'error') {
        const code = String(message['code']);
        waiting.reject(Object.assign(new Error(`spawn ${waiting.request.command} ${code}`), { code }));
      } else {
        if (!from.unclaimed.delete(id)) from.claimed.add(id);
        const launched = new Launched(id, message['pid'] as number, from);
        from.processes.set(id, launched);
        publish({ event: 'started', id });
        waiting.resolve(launched);
      }
      keepAlive(from);
      return;
    }
    const launched = from.processes.get(id);
    if (launched === undefined) return;
    const stream = message['stream'] as StreamName | undefined;
    switch (message.t) {
      case 'data':
        launched.data(stream!, message['chunk'] as Uint8Array);
        break;
      case 'end':
        launched.end(stream!);
        break;
      case 'close':
        launched.closed(stream!);
        break;
      case 'exit':
        launched.exited(message['code'] as number | null, message['signal'] as string | null);
        break;
      case 'fault':
        launched.fault(stream, String(message['code']));
        break;
      default:
        break;
    }
  }

  function send(target: Helper, message: Record<string, unknown>): void {
    if (!target.isGone && target.child.connected) target.child.send(message);
  }

  /** Called by a process when it needs nothing more of the helper. */
  function forget(owner: Helper, launched: Relay): void {
    if (owner.processes.get(launched.id) !== launched) return;
    owner.processes.delete(launched.id);
    keepAlive(owner);
  }

  class Launched implements Relay {
    readonly id: number;
    readonly pid: number;
    readonly stdout: Readable;
    readonly stderr: Readable;
    readonly #owner: Helper;
    readonly #events: (['exit', number | null, string | null] | ['error', Error])[] = [];
    #watcher: ProcessWatcher | undefined;
    #hasExited = false;
    #hasEnded = { stdout: false, stderr: false };
    #destroyed = 0;

    constructor(id: number, pid: number, owner: Helper) {
      this.id = id;
      this.pid = pid;
      this.#owner = owner;
      this.stdout = this.#relay();
      this.stderr = this.#relay();
    }

    #relay(): Readable {
      return new Readable({
        read: () => undefined,
        destroy: (error, callback) => {
          this.#destroyed += 1;
          if (this.#destroyed === 2) this.#release();
          callback(error);
        },
      });
    }

    #release(): void {
      if (this.#owner.processes.get(this.id) === this) send(this.#owner, { t: 'release', id: this.id });
      if (this.#hasExited) {
        publish({ event: 'close', id: this.id });
        forget(this.#owner, this);
      }
    }

    #emit(event: ['exit', number | null, string | null] | ['error', Error]): void {
      if (this.#watcher === undefined) {
        this.#events.push(event);
        return;
      }
      if (event[0] === 'exit') this.#watcher.onExit(event[1], event[2]);
      else this.#watcher.onError(event[1]);
    }

    watch(watcher: ProcessWatcher): void {
      this.#watcher = watcher;
      for (const event of this.#events.splice(0)) this.#emit(event);
    }

    dropOutput(): void {
      send(this.#owner, { t: 'drop', id: this.id });
    }

    data(stream: StreamName, chunk: Uint8Array): void {
      const target = this[stream];
      if (!target.destroyed && !this.#hasEnded[stream]) {
        target.push(
          Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
        );
      }
    }

    end(stream: StreamName): void {
      if (this.#hasEnded[stream]) return;
      this.#hasEnded[stream] = true;
      // The stream closes by itself once its reader has taken what it holds.
      if (!this[stream].destroyed) this[stream].push(null);
    }

    closed(stream: StreamName): void {
      // A pipe that closed without an end (an error): nothing more will come.
      if (!this.#hasEnded[stream]) this[stream].destroy();
    }

    exited(code: number | null, signal: string | null): void {
      if (this.#hasExited) return;
      this.#hasExited = true;
      publish({ event: 'exit', id: this.id });
      this.#emit(['exit', code, signal]);
      if (this.#destroyed === 2) {
        publish({ event: 'close', id: this.id });
        forget(this.#owner, this);
      }
    }

    fault(stream: StreamName | undefined, code: string): void {
      const error = Object.assign(new Error(`the step launcher reported ${code}`), { code });
      if (stream === undefined) this.#emit(['error', error]);
      else this[stream].destroy(error);
    }

    lost(error: JunctionError): void {
      if (!this.#hasExited) {
        this.#emit(['error', error]);
        this.#hasExited = true;
        this.stdout.destroy();
        this.stderr.destroy();
        this.#emit(['exit', null, null]);
        return;
      }
      this.stdout.destroy();
      this.stderr.destroy();
    }
  }

  /** Fails what the helper still does, closes its channel (it exits), SIGKILL if it lingers. */
  async function stop(target: Helper): Promise<void> {
    gone(target, launcherFailed('the step launcher was stopped', target.child));
    const { child } = target;
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.disconnect();
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    await target.exited;
    clearTimeout(timer);
    // A request it took before its channel closed may still have started a process. The pid pipe
    // ends with the helper; should something keep it open, closing does not wait for it forever.
    let reapTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      target.reaped,
      new Promise<void>((resolve) => {
        reapTimer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(reapTimer);
  }

  function current(): Helper {
    helper ??= launch();
    return helper;
  }

  return {
    async start() {
      await current().ready;
    },
    spawn(request) {
      const target = current();
      const id = nextId;
      nextId += 1;
      const answer = new Promise<Relay>((resolve, reject) => {
        target.waiting.set(id, { request, resolve, reject });
      });
      keepAlive(target);
      target.ready.then(
        () => {
          if (!target.waiting.has(id)) return;
          publish({ event: 'spawn', id, env: request.env });
          send(target, {
            t: 'spawn',
            id,
            command: request.command,
            args: request.args,
            cwd: request.cwd,
            env: request.env,
          });
        },
        // The helper never became ready; `gone` rejects the waiting spawns.
        () => undefined,
      );
      return answer;
    },
    async close() {
      const targets = [...retiring, ...(helper === undefined ? [] : [helper])];
      helper = undefined;
      await Promise.all(targets.map(stop));
    },
    pid: () => helper?.child.pid,
  };
}

function publish(message: Record<string, unknown>): void {
  if (diagnostics.hasSubscribers) diagnostics.publish(message);
}

function launcherFailed(message: string, child: ChildProcess, cause?: unknown): JunctionError {
  return new JunctionError('STEP_LAUNCHER_FAILED', message, {
    details: { launcherPid: child.pid ?? null },
    ...(cause === undefined ? {} : { cause }),
  });
}
