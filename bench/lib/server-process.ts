/**
 * Starts a server under test as a child process of the same Node binary, waits until it answers
 * its readiness URL, reads its memory and CPU time from /proc, and stops it by PID.
 *
 * What callers may assume:
 * - `startServer` resolves only after `GET <baseUrl><readyPath>` answered 200; it rejects (and
 *   kills the child) when the child exits first or the deadline passes, with the tail of the
 *   child's stderr in the message.
 * - The child's stdout and stderr are always drained (a full pipe would stall the server); the
 *   last few kilobytes of each are kept for error messages.
 * - `stop()` sends SIGTERM, waits for the exit up to its timeout, then sends SIGKILL; it never
 *   touches any other process.
 * - Memory and CPU figures come from /proc (see proc.ts) and are undefined elsewhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { BenchError } from './bench-error.ts';
import {
  readCpuSeconds,
  readMainThreadCpuSeconds,
  readMainThreadWaitSeconds,
  readProcessMemory,
  type ProcessMemory,
} from './proc.ts';

const TAIL_BYTES = 8 * 1024;

export interface ServerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when SIGTERM was not enough and SIGKILL ended it. */
  readonly killed: boolean;
}

export interface ServerProcess {
  readonly pid: number;
  readonly baseUrl: string;
  /** Tail of stderr so far. */
  stderr(): string;
  memory(): ProcessMemory | undefined;
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number | undefined;
  /** The same for the main thread alone: for a Node server, its event loop. */
  loopCpuSeconds(): number | undefined;
  /** Seconds the main thread has spent runnable but waiting for a cpu, so far. */
  loopWaitSeconds(): number | undefined;
  stop(timeoutMs?: number): Promise<ServerExit>;
}

export interface StartServerOptions {
  /** For messages: `bare node http`, `junction`. */
  readonly label: string;
  /** Arguments after the Node binary. */
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly baseUrl: string;
  readonly readyPath: string;
  readonly readyTimeoutMs?: number;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new BenchError('could not find a free port'))));
    });
  });
}

function tailBuffer(): { push(chunk: Buffer): void; text(): string } {
  let kept = '';
  return {
    push(chunk) {
      kept = (kept + chunk.toString('utf8')).slice(-TAIL_BYTES);
    },
    text: () => kept,
  };
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    // Not listening yet.
    return false;
  }
}

function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export async function startServer(options: StartServerOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = tailBuffer();
  const stderr = tailBuffer();
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  await spawned;
  const pid = child.pid;
  if (pid === undefined) throw new BenchError(`${options.label} did not start`);

  let exited = false;
  const exit = waitForExit(child).then((result) => {
    exited = true;
    return result;
  });

  const stop = async (timeoutMs = 30_000): Promise<ServerExit> => {
    if (exited) return { ...(await exit), killed: false };
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([exit, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return { ...first, killed: false };
    child.kill('SIGKILL');
    return { ...(await exit), killed: true };
  };

  const readyUrl = `${options.baseUrl}${options.readyPath}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      const { code, signal } = await exit;
      throw new BenchError(
        `${options.label} exited before it was ready (code ${code ?? 'none'}, signal ${signal ?? 'none'}); its stderr:\n${stderr.text() || '(empty)'}${stdout.text() === '' ? '' : `\nits stdout:\n${stdout.text()}`}`,
      );
    }
    if (await isReady(readyUrl)) break;
    if (Date.now() > deadline) {
      await stop(5000);
      throw new BenchError(
        `${options.label} did not answer 200 at ${readyUrl} within ${options.readyTimeoutMs ?? 30_000} ms; its stderr:\n${stderr.text() || '(empty)'}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    pid,
    baseUrl: options.baseUrl,
    stderr: () => stderr.text(),
    memory: () => readProcessMemory(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    loopCpuSeconds: () => readMainThreadCpuSeconds(pid),
    loopWaitSeconds: () => readMainThreadWaitSeconds(pid),
    stop,
  };
}
