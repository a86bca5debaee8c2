import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StoredEvent } from '../events/index.ts';
import {
  MAX_DESCRIPTION,
  commitOf,
  describeRun,
  isWanted,
  redactHeaders,
  statusRequest,
  type NotifierSettings,
} from './commit-status.ts';

const SHA = 'b'.repeat(40);

function stored(type: string, data: unknown, receiver = 'gh'): StoredEvent {
  return {
    seq: 1,
    id: 'evt-1',
    dedupeKey: 'k',
    receiver,
    receivedAt: '2026-01-01T00:00:00.000Z',
    event: { specversion: '1.0', id: 'x', source: '/s', type, data },
  } as unknown as StoredEvent;
}

const report = {
  state: 'succeeded' as const,
  runId: 'run-1',
  pipeline: 'build',
  targetUrl: 'https://ci.example.com/api/v1/runs/run-1',
  durationMs: 12_000,
};

void describe('commitOf', () => {
  const cases: [string, StoredEvent, 'github-status' | 'gitlab-status', unknown][] = [
    [
      'push',
      stored('git.push', { repository: { full_name: 'acme/app' }, after: SHA, branch: 'main' }),
      'github-status',
      { repository: 'acme/app', sha: SHA, ref: 'main' },
    ],
    [
      'pull request',
      stored('git.pull_request', { repository: { full_name: 'acme/app' }, head_sha: SHA, head_ref: 'fix' }),
      'github-status',
      { repository: 'acme/app', sha: SHA, ref: 'fix' },
    ],
    [
      'gitlab nested group',
      stored('git.push', { repository: { full_name: 'grp/sub/proj' }, after: SHA }),
      'gitlab-status',
      { repository: 'grp/sub/proj', sha: SHA },
    ],
    [
      'a tag is not reported',
      stored('git.tag', { repository: { full_name: 'a/b' }, after: SHA }),
      'github-status',
      undefined,
    ],
    ['no data', stored('git.push', null), 'github-status', undefined],
    [
      'deleted branch sha',
      stored('git.push', { repository: { full_name: 'a/b' }, after: '0'.repeat(40) }),
      'github-status',
      undefined,
    ],
    [
      'sha with a path',
      stored('git.push', { repository: { full_name: 'a/b' }, after: `${SHA}/../x` }),
      'github-status',
      undefined,
    ],
    [
      'short sha',
      stored('git.push', { repository: { full_name: 'a/b' }, after: 'abc123' }),
      'github-status',
      undefined,
    ],
    [
      'repository with ..',
      stored('git.push', { repository: { full_name: 'a/..' }, after: SHA }),
      'github-status',
      undefined,
    ],
    [
      'three-part name on github',
      stored('git.push', { repository: { full_name: 'a/b/c' }, after: SHA }),
      'github-status',
      undefined,
    ],
    [
      'query in the name',
      stored('git.push', { repository: { full_name: 'a/b?x=1' }, after: SHA }),
      'gitlab-status',
      undefined,
    ],
    [
      'name not a string',
      stored('git.push', { repository: { full_name: 42 }, after: SHA }),
      'github-status',
      undefined,
    ],
  ];
  for (const [name, event, type, expected] of cases) {
    void test(name, () => assert.deepEqual(commitOf(event, type), expected));
  }
});

void describe('statusRequest', () => {
  const target = { repository: 'acme/app', sha: SHA, ref: 'main' };

  void test('GitHub: POST /repos/{owner}/{repo}/statuses/{sha} with the documented headers and body', () => {
    const settings: NotifierSettings = { type: 'github-status', token: 'ghp_tok123' };
    const request = statusRequest(settings, target, report);
    assert.equal(request.method, 'POST');
    assert.equal(request.url, `https://api.github.com/repos/acme/app/statuses/${SHA}`);
    assert.equal(request.headers['authorization'], 'Bearer ghp_tok123');
    assert.equal(request.headers['accept'], 'application/vnd.github+json');
    assert.equal(request.headers['x-github-api-version'], '2022-11-28');
    assert.ok(request.headers['user-agent']);
    assert.deepEqual(JSON.parse(request.body), {
      state: 'success',
      target_url: report.targetUrl,
      description: "pipeline 'build' succeeded in 12s",
      context: 'junction/build',
    });
    assert.doesNotMatch(request.url + request.body, /ghp_tok123/);
  });

  void test('GitLab: URL-encoded project path, PRIVATE-TOKEN, name and ref', () => {
    const settings: NotifierSettings = {
      type: 'gitlab-status',
      token: 'glpat-tok',
      apiUrl: 'https://git.example.com/',
      context: 'ci',
    };
    const request = statusRequest(
      settings,
      { ...target, repository: 'grp/sub/app' },
      { ...report, state: 'failed', reason: 'job a failed' },
    );
    assert.equal(request.url, `https://git.example.com/api/v4/projects/grp%2Fsub%2Fapp/statuses/${SHA}`);
    assert.equal(request.headers['private-token'], 'glpat-tok');
    assert.equal(request.headers['authorization'], undefined);
    assert.deepEqual(JSON.parse(request.body), {
      state: 'failed',
      ref: 'main',
      name: 'ci',
      target_url: report.targetUrl,
      description: "pipeline 'build' failed in 12s: job a failed",
    });
    assert.deepEqual(Object.keys(redactHeaders(request.headers)).sort(), [
      'accept',
      'content-type',
      'user-agent',
    ]);
  });

  void test('states map per provider', () => {
    const states = (type: 'github-status' | 'gitlab-status') =>
      (['started', 'succeeded', 'failed', 'cancelled'] as const).map(
        (state) =>
          JSON.parse(statusRequest({ type, token: 't0ken' }, target, { ...report, state }).body).state,
      );
    assert.deepEqual(states('github-status'), ['pending', 'success', 'failure', 'error']);
    assert.deepEqual(states('gitlab-status'), ['running', 'success', 'failed', 'canceled']);
  });

  void test('a long reason is cut to the description limit', () => {
    const description = describeRun({ ...report, state: 'failed', reason: 'x'.repeat(5000) });
    assert.equal([...description].length, MAX_DESCRIPTION);
    assert.ok(description.endsWith('…'));
    const multi = describeRun({ ...report, state: 'cancelled', reason: 'a\nb\r\nc' });
    assert.equal(multi, "pipeline 'build' was cancelled: a b c");
  });
});

void describe('isWanted', () => {
  void test('pipelines and repositories filter; repositories compare without case', () => {
    const settings: NotifierSettings = {
      type: 'github-status',
      token: 't0ken',
      pipelines: ['build'],
      repositories: ['Acme/App'],
    };
    assert.equal(isWanted(settings, 'build', 'acme/app'), true);
    assert.equal(isWanted(settings, 'deploy', 'acme/app'), false);
    assert.equal(isWanted(settings, 'build', 'acme/other'), false);
    assert.equal(isWanted({ type: 'github-status', token: 't0ken' }, 'any', 'any/thing'), true);
  });
});
