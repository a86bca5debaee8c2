import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateCloudEvent } from '../events/index.ts';
import { isJunctionError } from '../errors/index.ts';
import { createGitLabSource } from './gitlab.ts';
import type { HookRequest, MappedEvent, Source } from './source.ts';

const fixtures = join(resolve(import.meta.dirname, '..', '..'), '..', 'shared', 'fixtures', 'gitlab');
const haveFixtures = existsSync(fixtures);
const skipFixtures = !haveFixtures && `shared fixtures absent at ${fixtures}; fixture cases skipped`;
if (!haveFixtures) console.log(`# NOTICE: ${String(skipFixtures)}`);

const TOKEN = 'gl-t0ken';
const source = createGitLabSource({ name: 'gl', type: 'gitlab', token: TOKEN });
const now = new Date('2026-01-02T03:04:05.000Z');
const ZERO = '0'.repeat(40);

function request(
  event: string,
  body: Buffer | string | object,
  headers: Record<string, string | undefined> = {},
): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': event,
      'x-gitlab-event-uuid': '13792a34-cac6-4fda-95a8-c58e00a3954e',
      'x-gitlab-token': TOKEN,
      ...headers,
    },
    body: bytes,
    receivedAt: now,
  };
}

function fixture(name: string): Buffer {
  return readFileSync(join(fixtures, 'payloads', name));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isJunctionError(error), String(error));
    return error.code;
  }
  return 'no error';
}

function mapOne(src: Source, req: HookRequest): MappedEvent {
  src.authenticate(req);
  const result = src.map(req);
  assert.equal(result.events.length, 1, result.note);
  const mapped = result.events[0]!;
  validateCloudEvent(mapped.event);
  return mapped;
}

function dataOf(mapped: MappedEvent): Record<string, unknown> {
  return mapped.event.data as Record<string, unknown>;
}

function push(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object_kind: 'push',
    before: 'a'.repeat(40),
    after: 'b'.repeat(40),
    ref: 'refs/heads/main',
    user_username: 'jsmith',
    project: {
      name: 'app',
      path_with_namespace: 'team/app',
      git_http_url: 'https://gitlab.example/team/app.git',
      web_url: 'https://gitlab.example/team/app',
      default_branch: 'main',
    },
    commits: [
      { id: 'c1', message: 'one', added: ['a.txt'], modified: ['src/x.ts'], removed: [] },
      { id: 'c2', message: 'two', added: [], modified: ['src/x.ts'], removed: ['old.md'] },
    ],
    total_commits_count: 2,
    ...overrides,
  };
}

describe('gitlab: settings', () => {
  test('a token is required and the error names the entry', () => {
    for (const token of [undefined, '']) {
      assert.throws(
        () => createGitLabSource({ name: 'lab', type: 'gitlab', ...(token === undefined ? {} : { token }) }),
        (e: unknown) => isJunctionError(e) && e.code === 'CONFIG_INVALID' && e.message.includes("'lab'"),
      );
    }
  });
});

describe('gitlab: authenticate', () => {
  const cases: [string, Record<string, string | undefined>][] = [
    ['no token', { 'x-gitlab-token': undefined }],
    ['wrong token', { 'x-gitlab-token': 'gl-t0kem' }],
    ['prefix of the token', { 'x-gitlab-token': TOKEN.slice(0, -1) }],
    ['token plus more', { 'x-gitlab-token': `${TOKEN}x` }],
    ['empty token', { 'x-gitlab-token': '' }],
  ];
  for (const [name, headers] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.authenticate(request('Push Hook', '{}', headers))),
        'SOURCE_UNAUTHENTICATED',
      );
    });
  }
  test('accepts the token and never echoes it', () => {
    source.authenticate(request('Push Hook', '{}'));
    try {
      source.authenticate(request('Push Hook', '{}', { 'x-gitlab-token': 'nope-secret' }));
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(isJunctionError(error));
      assert.ok(!error.message.includes(TOKEN) && !error.message.includes('nope-secret'));
    }
  });
});

