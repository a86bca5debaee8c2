import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { backoffMs, deliver, isRetryableStatus, parseRetryAfter, type RetryPolicy } from './delivery.ts';

interface Seen {
  readonly at: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A loopback server answering from a script of (status, headers) pairs, the last one repeating. */
let server: Server;
let base = '';
let script: [number, Record<string, string>?][] = [];
let seen: Seen[] = [];

function answer(request: IncomingMessage, response: ServerResponse): void {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    seen.push({
      at: Date.now(),
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body,
    });
    const [status, headers = {}] = script[Math.min(seen.length - 1, script.length - 1)] ?? [200];
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify({ message: status >= 400 ? 'Validation Failed' : 'ok' }));
  });
}

const fast: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 20,
  maxDelayMs: 50,
  maxRetryAfterMs: 5000,
  timeoutMs: 2000,
};
const TOKEN = 'ghp_s3cretTokenValue';

function request() {
  return {
    method: 'POST' as const,
    url: `${base}/repos/acme/app/statuses/abc`,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: '{"state":"success"}',
  };
}

void describe('deliver', { timeout: 30_000 }, () => {
  before(async () => {
    server = createServer(answer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    script = [];
  });

  void test('503 then 200: delivered on the second try, with the request as sent', async () => {
    script = [[503], [201]];
    const result = await deliver(request(), fast);
    assert.equal(result.outcome, 'delivered');
    assert.equal(seen.length, 2);
    assert.deepEqual(
      result.attempts.map((a) => a.status),
      [503, 201],
    );
    assert.equal(seen[1]!.method, 'POST');
    assert.equal(seen[1]!.url, '/repos/acme/app/statuses/abc');
    assert.equal(seen[1]!.headers['authorization'], `Bearer ${TOKEN}`);
    assert.equal(seen[1]!.body, '{"state":"success"}');
  });

  void test('429 with Retry-After: 1 waits at least a second', async () => {
    script = [[429, { 'retry-after': '1' }], [201]];
    const result = await deliver(request(), fast);
    assert.equal(result.outcome, 'delivered');
    const gap = seen[1]!.at - seen[0]!.at;
    assert.ok(gap >= 950, `waited ${String(gap)} ms`);
  });

  void test('422 is refused at once, 404 is retried', async () => {
    script = [[422]];
    const refused = await deliver(request(), fast);
    assert.equal(refused.outcome, 'refused');
    assert.equal(seen.length, 1);
    assert.equal(refused.status, 422);

    seen = [];
    script = [[404], [404], [201]];
    const retried = await deliver(request(), fast);
    assert.equal(retried.outcome, 'delivered');
    assert.equal(seen.length, 3);
  });

  void test('gives up after maxAttempts with every attempt recorded and no token in them', async () => {
    script = [[500]];
    const mask = (text: string) => text.replaceAll(TOKEN, '***');
    const result = await deliver(request(), fast, { mask });
    assert.equal(result.outcome, 'exhausted');
    assert.equal(seen.length, 4);
    assert.equal(result.attempts.length, 4);
    for (const attempt of result.attempts) {
      assert.equal(attempt.status, 500);
      assert.match(attempt.error ?? '', /answered 500/);
      assert.match(attempt.at, /^\d{4}-\d{2}-\d{2}T/);
    }
    assert.doesNotMatch(JSON.stringify(result), new RegExp(TOKEN));
  });

  void test('a refused connection is retried and then reported as a network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await deliver(
      { ...request(), url: `http://127.0.0.1:${String(port)}/x` },
      { ...fast, maxAttempts: 2 },
    );
    assert.equal(result.outcome, 'exhausted');
    assert.equal(result.attempts.length, 2);
    assert.equal(result.attempts[0]!.status, null);
    assert.match(result.attempts[0]!.error ?? '', /network error/);
  });

  void test('an abort stops the waits and reports aborted', async () => {
    script = [[503, { 'retry-after': '60' }]];
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const result = await deliver(request(), fast, { signal: controller.signal });
    assert.equal(result.outcome, 'aborted');
    assert.ok(Date.now() - started < 3000);
  });
});

void describe('retry timing', () => {
  void test('retryable statuses', () => {
    assert.deepEqual(
      [200, 301, 400, 401, 403, 404, 408, 409, 410, 422, 429, 500, 502, 503].filter(isRetryableStatus),
      [404, 408, 409, 429, 500, 502, 503],
    );
  });

  void test('Retry-After as seconds or an HTTP date; junk is ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter(' 120 ', now), 120_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    for (const junk of [null, undefined, '', '-1', '1.5', 'soon', '9'.repeat(20), 'Thu, 01 Jan 2026']) {
      assert.equal(parseRetryAfter(junk, now), undefined, String(junk));
    }
  });

  void test('backoff is full jitter under an exponential, capped ceiling', () => {
    const policy: RetryPolicy = {
      maxAttempts: 5,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      maxRetryAfterMs: 1,
      timeoutMs: 1,
    };
    assert.equal(
      backoffMs(1, policy, () => 0),
      0,
    );
    assert.equal(
      backoffMs(1, policy, () => 0.999),
      499,
    );
    assert.equal(
      backoffMs(3, policy, () => 0.5),
      1000,
    );
    assert.equal(
      backoffMs(20, policy, () => 0.999),
      29_970,
    );
  });
});
