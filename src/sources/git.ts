/**
 * The `git` source: pushes to a plain (bare) git repository, reported by the post-receive hook
 * that `junction hook install REPO` writes (see docs/sources-git.md). Mounted at
 * `POST /hooks/<name>`.
 *
 * Authentication: `Authorization: Bearer <token>` with the source's `token`, compared in constant
 * time (http-auth.ts). A missing or wrong token is `SOURCE_UNAUTHENTICATED`.
 *
 * The body is the hook's JSON document, validated strictly (unknown fields are refused):
 *   { repository: { name, path, clone_url? },
 *     updates: [{ ref, before, after, changed_files?, changed_files_complete,
 *                 commits?: [{ id, message, author: { name, email }, timestamp }] }],
 *     pusher? }
 * with at most `GIT_HOOK_MAX_UPDATES` updates, `GIT_HOOK_MAX_FILES` files per update and
 * `GIT_HOOK_MAX_COMMITS` commits per update; refs must be well-formed `refs/…` names and commit
 * ids hex SHA-1 (40) or SHA-256 (64) ids.
 *
 * Mapping, one event per update:
 * - `refs/heads/*` → `git.push`, or `git.branch.deleted` when `after` is all zeros;
 * - `refs/tags/*` → `git.tag`; a tag deletion maps to nothing (noted);
 * - any other ref (`refs/notes/*`, `refs/pull/*`, …) maps to nothing (noted).
 * The CloudEvent id is the SHA-256 of repository path, ref, before and after, so a redelivery of
 * the same update gets the same id; the dedupe key is `git:<source>:<id>`. `data.changed_files`
 * is present only when the hook marked the list complete. `data.payload` keeps the repository,
 * the update and the pusher as sent (not the whole multi-update body, which would be repeated in
 * every event).
 *
 * `map` throws `SOURCE_PAYLOAD_INVALID`, listing every problem found (up to a bound), and never
 * anything else.
 */
import { createHash } from 'node:crypto';
import type { CloudEvent } from '../events/index.ts';
import { JunctionError } from '../errors/index.ts';
import type { JsonRecord } from './git-common.ts';
import { clip, isZeroSha, isoTime, obj, readJsonObject, validEvent } from './git-common.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const GIT_SOURCE_TYPE = 'git';
export const GIT_HOOK_MAX_UPDATES = 1000;
export const GIT_HOOK_MAX_FILES = 3000;
export const GIT_HOOK_MAX_COMMITS = 100;
const MAX_NAME = 200;
const MAX_PATH = 4096;
const MAX_MESSAGE = 65_536;
const MAX_PROBLEMS = 20;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function createGitSource(settings: SourceSettings): Source {
  if (settings.username !== undefined || settings.password !== undefined) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `sources[name=${settings.name}]: the git source takes 'token' (bearer) only, not 'username'/'password'`,
      { details: { source: settings.name } },
    );
  }
  const auth = httpAuthFromSettings(settings);
  const name = settings.name;
  return {
    name,
    type: GIT_SOURCE_TYPE,
    authenticate: (request) => checkHttpAuth(auth, request, name),
    map: (request) => mapGitHookDelivery(name, request),
  };
}

export interface GitHookCommit {
  readonly id: string;
  readonly message: string;
  readonly author: { readonly name: string; readonly email: string };
  readonly timestamp: string;
}

export interface GitHookUpdate {
  readonly ref: string;
  readonly before: string;
  readonly after: string;
  readonly changed_files?: readonly string[];
  readonly changed_files_complete: boolean;
  readonly commits?: readonly GitHookCommit[];
}

export interface GitHookPayload {
  readonly repository: { readonly name: string; readonly path: string; readonly clone_url?: string };
  readonly updates: readonly GitHookUpdate[];
  readonly pusher?: string;
}

/** Maps one authenticated delivery; pure apart from `receivedAt` standing in for a missing time. */
export function mapGitHookDelivery(sourceName: string, request: HookRequest): SourceResult {
  const payload = parseGitHookPayload(readJsonObject(request.body));
  const events: MappedEvent[] = [];
  const notes: string[] = [];
  for (const update of payload.updates) {
    const event = eventOf(sourceName, payload, update, request.receivedAt);
    if (typeof event === 'string') notes.push(event);
    else events.push({ event, dedupeKey: `git:${sourceName}:${event.id}` });
  }
  if (notes.length === 0) return { events };
  const shown = notes.slice(0, 5).join('; ');
  const more = notes.length > 5 ? ` (and ${notes.length - 5} more)` : '';
  return { events, note: `${shown}${more}` };
}

// ---------------------------------------------------------------------------------------------
// validation