describe('gitlab: hostile payloads', () => {
  const cases: [string, HookRequest][] = [
    ['not JSON', request('Push Hook', 'not json')],
    ['empty body', request('Push Hook', '')],
    ['a JSON array', request('Push Hook', '[]')],
    ['no event header', request('Push Hook', push(), { 'x-gitlab-event': undefined })],
    ['no uuid', request('Push Hook', push(), { 'x-gitlab-event-uuid': undefined })],
    ['a uuid with spaces', request('Push Hook', push(), { 'x-gitlab-event-uuid': 'a b' })],
    ['a huge uuid', request('Push Hook', push(), { 'x-gitlab-event-uuid': 'x'.repeat(500) })],
    ['push without ref', request('Push Hook', push({ ref: undefined }))],
    ['push with numeric ref', request('Push Hook', push({ ref: 7 }))],
    ['merge request without iid', request('Merge Request Hook', { object_attributes: { iid: '1' } })],
    ['pipeline without id', request('Pipeline Hook', { object_attributes: {} })],
    ['deployment without environment', request('Deployment Hook', { deployment_id: 1 })],
    ['deep nesting', request('Push Hook', `${'['.repeat(5000)}${']'.repeat(5000)}`)],
  ];
  for (const [name, req] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.map(req)),
        'SOURCE_PAYLOAD_INVALID',
      );
    });
  }
  test('wrong shapes inside a push still map, without changed_files', () => {
    const mapped = mapOne(source, request('Push Hook', push({ commits: [{ added: 'x' }, 5], project: 'x' })));
    const data = dataOf(mapped);
    assert.equal(data['changed_files'], undefined);
    assert.equal(data['repository'], undefined);
  });
  test('an oversized commit list is bounded', () => {
    const commits = Array.from({ length: 5000 }, (_, i) => ({ id: `c${i}`, added: [`f${i}`] }));
    const data = dataOf(mapOne(source, request('Push Hook', push({ commits, total_commits_count: 5000 }))));
    assert.equal((data['commits'] as unknown[]).length, 100);
    assert.equal(data['changed_files'], undefined);
  });
  test('an unmapped event is stored under its raw type gitlab.<event>', () => {
    const mapped = mapOne(source, request('Wiki Page Hook', '{"object_attributes":{"action":"create"}}'));
    assert.equal(mapped.event.type, 'gitlab.wiki_page');
    assert.equal(mapped.event.subject, 'wiki_page');
    assert.deepEqual(mapped.event.data, {
      action: 'create',
      actor: undefined,
      payload: { object_attributes: { action: 'create' } },
    });
    assert.equal(mapOne(source, request('Note Hook', '{}')).event.type, 'gitlab.note');
  });
  for (const eventName of [
    'Émoji Hook',
    'Wiki.Page Hook',
    '9 Hook',
    `${'w'.repeat(65)} Hook`,
    'Wiki/Page Hook',
  ]) {
    test(`refuses an unmapped event named '${eventName.slice(0, 20)}'`, () => {
      assert.equal(
        codeOf(() => source.map(request(eventName, '{}'))),
        'SOURCE_PAYLOAD_INVALID',
      );
    });
  }
});

describe('gitlab: push', () => {
  test('maps a branch push with the canonical fields', () => {
    const mapped = mapOne(source, request('Push Hook', push()));
    assert.equal(mapped.event.type, 'git.push');
    assert.equal(mapped.event.id, '13792a34-cac6-4fda-95a8-c58e00a3954e');
    assert.equal(mapped.dedupeKey, 'gitlab:13792a34-cac6-4fda-95a8-c58e00a3954e');
    assert.equal(mapped.event.source, 'https://gitlab.example/team/app');
    const data = dataOf(mapped);
    assert.equal(data['branch'], 'main');
    assert.equal(data['ref'], 'refs/heads/main');
    assert.equal(data['after'], 'b'.repeat(40));
    assert.equal(data['actor'], 'jsmith');
    assert.deepEqual(data['changed_files'], ['a.txt', 'old.md', 'src/x.ts']);
    assert.deepEqual(data['repository'], {
      full_name: 'team/app',
      name: 'app',
      owner: undefined,
      clone_url: 'https://gitlab.example/team/app.git',
      html_url: 'https://gitlab.example/team/app',
      default_branch: 'main',
    });
    assert.equal((data['payload'] as Record<string, unknown>)['object_kind'], 'push');
  });
  test('changed_files is left out when GitLab sent fewer commits than it counted', () => {
    const data = dataOf(mapOne(source, request('Push Hook', push({ total_commits_count: 30 }))));
    assert.equal(data['changed_files'], undefined);
    assert.equal(data['total_commits'], 30);
  });
  test('after all zeros is a deleted branch', () => {
    const mapped = mapOne(source, request('Push Hook', push({ after: ZERO, commits: [] })));
    assert.equal(mapped.event.type, 'git.branch.deleted');
    assert.equal(dataOf(mapped)['branch'], 'main');
  });
  test('the same delivery maps to the same id and key (replay)', () => {
    const a = mapOne(source, request('Push Hook', push()));
    const b = mapOne(source, request('Push Hook', push()));
    assert.equal(a.event.id, b.event.id);
    assert.equal(a.dedupeKey, b.dedupeKey);
  });
  test('a source falls back to the entry name for a strange web_url', () => {
    const mapped = mapOne(source, request('Push Hook', push({ project: { web_url: 'javascript:x y' } })));
    assert.equal(mapped.event.source, 'gitlab/gl');
  });
});

describe('gitlab: tag push', () => {
  test('a new tag is git.tag', () => {
    const body = push({ object_kind: 'tag_push', ref: 'refs/tags/v1.2.0', before: ZERO, commits: [] });
    const mapped = mapOne(source, request('Tag Push Hook', body));
    assert.equal(mapped.event.type, 'git.tag');
    assert.equal(dataOf(mapped)['tag'], 'v1.2.0');
    assert.equal(dataOf(mapped)['created'], true);
  });
  test('a tag deletion is a note', () => {
    const body = push({ object_kind: 'tag_push', ref: 'refs/tags/v1', after: ZERO });
    const result = source.map(request('Tag Push Hook', body));
    assert.deepEqual(result.events, []);
    assert.match(result.note ?? '', /deleting tag 'v1'/);
  });
});

