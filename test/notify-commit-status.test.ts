/**
 * Commit statuses end to end: a real app receives signed GitHub and token-checked GitLab pushes,
 * runs the pipelines they trigger, and reports pending/running then success or failure to a
 * loopback server standing in for the GitHub and GitLab APIs, which checks the request shape.
 * A status the host refuses is kept as a dead letter, without the token.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const WEBHOOK_SECRET = 'hook-s3cret';
const GITLAB_HOOK_TOKEN = 'gl-hook-t0ken';
const GITHUB_TOKEN = 'ghp_statusT0kenValue123';
const GITLAB_TOKEN = 'glpat-statusT0kenValue456';

interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

const PIPELINES: Record<string, string> = {
  'build.yaml':
    'name: build\non:\n  - event: git.push\n    branches: [main]\njobs:\n  a:\n    steps:\n      - run: echo built\n',
  'broken.yaml':
    'name: broken\non:\n  - event: git.push\n    branches: [broken]\njobs:\n  a:\n    steps:\n      - run: exit 3\n',
  'deploy.yaml':
    'name: deploy\non:\n  - event: pipeline.succeeded\n    if: event.data.pipeline == "build"\njobs:\n  a:\n    steps:\n      - run: echo deployed\n',
};

function sha(char: string): string {
  return char.repeat(40);
}

function githubPush(repo: string, branch: string, after: string): string {
  return JSON.stringify({
    ref: `refs/heads/${branch}`,
    before: 'a'.repeat(40),
    after,
    repository: { full_name: repo, name: repo.split('/')[1], owner: { login: repo.split('/')[0] } },
    sender: { login: 'dev' },
    commits: [
      { id: after, message: 'm', timestamp: '2026-01-01T00:00:00Z', added: [], modified: ['a'], removed: [] },
    ],
  });
}

function gitlabPush(project: string, branch: string, after: string): string {
  return JSON.stringify({
    object_kind: 'push',
    before: 'a'.repeat(40),
    after,
    ref: `refs/heads/${branch}`,
    user_username: 'dev',
    project: { name: 'app', path_with_namespace: project, web_url: `https://gitlab.example/${project}` },
    commits: [{ id: after, message: 'm', added: [], modified: ['a'], removed: [] }],
    total_commits_count: 1,
  });
}

void describe('commit status notifiers', { timeout: 90_000 }, () => {
  const dir = tempDir('junction-notify-');
  let host: Server;
  let t: TestApp;
  const received: Received[] = [];
  let deliveries = 0;

  before(async () => {
    host = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        received.push({
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          body: JSON.parse(body) as Record<string, unknown>,
        });
        // The host refuses statuses for one repository, as GitHub does without permission.
        const status = request.url?.includes('/acme/refused/') ? 422 : 201;
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${String((host.address() as AddressInfo).port)}`;
    mkdirSync(join(dir.path, 'pipelines'));
    for (const [file, text] of Object.entries(PIPELINES))
      writeFileSync(join(dir.path, 'pipelines', file), text);
    t = await startTestApp(
      {
        sources: [
          { name: 'gh', type: 'github', secret: WEBHOOK_SECRET },
          { name: 'lab', type: 'gitlab', token: GITLAB_HOOK_TOKEN },
        ],
        notifiers: [
          { type: 'github-status', token: GITHUB_TOKEN, apiUrl, pipelines: ['build', 'broken', 'deploy'] },
          { type: 'gitlab-status', token: GITLAB_TOKEN, apiUrl: `${apiUrl}/gitlab/`, context: 'ci/junction' },
        ],
      },
      dir.path,
    );
  });

  after(async () => {
    await t?.close();
    await new Promise<void>((resolve) => host?.close(() => resolve()));
    dir.remove();
  });

  function sendGithub(body: string) {
    return t.post('/hooks/gh', body, {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': `d-${String(++deliveries)}`,
      'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`,
    });
  }

  function sendGitlab(body: string) {
    return t.post('/hooks/lab', body, {
      'content-type': 'application/json',
      'x-gitlab-event': 'Push Hook',
      'x-gitlab-event-uuid': `13792a34-cac6-4fda-95a8-${String(++deliveries).padStart(12, '0')}`,
      'x-gitlab-token': GITLAB_HOOK_TOKEN,
    });
  }

  /** The states reported for `path`, once `count` of them arrived. */
  function statesFor(path: string, count: number, field = 'context', value?: string) {
    return eventually(
      () => {
        const list = received.filter(
          (r) => r.path === path && (value === undefined || r.body[field] === value),
        );
        return list.length >= count ? list : undefined;
      },
      30_000,
      `${String(count)} statuses at ${path}`,
    );
  }

  void test('a GitHub push reports pending then success on the pushed commit, linking the run', async () => {
    const commit = sha('c');
    assert.equal((await sendGithub(githubPush('acme/app', 'main', commit))).status, 202);
    const path = `/repos/acme/app/statuses/${commit}`;
    const list = await statesFor(path, 2, 'context', 'junction/build');
    assert.deepEqual(
      list.map((r) => r.body['state']),
      ['pending', 'success'],
    );
    const [first] = list;
    assert.equal(first!.method, 'POST');
    assert.equal(first!.headers['authorization'], `Bearer ${GITHUB_TOKEN}`);
    assert.equal(first!.headers['accept'], 'application/vnd.github+json');
    assert.equal(first!.headers['x-github-api-version'], '2022-11-28');
    assert.ok(first!.headers['user-agent']);
    assert.match(first!.headers['content-type'] ?? '', /^application\/json/);
    const { items } = (await t.get('/api/v1/runs?pipeline=build')).body as { items: { id: string }[] };
    assert.equal(first!.body['target_url'], `${t.url}/api/v1/runs/${items[0]!.id}`);
    assert.equal((await fetch(String(first!.body['target_url']))).status, 200);
    assert.ok(String(list[1]!.body['description']).startsWith("pipeline 'build' succeeded"));

    // The deploy pipeline, chained on build's success, reports on the same pushed commit.
    const deploy = await statesFor(path, 2, 'context', 'junction/deploy');
    assert.deepEqual(
      deploy.map((r) => r.body['state']),
      ['pending', 'success'],
    );
  });

  void test('a failing pipeline reports failure with its reason', async () => {
    const commit = sha('d');
    assert.equal((await sendGithub(githubPush('acme/app', 'broken', commit))).status, 202);
    const list = await statesFor(`/repos/acme/app/statuses/${commit}`, 2, 'context', 'junction/broken');
    assert.deepEqual(
      list.map((r) => r.body['state']),
      ['pending', 'failure'],
    );
    assert.ok(String(list[1]!.body['description']).length <= 140);
  });

  void test('a GitLab push reports running then success to the commit status API', async () => {
    const commit = sha('e');
    assert.equal((await sendGitlab(gitlabPush('team/sub/app', 'main', commit))).status, 202);
    const path = `/gitlab/api/v4/projects/team%2Fsub%2Fapp/statuses/${commit}`;
    const list = await statesFor(path, 2, 'name', 'ci/junction');
    const build = list.filter((r) => String(r.body['description']).includes("'build'"));
    assert.deepEqual(
      build.map((r) => r.body['state']),
      ['running', 'success'],
    );
    assert.equal(build[0]!.headers['private-token'], GITLAB_TOKEN);
    assert.equal(build[0]!.headers['authorization'], undefined);
    assert.equal(build[0]!.body['ref'], 'main');
    // GitHub's notifier never reports on a GitLab event, nor GitLab's on a GitHub one.
    assert.equal(received.filter((r) => r.path.includes(commit) && !r.path.startsWith('/gitlab/')).length, 0);
    assert.equal(
      received.filter((r) => r.path.startsWith('/gitlab/') && r.headers['authorization'] !== undefined)
        .length,
      0,
    );
  });

  void test('a refused status is kept as a dead letter without the token', async () => {
    const commit = sha('f');
    assert.equal((await sendGithub(githubPush('acme/refused', 'broken', commit))).status, 202);
    const letters = await eventually(
      async () => {
        const list = await t.app.store.listDeadLetters({ kind: 'delivery' }, 100);
        const mine = list.filter((l) => l.destination?.includes(commit));
        return mine.length >= 2 ? mine : undefined;
      },
      30_000,
      'dead letters',
    );
    const [letter] = letters;
    assert.equal(letter!.code, 'NOTIFY_FAILED');
    assert.equal(letter!.attempts, 1);
    assert.equal(letter!.history[0]!.status, 422);
    assert.match(letter!.destination!, /\/repos\/acme\/refused\/statuses\//);
    assert.equal(JSON.parse(Buffer.from(letter!.payload!).toString('utf8')).context, 'junction/broken');
    const everything = JSON.stringify(await t.app.store.listDeadLetters({}, 1000), (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v,
    );
    assert.doesNotMatch(everything, new RegExp(`${GITHUB_TOKEN}|${GITLAB_TOKEN}`));
    const metrics = await t.app.metrics.render();
    assert.match(metrics, /junction_notifications_total\{provider="github-status",outcome="failed"\} [1-9]/);
    assert.match(
      metrics,
      /junction_notifications_total\{provider="github-status",outcome="delivered"\} [1-9]/,
    );
  });
});
