import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateCloudEvent } from '../events/index.ts';
import { isJunctionError } from '../errors/index.ts';
import { createGiteaSource } from './gitea.ts';
import type { HookRequest, MappedEvent, Source } from './source.ts';

const fixtures = join(resolve(import.meta.dirname, '..', '..'), '..', 'shared', 'fixtures', 'gitea');
const haveFixtures = existsSync(fixtures);
const skipFixtures = !haveFixtures && `shared fixtures absent at ${fixtures}; fixture cases skipped`;
if (!haveFixtures) console.log(`# NOTICE: ${String(skipFixtures)}`);

const SECRET = 'gitea-s3cret';
const source = createGiteaSource({ name: 'tea', type: 'gitea', secret: SECRET });
const now = new Date('2026-01-02T03:04:05.000Z');
const ZERO = '0'.repeat(40);

function hex(body: Buffer | string, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

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
      'x-gitea-event': event,
      'x-gitea-delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473',
      'x-gitea-signature': hex(bytes),
      ...headers,
    },
    body: bytes,
    receivedAt: now,
  };
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

const repository = {
  name: 'app',
  full_name: 'team/app',
  owner: { login: 'team' },
  clone_url: 'https://tea.example/team/app.git',
  html_url: 'https://tea.example/team/app',
  default_branch: 'main',
};

function push(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before: 'a'.repeat(40),
    after: 'b'.repeat(40),
    commits: [
      { id: 'c1', added: ['a.txt'], modified: [], removed: [] },
      { id: 'c2', added: [], modified: ['b.txt'], removed: ['a.txt'] },
    ],
    total_commits: 2,
    repository,
    pusher: { login: 'ann' },
    sender: { login: 'ann' },
    ...overrides,
  };
}

describe('gitea: settings', () => {
  test('a secret is required and the error names the entry', () => {
    assert.throws(
      () => createGiteaSource({ name: 'forge', type: 'gitea' }),
      (e: unknown) => isJunctionError(e) && e.code === 'CONFIG_INVALID' && e.message.includes("'forge'"),
    );
  });
});

describe('gitea: authenticate', () => {
  const body = Buffer.from('{"ref":"x"}');
  const cases: [string, Record<string, string | undefined>][] = [
    ['unsigned', { 'x-gitea-signature': undefined }],
    ['wrong secret', { 'x-gitea-signature': hex(body, 'other') }],
    ['another body', { 'x-gitea-signature': hex('{"ref":"y"}') }],
    ['github-style prefix', { 'x-gitea-signature': `sha256=${hex(body)}` }],
    ['malformed hex', { 'x-gitea-signature': 'zz'.repeat(32) }],
    ['short hex', { 'x-gitea-signature': hex(body).slice(0, -2) }],
    [
      'only an X-Hub-Signature-256',
      { 'x-gitea-signature': undefined, 'x-hub-signature-256': `sha256=${hex(body)}` },
    ],
    ['an unreadable content type', { 'content-type': 'text/plain' }],
  ];
  for (const [name, headers] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.authenticate(request('push', body, headers))),
        'SOURCE_UNAUTHENTICATED',
      );
    });
  }
  test('accepts X-Gitea-Signature, X-Forgejo-Signature and X-Gogs-Signature', () => {
    for (const header of ['x-gitea-signature', 'x-forgejo-signature', 'x-gogs-signature']) {
      source.authenticate(request('push', body, { 'x-gitea-signature': undefined, [header]: hex(body) }));
    }
  });
  test('a form-encoded delivery is checked against the JSON it carries', () => {
    const json = JSON.stringify(push());
    const form = `payload=${encodeURIComponent(json)}`;
    const req = request('push', form, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-gitea-signature': hex(json),
    });
    assert.equal(dataOf(mapOne(source, req))['branch'], 'main');
    assert.equal(
      codeOf(() =>
        source.authenticate({ ...req, headers: { ...req.headers, 'x-gitea-signature': hex(form) } }),
      ),
      'SOURCE_UNAUTHENTICATED',
    );
  });
});

