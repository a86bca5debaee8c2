import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isJunctionError } from '../errors/index.ts';
import { createGitHubSource } from './github.ts';
import { createSources, sourceTypes } from './index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import type { HookRequest, Source } from './source.ts';

const fixtures = join(resolve(import.meta.dirname, '..', '..'), '..', 'shared', 'fixtures', 'github');
const haveFixtures = existsSync(fixtures);
const skipFixtures = !haveFixtures && `shared fixtures absent at ${fixtures}; fixture cases skipped`;
if (!haveFixtures) console.log(`# NOTICE: ${String(skipFixtures)}`);

const SECRET = 's3cret';
const source = createGitHubSource({ name: 'gh', type: 'github', secret: SECRET });
const now = new Date('2026-01-02T03:04:05.000Z');

function sign(body: Buffer | string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function request(
  event: string,
  body: Buffer | string,
  headers: Record<string, string | undefined> = {},
): HookRequest {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return {
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': 'd-1',
      'x-hub-signature-256': sign(bytes),
      ...headers,
    },
    body: bytes,
    receivedAt: now,
  };
}

// The canonical fields triggers read (docs/triggers.md); test/hooks-github.test.ts runs the real matcher.
function eventRef(event: CloudEvent): { branch?: unknown; tag?: unknown } {
  const data = event.data as Record<string, unknown>;
  if (event.type === 'git.pull_request') return { branch: data['base_branch'] };
  return data['tag'] !== undefined ? { tag: data['tag'] } : { branch: data['branch'] };
}

function eventChangedFiles(event: CloudEvent): unknown {
  return (event.data as Record<string, unknown>)['changed_files'];
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

function mapOne(src: Source, req: HookRequest) {
  src.authenticate(req);
  const result = src.map(req);
  assert.equal(result.events.length, 1, result.note);
  return result.events[0]!;
}

describe('createSources', () => {
  test('builds a github source by name', () => {
    const sources = createSources([{ name: 'gh', type: 'github', secret: 'x' }]);
    assert.equal(sources.get('gh')?.type, 'github');
    assert.ok(sourceTypes().includes('github'));
  });
  test('an unknown type lists the supported ones', () => {
    assert.throws(
      () => createSources([{ name: 'x', type: 'gitlub' }]),
      (e: unknown) =>
        isJunctionError(e) && e.code === 'CONFIG_INVALID' && /supported: .*github/.test(e.message),
    );
    assert.equal(
      codeOf(() => createSources([{ name: 'x', type: 'toString' }])),
      'CONFIG_INVALID',
    );
  });
  test('a github source without a secret says how to set one', () => {
    assert.throws(
      () => createSources([{ name: 'gh', type: 'github' }]),
      (e: unknown) =>
        isJunctionError(e) &&
        e.code === 'CONFIG_INVALID' &&
        e.message.includes('secret: ${GITHUB_WEBHOOK_SECRET}'),
    );
  });
  test('a name used twice is refused', () => {
    const entry = { name: 'gh', type: 'github', secret: 'x' };
    assert.equal(
      codeOf(() => createSources([entry, entry])),
      'CONFIG_INVALID',
    );
  });
});

describe('authenticate', () => {
  const body = Buffer.from('{"zen":"x"}');
  const cases: [string, Record<string, string | undefined>][] = [
    ['unsigned', { 'x-hub-signature-256': undefined }],
    ['wrong secret', { 'x-hub-signature-256': sign(body, 'other') }],
    ['another body', { 'x-hub-signature-256': sign('{"zen":"y"}') }],
    ['sha1 only', { 'x-hub-signature-256': undefined, 'x-hub-signature': `sha1=${'0'.repeat(40)}` }],
    [
      'sha1 prefix',
      { 'x-hub-signature-256': `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}` },
    ],
    ['malformed hex', { 'x-hub-signature-256': `sha256=${'zz'.repeat(32)}` }],
    ['short hex', { 'x-hub-signature-256': sign(body).slice(0, -2) }],
    ['no prefix', { 'x-hub-signature-256': sign(body).slice(7) }],
  ];
  for (const [name, headers] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.authenticate(request('ping', body, headers))),
        'SOURCE_UNAUTHENTICATED',
      );
    });
  }
  test('accepts the right signature', () => {
    source.authenticate(request('ping', body));
  });
  test('the message does not carry the secret or the signature', () => {
    try {
      source.authenticate(request('ping', body, { 'x-hub-signature-256': sign(body, 'other') }));
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(isJunctionError(error));
      assert.ok(!error.message.includes(SECRET) && !error.message.includes(sign(body, 'other')));
    }
  });
});

