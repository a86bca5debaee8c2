/**
 * `junction serve` as a real child process on a free port, for tests that kill, restart or signal
 * the server: resolves once it logs the address it listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './app.ts';

export interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  exited: Promise<number | null>;
}

export async function serve(cwd: string, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0'], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      if (signal !== null) stderr += `[killed by ${signal}]\n`;
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /junction listening on (\S+)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}
