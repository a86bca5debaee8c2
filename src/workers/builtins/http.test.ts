import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DEFAULT_RETRY_POLICY, deliver } from '../../notifiers/index.ts';
import type { InputValue } from '../../pipelines/index.ts';
import type { NewDeadLetter } from '../../store/index.ts';
import { httpRequestOf, httpStep, type HttpDeliver, type HttpStepParams } from './http.ts';

/** The composition root's wiring, with short backoffs. */
const realDeliver: HttpDeliver = (request, policy, options) =>
  deliver(request, { ...DEFAULT_RETRY_POLICY, baseDelayMs: 10, maxDelayMs: 20, ...policy }, options);

let server: Server;
let base = '';
let status = 200;
let hold = false;
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

function answer(request: IncomingMessage, response: ServerResponse): void {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
    if (hold) return; // never answers: the client must give up
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(`answer ${status}`);
  });
}

function params(inputs: Record<string, InputValue>, extra: Partial<HttpStepParams> = {}) {
  const lines: string[] = [];
  const letters: NewDeadLetter[] = [];
  const p: HttpStepParams = {
    inputs,
    deliver: realDeliver,
    signal: new AbortController().signal,
    mask: (text) => text.replaceAll('s3cret', '***'),
    say: (text) => lines.push(text),
    addDeadLetter: (letter) => {
      letters.push(letter);
      return Promise.resolve('dl-1');
    },
    eventId: 'evt-1',
    ...extra,
  };
  return { p, lines, letters };
}

void describe('httpRequestOf: inputs', () => {
  const bad: [string, Record<string, InputValue>, RegExp][] = [
    ['no url', {}, /with\.url/],
    ['an empty url', { url: '  ' }, /with\.url/],
    ['a url that is not one', { url: 'not a url' }, /not a URL/],
    ['another scheme', { url: 'file:///etc/passwd' }, /http or https/],
    ['credentials in the url', { url: 'https://u:s3cret@example.com/' }, /must not hold credentials/],
    ['an unknown method', { url: 'https://e.x/', method: 'TRACE' }, /with\.method/],
    ['a method that is not text', { url: 'https://e.x/', method: 1 }, /with\.method/],
    ['headers as a list', { url: 'https://e.x/', headers: ['a'] }, /with\.headers/],
    [
      'a header value with a line break',
      { url: 'https://e.x/', headers: { a: 'x\r\nHost: evil' } },
      /with\.headers\.a/,
    ],
    ['a header name with a space', { url: 'https://e.x/', headers: { 'a b': 'x' } }, /with\.headers\.a b/],
    ['a nested header value', { url: 'https://e.x/', headers: { a: { b: 'c' } } }, /with\.headers\.a/],
    ['a GET with a body', { url: 'https://e.x/', method: 'GET', body: 'x' }, /GET request cannot have/],
    ['an oversized body', { url: 'https://e.x/', body: 'x'.repeat(1024 * 1024 + 1) }, /at most/],
    ['a bad timeout', { url: 'https://e.x/', timeout: 'soon' }, /with\.timeout/],
    ['a zero timeout', { url: 'https://e.x/', timeout: '0s' }, /with\.timeout/],
    ['zero attempts', { url: 'https://e.x/', attempts: 0 }, /with\.attempts/],
    ['eleven attempts', { url: 'https://e.x/', attempts: 11 }, /with\.attempts/],
    ['fractional attempts', { url: 'https://e.x/', attempts: 1.5 }, /with\.attempts/],
    ['attempts as text', { url: 'https://e.x/', attempts: '3' }, /with\.attempts/],
    ['an empty expect', { url: 'https://e.x/', expect: [] }, /with\.expect/],
    ['an expect out of range', { url: 'https://e.x/', expect: [200, 700] }, /with\.expect/],
  ];
  for (const [what, inputs, message] of bad) {
    void test(`refuses ${what} with STEP_INPUT_INVALID`, () => {
      assert.throws(
        () => httpRequestOf(inputs),
        (error: unknown) => {
          const e = error as { code?: string; message?: string };
          assert.equal(e.code, 'STEP_INPUT_INVALID');
          assert.match(e.message ?? '', message);
          assert.ok(!(e.message ?? '').includes('s3cret'));
          assert.ok(!(e.message ?? '').includes('evil'));
          return true;
        },
      );
    });
  }

  void test('defaults: POST, 10 s, 5 attempts, JSON for a mapping, strings as they are', () => {
    const json = httpRequestOf({ url: 'https://e.x/a#frag', body: { a: [1, 'b'] } });
    assert.deepEqual(json.request, {
      method: 'POST',
      url: 'https://e.x/a',
      headers: { 'content-type': 'application/json' },
      body: '{"a":[1,"b"]}',
    });
    assert.equal(json.timeoutMs, 10_000);
    assert.equal(json.attempts, 5);
    assert.equal(json.expect, undefined);
    const text = httpRequestOf({ url: 'https://e.x/', method: 'put', body: 'a=1', headers: { 'X-N': 2 } });
    assert.deepEqual(text.request, {
      method: 'PUT',
      url: 'https://e.x/',
      headers: { 'x-n': '2' },
      body: 'a=1',
    });
    const own = httpRequestOf({
      url: 'https://e.x/',
      body: [1],
      headers: { 'Content-Type': 'application/x' },
    });
    assert.equal(own.request.headers['content-type'], 'application/x');
    assert.equal(httpRequestOf({ url: 'https://e.x/', method: 'GET' }).request.body, undefined);
  });
});

