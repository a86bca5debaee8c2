/**
 * Each receiver has its own body limit: GitHub's deliveries may reach its documented 25 MB cap
 * whatever `server.bodyLimit` says, a source's `bodyLimit` overrides its default, and a delivery
 * over the limit is refused with 413 before it is read to the end — declared by Content-Length or
 * streamed without one — storing nothing and counted as a rejection of that source.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const SECRET = 'limit-secret';
const TOKEN = 'limit-token';

function githubPush(padBytes: number): string {
  return JSON.stringify({
    ref: 'refs/heads/main',
    before: 'a'.repeat(40),
    after: 'b'.repeat(40),
    repository: { full_name: 'acme/app', name: 'app', owner: { login: 'acme' } },
    sender: { login: 'dev' },
    head_commit: { id: 'b'.repeat(40), message: 'x'.repeat(padBytes) },
    commits: [],
  });
}

/** POSTs `chunks` with chunked transfer encoding (no Content-Length), as a streaming sender does. */
function postChunked(
  url: string,
  chunks: readonly Buffer[],
  headers: Record<string, string>,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (part: string) => (text += part));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    // The server may answer and close before every chunk is written.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    const write = (index: number): void => {
      if (index === chunks.length) {
        req.end();
        return;
      }
      req.write(chunks[index], () => setImmediate(() => write(index + 1)));
    };
    write(0);
  });
}

describe('per-source body limits', { timeout: 60_000 }, () => {
  const dir = tempDir('junction-hook-limits-');
  let t: TestApp;

  before(async () => {
    t = await startTestApp(
      {
        server: { bodyLimit: '64KiB' },
        workers: { concurrency: 0 },
        sources: [
          { name: 'github', type: 'github', secret: SECRET },
          { name: 'small', type: 'webhook', token: TOKEN, bodyLimit: '4KiB', map: { type: "'demo'" } },
          { name: 'roomy', type: 'webhook', token: TOKEN, bodyLimit: '2MiB', map: { type: "'demo'" } },
        ],
      },
      dir.path,
    );
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  async function storedCount(): Promise<number> {
    const page = await t.app.store.listEvents({}, { limit: 1000 });
    return page.items.length;
  }

  async function rejectedTooLarge(source: string): Promise<number> {
    const response = await fetch(`${t.url}/metrics`);
    const text = await response.text();
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('junction_events_rejected_total') &&
          l.includes(`"${source}"`) &&
          l.includes('EVENT_TOO_LARGE'),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  const tokenHeaders = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

  test('GitHub deliveries beyond server.bodyLimit are accepted up to GitHub’s own cap', async () => {
    const body = githubPush(1024 * 1024);
    assert.ok(body.length > 64 * 1024);
    const response = await t.post('/hooks/github', body, {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': 'big-push',
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    });
    assert.equal(response.status, 202, JSON.stringify(response.body).slice(0, 300));
  });

  test('a source’s bodyLimit raises the server limit for that receiver only', async () => {
    const body = JSON.stringify({ type: 'demo', pad: 'y'.repeat(200 * 1024) });
    const roomy = await t.post('/hooks/roomy', body, tokenHeaders);
    assert.equal(roomy.status, 202, JSON.stringify(roomy.body).slice(0, 300));
    const events = await t.post('/events', body, { 'content-type': 'application/json' });
    assert.equal(events.status, 413);
  });

  test('a declared length over the source limit is refused with 413 naming the source', async () => {
    const before = await storedCount();
    const counted = await rejectedTooLarge('small');
    const body = JSON.stringify({ type: 'demo', pad: 'z'.repeat(8 * 1024) });
    const response = await t.post('/hooks/small', body, tokenHeaders);
    assert.equal(response.status, 413);
    assert.equal(response.body.error.code, 'EVENT_TOO_LARGE');
    assert.match(response.body.error.message, /4096 bytes of source 'small'/);
    assert.equal(await storedCount(), before);
    assert.equal(await rejectedTooLarge('small'), counted + 1);
  });

  test('a chunked body without Content-Length is cut off at the source limit', async () => {
    const before = await storedCount();
    const chunks = Array.from({ length: 16 }, () => Buffer.alloc(1024, 0x61));
    const response = await postChunked(`${t.url}/hooks/small`, chunks, tokenHeaders);
    assert.equal(response.status, 413);
    assert.equal(response.body.error.code, 'EVENT_TOO_LARGE');
    assert.equal(await storedCount(), before);
  });

  test('a chunked body within the limit is read whole', async () => {
    const body = Buffer.from(JSON.stringify({ type: 'demo', pad: 'q'.repeat(2000) }));
    const response = await postChunked(
      `${t.url}/hooks/small`,
      [body.subarray(0, 1000), body.subarray(1000)],
      tokenHeaders,
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
  });

  test('bodyLimit is validated with the config', async () => {
    await assert.rejects(
      startTestApp({
        sources: [{ name: 'bad', type: 'webhook', token: TOKEN, bodyLimit: 'lots', map: { type: "'demo'" } }],
      }),
      (error: { details?: unknown }) => JSON.stringify(error.details).includes('sources[0].bodyLimit'),
    );
  });
});