class Problems {
  readonly list: string[] = [];
  add(message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(message);
  }
}

function onlyKeys(record: JsonRecord, allowed: readonly string[], where: string, problems: Problems): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) problems.add(`${where}: unknown field '${clip(key)}'`);
  }
}

function text(
  record: JsonRecord,
  key: string,
  where: string,
  problems: Problems,
  options: { max: number; optional?: boolean; allowNewlines?: boolean },
): string | undefined {
  const value = record[key];
  if (value === undefined && options.optional === true) return undefined;
  if (typeof value !== 'string') {
    problems.add(`${where}.${key} must be a string`);
    return undefined;
  }
  if (value.length > options.max) problems.add(`${where}.${key} is longer than ${options.max} characters`);
  const isBad = options.allowNewlines === true ? value.includes('\u0000') : CONTROL.test(value);
  if (isBad) problems.add(`${where}.${key} contains control characters`);
  return value;
}

/** True for a name git itself would accept as a full ref (git-check-ref-format, simplified). */
export function isValidRef(ref: string): boolean {
  if (ref.length > 1024 || !ref.startsWith('refs/') || CONTROL.test(ref)) return false;
  if (/[ ~^:?*[\\]/.test(ref) || ref.includes('..') || ref.includes('@{') || ref.includes('//')) return false;
  if (ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock')) return false;
  return ref.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}

/** Checks the hook's document; throws `SOURCE_PAYLOAD_INVALID` listing the problems. */
export function parseGitHookPayload(body: JsonRecord): GitHookPayload {
  const problems = new Problems();
  onlyKeys(body, ['repository', 'updates', 'pusher'], 'payload', problems);
  const repo = obj(body['repository']);
  if (repo === undefined) problems.add('payload.repository must be an object');
  else {
    onlyKeys(repo, ['name', 'path', 'clone_url'], 'repository', problems);
    const name = text(repo, 'name', 'repository', problems, { max: MAX_NAME });
    if (name === '') problems.add('repository.name is empty');
    const path = text(repo, 'path', 'repository', problems, { max: MAX_PATH });
    if (path !== undefined && !path.startsWith('/')) problems.add('repository.path must be an absolute path');
    text(repo, 'clone_url', 'repository', problems, { max: MAX_PATH, optional: true });
  }
  if (body['pusher'] !== undefined) text(body, 'pusher', 'payload', problems, { max: MAX_NAME });
  const updates = body['updates'];
  if (!Array.isArray(updates)) problems.add('payload.updates must be an array');
  else if (updates.length === 0) problems.add('payload.updates is empty');
  else if (updates.length > GIT_HOOK_MAX_UPDATES) {
    problems.add(`payload.updates has ${updates.length} entries (at most ${GIT_HOOK_MAX_UPDATES})`);
  } else {
    for (const [index, value] of updates.entries()) checkUpdate(value, `updates[${index}]`, problems);
  }
  if (problems.list.length > 0) {
    throw new JunctionError(
      'SOURCE_PAYLOAD_INVALID',
      `the git hook payload is invalid: ${problems.list.join('; ')}`,
      {
        details: { problems: problems.list },
      },
    );
  }
  return body as unknown as GitHookPayload;
}

function checkUpdate(value: unknown, where: string, problems: Problems): void {
  const update = obj(value);
  if (update === undefined) {
    problems.add(`${where} must be an object`);
    return;
  }
  onlyKeys(
    update,
    ['ref', 'before', 'after', 'changed_files', 'changed_files_complete', 'commits'],
    where,
    problems,
  );
  const ref = update['ref'];
  if (typeof ref !== 'string' || !isValidRef(ref)) {
    problems.add(`${where}.ref is not a valid full ref name like refs/heads/main`);
  }
  const before = update['before'];
  const after = update['after'];
  for (const [key, sha] of [
    ['before', before],
    ['after', after],
  ] as const) {
    if (typeof sha !== 'string' || !SHA.test(sha))
      problems.add(`${where}.${key} is not a 40 or 64 hex digit commit id`);
  }
  if (typeof before === 'string' && typeof after === 'string' && before.length !== after.length) {
    problems.add(`${where}: before and after use different hash lengths`);
  }
  if (typeof before === 'string' && isZeroSha(before) && typeof after === 'string' && isZeroSha(after)) {
    problems.add(`${where}: before and after are both all zeros`);
  }
  if (typeof update['changed_files_complete'] !== 'boolean') {
    problems.add(`${where}.changed_files_complete must be a boolean`);
  }
  const files = update['changed_files'];
  if (files !== undefined) {
    if (!Array.isArray(files)) problems.add(`${where}.changed_files must be an array`);
    else if (files.length > GIT_HOOK_MAX_FILES) {
      problems.add(`${where}.changed_files has ${files.length} entries (at most ${GIT_HOOK_MAX_FILES})`);
    } else {
      for (const [i, file] of files.entries()) {
        if (typeof file !== 'string' || file === '' || file.length > MAX_PATH || CONTROL.test(file)) {
          problems.add(`${where}.changed_files[${i}] is not a path`);
        }
      }
    }
  } else if (update['changed_files_complete'] === true && !(typeof after === 'string' && isZeroSha(after))) {
    problems.add(`${where}: changed_files_complete is true but changed_files is missing`);
  }
  const commits = update['commits'];
  if (commits === undefined) return;
  if (!Array.isArray(commits)) problems.add(`${where}.commits must be an array`);
  else if (commits.length > GIT_HOOK_MAX_COMMITS) {
    problems.add(`${where}.commits has ${commits.length} entries (at most ${GIT_HOOK_MAX_COMMITS})`);
  } else {
    for (const [i, commit] of commits.entries()) checkCommit(commit, `${where}.commits[${i}]`, problems);
  }
}

function checkCommit(value: unknown, where: string, problems: Problems): void {
  const commit = obj(value);
  if (commit === undefined) {
    problems.add(`${where} must be an object`);
    return;
  }
  onlyKeys(commit, ['id', 'message', 'author', 'timestamp'], where, problems);
  const id = commit['id'];
  if (typeof id !== 'string' || !SHA.test(id))
    problems.add(`${where}.id is not a 40 or 64 hex digit commit id`);
  text(commit, 'message', where, problems, { max: MAX_MESSAGE, allowNewlines: true });
  const timestamp = text(commit, 'timestamp', where, problems, { max: 64 });
  if (timestamp !== undefined && isoTime(timestamp) === undefined)
    problems.add(`${where}.timestamp is not a time`);
  const author = obj(commit['author']);
  if (author === undefined) problems.add(`${where}.author must be an object`);
  else {
    onlyKeys(author, ['name', 'email'], `${where}.author`, problems);
    text(author, 'name', `${where}.author`, problems, { max: MAX_NAME });
    text(author, 'email', `${where}.author`, problems, { max: MAX_NAME });
  }
}

// ---------------------------------------------------------------------------------------------
// mapping

/** The stable CloudEvent id of one update of one repository. */
export function gitUpdateId(path: string, ref: string, before: string, after: string): string {
  return createHash('sha256').update(`${path}\0${ref}\0${before}\0${after}`, 'utf8').digest('hex');
}

/** The event of one update, or a note saying why there is none. */
function eventOf(
  sourceName: string,
  payload: GitHookPayload,
  update: GitHookUpdate,
  receivedAt: Date,
): CloudEvent | string {
  const { ref, before, after } = update;
  const isTag = ref.startsWith('refs/tags/');
  const isBranch = ref.startsWith('refs/heads/');
  if (!isTag && !isBranch) return `ref '${clip(ref, 200)}' is neither a branch nor a tag; not stored`;
  const deleted = isZeroSha(after);
  if (isTag && deleted) return `deletion of tag '${clip(ref.slice(10), 200)}' is not mapped; not stored`;
  const repo = payload.repository;
  const commits = (update.commits ?? []).map((c) => ({
    id: c.id,
    message: c.message,
    author: { name: c.author.name, email: c.author.email },
    timestamp: c.timestamp,
  }));
  const head = commits.find((c) => c.id === after) ?? commits.at(-1);
  const data: JsonRecord = {
    repository: { name: repo.name, full_name: repo.name, path: repo.path, clone_url: repo.clone_url },
    ref,
    ...(isTag ? { tag: ref.slice('refs/tags/'.length) } : { branch: ref.slice('refs/heads/'.length) }),
    before,
    after,
    created: isZeroSha(before),
    deleted,
    ...(isTag || deleted ? {} : { commits }),
    ...(update.changed_files_complete && update.changed_files !== undefined && !deleted
      ? { changed_files: [...new Set(update.changed_files)].sort() }
      : {}),
    actor: payload.pusher,
    payload: {
      repository: repo,
      update,
      ...(payload.pusher === undefined ? {} : { pusher: payload.pusher }),
    },
  };
  return validEvent({
    specversion: '1.0',
    id: gitUpdateId(repo.path, ref, before, after),
    source: `git/${sourceName}`,
    type: isTag ? 'git.tag' : deleted ? 'git.branch.deleted' : 'git.push',
    subject: ref,
    time: isoTime(head?.timestamp) ?? receivedAt.toISOString(),
    datacontenttype: 'application/json',
    data,
  });
}
