/**
 * The GitHub source: repository, organization and App webhooks at `POST /hooks/<name>`.
 *
 * Authentication: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed with
 * the source's `secret`, compared in constant time. A missing, legacy-only (`sha1=`), malformed or
 * wrong signature is `SOURCE_UNAUTHENTICATED`, with one message for all of them.
 *
 * Mapping (`X-GitHub-Event`), each event keeping the delivery's object under `data.payload`:
 * - `push` → `git.push` (a branch or other ref), `git.tag` (`refs/tags/*`), `git.branch.deleted`;
 *   a push that deletes a tag maps to nothing (with a note);
 * - `pull_request` → `git.pull_request`; `release` → `git.release`;
 * - `ping` → no event, with a note;
 * - every other event (`workflow_run`, `registry_package`, …) → one foreign event of type
 *   `github.<event>` with `data { action?, repository?, actor, payload }`; an event name that is
 *   not lowercase letters, digits and underscores (at most 64) is SOURCE_PAYLOAD_INVALID.
 * The CloudEvent id is `X-GitHub-Delivery` and the dedupe key `github:<delivery>`, so GitHub's
 * redelivery of the same delivery is stored once. Bodies may be `application/json` or
 * `application/x-www-form-urlencoded` (the JSON in the `payload` field).
 *
 * `changed_files` is the sorted union of the commits' added/modified/removed paths, and is left
 * out when GitHub may have truncated the list (20 commits or more, `size` beyond the commits
 * sent, a file list of 3000 entries): absent means "unknown", and path filters then do not apply.
 */
import type { CloudEvent } from '../events/index.ts';
import { parseJsonBytes, parseMediaType } from '../events/index.ts';
import { JunctionError, errorMessage } from '../errors/index.ts';
import { invalid, isoTime, list, obj, str } from './git-common.ts';
import { verifyPrefixedHmac } from './hmac.ts';
import type { HookRequest, Source, SourceResult, SourceSettings } from './source.ts';

export const GITHUB_SOURCE_TYPE = 'github';

/** GitHub sends at most this many commits in a push; a push with as many may have had more. */
export const GITHUB_MAX_COMMITS = 20;
/** GitHub truncates a commit's added/modified/removed lists at this many entries. */
export const GITHUB_MAX_COMMIT_FILES = 3000;
/** Deeper JSON than this is refused before parsing (GitHub's payloads nest far less). */
const MAX_JSON_DEPTH = 64;
const MAX_DELIVERY_LENGTH = 200;
/** What an `X-GitHub-Event` must look like to become part of a foreign type `github.<event>`. */
const EVENT_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const UNAUTHENTICATED_MESSAGE = "the request has no valid X-Hub-Signature-256 for this source's secret";

export function createGitHubSource(settings: SourceSettings): Source {
  const secret = settings.secret;
  if (secret === undefined || secret === '') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `source '${settings.name}' (type github) has no secret; set \`secret: \${GITHUB_WEBHOOK_SECRET}\` and the same secret on the GitHub webhook`,
      { details: { source: settings.name } },
    );
  }
  const name = settings.name;
  return {
    name,
    type: GITHUB_SOURCE_TYPE,
    authenticate(request) {
      const header = request.headers['x-hub-signature-256'];
      if (!verifyPrefixedHmac('sha256', 'sha256=', secret, request.body, header)) {
        throw new JunctionError('SOURCE_UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE);
      }
    },
    map: (request) => mapGitHubDelivery(name, request),
  };
}

/** Maps one authenticated delivery; pure apart from `receivedAt` standing in for a missing time. */
export function mapGitHubDelivery(sourceName: string, request: HookRequest): SourceResult {
  const eventName = request.headers['x-github-event']?.trim();
  if (eventName === undefined || eventName === '') {
    throw invalid('the X-GitHub-Event header is missing');
  }
  const delivery = request.headers['x-github-delivery']?.trim();
  if (delivery === undefined || delivery === '') throw invalid('the X-GitHub-Delivery header is missing');
  if (delivery.length > MAX_DELIVERY_LENGTH || !/^[\x21-\x7e]+$/.test(delivery)) {
    throw invalid(`the X-GitHub-Delivery header is not a delivery id (expected a GUID)`);
  }
  const payload = readPayload(request);
  const context: Context = { sourceName, delivery, payload, receivedAt: request.receivedAt };
  switch (eventName) {
    case 'ping':
      return { events: [], note: 'ping: hook is configured' };
    case 'push':
      return mapPush(context);
    case 'pull_request':
      return one(context, githubStylePullRequest(context.payload));
    case 'release':
      return one(context, githubStyleRelease(context.payload));
    default:
      return one(context, mapForeign(context, eventName));
  }
}

interface Context {
  readonly sourceName: string;
  readonly delivery: string;
  readonly payload: Record<string, unknown>;
  readonly receivedAt: Date;
}

