/**
 * Test helpers for real peer processes (Prometheus, Alertmanager) from Debian's packages: find
 * the binary on PATH, pick a free loopback port, start the process with its state in a temp dir,
 * wait until it answers its readiness URL, and stop it again by its PID.
 *
 * What callers may assume:
 * - `startPeer` registers the peer's `stop` with the given `cleanup` right after spawning, so the
 *   process is stopped at the end of the test even when start-up or the test itself fails.
 * - A peer that exits before it is ready fails the start with its exit code and the tail of its
 *   output; one that does not become ready in time is stopped before the start fails.
 * - `stop` sends SIGTERM to the PID, waits for the exit, then SIGKILL; calling it twice is safe.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';

/** The first of `names` found in a directory of PATH, as an absolute path. */
export function findBinary(names: readonly string[]): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port from the kernel');
  return address.port;
}

/** Registers a function to run when the test ends (`t.after`, or `after` of a suite). */
export type Cleanup = (fn: () => Promise<void>) => void;

export interface Peer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The last few KiB of the process's stdout and stderr. */
  log(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export interface PeerOptions {
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly port: number;
  /** Path answered with 2xx once the peer is ready, e.g. `/-/ready`. */
  readonly readyPath: string;
  readonly cleanup: Cleanup;
  readonly readyTimeoutMs?: number;
}

const LOG_TAIL = 8192;

export async function startPeer(options: PeerOptions): Promise<Peer> {
  const { name, binary, port } = options;
  const child = spawn(binary, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-LOG_TAIL);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let spawnError: Error | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const pid = child.pid;

  const stop = async (): Promise<void> => {
    if (pid === undefined || hasExited()) return;
    signal(pid, 'SIGTERM');
    const ended = await Promise.race([
      exit.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
    ]);
    if (!ended) {
      signal(pid, 'SIGKILL');
      await exit;
    }
  };
  options.cleanup(stop);

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (spawnError !== undefined || pid === undefined) {
      throw new Error(`${name} could not be started from ${binary}: ${spawnError?.message ?? 'no pid'}`);
    }
    if (hasExited()) {
      throw new Error(
        `${name} exited before it was ready (code ${String(child.exitCode)}, signal ${String(child.signalCode)}):\n${output}`,
      );
    }
    const ready = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not answer ${url}${options.readyPath} in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name, pid, port, url, log: () => output, exited: hasExited, stop };
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // ESRCH: it exited between the check and the signal, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface AlertmanagerOptions {
  readonly binary: string;
  /** A temp dir owned by the caller: config and data go here. */
  readonly dir: string;
  /** Junction's hook URL, `http://127.0.0.1:<port>/hooks/<source name>`. */
  readonly webhookUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token: string;
  readonly cleanup: Cleanup;
}

/**
 * `alertmanager.yml` routing everything to one webhook receiver with a bearer token, tuned so
 * a test sees the first notification after ~1 s and every change after ~1 s.
 */
export function alertmanagerConfig(webhookUrl: string, token: string): string {
  return [
    'global:',
    '  resolve_timeout: 30s',
    'route:',
    '  receiver: junction',
    "  group_by: ['alertname']",
    '  group_wait: 1s',
    '  group_interval: 1s',
    '  repeat_interval: 1h',
    'receivers:',
    '  - name: junction',
    '    webhook_configs:',
    `      - url: ${webhookUrl}`,
    '        send_resolved: true',
    '        http_config:',
    '          authorization:',
    '            type: Bearer',
    `            credentials: ${token}`,
    '',
  ].join('\n');
}

/** A real Alertmanager on a free loopback port, without clustering, configured as above. */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<Peer> {
  const configFile = join(options.dir, 'alertmanager.yml');
  writeFileSync(configFile, alertmanagerConfig(options.webhookUrl, options.token));
  const port = await freePort();
  return startPeer({
    name: 'alertmanager',
    binary: options.binary,
    port,
    readyPath: '/-/ready',
    cleanup: options.cleanup,
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${join(options.dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}/`,
      '--cluster.listen-address=',
    ],
  });
}
