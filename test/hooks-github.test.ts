/**
 * `POST /hooks/github` in the real app: signed GitHub deliveries become stored events that the
 * router matches against a pipeline's branch and path filters; unsigned or malformed ones are
 * refused with the JSON error format and store nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, repoRoot, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const SECRET = 's3cret';
const fixtures = join(repoRoot, '..', 'shared', 'fixtures', 'github');
const skipFixtures = !existsSync(fixtures) && `shared fixtures absent at ${fixtures}; fixture cases skipped`;
if (skipFixtures !== false) console.log(`# NOTICE: ${skipFixtures}`);

const PIPELINE =
  "name: build\non:\n  - event: git.push\n    branches: [main]\n    paths: ['src/**']\njobs:\n  a:\n    steps:\n      - run: echo built\n";

function sign(body: string | Buffer, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function push(files: string[], delivery: string): string {
  return JSON.stringify({
    ref: 'refs/heads/main',
    before: 'a'.repeat(40),
    after: 'b'.repeat(40),
    repository: {
      full_name: 'acme/app',
      name: 'app',
      owner: { login: 'acme' },
      clone_url: 'https://github.com/acme/app.git',
      html_url: 'https://github.com/acme/app',
      default_branch: 'main',
    },
    sender: { login: 'dev' },
    commits: [
      {
        id: 'b'.repeat(40),
        message: delivery,
        timestamp: '2026-01-01T00:00:00Z',
        author: { name: 'Dev', email: 'dev@example.com' },
        added: files,
        modified: [],
        removed: [],
      },
    ],
  });
}

describe('POST /hooks/github', { timeout: 60_000 }, () => {
  const dir = tempDir('junction-hooks-github-');
  let t: TestApp;
  let deliveries = 0;

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'build.yaml'), PIPELINE);
    t = await startTestApp(
      {
        sources: [{ name: 'github', type: 'github', secret: SECRET, bodyLimit: '64KiB' }],
        workers: { concurrency: 0 },
      },
      dir.path,
    );
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  function send(
    body: string | Buffer,
    headers: Record<string, string | undefined> = {},
    event = 'push',
    path = '/hooks/github',
  ) {
    const all: Record<string, string | undefined> = {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': `delivery-${++deliveries}`,
      'x-hub-signature-256': sign(body),
      ...headers,
    };
    const defined = Object.fromEntries(
      Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return t.post(path, typeof body === 'string' ? body : new Uint8Array(body), defined);
  }

  /** Events stored from the hook; the pipelines' own run events land beside them at any time. */
  async function storedCount(): Promise<number> {
    const { body } = await t.get('/api/v1/events?limit=100&receiver=github');
    return (body.items as unknown[]).length;
  }

  async function decisionsOf(id: string) {
    return eventually(
      async () => {
        const list = await t.app.store.listDecisions(id);
        return list.length > 0 ? list : undefined;
      },
      10_000,
      `decisions for ${id}`,
    );
  }

  test('a signed push touching src/ is stored and matches the pipeline', async () => {
    const body = push(['src/app.ts', 'docs/x.md'], 'src');
    const response = await send(body, { 'x-github-delivery': 'push-src' });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(response.body.duplicate, false);
    assert.equal(response.headers.get('location'), `/api/v1/events/${response.body.id}`);
    const stored = await t.get(`/api/v1/events/${response.body.id}`);
    assert.equal(stored.status, 200);
    const decisions = await decisionsOf(response.body.id as string);
    assert.deepEqual(
      decisions.map((d) => [d.pipeline, d.matched, d.reason]),
      [['build', true, 'matched']],
    );
    assert.ok(decisions[0]!.runId);
  });

  test('a push touching only docs/ is not matched, for its paths', async () => {
    const response = await send(push(['docs/readme.md'], 'docs'));
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const [decision] = await decisionsOf(response.body.id as string);
    assert.equal(decision!.matched, false);
    assert.match(decision!.reason, /path/);
    assert.equal(decision!.runId, null);
  });

  test('a redelivery answers 200 duplicate and is stored once', async () => {
    const body = push(['src/a.ts'], 'replay');
    const headers = { 'x-github-delivery': 'replayed' };
    const first = await send(body, headers);
    assert.equal(first.status, 202);
    const before = await storedCount();
    const second = await send(body, headers);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body, { id: first.body.id, duplicate: true });
    assert.equal(await storedCount(), before);
  });

  test('a form-encoded delivery is read from its payload field', async () => {
    const form = new URLSearchParams({ payload: push(['src/form.ts'], 'form') }).toString();
    const response = await send(form, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const stored = await t.get(`/api/v1/events/${response.body.id}`);
    const event = stored.body.event ?? stored.body;
    assert.deepEqual(event.data.changed_files, ['src/form.ts']);
  });

  test('a ping answers 200 with a note and stores nothing', async () => {
    const before = await storedCount();
    const response = await send('{"zen":"Keep it logically awesome.","hook_id":1}', {}, 'ping');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { ids: [], note: 'ping: hook is configured' });
    assert.equal(await storedCount(), before);
  });

  test('hostile deliveries are refused and store nothing', async () => {
    const body = push(['src/x.ts'], 'hostile');
    const huge = JSON.stringify({ ref: 'refs/heads/main', pad: 'x'.repeat(70 * 1024) });
    const cases: [string, () => ReturnType<typeof send>, number, string][] = [
      ['unsigned', () => send(body, { 'x-hub-signature-256': undefined }), 401, 'SOURCE_UNAUTHENTICATED'],
      [
        'wrong secret',
        () => send(body, { 'x-hub-signature-256': sign(body, 'nope') }),
        401,
        'SOURCE_UNAUTHENTICATED',
      ],
      [
        'another body',
        () => send(body, { 'x-hub-signature-256': sign('{}') }),
        401,
        'SOURCE_UNAUTHENTICATED',
      ],
      [
        'sha1 only',
        () =>
          send(body, {
            'x-hub-signature-256': undefined,
            'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}`,
          }),
        401,
        'SOURCE_UNAUTHENTICATED',
      ],
      [
        'malformed hex',
        () => send(body, { 'x-hub-signature-256': `sha256=${'x'.repeat(64)}` }),
        401,
        'SOURCE_UNAUTHENTICATED',
      ],
      ['oversized', () => send(huge), 413, 'EVENT_TOO_LARGE'],
      ['not JSON', () => send('not json'), 400, 'SOURCE_PAYLOAD_INVALID'],
      ['JSON not an object', () => send('[1]'), 400, 'SOURCE_PAYLOAD_INVALID'],
      ['no X-GitHub-Event', () => send(body, { 'x-github-event': undefined }), 400, 'SOURCE_PAYLOAD_INVALID'],
      ['unknown hook', () => send(body, {}, 'push', '/hooks/gitlab'), 404, 'SOURCE_NOT_FOUND'],
    ];
    const before = await storedCount();
    for (const [name, call, status, code] of cases) {
      const response = await call();
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code, name);
      assert.equal(typeof response.body.error.requestId, 'string', name);
      assert.ok(!JSON.stringify(response.body).includes(SECRET), name);
    }
    assert.equal(await storedCount(), before);
  });

  test('an API token is not what a hook checks', async () => {
    const body = push(['src/y.ts'], 'token');
    const response = await send(body, { 'x-hub-signature-256': undefined, authorization: 'Bearer nothing' });
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, 'SOURCE_UNAUTHENTICATED');
  });

  test('the real GitHub payloads, signed with the test secret', { skip: skipFixtures }, async () => {
    const cases: [string, string, number, string | undefined][] = [
      ['push.branch-created.json', 'push', 202, 'git.push'],
      ['push.branch.go-playground.json', 'push', 202, 'git.push'],
      ['pull_request.opened.json', 'pull_request', 202, 'git.pull_request'],
      ['release.published.json', 'release', 202, 'git.release'],
      ['ping.json', 'ping', 200, undefined],
      ['workflow_run.completed.json', 'workflow_run', 202, 'github.workflow_run'],
    ];
    for (const [name, event, status, type] of cases) {
      const body = readFileSync(join(fixtures, 'payloads', name));
      const response = await send(body, {}, event);
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      if (type === undefined) {
        assert.deepEqual(response.body.ids, [], name);
        continue;
      }
      const stored = await t.get(`/api/v1/events/${response.body.id}`);
      const cloudEvent = stored.body.event ?? stored.body;
      assert.equal(cloudEvent.type, type, name);
      assert.deepEqual(cloudEvent.data.payload, JSON.parse(body.toString('utf8')), name);
    }
  });
});