describe('map: hostile payloads', () => {
  const cases: [string, HookRequest][] = [
    ['not JSON', request('push', 'not json')],
    ['empty body', request('push', '')],
    ['JSON array', request('push', '[1,2]')],
    ['JSON string', request('push', '"x"')],
    ['no X-GitHub-Event', request('push', '{}', { 'x-github-event': undefined })],
    ['no X-GitHub-Delivery', request('push', '{}', { 'x-github-delivery': undefined })],
    ['a control character in the delivery', request('push', '{}', { 'x-github-delivery': 'a\tb' })],
    ['push without ref', request('push', '{"after":"x"}')],
    ['pull_request without object', request('pull_request', '{"number":1}')],
    ['release without tag', request('release', '{"release":{}}')],
    ['unsupported content type', request('push', '{}', { 'content-type': 'text/plain' })],
    ['form without payload', request('push', 'x=1', { 'content-type': 'application/x-www-form-urlencoded' })],
    ['too deep', request('push', `${'['.repeat(100)}${']'.repeat(100)}`)],
  ];
  for (const [name, req] of cases) {
    test(`refuses: ${name}`, () => {
      assert.equal(
        codeOf(() => source.map(req)),
        'SOURCE_PAYLOAD_INVALID',
      );
    });
  }
  test('an unmapped event is stored under its raw type github.<event>', () => {
    const result = source.map(request('workflow_run', '{"action":"completed"}'));
    assert.equal(result.events.length, 1);
    const [{ event, dedupeKey }] = result.events as [(typeof result.events)[number]];
    validateCloudEvent(event);
    assert.equal(event.type, 'github.workflow_run');
    assert.equal(event.subject, 'workflow_run');
    assert.equal(dedupeKey, `github:${event.id}`);
    assert.deepEqual(event.data, { action: 'completed', actor: undefined, payload: { action: 'completed' } });
    assert.deepEqual(source.map(request('workflow_run', '{"action":"completed"}')), result);
  });
  for (const [name, eventName] of [
    ['an upper-case event name', 'Workflow_Run'],
    ['a dotted event name', 'workflow.run'],
    ['an event name with a space', 'workflow run'],
    ['an over-long event name', 'w'.repeat(65)],
  ] as const) {
    test(`refuses an unmapped event with ${name}`, () => {
      assert.equal(
        codeOf(() => source.map(request(eventName, '{}'))),
        'SOURCE_PAYLOAD_INVALID',
      );
    });
  }
});