export interface Mapped {
  readonly type: string;
  readonly subject: string;
  readonly time?: string | undefined;
  readonly data: Record<string, unknown>;
}

function one(context: Context, mapped: Mapped): SourceResult {
  return { events: [{ event: toCloudEvent(context, mapped), dedupeKey: `github:${context.delivery}` }] };
}

function toCloudEvent(context: Context, mapped: Mapped): CloudEvent {
  const fullName = str(obj(context.payload['repository'])?.['full_name']);
  return {
    specversion: '1.0',
    id: context.delivery,
    source:
      fullName !== undefined && /^[\w.-]+\/[\w.-]+$/.test(fullName)
        ? `https://github.com/${fullName}`
        : `github/${context.sourceName}`,
    type: mapped.type,
    subject: mapped.subject,
    time: mapped.time ?? context.receivedAt.toISOString(),
    datacontenttype: 'application/json',
    data: { ...mapped.data, payload: context.payload },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the body.

function readPayload(request: HookRequest): Record<string, unknown> {
  const contentType = request.headers['content-type'];
  const media = contentType === undefined ? undefined : parseMediaType(contentType);
  if (contentType !== undefined && media === undefined) {
    throw invalid(`the content type '${contentType.slice(0, 100)}' cannot be read`);
  }
  let json: Uint8Array = request.body;
  if (media?.essence === 'application/x-www-form-urlencoded') {
    const field = new URLSearchParams(request.body.toString('utf8')).get('payload');
    if (field === null) throw invalid('the form-encoded body has no payload field');
    json = Buffer.from(field, 'utf8');
  } else if (media !== undefined && media.essence !== 'application/json') {
    throw invalid(
      `the content type '${media.essence}' is not supported (expected application/json or application/x-www-form-urlencoded)`,
    );
  }
  let value: unknown;
  try {
    value = parseJsonBytes(json, { maxDepth: MAX_JSON_DEPTH, what: 'the payload' }).value;
  } catch (error) {
    throw invalid(`the payload is not valid JSON: ${errorMessage(error)}`, error);
  }
  const payload = obj(value);
  if (payload === undefined) throw invalid('the payload is not a JSON object');
  return payload;
}

// ---------------------------------------------------------------------------------------------
// push

function mapPush(context: Context): SourceResult {
  const { payload } = context;
  const ref = str(payload['ref']);
  if (ref === undefined) throw invalid('the push payload has no ref');
  const deleted = payload['deleted'] === true;
  const base = {
    repository: repositoryOf(payload),
    ref,
    before: str(payload['before']),
    after: str(payload['after']),
    created: payload['created'] === true,
    deleted,
    forced: payload['forced'] === true,
    actor: actorOf(payload),
  };
  if (ref.startsWith('refs/tags/')) {
    const tag = ref.slice('refs/tags/'.length);
    if (deleted) {
      return {
        events: [],
        note: `push deleting tag '${tag.slice(0, 200)}' is not mapped; the delivery was accepted and not stored`,
      };
    }
    return one(context, {
      type: 'git.tag',
      subject: ref,
      time: headCommitTime(payload),
      data: { ...base, tag },
    });
  }
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  const branchField = branch === undefined ? {} : { branch };
  if (deleted && branch !== undefined) {
    return one(context, { type: 'git.branch.deleted', subject: ref, data: { ...base, ...branchField } });
  }
  const rawCommits = Array.isArray(payload['commits']) ? (payload['commits'] as unknown[]) : [];
  const commits = rawCommits.slice(0, GITHUB_MAX_COMMITS).map(commitOf);
  const changed = changedFiles(payload, rawCommits);
  return one(context, {
    type: 'git.push',
    subject: ref,
    time: headCommitTime(payload),
    data: { ...base, ...branchField, commits, ...(changed === undefined ? {} : { changed_files: changed }) },
  });
}

function commitOf(value: unknown): Record<string, unknown> {
  const commit = obj(value) ?? {};
  const author = obj(commit['author']) ?? {};
  return {
    id: str(commit['id']),
    message: str(commit['message']),
    author: { name: str(author['name']), email: str(author['email']) },
    timestamp: str(commit['timestamp']),
    url: str(commit['url']),
  };
}

/** The union of the commits' file lists, or undefined when GitHub may have left some out. */
export function changedFiles(
  payload: Record<string, unknown>,
  commits: readonly unknown[],
): string[] | undefined {
  if (commits.length >= GITHUB_MAX_COMMITS) return undefined;
  const size = payload['size'];
  if (typeof size === 'number' && size > commits.length) return undefined;
  const files = new Set<string>();
  for (const value of commits) {
    const commit = obj(value);
    if (commit === undefined) return undefined;
    for (const key of ['added', 'modified', 'removed']) {
      const list = commit[key];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.length >= GITHUB_MAX_COMMIT_FILES) return undefined;
      for (const path of list) {
        if (typeof path !== 'string') return undefined;
        files.add(path);
      }
    }
  }
  return [...files].sort();
}

function headCommitTime(payload: Record<string, unknown>): string | undefined {
  return isoTime(str(obj(payload['head_commit'])?.['timestamp']));
}

// ---------------------------------------------------------------------------------------------
// pull_request and release

/** A GitHub-shaped `pull_request` payload (GitHub, Gitea, Forgejo) as `git.pull_request`. */
export function githubStylePullRequest(payload: Record<string, unknown>): Mapped {
  const pr = obj(payload['pull_request']);
  const number = payload['number'] ?? pr?.['number'];
  if (pr === undefined || typeof number !== 'number') {
    throw invalid('the pull_request payload has no pull_request object or number');
  }
  const head = obj(pr['head']) ?? {};
  const base = obj(pr['base']) ?? {};
  const merged = pr['merged'] === true;
  const action = str(payload['action']);
  const labels = list(pr['labels'])
    .slice(0, 1000)
    .map((label) => str(obj(label)?.['name']))
    .filter((label) => label !== undefined);
  return {
    type: 'git.pull_request',
    subject: `pull/${number}`,
    time: isoTime(str(pr['updated_at'])),
    data: {
      repository: repositoryOf(payload),
      action: normalizeAction(action, merged),
      number,
      title: str(pr['title']),
      url: str(pr['html_url']),
      author: str(obj(pr['user'])?.['login']),
      labels,
      head_ref: str(head['ref']),
      head_sha: str(head['sha']),
      base_ref: str(base['ref']),
      base_branch: str(base['ref']),
      base_sha: str(base['sha']),
      draft: pr['draft'] === true,
      merged,
      actor: actorOf(payload),
    },
  };
}

/** The catalog's words: `synchronize` → `synchronized`, a merged `closed` → `merged`. */
function normalizeAction(action: string | undefined, merged: boolean): string | undefined {
  if (action === 'synchronize') return 'synchronized';
  if (action === 'closed' && merged) return 'merged';
  return action;
}

/** A GitHub-shaped `release` payload (GitHub, Gitea, Forgejo) as `git.release`. */
export function githubStyleRelease(payload: Record<string, unknown>): Mapped {
  const release = obj(payload['release']);
  const tag = str(release?.['tag_name']);
  if (release === undefined || tag === undefined)
    throw invalid('the release payload has no release.tag_name');
  return {
    type: 'git.release',
    subject: `refs/tags/${tag}`,
    time: isoTime(str(release['published_at']) ?? str(release['created_at'])),
    data: {
      repository: repositoryOf(payload),
      action: str(payload['action']),
      tag,
      name: str(release['name']),
      url: str(release['html_url']),
      target: str(release['target_commitish']),
      draft: release['draft'] === true,
      prerelease: release['prerelease'] === true,
      author: str(obj(release['author'])?.['login']),
      actor: actorOf(payload),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Events without a Junction type: stored under GitHub's own name.

function mapForeign(context: Context, eventName: string): Mapped {
  if (!EVENT_NAME.test(eventName)) {
    throw invalid('the X-GitHub-Event header is not an event name (lowercase letters, digits, underscores)');
  }
  const { payload } = context;
  const repository = repositoryOf(payload);
  const action = str(payload['action']);
  const fullName = str(repository?.['full_name']);
  return {
    type: `github.${eventName}`,
    subject: fullName ?? eventName,
    data: {
      ...(action === undefined ? {} : { action }),
      ...(repository === undefined ? {} : { repository }),
      actor: actorOf(payload),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared fields.

/** `data.repository` of a GitHub-shaped payload; Gitea and Forgejo name the owner `username`. */
export function repositoryOf(payload: Record<string, unknown>): Record<string, unknown> | undefined {
  const repo = obj(payload['repository']);
  if (repo === undefined) return undefined;
  const owner = obj(repo['owner']);
  return {
    full_name: str(repo['full_name']),
    name: str(repo['name']),
    owner: str(owner?.['login']) ?? str(owner?.['name']) ?? str(owner?.['username']),
    clone_url: str(repo['clone_url']),
    html_url: str(repo['html_url']),
    default_branch: str(repo['default_branch']) ?? str(repo['master_branch']),
  };
}

/** Who caused a GitHub-shaped delivery: the sender, else the pusher. */
export function actorOf(payload: Record<string, unknown>): string | undefined {
  const sender = obj(payload['sender']);
  const pusher = obj(payload['pusher']);
  return (
    str(sender?.['login']) ??
    str(sender?.['username']) ??
    str(pusher?.['login']) ??
    str(pusher?.['username']) ??
    str(pusher?.['name'])
  );
}
