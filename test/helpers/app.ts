/**
 * Test helpers: a Junction app in this process on a free loopback port with a temp data dir, and
 * `junction` CLI runs as child processes on the same Node binary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/index.ts';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const cliPath = join(repoRoot, 'src', 'cli', 'main.ts');

export function tempDir(prefix = 'junction-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestApp {
  readonly app: App;
  readonly url: string;
  readonly dir: string;
  post(
    path: string,
    body: string | Uint8Array,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  get(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestApp(overrides: Record<string, unknown> = {}, dir?: string): Promise<TestApp> {
  const temp = dir === undefined ? tempDir() : undefined;
  const cwd = dir ?? temp!.path;
  const server = {
    host: '127.0.0.1',
    port: 0,
    allowAnonymousEmit: true,
    ...(overrides['server'] as object | undefined),
  };
  const { config } = await loadConfig({ cwd, env: {}, overrides: { ...overrides, server } });
  const app = await startApp(config, { logger: createLogger({ level: 'silent', format: 'json' }) });
  const call = async (
    method: string,
    path: string,
    body: string | Uint8Array | undefined,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${app.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as any, headers: response.headers };
  };
  return {
    app,
    url: app.url,
    dir: cwd,
    post: (path, body, headers = { 'content-type': 'application/cloudevents+json' }) =>
      call('POST', path, body, headers),
    get: (path, headers) => call('GET', path, undefined, headers),
    async close() {
      await app.stop();
      temp?.remove();
    },
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        NO_COLOR: '1',
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

let counter = 0;
/** A structured CloudEvent body with a unique id. */
export function cloudEvent(fields: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    specversion: '1.0',
    id: `evt-${process.pid}-${Date.now()}-${counter}`,
    source: 'test/suite',
    type: 'com.example.test',
    datacontenttype: 'application/json',
    data: { n: counter },
    ...fields,
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