describe('gitlab: merge requests', () => {
  const actions: [string, string][] = [
    ['open', 'opened'],
    ['update', 'synchronized'],
    ['close', 'closed'],
    ['merge', 'merged'],
    ['reopen', 'reopened'],
  ];
  for (const [given, expected] of actions) {
    test(`action ${given} → ${expected}`, () => {
      const body = {
        project: { path_with_namespace: 'team/app' },
        user: { username: 'ann' },
        object_attributes: {
          iid: 7,
          action: given,
          source_branch: 'feat',
          target_branch: 'main',
          title: 'Draft: x',
          draft: true,
          last_commit: { id: 'c'.repeat(40) },
          labels: [{ title: 'bug' }, { title: 5 }],
        },
      };
      const data = dataOf(mapOne(source, request('Merge Request Hook', body)));
      assert.equal(data['action'], expected);
      assert.equal(data['number'], 7);
      assert.equal(data['base_branch'], 'main');
      assert.equal(data['head_ref'], 'feat');
      assert.equal(data['head_sha'], 'c'.repeat(40));
      assert.equal(data['draft'], true);
      assert.deepEqual(data['labels'], ['bug']);
      assert.equal(data['merged'], expected === 'merged');
    });
  }
});

describe('gitlab: fixtures', { skip: skipFixtures }, () => {
  const byKind: Record<string, [string, string]> = {
    push: ['Push Hook', 'git.push'],
    merge_request: ['Merge Request Hook', 'git.pull_request'],
    pipeline: ['Pipeline Hook', 'gitlab.pipeline'],
    deployment: ['Deployment Hook', 'gitlab.deployment'],
  };
  /** The header GitLab sends for the payloads without a Junction type, and the stored type. */
  const foreign: Record<string, [string, string]> = {
    build: ['Job Hook', 'gitlab.job'],
    note: ['Note Hook', 'gitlab.note'],
    release: ['Release Hook', 'gitlab.release'],
    feature_flag: ['Feature Flag Hook', 'gitlab.feature_flag'],
  };
  test('every payload maps, unmapped kinds under their raw type', () => {
    const files = readdirSync(join(fixtures, 'payloads')).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0);
    let mappedCount = 0;
    for (const file of files) {
      const body = fixture(file);
      const kind = String((JSON.parse(body.toString('utf8')) as { object_kind?: unknown }).object_kind);
      const entry = byKind[kind];
      if (entry === undefined) {
        const raw = foreign[kind];
        assert.ok(raw !== undefined, `${file}: no header known for object_kind ${kind}`);
        const event = mapOne(source, request(raw[0], body)).event;
        assert.equal(event.type, raw[1], file);
        assert.deepEqual(
          (event.data as { payload: unknown }).payload,
          JSON.parse(body.toString('utf8')),
          file,
        );
        continue;
      }
      const mapped = mapOne(source, request(entry[0], body));
      assert.equal(mapped.event.type, entry[1], file);
      mappedCount += 1;
    }
    assert.equal(mappedCount, 4);
  });
  test('the documented push delivery: headers, token and data', () => {
    const wrapper = JSON.parse(
      readFileSync(join(fixtures, 'deliveries', 'push.documented-headers.json'), 'utf8'),
    ) as { headers: Record<string, string>; body: unknown };
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(wrapper.headers)) headers[key.toLowerCase()] = value;
    const lab = createGitLabSource({ name: 'gl', type: 'gitlab', token: 'REPLACE-WITH-SECRET' });
    const req: HookRequest = { headers, body: Buffer.from(JSON.stringify(wrapper.body)), receivedAt: now };
    assert.equal(
      codeOf(() => source.authenticate(req)),
      'SOURCE_UNAUTHENTICATED',
    );
    const mapped = mapOne(lab, req);
    assert.equal(mapped.dedupeKey, `gitlab:${headers['x-gitlab-event-uuid']}`);
    const data = dataOf(mapped);
    assert.equal(data['branch'], 'master');
    assert.equal(data['actor'], 'jsmith');
    assert.equal((data['repository'] as Record<string, unknown>)['full_name'], 'mike/diaspora');
    assert.equal(
      (data['repository'] as Record<string, unknown>)['clone_url'],
      'http://example.com/mike/diaspora.git',
    );
    // total_commits_count 4 with 2 commits sent: the file list is unknown.
    assert.equal(data['changed_files'], undefined);
  });
  test('the merge request fixture', () => {
    const data = dataOf(mapOne(source, request('Merge Request Hook', fixture('merge_request.json'))));
    assert.equal(data['action'], 'opened');
    assert.equal(data['number'], 1);
    assert.equal(data['head_ref'], 'ms-viewport');
    assert.equal(data['base_branch'], 'master');
    assert.deepEqual(data['labels'], ['API']);
  });
});
