/**
 * End to end with a real CNCF distribution registry (`docker-registry`): an image built with
 * umoci and pushed with skopeo, then deleted, comes back as the registry's notifications to a
 * small local HTTP server, which runs them through the registry source (authenticate + map)
 * exactly as the hook route does. Skipped with a notice when `docker-registry`, `umoci`, `skopeo`
 * or `tar` is not installed, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { CloudEvent } from '../src/events/index.ts';
import { validateCloudEvent } from '../src/events/index.ts';
import { createRegistrySource } from '../src/sources/registry.ts';
import type { MappedEvent } from '../src/sources/source.ts';

const run = promisify(execFile);
const TOKEN = 'e2e-registry-token';
const NEEDED = ['docker-registry', 'umoci', 'skopeo', 'tar'];
const binaries = new Map(NEEDED.map((name) => [name, findBinary(name)]));
const missing = NEEDED.filter((name) => binaries.get(name) === undefined);
const skip =
  missing.length > 0
    ? `${missing.join(', ')} not found (apt-get install docker-registry umoci skopeo)`
    : false;
if (missing.length > 0) {
  if (process.env.CI === 'true') {
    void test('the registry tools are installed', () => assert.fail(`CI needs ${missing.join(', ')}`));
  } else {
    console.log(`# NOTICE: skipping registry end-to-end test: ${missing.join(', ')} not on PATH`);
  }
}

function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir !== '' && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

function bin(name: string): string {
  return binaries.get(name) ?? name;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

void test(
  'a real registry notifies a push and a delete that map to image.pushed and image.deleted',
  { skip, timeout: 90_000 },
  async (t) => {
    const source = createRegistrySource({ name: 'reg-e2e', type: 'registry', token: TOKEN });
    const received: MappedEvent[] = [];
    const notes: string[] = [];
    const failures: string[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headers: Record<string, string | undefined> = {};
        for (const [key, value] of Object.entries(req.headers))
          headers[key] = Array.isArray(value) ? value.join(', ') : value;
        const request = { headers, body: Buffer.concat(chunks), receivedAt: new Date() };
        try {
          source.authenticate(request);
          const result = source.map(request);
          received.push(...result.events);
          if (result.note !== undefined) notes.push(result.note);
          res.writeHead(200).end('ok');
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
          res.writeHead(400).end('refused');
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.after(() => receiver.close());
    const address = receiver.address();
    assert.ok(address !== null && typeof address === 'object');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'junction-registry-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = [
      'version: 0.1',
      'log: {level: warn, formatter: text}',
      'storage:',
      `  filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}}`,
      '  delete: {enabled: true}',
      'http:',
      `  addr: ${host}`,
      '  secret: junction-e2e-only',
      'notifications:',
      '  endpoints:',
      '    - name: junction',
      `      url: http://127.0.0.1:${address.port}/hooks/reg-e2e`,
      `      headers: {Authorization: [Bearer ${TOKEN}]}`,
      '      timeout: 2s',
      '      threshold: 3',
      '      backoff: 1s',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'config.yml'), config);
    let log = '';
    const child: ChildProcess = spawn(bin('docker-registry'), ['serve', path.join(dir, 'config.yml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-4000);
    });
    child.stdout?.resume();
    t.after(() => {
      child.kill('SIGTERM');
    });

    await until('the registry to be ready', 15_000, async () => {
      if (child.exitCode !== null) throw new Error(`registry exited early (${child.exitCode}): ${log}`);
      const ok = await fetch(`http://${host}/v2/`).then(
        (r) => r.ok,
        () => false,
      );
      return ok ? true : undefined;
    });

    // A one-file image, built locally: no network beyond this host.
    const rootfs = path.join(dir, 'rootfs');
    fs.mkdirSync(rootfs);
    fs.writeFileSync(path.join(rootfs, 'hello.txt'), 'junction\n');
    const layer = path.join(dir, 'layer.tar');
    await run(bin('tar'), ['-C', rootfs, '-cf', layer, '.']);
    const layout = path.join(dir, 'oci');
    await run(bin('umoci'), ['init', '--layout', layout]);
    await run(bin('umoci'), ['new', '--image', `${layout}:v1`]);
    await run(bin('umoci'), ['raw', 'add-layer', '--image', `${layout}:v1`, layer]);
    const ref = `docker://${host}/demo/junction:v1`;
    await run(
      bin('skopeo'),
      ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:v1`, ref],
      {
        timeout: 30_000,
      },
    );

    const pushed = await until('the image.pushed notification', 15_000, () =>
      Promise.resolve(received.find((m) => m.event.type === 'image.pushed')),
    );
    await run(bin('skopeo'), ['--insecure-policy', 'delete', '--tls-verify=false', ref], { timeout: 30_000 });
    const deleted = await until('the image.deleted notification', 15_000, () =>
      Promise.resolve(received.find((m) => m.event.type === 'image.deleted')),
    );
    assert.deepEqual(failures, []);

    const data = (event: CloudEvent): Record<string, unknown> => event.data as Record<string, unknown>;
    validateCloudEvent(pushed.event);
    validateCloudEvent(deleted.event);
    assert.equal(pushed.event.source, 'registry/reg-e2e');
    assert.equal(pushed.event.subject, 'demo/junction:v1');
    assert.equal(pushed.dedupeKey, `registry:reg-e2e:${pushed.event.id}`);
    assert.equal(data(pushed.event).registry, host);
    assert.equal(data(pushed.event).repository, 'demo/junction');
    assert.equal(data(pushed.event).tag, 'v1');
    assert.match(String(data(pushed.event).digest), /^sha256:[0-9a-f]{64}$/);
    assert.match(String(data(pushed.event).media_type), /manifest/);
    assert.equal(data(deleted.event).repository, 'demo/junction');
    // Layer and config blobs were pushed before the manifest and were skipped, not mapped.
    assert.ok(
      notes.some((note) => /blob push/.test(note)),
      notes.join('; '),
    );
    assert.equal(received.filter((m) => m.event.type === 'image.pushed').length, 1);
  },
);