describe('gitea: hostile payloads', () => {
  const cases: [string, HookRequest][] = [
    ['not JSON', request('push', 'not json')],
    ['a JSON string', request('push', '"x"')],
    ['no event header', request('push', push(), { 'x-gitea-event': undefined })],
    ['no delivery', request('push', push(), { 'x-gitea-delivery': undefined })],
    ['a delivery with control characters', request('push', push(), { 'x-gitea-delivery': 'a\u0000b' })],
    ['push without ref', request('push', push({ ref: null }))],
    ['pull request without number', request('pull_request', { pull_request: {} })],
    ['release without tag', request('release', { release: { name: 'x' } })],
    ['delete without ref_type', request('delete', { ref: 'main' })],
    ['form without payload', request('push', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' })],
    ['xml', request('push', '<a/>', { 'content-type': 'application/xml' })],
  ];
  for (const [name, req] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.map(req)),
        'SOURCE_PAYLOAD_INVALID',
      );
    });
  }
  test('an in-body secret is never stored', () => {
    const data = dataOf(mapOne(source, request('push', push({ secret: 'leaked' }))));
    assert.equal(JSON.stringify(data).includes('leaked'), false);
  });
  test('an oversized commit list is bounded', () => {
    const commits = Array.from({ length: 3000 }, (_, i) => ({ id: `c${i}`, added: [`f${i}`] }));
    const data = dataOf(mapOne(source, request('push', push({ commits, total_commits: 3000 }))));
    assert.equal((data['commits'] as unknown[]).length, 100);
    assert.equal(data['changed_files'], undefined);
  });
  test('unknown events are stored under their own name', () => {
    const result = source.map(
      request('issues', JSON.stringify({ action: 'opened', repository: { full_name: 'acme/app' } })),
    );
    assert.equal(result.events.length, 1);
    assert.equal(result.events[0]!.event.type, 'gitea.issues');
    assert.equal(result.events[0]!.event.subject, 'acme/app');
    assert.equal((result.events[0]!.event.data as { action: string }).action, 'opened');
    assert.throws(() => source.map(request('Issues; rm', '{}')), /not an event name/);
  });
});

describe('gitea: push, create and delete', () => {
  test('a branch push', () => {
    const mapped = mapOne(source, request('push', push()));
    assert.equal(mapped.event.type, 'git.push');
    assert.equal(mapped.dedupeKey, 'gitea:f6266f16-1bf3-46a5-9ea4-602e06ead473');
    assert.equal(mapped.event.source, 'https://tea.example/team/app');
    const data = dataOf(mapped);
    assert.equal(data['branch'], 'main');
    assert.equal(data['after'], 'b'.repeat(40));
    assert.deepEqual(data['changed_files'], ['a.txt', 'b.txt']);
    assert.equal((data['repository'] as Record<string, unknown>)['clone_url'], repository.clone_url);
    assert.equal(data['actor'], 'ann');
  });
  test('Forgejo headers', () => {
    const body = JSON.stringify(push());
    const mapped = mapOne(
      source,
      request('ignored', body, {
        'x-gitea-event': undefined,
        'x-gitea-delivery': undefined,
        'x-gitea-signature': undefined,
        'x-forgejo-event': 'push',
        'x-forgejo-delivery': 'fj-1',
        'x-forgejo-signature': hex(body),
      }),
    );
    assert.equal(mapped.dedupeKey, 'gitea:fj-1');
    assert.equal(mapped.event.id, 'fj-1');
  });
  test('changed_files is left out when commits were cut', () => {
    assert.equal(
      dataOf(mapOne(source, request('push', push({ total_commits: 9 }))))['changed_files'],
      undefined,
    );
    const five = Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, added: ['x'] }));
    const noTotal = push({ commits: five, total_commits: undefined });
    assert.equal(dataOf(mapOne(source, request('push', noTotal)))['changed_files'], undefined);
    const noLists = push({ commits: [{ id: 'c1' }] });
    assert.equal(dataOf(mapOne(source, request('push', noLists)))['changed_files'], undefined);
  });
  test('a tag push is git.tag', () => {
    const mapped = mapOne(source, request('push', push({ ref: 'refs/tags/v2', before: ZERO, commits: [] })));
    assert.equal(mapped.event.type, 'git.tag');
    assert.equal(dataOf(mapped)['tag'], 'v2');
  });
  test('a deleting push is a note; the delete event maps', () => {
    const result = source.map(request('push', push({ after: ZERO })));
    assert.deepEqual(result.events, []);
    const mapped = mapOne(source, request('delete', { ref: 'feat/x', ref_type: 'branch', repository }));
    assert.equal(mapped.event.type, 'git.branch.deleted');
    assert.equal(dataOf(mapped)['branch'], 'feat/x');
    assert.equal(dataOf(mapped)['ref'], 'refs/heads/feat/x');
  });
  test('delete of a tag and create are notes', () => {
    assert.match(
      source.map(request('delete', { ref: 'v1', ref_type: 'tag' })).note ?? '',
      /delete of tag 'v1'/,
    );
    assert.match(source.map(request('create', { ref: 'v1', ref_type: 'tag' })).note ?? '', /push event/);
  });
  test('replays keep their id', () => {
    const a = mapOne(source, request('push', push()));
    const b = mapOne(source, request('push', push()));
    assert.deepEqual([a.event.id, a.dedupeKey], [b.event.id, b.dedupeKey]);
  });
});

