import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateCloudEvent } from '../events/index.ts';
import { isJunctionError } from '../errors/index.ts';
import { createBitbucketSource } from './bitbucket.ts';
import type { HookRequest, MappedEvent, SourceResult } from './source.ts';

const fixtures = join(resolve(import.meta.dirname, '..', '..'), '..', 'shared', 'fixtures', 'bitbucket');
const haveFixtures = existsSync(fixtures);
const skipFixtures = !haveFixtures && `shared fixtures absent at ${fixtures}; fixture cases skipped`;
if (!haveFixtures) console.log(`# NOTICE: ${String(skipFixtures)}`);

const SECRET = 'bb-s3cret';
const source = createBitbucketSource({ name: 'bb', type: 'bitbucket', secret: SECRET });
const now = new Date('2026-01-02T03:04:05.000Z');
const REQUEST_UUID = '7d8a3a44-8b8b-4a14-a1a3-0c1d7f1a2b3c';

function sign(body: Buffer | string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function request(
  key: string,
  body: Buffer | string | object,
  headers: Record<string, string | undefined> = {},
): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    headers: {
      'content-type': 'application/json',
      'x-event-key': key,
      'x-request-uuid': REQUEST_UUID,
      'x-hook-uuid': 'hook-1',
      'x-hub-signature': sign(bytes),
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

function mapAll(req: HookRequest): SourceResult {
  source.authenticate(req);
  const result = source.map(req);
  for (const mapped of result.events) validateCloudEvent(mapped.event);
  return result;
}

function mapOne(req: HookRequest): MappedEvent {
  const result = mapAll(req);
  assert.equal(result.events.length, 1, result.note);
  return result.events[0]!;
}

function dataOf(mapped: MappedEvent): Record<string, unknown> {
  return mapped.event.data as Record<string, unknown>;
}

const repository = { full_name: 'team/app', name: 'app', mainbranch: { name: 'main' } };

function ref(type: string, name: string, hash: string): Record<string, unknown> {
  return { type, name, target: { type: 'commit', hash, date: '2026-01-01T00:00:00+00:00' } };
}

function pushOf(...changes: unknown[]): Record<string, unknown> {
  return { actor: { nickname: 'emma' }, repository, push: { changes } };
}

describe('bitbucket: settings', () => {
  test('a secret is required and the error names the entry', () => {
    assert.throws(
      () => createBitbucketSource({ name: 'cloud', type: 'bitbucket', secret: '' }),
      (e: unknown) => isJunctionError(e) && e.code === 'CONFIG_INVALID' && e.message.includes("'cloud'"),
    );
  });
});

describe('bitbucket: authenticate', () => {
  const body = Buffer.from('{"push":{"changes":[]}}');
  const cases: [string, Record<string, string | undefined>][] = [
    ['unsigned', { 'x-hub-signature': undefined }],
    ['wrong secret', { 'x-hub-signature': sign(body, 'other') }],
    ['another body', { 'x-hub-signature': sign('{}') }],
    ['no prefix', { 'x-hub-signature': sign(body).slice(7) }],
    ['sha1 prefix', { 'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}` }],
    ['malformed hex', { 'x-hub-signature': `sha256=${'g'.repeat(64)}` }],
  ];
  for (const [name, headers] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.authenticate(request('repo:push', body, headers))),
        'SOURCE_UNAUTHENTICATED',
      );
    });
  }
  test('accepts the right signature', () => {
    source.authenticate(request('repo:push', body));
  });
});

describe('bitbucket: hostile payloads', () => {
  const cases: [string, HookRequest][] = [
    ['not JSON', request('repo:push', '{')],
    ['no event key', request('repo:push', pushOf(), { 'x-event-key': undefined })],
    ['no request uuid', request('repo:push', pushOf(), { 'x-request-uuid': undefined })],
    ['a request uuid with spaces', request('repo:push', pushOf(), { 'x-request-uuid': 'a b' })],
    ['push without changes', request('repo:push', { push: {} })],
    ['changes not a list', request('repo:push', { push: { changes: {} } })],
    ['a change that is a string', request('repo:push', pushOf('x'))],
    ['a change with neither old nor new', request('repo:push', pushOf({ old: null, new: null }))],
    ['a ref without a name', request('repo:push', pushOf({ new: { type: 'branch' } }))],
    ['pull request without id', request('pullrequest:created', { pullrequest: { id: '1' } })],
  ];
  for (const [name, req] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.map(req)),
        'SOURCE_PAYLOAD_INVALID',
      );
    });
  }
  test('an oversized change list is bounded and noted', () => {
    const changes = Array.from({ length: 250 }, (_, i) => ({
      old: ref('branch', `b${i}`, 'a'.repeat(40)),
      new: ref('branch', `b${i}`, 'b'.repeat(40)),
    }));
    const result = mapAll(request('repo:push', pushOf(...changes)));
    assert.equal(result.events.length, 100);
    assert.match(result.note ?? '', /150 changes beyond the first 100/);
  });
  test('an oversized commit list is bounded', () => {
    const commits = Array.from({ length: 5000 }, (_, i) => ({ hash: `c${i}` }));
    const change = { old: ref('branch', 'main', 'a'), new: ref('branch', 'main', 'b'), commits };
    assert.equal((dataOf(mapOne(request('repo:push', pushOf(change))))['commits'] as unknown[]).length, 100);
  });
  test('unknown keys are stored under their own name', () => {
    const result = source.map(request('pullrequest:approved', { repository: { full_name: 'acme/app' } }));
    assert.equal(result.events.length, 1);
    assert.equal(result.events[0]!.event.type, 'bitbucket.pullrequest.approved');
    assert.equal(result.events[0]!.event.subject, 'acme/app');
    assert.throws(() => source.map(request('repo push!', {})), /not an event key/);
  });
  test('a strange full name does not become a URL', () => {
    const body = { ...pushOf({ new: ref('branch', 'main', 'b') }), repository: { full_name: 'a b/../c' } };
    const mapped = mapOne(request('repo:push', body));
    assert.equal(mapped.event.source, 'bitbucket/bb');
    assert.equal((dataOf(mapped)['repository'] as Record<string, unknown>)['clone_url'], undefined);
  });
});

