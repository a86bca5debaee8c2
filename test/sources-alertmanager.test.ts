/**
 * End to end with a real Prometheus Alertmanager: alerts posted to its API come back as webhook
 * deliveries to a small local HTTP server, which runs them through the alertmanager source
 * (authenticate + map) exactly as the hook route does. Skipped with a notice when no
 * `prometheus-alertmanager` / `alertmanager` binary is installed, except under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { CloudEvent } from '../src/events/index.ts';
import { alertmanagerSource, labelsFingerprint } from '../src/sources/alertmanager.ts';
import type { MappedEvent } from '../src/sources/source.ts';

const TOKEN = 'e2e-webhook-token';
const binary = findBinary(['prometheus-alertmanager', 'alertmanager']);
const skip =
  binary === undefined ? 'alertmanager binary not found (apt-get install prometheus-alertmanager)' : false;
if (binary === undefined) {
  if (process.env.CI === 'true') {
    void test('alertmanager is installed', () => assert.fail('CI needs the prometheus-alertmanager binary'));
  } else {
    console.warn('notice: skipping alertmanager end-to-end test: no alertmanager binary on PATH');
  }
}

function findBinary(names: readonly string[]): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (dir !== '' && fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
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
  'a real alertmanager delivers firing then resolved alerts that map to stable events',
  { skip, timeout: 60_000 },
  async (t) => {
    const source = alertmanagerSource({ name: 'am-e2e', type: 'alertmanager', token: TOKEN });
    const received: MappedEvent[] = [];
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
          received.push(...source.map(request).events);
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

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'junction-am-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const config = [
      'route:',
      '  receiver: junction',
      "  group_by: ['alertname']",
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: junction',
      '    webhook_configs:',
      `      - url: http://127.0.0.1:${address.port}/hooks/am-e2e`,
      '        send_resolved: true',
      '        http_config:',
      '          authorization:',
      '            type: Bearer',
      `            credentials: ${TOKEN}`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'alertmanager.yml'), config);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let log = '';
    const child: ChildProcess = spawn(
      binary ?? 'alertmanager',
      [
        `--config.file=${path.join(dir, 'alertmanager.yml')}`,
        `--storage.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=${base}/`,
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-4000);
    });
    child.stdout?.resume();
    t.after(() => {
      child.kill('SIGTERM');
    });

    await until('alertmanager to be ready', 15_000, async () => {
      if (child.exitCode !== null) throw new Error(`alertmanager exited early (${child.exitCode}): ${log}`);
      const ok = await fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      return ok ? true : undefined;
    });

    const labels = { alertname: 'JunctionE2E', service: 'web', severity: 'critical', env: 'test' };
    const startsAt = new Date(Date.now() - 1000).toISOString();
    const post = async (extra: Record<string, string>): Promise<void> => {
      const response = await fetch(`${base}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels, annotations: { summary: 'posted by a test' }, startsAt, ...extra }]),
      });
      assert.equal(response.status, 200, await response.text());
    };

    await post({});
    const firing = await until('the firing webhook', 15_000, () =>
      Promise.resolve(received.find((m) => m.event.type === 'alert.firing')),
    );
    await post({ endsAt: new Date().toISOString() });
    const resolved = await until('the resolved webhook', 15_000, () =>
      Promise.resolve(received.find((m) => m.event.type === 'alert.resolved')),
    );
    assert.deepEqual(failures, []);

    const data = (event: CloudEvent): Record<string, unknown> => event.data as Record<string, unknown>;
    const fingerprint = labelsFingerprint(labels);
    for (const mapped of [firing, resolved]) {
      const { event } = mapped;
      assert.equal(event.source, 'alertmanager/am-e2e');
      assert.equal(event.subject, 'JunctionE2E');
      assert.equal(data(event).fingerprint, fingerprint, 'computed fingerprint equals alertmanager’s');
      assert.equal(data(event).service, 'web');
      assert.equal(data(event).environment, 'test');
      assert.equal(data(event).severity, 'critical');
      assert.equal(data(event).externalURL, base);
      assert.equal(mapped.dedupeKey, `alertmanager:am-e2e:${event.id}`);
    }
    assert.equal(firing.event.id, `${fingerprint}:firing:${String(data(firing.event).startsAt)}`);
    assert.equal(data(firing.event).endsAt, null);
    assert.equal(resolved.event.id, `${fingerprint}:resolved:${String(data(resolved.event).startsAt)}`);
    assert.equal(resolved.event.time, data(resolved.event).endsAt);
    assert.notEqual(resolved.event.id, firing.event.id);
  },
);
