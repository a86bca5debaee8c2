/**
 * The `http` built-in through the running engine, against a real loopback server: outputs of a
 * delivered request, retries on 503 and on 429 with Retry-After, no retry on 422, a dead letter
 * with the attempt history once retries run out, secrets masked everywhere, and event data kept
 * as data in the body.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createSecretKeyFile,
  defaultSecretKeyFile,
  encryptSecret,
  loadSecretKey,
} from '../src/security/index.ts';
import type { RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);
const SECRET = 'tok-9f8e7d6c5b4a-hook';

interface Seen {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Requests by scenario (the last path segment). */
const seen = new Map<string, Seen[]>();

/** Answers by scenario: the n-th request of a scenario gets the n-th answer, the last repeating. */
function answer(request: IncomingMessage, response: ServerResponse): void {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    const path = request.url ?? '';
    const scenario = decodeURIComponent(path.split('/').pop() ?? '');
    const kind = scenario.split('-')[0] ?? '';
    const list = seen.get(scenario) ?? [];
    list.push({
      at: Date.now(),
      method: request.method ?? '',
      path,
      host: request.headers.host ?? '',
      headers: request.headers,
      body,
    });
    seen.set(scenario, list);
    const n = list.length;
    // Every answer echoes the authorization header, so masking is tested on answers too.
    const echo = JSON.stringify({ n, auth: request.headers.authorization ?? null });
    const send = (status: number, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(echo);
    };
    if (kind === 'flaky') return send(n === 1 ? 503 : 200);
    if (kind === 'limited') return n === 1 ? send(429, { 'retry-after': '1' }) : send(200);
    if (kind === 'invalid') return send(422);
    if (kind === 'down') return send(500);
    if (kind === 'big') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('x'.repeat(200_000));
      return;
    }
    send(200);
  });
}

