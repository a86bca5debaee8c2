import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import {
  GIT_HOOK_MAX_COMMITS,
  GIT_HOOK_MAX_FILES,
  GIT_HOOK_MAX_UPDATES,
  createGitSource,
  gitUpdateId,
  isValidRef,
} from './git.ts';
import type { HookRequest, SourceResult } from './source.ts';

const TOKEN = 'tok-123456';
const source = createGitSource({ name: 'repos', type: 'git', token: TOKEN });
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ZERO = '0'.repeat(40);

function req(
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers, body: bytes, receivedAt: new Date(0) };
}

function update(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before: A,
    after: B,
    changed_files: ['src/b.ts', 'src/a.ts'],
    changed_files_complete: true,
    commits: [
      {
        id: B,
        message: 'fix "it"\n\nbody \\ $(x)',
        author: { name: 'Dev', email: 'dev@example.com' },
        timestamp: '2026-11-27T10:00:00+01:00',
      },
    ],
    ...extra,
  };
}

function body(updates: unknown[] = [update()], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    repository: { name: 'app', path: '/srv/git/app.git', clone_url: 'ssh://git@host/app.git' },
    updates,
    pusher: 'dev',
    ...extra,
  };
}

function map(payload: unknown): SourceResult {
  const request = req(payload);
  source.authenticate(request);
  const result = source.map(request);
  for (const { event } of result.events) validateCloudEvent(event);
  return result;
}

function rejects(payload: unknown, pattern: RegExp): void {
  assert.throws(
    () => source.map(req(payload)),
    (error: unknown) => isJunctionError(error, 'SOURCE_PAYLOAD_INVALID') && pattern.test(error.message),
  );
}

test('authentication: bearer token only, constant message', () => {
  source.authenticate(req(body()));
  for (const headers of [
    {},
    { authorization: 'Bearer nope' },
    { authorization: `Basic ${TOKEN}` },
    { authorization: TOKEN },
  ]) {
    assert.throws(
      () => source.authenticate(req(body(), headers)),
      (error: unknown) => isJunctionError(error, 'SOURCE_UNAUTHENTICATED') && !error.message.includes(TOKEN),
    );
  }
});

test('settings: a token is required and basic auth is refused', () => {
  assert.throws(
    () => createGitSource({ name: 'x', type: 'git' }),
    (e: unknown) => isJunctionError(e, 'CONFIG_INVALID'),
  );
  assert.throws(
    () => createGitSource({ name: 'x', type: 'git', username: 'u', password: 'p' }),
    (e: unknown) => isJunctionError(e, 'CONFIG_INVALID'),
  );
});

test('a branch update maps to git.push with GitHub-shaped data', () => {
  const { events, note } = map(body());
  assert.equal(note, undefined);
  assert.equal(events.length, 1);
  const [{ event, dedupeKey }] = events as [(typeof events)[number]];
  assert.equal(event.type, 'git.push');
  assert.equal(event.id, gitUpdateId('/srv/git/app.git', 'refs/heads/main', A, B));
  assert.equal(dedupeKey, `git:repos:${event.id}`);
  assert.equal(event.source, 'git/repos');
  assert.equal(event.subject, 'refs/heads/main');
  assert.equal(event.time, '2026-11-27T09:00:00.000Z');
  const data = event.data as Record<string, any>;
  assert.equal(data.branch, 'main');
  assert.equal(data.after, B);
  assert.equal(data.actor, 'dev');
  assert.deepEqual(data.changed_files, ['src/a.ts', 'src/b.ts']);
  assert.deepEqual(data.repository, {
    name: 'app',
    full_name: 'app',
    path: '/srv/git/app.git',
    clone_url: 'ssh://git@host/app.git',
  });
  assert.equal(data.commits[0].message, 'fix "it"\n\nbody \\ $(x)');
  assert.equal(data.payload.update.ref, 'refs/heads/main');
});

test('redelivery maps to the same ids; another update to another id', () => {
  const one = map(body()).events[0]?.event.id;
  assert.equal(map(body()).events[0]?.event.id, one);
  assert.notEqual(map(body([update({ after: 'c'.repeat(40) })])).events[0]?.event.id, one);
});

test('incomplete changed files are left out', () => {
  const data = map(body([update({ changed_files_complete: false })])).events[0]?.event.data as Record<
    string,
    unknown
  >;
  assert.equal('changed_files' in data, false);
});