describe('map: push shapes', () => {
  const base = {
    before: 'a'.repeat(40),
    after: 'b'.repeat(40),
    repository: {
      full_name: 'o/r',
      name: 'r',
      owner: { login: 'o' },
      clone_url: 'https://github.com/o/r.git',
    },
    sender: { login: 'me' },
  };
  const commit = (i: number, files: Record<string, string[]>) => ({
    id: `c${i}`,
    message: `m${i}`,
    timestamp: '2020-01-01T00:00:00+02:00',
    author: { name: 'A', email: 'a@x' },
    ...files,
  });
  test('a branch push with the union of its files, sorted and deduped', () => {
    const body = JSON.stringify({
      ...base,
      ref: 'refs/heads/main',
      commits: [
        commit(1, { added: ['b.ts'], modified: ['a.ts'], removed: [] }),
        commit(2, { added: [], modified: ['a.ts'], removed: ['c.ts'] }),
      ],
      head_commit: commit(2, {}),
    });
    const { event, dedupeKey } = mapOne(source, request('push', body));
    assert.equal(dedupeKey, 'github:d-1');
    assert.equal(event.type, 'git.push');
    assert.equal(event.id, 'd-1');
    assert.equal(event.source, 'https://github.com/o/r');
    assert.equal(event.subject, 'refs/heads/main');
    assert.equal(event.time, '2019-12-31T22:00:00.000Z');
    const data = event.data as Record<string, unknown>;
    assert.deepEqual(data['changed_files'], ['a.ts', 'b.ts', 'c.ts']);
    assert.equal(data['branch'], 'main');
    assert.equal(data['actor'], 'me');
    assert.deepEqual(eventRef(event), { branch: 'main' });
    assert.deepEqual((data['commits'] as unknown[])[0], {
      id: 'c1',
      message: 'm1',
      author: { name: 'A', email: 'a@x' },
      timestamp: '2020-01-01T00:00:00+02:00',
      url: undefined,
    });
  });
  test('20 commits, a larger size, or a full file list leave changed_files out', () => {
    const many = Array.from({ length: 20 }, (_, i) => commit(i, { added: ['x'] }));
    const variants = [
      { commits: many },
      { commits: [commit(1, { added: ['x'] })], size: 2 },
      { commits: [commit(1, { added: Array.from({ length: 3000 }, (_, i) => `f${i}`) })] },
      { commits: [commit(1, { added: [7] as unknown as string[] })] },
    ];
    for (const variant of variants) {
      const { event } = mapOne(
        source,
        request('push', JSON.stringify({ ...base, ref: 'refs/heads/main', ...variant })),
      );
      assert.equal(eventChangedFiles(event), undefined);
      assert.ok((event.data as { commits: unknown[] }).commits.length <= 20);
    }
  });
  test('a tag push, a branch deletion, a tag deletion', () => {
    const tag = mapOne(
      source,
      request('push', JSON.stringify({ ...base, ref: 'refs/tags/v1.2.0', commits: [] })),
    ).event;
    assert.equal(tag.type, 'git.tag');
    assert.deepEqual(eventRef(tag), { tag: 'v1.2.0' });
    const gone = mapOne(
      source,
      request(
        'push',
        JSON.stringify({ ...base, ref: 'refs/heads/old', deleted: true, commits: [], head_commit: null }),
      ),
    ).event;
    assert.equal(gone.type, 'git.branch.deleted');
    assert.equal((gone.data as Record<string, unknown>)['branch'], 'old');
    assert.equal(gone.time, now.toISOString());
    const tagGone = source.map(
      request('push', JSON.stringify({ ...base, ref: 'refs/tags/v1', deleted: true })),
    );
    assert.deepEqual(tagGone.events, []);
    assert.match(tagGone.note ?? '', /deleting tag 'v1'/);
  });
  test('no repository: the source names the Junction source', () => {
    const { event } = mapOne(
      source,
      request('push', JSON.stringify({ ref: 'refs/heads/main', commits: [] })),
    );
    assert.equal(event.source, 'github/gh');
  });
  test('the same request maps to the same event', () => {
    const req = request('push', JSON.stringify({ ...base, ref: 'refs/heads/main', commits: [] }));
    assert.deepEqual(source.map(req), source.map(req));
  });
  test('a form-encoded body maps like JSON; the signature covers the form bytes', () => {
    const json = JSON.stringify({
      ...base,
      ref: 'refs/heads/main',
      commits: [commit(1, { added: ['ü.md'] })],
    });
    const form = Buffer.from(new URLSearchParams({ payload: json }).toString());
    const req = request('push', form, { 'content-type': 'application/x-www-form-urlencoded' });
    const { event } = mapOne(source, req);
    assert.deepEqual(eventChangedFiles(event), ['ü.md']);
    assert.deepEqual(event, mapOne(source, request('push', json)).event);
  });
});