describe('the http built-in in the engine', { timeout: 60_000 }, () => {
  let app: TestApp;
  let server: Server;
  let port = 0;
  const dir = tempDir();

  before(async () => {
    server = createServer(answer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(
      join(dir.path, 'pipelines', 'send.yaml'),
      `
name: send
on:
  - event: test.http
secrets: [HOOK_TOKEN]
jobs:
  call:
    steps:
      - id: call
        uses: http
        secrets: [HOOK_TOKEN]
        with:
          url: http://127.0.0.1:${port}/hook/\${{ event.data.scenario }}
          headers:
            authorization: Bearer \${{ secrets.HOOK_TOKEN }}
          body:
            scenario: \${{ event.data.scenario }}
            note: \${{ event.data.note }}
          attempts: 3
          timeout: 5s
      - run: echo "answered \${{ steps.call.outputs.status }} after \${{ steps.call.outputs.attempts }}"
    outputs:
      status: \${{ steps.call.outputs.status }}
      body: \${{ steps.call.outputs.body }}
      attempts: \${{ steps.call.outputs.attempts }}
`,
    );
    await createSecretKeyFile(defaultSecretKeyFile(join(dir.path, '.junction')));
    app = await startTestApp({}, dir.path);
    const key = loadSecretKey({ env: {}, keyFile: defaultSecretKeyFile(join(dir.path, '.junction')) });
    await app.app.store.putSecret('HOOK_TOKEN', encryptSecret(key, 'HOOK_TOKEN', SECRET));
  });

  after(async () => {
    await app.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    dir.remove();
  });

  async function send(scenario: string, note = 'hello'): Promise<{ eventId: string; run: RunDetail }> {
    const response = await app.post(
      '/events',
      JSON.stringify(cloudEvent({ type: 'test.http', data: { scenario, note } })),
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const eventId = response.body.id as string;
    const run = await eventually(
      async () => {
        const runs = (await app.app.store.listRuns({ eventId, pipeline: 'send' }, { limit: 1 })).items;
        const detail = runs[0] === undefined ? undefined : await app.app.store.getRunDetail(runs[0].id);
        return detail !== undefined && TERMINAL.has(detail.status) ? detail : undefined;
      },
      30_000,
      `the run of ${scenario} to end`,
    );
    return { eventId, run };
  }

  const logs = async (runId: string): Promise<string[]> =>
    (await app.app.store.readLogs({ runId }, 1000)).map((line) => line.text);

  async function jobOutputs(runId: string): Promise<Record<string, string> | null> {
    const [job] = await app.app.store.listJobs(runId);
    return job?.outputs ?? null;
  }

  test('a 200 gives the outputs; the JSON body and the secret header arrive', async () => {
    const { run } = await send('ok-1');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const requests = seen.get('ok-1')!;
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.method, 'POST');
    assert.equal(requests[0]!.headers['content-type'], 'application/json');
    assert.equal(requests[0]!.headers.authorization, `Bearer ${SECRET}`);
    assert.deepEqual(JSON.parse(requests[0]!.body), { scenario: 'ok-1', note: 'hello' });
    const outputs = await jobOutputs(run.id);
    assert.equal(outputs?.['status'], '200');
    assert.equal(outputs?.['attempts'], '1');
    // The answer echoed the token: the output holds it masked.
    assert.deepEqual(JSON.parse(outputs?.['body'] ?? ''), { n: 1, auth: 'Bearer ***' });
    const lines = await logs(run.id);
    assert.ok(
      lines.some((l) => l === `[junction] POST http://127.0.0.1:${port}/hook/ok-1 → 200 (attempt 1/3)`),
      lines.join('\n'),
    );
    assert.ok(lines.includes('answered 200 after 1'), lines.join('\n'));
    assert.ok(!lines.join('\n').includes(SECRET));
    const api = await app.get(`/api/v1/runs/${run.id}`);
    assert.ok(!JSON.stringify(api.body).includes(SECRET));
  });

  test('503 then 200 succeeds on the second attempt, and the retry is logged', async () => {
    const { run } = await send('flaky-1');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.equal(seen.get('flaky-1')!.length, 2);
    assert.equal((await jobOutputs(run.id))?.['attempts'], '2');
    const lines = await logs(run.id);
    assert.ok(
      lines.some((l) =>
        /^\[junction\] POST http:\/\/127\.0\.0\.1:\d+\/hook\/flaky-1 → 503, retrying in \d+(ms|\.\ds) \(attempt 1\/3\)$/.test(
          l,
        ),
      ),
      lines.join('\n'),
    );
  });

  test('429 with Retry-After: 1 waits about a second before the next attempt', async () => {
    const { run } = await send('limited-1');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const requests = seen.get('limited-1')!;
    assert.equal(requests.length, 2);
    const gap = requests[1]!.at - requests[0]!.at;
    assert.ok(gap >= 950, `waited only ${gap} ms`);
    assert.ok((await logs(run.id)).some((l) => l.includes('→ 429, retrying in 1.0s (attempt 1/3)')));
  });

  test('422 fails the step at once, without a retry, and keeps a dead letter', async () => {
    const { eventId, run } = await send('invalid-1');
    assert.equal(run.status, 'failed');
    assert.equal(seen.get('invalid-1')!.length, 1);
    assert.match(run.reason ?? '', /answered 422 after 1 attempt \(not retried/);
    const letters = await app.app.store.listDeadLetters({ kind: 'delivery', eventId }, 10);
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.code, 'HTTP_STEP_FAILED');
  });

  test('always 500 fails after the attempts, with a dead letter holding the history and no secret', async () => {
    const { eventId, run } = await send('down-1');
    assert.equal(run.status, 'failed');
    assert.equal(seen.get('down-1')!.length, 3);
    assert.match(
      run.reason ?? '',
      /POST http:\/\/127\.0\.0\.1:\d+\/hook\/down-1 answered 500 after 3 attempts/,
    );
    const [letter, ...more] = await app.app.store.listDeadLetters({ kind: 'delivery', eventId }, 10);
    assert.equal(more.length, 0);
    assert.ok(letter !== undefined);
    assert.equal(letter.code, 'HTTP_STEP_FAILED');
    assert.equal(letter.attempts, 3);
    assert.equal(letter.destination, `http://127.0.0.1:${port}/hook/down-1`);
    assert.deepEqual(
      letter.history.map((a) => a.status),
      [500, 500, 500],
    );
    assert.deepEqual(JSON.parse(Buffer.from(letter.payload!).toString('utf8')), {
      scenario: 'down-1',
      note: 'hello',
    });
    assert.equal(letter.contentType, 'application/json');
    assert.deepEqual(Object.keys(letter.headers ?? {}).sort(), ['authorization', 'content-type']);
    const stored = JSON.stringify({ ...letter, payload: Buffer.from(letter.payload!).toString('utf8') });
    assert.ok(!stored.includes(SECRET), stored);
    // The 500 answers echoed the token into the history's errors: masked there too.
    assert.ok(
      letter.history.every((a) => a.error?.includes('***') === true),
      stored,
    );
    const lines = (await logs(run.id)).join('\n');
    assert.ok(!lines.includes(SECRET), lines);
    assert.match(lines, /→ 500 \(attempt 3\/3\)/);
    assert.match(lines, /kept as dead letter/);
  });

  test('the body output keeps the first 64 KiB of a larger answer', async () => {
    const { run } = await send('big-1');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.equal((await jobOutputs(run.id))?.['body']?.length, 64 * 1024);
  });

  test('event data goes into the body as data and cannot move the request to another host', async () => {
    const hostile = 'x", "evil": true, "y": "@evil.example.com/\r\nHost: evil.example.com';
    const { run } = await send('hostile-1', hostile);
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const [request] = seen.get('hostile-1')!;
    assert.deepEqual(JSON.parse(request!.body), { scenario: 'hostile-1', note: hostile });
    assert.equal(request!.host, `127.0.0.1:${port}`);
    // A value in the URL's path stays in the path.
    const { run: second } = await send('@evil.example.com');
    assert.equal(second.status, 'succeeded', second.reason ?? '');
    const [other] = seen.get('@evil.example.com')!;
    assert.equal(other!.host, `127.0.0.1:${port}`);
    assert.equal(other!.path, '/hook/@evil.example.com');
  });
});