describe('bitbucket: repo:push', () => {
  test('one event per change, with stable ids', () => {
    const body = pushOf(
      { old: ref('branch', 'main', 'a'.repeat(40)), new: ref('branch', 'main', 'b'.repeat(40)) },
      { old: null, new: ref('tag', 'v1.0', 'c'.repeat(40)), created: true },
      { old: ref('branch', 'gone', 'd'.repeat(40)), new: null, closed: true },
      { old: ref('tag', 'v0', 'e'.repeat(40)), new: null, closed: true },
    );
    const result = mapAll(request('repo:push', body));
    assert.deepEqual(
      result.events.map((m) => [m.event.type, m.event.id, m.dedupeKey]),
      [
        ['git.push', `${REQUEST_UUID}:0`, `bitbucket:${REQUEST_UUID}:0`],
        ['git.tag', `${REQUEST_UUID}:1`, `bitbucket:${REQUEST_UUID}:1`],
        ['git.branch.deleted', `${REQUEST_UUID}:2`, `bitbucket:${REQUEST_UUID}:2`],
      ],
    );
    assert.match(result.note ?? '', /deleted tag 'v0'/);
    const [pushed, tagged, deleted] = result.events.map(dataOf);
    assert.equal(pushed!['branch'], 'main');
    assert.equal(pushed!['before'], 'a'.repeat(40));
    assert.equal(pushed!['after'], 'b'.repeat(40));
    assert.equal('changed_files' in pushed!, false);
    assert.deepEqual(pushed!['repository'], {
      full_name: 'team/app',
      name: 'app',
      owner: 'team',
      clone_url: 'https://bitbucket.org/team/app.git',
      html_url: 'https://bitbucket.org/team/app',
      default_branch: 'main',
    });
    assert.equal(tagged!['tag'], 'v1.0');
    assert.equal(tagged!['ref'], 'refs/tags/v1.0');
    assert.equal(deleted!['branch'], 'gone');
    assert.equal(deleted!['deleted'], true);
    // A replay maps to the same ids.
    assert.deepEqual(
      mapAll(request('repo:push', body)).events.map((m) => m.dedupeKey),
      result.events.map((m) => m.dedupeKey),
    );
  });
});

describe('bitbucket: pull requests', () => {
  const cases: [string, string][] = [
    ['pullrequest:created', 'opened'],
    ['pullrequest:updated', 'synchronized'],
    ['pullrequest:fulfilled', 'merged'],
    ['pullrequest:rejected', 'closed'],
  ];
  for (const [key, action] of cases) {
    test(`${key} → ${action}`, () => {
      const body = {
        actor: { nickname: 'emma' },
        repository,
        pullrequest: {
          id: 4,
          title: 't',
          author: { nickname: 'emma' },
          source: { branch: { name: 'feat' }, commit: { hash: 'abc123' } },
          destination: { branch: { name: 'main' }, commit: { hash: 'def456' } },
        },
      };
      const mapped = mapOne(request(key, body));
      assert.equal(mapped.event.type, 'git.pull_request');
      assert.equal(mapped.dedupeKey, `bitbucket:${REQUEST_UUID}`);
      const data = dataOf(mapped);
      assert.equal(data['action'], action);
      assert.equal(data['number'], 4);
      assert.equal(data['base_branch'], 'main');
      assert.equal(data['head_ref'], 'feat');
      assert.equal(data['merged'], action === 'merged');
    });
  }
});

describe('bitbucket: fixtures', { skip: skipFixtures }, () => {
  const payload = (name: string): Buffer => readFileSync(join(fixtures, 'payloads', name));
  test('cloud.repo-push.json', () => {
    const mapped = mapOne(request('repo:push', payload('cloud.repo-push.json')));
    assert.equal(mapped.event.type, 'git.push');
    const data = dataOf(mapped);
    assert.equal(data['branch'], 'name-of-branch');
    assert.equal(data['before'], '1e65c05c1d5171631d92438a13901ca7dae9618c');
    assert.equal(data['after'], '709d658dc5b6d6afcd46049c2f332ee3f515a67d');
    assert.equal(data['actor'], 'emmap1');
    assert.equal(
      (data['repository'] as Record<string, unknown>)['clone_url'],
      'https://bitbucket.org/team_name/repo_name.git',
    );
  });
  test('cloud.pullrequest-created.json', () => {
    const data = dataOf(mapOne(request('pullrequest:created', payload('cloud.pullrequest-created.json'))));
    assert.equal(data['action'], 'opened');
    assert.equal(data['number'], 1);
    assert.equal(data['head_ref'], 'branch2');
    assert.equal(data['base_branch'], 'master');
  });
});