void describe('httpStep against a loopback server', { timeout: 30_000 }, () => {
  before(async () => {
    server = createServer(answer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen.length = 0;
    status = 200;
    hold = false;
  });

  void test('a GET without a body; outputs status, body and attempts', async () => {
    const { p, lines, letters } = params({ url: `${base}/x?q=1`, method: 'GET' });
    const result = await httpStep(p);
    assert.deepEqual(result, {
      status: 'succeeded',
      reason: null,
      outputs: { status: '200', body: 'answer 200', attempts: '1' },
    });
    assert.equal(seen[0]!.method, 'GET');
    assert.equal(seen[0]!.url, '/x?q=1');
    assert.equal(seen[0]!.body, '');
    assert.deepEqual(lines, [`[junction] GET ${base}/x?q=1 → 200 (attempt 1/5)`]);
    assert.equal(letters.length, 0);
  });

  void test('expect makes a 404 a success and a 200 a final failure', async () => {
    status = 404;
    const ok = await httpStep(params({ url: `${base}/gone`, method: 'DELETE', expect: [404] }).p);
    assert.equal(ok.status, 'succeeded');
    assert.equal(ok.outputs['status'], '404');
    status = 200;
    seen.length = 0;
    const { p, letters } = params({ url: `${base}/made`, expect: [201], attempts: 3 });
    const refused = await httpStep(p);
    assert.equal(refused.status, 'failed');
    assert.equal(seen.length, 1);
    assert.match(refused.reason ?? '', /answered 200 after 1 attempt \(not retried/);
    assert.equal(letters[0]?.code, 'HTTP_STEP_FAILED');
  });

  void test('a refused connection is retried, then dead-lettered with the masked body', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { p, lines, letters } = params({
      url: `http://127.0.0.1:${port}/hook`,
      attempts: 2,
      headers: { authorization: 'Bearer s3cret' },
      body: { token: 's3cret' },
    });
    const result = await httpStep(p);
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /network error ECONNREFUSED after 2 attempts/);
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /→ network error ECONNREFUSED, retrying in \d+ms \(attempt 1\/2\)$/);
    const [letter] = letters;
    assert.equal(letter?.kind, 'delivery');
    assert.equal(letter?.payload, '{"token":"***"}');
    assert.deepEqual(letter?.headers, { authorization: '(not kept)', 'content-type': '(not kept)' });
    assert.equal(letter?.history?.length, 2);
    assert.ok(!JSON.stringify(letter).includes('s3cret'));
  });

  void test('a server that never answers times out per attempt', async () => {
    hold = true;
    const started = Date.now();
    const result = await httpStep(params({ url: `${base}/slow`, timeout: '200ms', attempts: 2 }).p);
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /no answer within the timeout after 2 attempts/);
    assert.ok(Date.now() - started < 5000);
  });

  void test('an abort rejects without a dead letter', async () => {
    hold = true;
    const controller = new AbortController();
    const { p, letters } = params({ url: `${base}/slow` }, { signal: controller.signal });
    setTimeout(() => controller.abort('cancel'), 100);
    await assert.rejects(httpStep(p), /was stopped/);
    assert.equal(letters.length, 0);
  });

  void test('without a deliver function the step cannot run', async () => {
    await assert.rejects(httpStep(params({ url: `${base}/x` }, { deliver: undefined }).p), /not available/);
    assert.equal(seen.length, 0);
  });
});