test('deletions, tags and other refs', () => {
  const result = map(
    body([
      update({ ref: 'refs/heads/old', before: A, after: ZERO, changed_files: undefined, commits: undefined }),
      update({
        ref: 'refs/tags/v1.0.0',
        before: ZERO,
        changed_files_complete: false,
        changed_files: undefined,
        commits: undefined,
      }),
      update({
        ref: 'refs/tags/v0.9',
        after: ZERO,
        changed_files_complete: false,
        changed_files: undefined,
        commits: undefined,
      }),
      update({ ref: 'refs/notes/commits' }),
    ]),
  );
  assert.deepEqual(
    result.events.map((e) => e.event.type),
    ['git.branch.deleted', 'git.tag'],
  );
  const tag = result.events[1]?.event.data as Record<string, unknown>;
  assert.equal(tag['tag'], 'v1.0.0');
  assert.match(result.note ?? '', /tag 'v0.9'/);
  assert.match(result.note ?? '', /refs\/notes\/commits/);
});

test('SHA-256 repositories are accepted', () => {
  const events = map(body([update({ before: 'a'.repeat(64), after: 'b'.repeat(64), commits: [] })])).events;
  assert.equal(events.length, 1);
});

test('hostile payloads are refused with SOURCE_PAYLOAD_INVALID', () => {
  rejects('{not json', /not valid JSON/);
  rejects([], /not a JSON object/);
  rejects(body([update({ after: 'B'.repeat(40) })]), /after is not a 40 or 64/);
  rejects(body([update({ before: 'a'.repeat(39) })]), /before is not/);
  rejects(body([update({ before: 'a'.repeat(64) })]), /different hash lengths/);
  rejects(body([update({ before: ZERO, after: ZERO })]), /both all zeros/);
  rejects(body([update({ ref: 'refs/heads/ma\u0007in' })]), /ref is not a valid/);
  rejects(body([update({ ref: 'refs/heads/a\nb' })]), /ref is not a valid/);
  rejects(body([update({ ref: 'main' })]), /ref is not a valid/);
  rejects(body([update({ ref: 'refs/heads/../x' })]), /ref is not a valid/);
  rejects(body(Array.from({ length: GIT_HOOK_MAX_UPDATES + 1 }, () => update())), /1001 entries/);
  rejects(body([]), /updates is empty/);
  rejects(
    body([update({ changed_files: Array.from({ length: GIT_HOOK_MAX_FILES + 1 }, (_, i) => `f${i}`) })]),
    /3001 entries/,
  );
  rejects(
    body([update({ commits: Array.from({ length: GIT_HOOK_MAX_COMMITS + 1 }, () => ({})) })]),
    /101 entries/,
  );
  rejects(body([update({ extra: 1 })]), /unknown field 'extra'/);
  rejects(body(undefined, { admin: true }), /unknown field 'admin'/);
  rejects({ ...body(), repository: { name: 'a', path: '/x', owner: 'o' } }, /unknown field 'owner'/);
  rejects({ ...body(), repository: { name: 'a', path: 'relative' } }, /absolute path/);
  rejects(body([update({ changed_files_complete: 'yes' })]), /must be a boolean/);
  rejects(body([update({ changed_files: undefined })]), /changed_files is missing/);
  rejects(body([update({ changed_files: ['ok', 7, 'a\u0000b'] })]), /changed_files\[1\].*changed_files\[2\]/);
  rejects(
    body([update({ commits: [{ id: B, message: 'm', author: 'x', timestamp: 'never' }] })]),
    /author must be an object.*|timestamp is not a time/,
  );
  rejects(
    body([
      update({
        commits: [
          { id: 'nope', message: 'm', author: { name: 'a', email: 'b' }, timestamp: '2026-01-01T00:00:00Z' },
        ],
      }),
    ]),
    /id is not/,
  );
  rejects({ ...body(), pusher: 'a\u001bb' }, /pusher contains control characters/);
});

test('problems are listed together and bounded', () => {
  const many = Array.from({ length: 50 }, () => update({ before: 'x' }));
  assert.throws(
    () => source.map(req(body(many))),
    (error: unknown) =>
      isJunctionError(error, 'SOURCE_PAYLOAD_INVALID') &&
      Array.isArray(error.details?.['problems']) &&
      (error.details['problems'] as unknown[]).length === 20,
  );
});

test('isValidRef follows git-check-ref-format', () => {
  for (const ref of ['refs/heads/main', 'refs/heads/feature/x-1', 'refs/tags/v1.0.0'])
    assert.ok(isValidRef(ref), ref);
  for (const ref of [
    'refs/heads/',
    'refs/heads/a.lock',
    'refs/heads/.x',
    'refs/heads/a b',
    'refs/heads/a~1',
    'refs/heads/a@{1}',
    'refs//x',
    'heads/main',
  ]) {
    assert.equal(isValidRef(ref), false, ref);
  }
});