describe('map: the real GitHub payloads', { skip: skipFixtures }, () => {
  test('push.branch.signed.json verifies with its own secret and maps', () => {
    const wrapper = JSON.parse(
      readFileSync(join(fixtures, 'deliveries', 'push.branch.signed.json'), 'utf8'),
    ) as {
      headers: Record<string, string>;
      body_raw: string;
      secret: string;
    };
    const headers = Object.fromEntries(Object.entries(wrapper.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const own = createGitHubSource({ name: 'gh', type: 'github', secret: wrapper.secret });
    const req = { headers, body: Buffer.from(wrapper.body_raw, 'utf8'), receivedAt: now };
    const { event, dedupeKey } = mapOne(own, req);
    assert.equal(dedupeKey, 'github:0c8806aa-9d30-11f0-876e-2f6051f733a7');
    assert.equal(event.type, 'git.push');
    assert.equal(event.source, 'https://github.com/ctbur/ctbur.net');
    assert.deepEqual(eventRef(event), { branch: 'main' });
    const data = event.data as Record<string, any>;
    assert.equal(data['after'], 'c5ec2129a2a892156c8c97220e6059b9d47b7217');
    assert.equal(typeof data['repository'].clone_url, 'string');
    assert.ok(Array.isArray(eventChangedFiles(event)));
    assert.equal(
      codeOf(() => source.authenticate(req)),
      'SOURCE_UNAUTHENTICATED',
    );
  });

  test('push payloads', () => {
    for (const name of ['push.branch-created.json', 'push.branch.go-playground.json']) {
      const { event } = mapOne(source, request('push', fixture(name)));
      const payload = JSON.parse(fixture(name).toString('utf8')) as Record<string, any>;
      assert.equal(event.type, 'git.push', name);
      assert.deepEqual(event.data && (event.data as any).payload, payload, name);
      const files = new Set<string>();
      for (const c of payload['commits'])
        for (const f of [...c.added, ...c.modified, ...c.removed]) files.add(f);
      assert.deepEqual(eventChangedFiles(event), [...files].sort(), name);
      assert.equal((event.data as any).repository.full_name, payload['repository'].full_name, name);
    }
  });

  test('pull_request payloads', () => {
    const expected: Record<string, [string, boolean]> = {
      'pull_request.opened.json': ['opened', false],
      'pull_request.synchronize.json': ['synchronized', false],
      'pull_request.closed.not-merged.json': ['closed', false],
      'pull_request.codeql-action-testdata.json': ['', false],
    };
    for (const [name, [action, merged]] of Object.entries(expected)) {
      const payload = JSON.parse(fixture(name).toString('utf8')) as Record<string, any>;
      const { event } = mapOne(source, request('pull_request', fixture(name)));
      const data = event.data as Record<string, any>;
      assert.equal(event.type, 'git.pull_request', name);
      assert.equal(event.subject, `pull/${payload['pull_request'].number}`, name);
      if (action !== '') assert.equal(data['action'], action, name);
      assert.equal(data['merged'], merged, name);
      assert.equal(data['base_branch'], payload['pull_request'].base.ref, name);
      assert.equal(data['head_sha'], payload['pull_request'].head.sha, name);
      assert.deepEqual(eventRef(event), { branch: payload['pull_request'].base.ref }, name);
    }
  });

  test('a merged pull request reads as merged', () => {
    const payload = JSON.parse(fixture('pull_request.closed.not-merged.json').toString('utf8')) as Record<
      string,
      any
    >;
    payload['pull_request'].merged = true;
    const { event } = mapOne(source, request('pull_request', JSON.stringify(payload)));
    assert.equal((event.data as any).action, 'merged');
  });

  test('release payloads', () => {
    for (const name of ['release.published.json', 'release.prereleased.json']) {
      const { event } = mapOne(source, request('release', fixture(name)));
      assert.equal(event.type, 'git.release', name);
      assert.deepEqual(eventRef(event), { tag: '0.0.1' }, name);
      assert.equal((event.data as any).prerelease, name.includes('prereleased'), name);
    }
  });

  test('pings carry no event; the events not mapped yet are stored as github.<event>', () => {
    for (const name of ['ping.json', 'ping.with-organization.json']) {
      assert.deepEqual(source.map(request('ping', fixture(name))), {
        events: [],
        note: 'ping: hook is configured',
      });
    }
    for (const name of [
      'workflow_run.completed.json',
      'registry_package.published.docker.json',
      'code_scanning_alert.created.json',
      'dependabot_alert.fixed.json',
      'secret_scanning_alert.reopened.json',
      'create.tag.json',
    ]) {
      const eventName = name.split('.')[0]!;
      const body = fixture(name);
      const result = source.map(request(eventName, body));
      assert.equal(result.events.length, 1, name);
      const event = validateCloudEvent(result.events[0]!.event);
      const payload = JSON.parse(body.toString()) as { action?: string; repository?: { full_name: string } };
      assert.equal(event.type, `github.${eventName}`, name);
      assert.equal(event.source, `https://github.com/${payload.repository?.full_name}`, name);
      assert.equal(event.subject, payload.repository?.full_name, name);
      const data = event.data as { action?: string; repository?: { full_name?: string }; payload: unknown };
      assert.equal(data.action, payload.action, name);
      assert.equal(data.repository?.full_name, payload.repository?.full_name, name);
      assert.deepEqual(data.payload, payload, name);
    }
  });

  test('captured deliveries verify with their published test secret', () => {
    for (const name of ['pull_request.opened.capture.json']) {
      const capture = JSON.parse(readFileSync(join(fixtures, 'deliveries', name), 'utf8')) as {
        headers: Record<string, string>;
        body_raw_base64: string;
      };
      const headers = Object.fromEntries(
        Object.entries(capture.headers).map(([k, v]) => [k.toLowerCase(), v]),
      );
      const own = createGitHubSource({
        name: 'gh',
        type: 'github',
        secret: '402786017574bd28f9d8f7a18648939751c47fe09077d56e10f0444f14fbb73b',
      });
      const { event } = mapOne(own, {
        headers,
        body: Buffer.from(capture.body_raw_base64, 'base64'),
        receivedAt: now,
      });
      assert.equal(event.type, 'git.pull_request');
      assert.equal(event.id, headers['x-github-delivery']);
    }
  });
});