describe('gitea: pull requests', () => {
  const cases: [string, boolean, string][] = [
    ['opened', false, 'opened'],
    ['synchronized', false, 'synchronized'],
    ['synchronize', false, 'synchronized'],
    ['closed', true, 'merged'],
    ['closed', false, 'closed'],
    ['reopened', false, 'reopened'],
  ];
  for (const [action, merged, expected] of cases) {
    test(`${action}${merged ? ' (merged)' : ''} → ${expected}`, () => {
      const body = {
        action,
        number: 3,
        pull_request: {
          number: 3,
          merged,
          title: 't',
          user: { login: 'bo' },
          labels: [{ name: 'ci' }],
          head: { ref: 'feat', sha: 'h'.repeat(40) },
          base: { ref: 'main', sha: 'b'.repeat(40) },
        },
        repository,
      };
      const data = dataOf(mapOne(source, request('pull_request', body)));
      assert.equal(data['action'], expected);
      assert.equal(data['base_branch'], 'main');
      assert.equal(data['head_sha'], 'h'.repeat(40));
      assert.deepEqual(data['labels'], ['ci']);
    });
  }
});

describe('gitea: fixtures', { skip: skipFixtures }, () => {
  const payload = (name: string): Buffer => readFileSync(join(fixtures, 'payloads', name));
  test('push-event.json', () => {
    const data = dataOf(mapOne(source, request('push', payload('push-event.json'))));
    assert.equal(data['branch'], 'master');
    assert.equal(data['created'], true);
    assert.deepEqual(data['changed_files'], ['example']);
    assert.equal((data['repository'] as Record<string, unknown>)['full_name'], 'example/example');
  });
  test('gogs.push-event.json (Gogs headers)', () => {
    const body = payload('gogs.push-event.json');
    const mapped = mapOne(
      source,
      request('x', body, {
        'x-gitea-event': undefined,
        'x-gitea-delivery': undefined,
        'x-gitea-signature': undefined,
        'x-gogs-event': 'push',
        'x-gogs-delivery': 'g-1',
        'x-gogs-signature': hex(body),
      }),
    );
    assert.equal(mapped.event.type, 'git.push');
    assert.equal(dataOf(mapped)['branch'], 'develop');
  });
  test('pull-request-event.json', () => {
    const mapped = mapOne(source, request('pull_request', payload('pull-request-event.json')));
    assert.equal(mapped.event.type, 'git.pull_request');
    assert.equal(dataOf(mapped)['number'], 2);
    assert.equal(dataOf(mapped)['action'], 'opened');
  });
  test('release-event.json', () => {
    const mapped = mapOne(source, request('release', payload('release-event.json')));
    assert.equal(mapped.event.type, 'git.release');
    assert.equal(dataOf(mapped)['tag'], 'example');
  });
  test('create-event.json is a note', () => {
    const result = source.map(request('create', payload('create-event.json')));
    assert.deepEqual(result.events, []);
    assert.match(result.note ?? '', /branch 'master'/);
  });
  test('the docs delivery: headers as sent, in-body secret dropped', () => {
    const wrapper = JSON.parse(
      readFileSync(join(fixtures, 'deliveries', 'push.docs-example.json'), 'utf8'),
    ) as {
      headers: Record<string, string>;
      body: unknown;
    };
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(wrapper.headers)) headers[key.toLowerCase()] = value;
    const body = Buffer.from(JSON.stringify(wrapper.body));
    // The example is unsigned: refused.
    assert.equal(
      codeOf(() => source.authenticate({ headers, body, receivedAt: now })),
      'SOURCE_UNAUTHENTICATED',
    );
    const signed = { headers: { ...headers, 'x-gitea-signature': hex(body) }, body, receivedAt: now };
    const mapped = mapOne(source, signed);
    assert.equal(mapped.event.id, 'f6266f16-1bf3-46a5-9ea4-602e06ead473');
    assert.equal(dataOf(mapped)['branch'], 'develop');
    assert.equal(JSON.stringify(mapped.event).includes('3gEsCfjlV2ugRwgpU'), false);
  });
});
