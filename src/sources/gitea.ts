/**
 * The Gitea source, which also serves Forgejo (and Gogs, whose headers Gitea repeats): repository
 * and organization webhooks at `POST /hooks/<name>`.
 *
 * Authentication: `X-Gitea-Signature`, `X-Forgejo-Signature` or `X-Gogs-Signature`, the hex
 * HMAC-SHA256 keyed with the source's `secret` of the JSON payload (the raw body, or the JSON text
 * of the `payload` field of a form-encoded body, which is what Gitea signs), compared in constant
 * time. A missing, malformed or wrong signature is `SOURCE_UNAUTHENTICATED`, one message for all.
 * The deprecated in-body `secret` field of old Gitea/Gogs payloads is never trusted, and is removed
 * from the stored `data.payload` so a secret is never kept.
 *
 * Mapping (`X-Gitea-Event`, `X-Forgejo-Event` or `X-Gogs-Event`), GitHub-shaped like the payloads:
 * - `push` → `git.push` for a branch (or other ref), `git.tag` for `refs/tags/*`; a push whose
 *   `after` is all zeros maps to nothing (the `delete` event reports the deletion);
 * - `pull_request` → `git.pull_request`; `release` → `git.release`;
 * - `delete` of a branch → `git.branch.deleted`; `delete` of a tag → nothing, with a note;
 * - `create` → nothing, with a note: Gitea also sends a `push` for every new branch or tag, and
 *   that push is the one mapped (as `git.push` or `git.tag`), so a tag is not reported twice;
 * - every other event → `gitea.<event>` (such as `gitea.issues`), its data the action, repository
 *   and actor beside the payload.
 * The CloudEvent id is the delivery (`X-Gitea-Delivery`, `X-Forgejo-Delivery`, `X-Gogs-Delivery`)
 * and the dedupe key `gitea:<delivery>`, so a redelivery is stored once.
 *
 * `changed_files` is the sorted union of the commits' added/modified/removed paths, left out
 * when Gitea may have sent fewer commits than were pushed: `total_commits` larger than the list,
 * or, for versions without `total_commits`, 5 commits or more (Gitea's default cap).
 */
import type { CloudEvent } from '../events/index.ts';
import { parseMediaType } from '../events/index.ts';
import { JunctionError } from '../errors/index.ts';
import type { JsonRecord } from './git-common.ts';
import {
  GIT_MAX_COMMITS,
  changedFilesOf,
  clip,
  commitOf,
  idHeader,
  invalid,
  isZeroSha,
  isoTime,
  list,
  obj,
  readJsonObject,
  str,
  validEvent,
} from './git-common.ts';
import { actorOf, githubStylePullRequest, githubStyleRelease, repositoryOf } from './github.ts';
import { verifyHexHmac } from './hmac.ts';
import type { HookRequest, Source, SourceResult, SourceSettings } from './source.ts';

export const GITEA_SOURCE_TYPE = 'gitea';
/** Without `total_commits`, a push listing this many commits may have been cut by Gitea. */
export const GITEA_DEFAULT_MAX_COMMITS = 5;
const SIGNATURE_HEADERS = ['x-gitea-signature', 'x-forgejo-signature', 'x-gogs-signature'] as const;
const EVENT_HEADERS = ['x-gitea-event', 'x-forgejo-event', 'x-gogs-event'] as const;
const DELIVERY_HEADERS = ['x-gitea-delivery', 'x-forgejo-delivery', 'x-gogs-delivery'] as const;
const UNAUTHENTICATED_MESSAGE =
  "the request has no valid X-Gitea-Signature or X-Forgejo-Signature for this source's secret";

export function createGiteaSource(settings: SourceSettings): Source {
  const secret = settings.secret;
  if (typeof secret !== 'string' || secret === '') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `source '${settings.name}' (type gitea) has no secret; set \`secret: \${GITEA_WEBHOOK_SECRET}\` and the same secret on the Gitea or Forgejo webhook`,
      { details: { source: settings.name } },
    );
  }
  const name = settings.name;
  return {
    name,
    type: GITEA_SOURCE_TYPE,
    authenticate(request) {
      let json: Uint8Array | undefined;
      try {
        json = jsonBytesOf(request);
      } catch {
        // A body that cannot be read cannot carry a valid signature: refused the same way.
        json = undefined;
      }
      const isValid =
        json !== undefined &&
        SIGNATURE_HEADERS.some((header) => verifyHexHmac('sha256', secret, json, request.headers[header]));
      if (!isValid) throw new JunctionError('SOURCE_UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE);
    },
    map: (request) => mapGiteaDelivery(name, request),
  };
}

interface Context {
  readonly sourceName: string;
  readonly delivery: string;
  readonly payload: JsonRecord;
  readonly receivedAt: Date;
}

interface Mapped {
  readonly type: string;
  readonly subject: string;
  readonly time?: string | undefined;
  readonly data: JsonRecord;
}

/** Maps one authenticated delivery; pure apart from `receivedAt` standing in for a missing time. */
export function mapGiteaDelivery(sourceName: string, request: HookRequest): SourceResult {
  const eventName = firstHeader(request, EVENT_HEADERS);
  if (eventName === undefined) throw invalid('the X-Gitea-Event (or X-Forgejo-Event) header is missing');
  const delivery = idHeader(request.headers, DELIVERY_HEADERS);
  if (delivery === undefined) {
    throw invalid('the X-Gitea-Delivery (or X-Forgejo-Delivery) header is missing');
  }
  const { secret: _inBodySecret, ...payload } = readJsonObject(jsonBytesOf(request));
  const context: Context = { sourceName, delivery, payload, receivedAt: request.receivedAt };
  switch (eventName) {
    case 'push':
      return mapPush(context);
    case 'pull_request':
      return one(context, githubStylePullRequest(context.payload));
    case 'release':
      return one(context, githubStyleRelease(context.payload));
    case 'delete':
      return mapDelete(context);
    case 'create':
      return {
        events: [],
        note: `create of ${clip(str(payload['ref_type']) ?? 'a ref')} '${clip(str(payload['ref']) ?? '', 200)}' is reported by its push event; the delivery was accepted and not stored`,
      };
    default:
      return one(context, mapForeign(context, eventName));
  }
}

/** An event without a Junction type, stored under Gitea's own name: `gitea.<event>`. */
function mapForeign(context: Context, eventName: string): Mapped {
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(eventName)) {
    throw invalid('the X-Gitea-Event header is not an event name (lowercase letters, digits, underscores)');
  }
  const { payload } = context;
  const repository = repositoryOf(payload);
  const action = str(payload['action']);
  const fullName = str(repository?.['full_name']);
  return {
    type: `gitea.${eventName}`,
    subject: fullName ?? eventName,
    data: {
      ...(action === undefined ? {} : { action }),
      ...(repository === undefined ? {} : { repository }),
      actor: actorOf(payload),
    },
  };
}

function firstHeader(request: HookRequest, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = request.headers[name]?.trim();
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** The JSON text Gitea signed: the body, or the `payload` field of a form-encoded body. */
function jsonBytesOf(request: HookRequest): Uint8Array {
  const contentType = request.headers['content-type'];
  if (contentType === undefined) return request.body;
  const media = parseMediaType(contentType);
  if (media === undefined) throw invalid(`the content type '${clip(contentType, 100)}' cannot be read`);
  if (media.essence === 'application/json') return request.body;
  if (media.essence === 'application/x-www-form-urlencoded') {
    const field = new URLSearchParams(request.body.toString('utf8')).get('payload');
    if (field === null) throw invalid('the form-encoded body has no payload field');
    return Buffer.from(field, 'utf8');
  }
  throw invalid(
    `the content type '${clip(media.essence, 100)}' is not supported (expected application/json or application/x-www-form-urlencoded)`,
  );
}

function one(context: Context, mapped: Mapped): SourceResult {
  return { events: [{ event: toCloudEvent(context, mapped), dedupeKey: `gitea:${context.delivery}` }] };
}

function toCloudEvent(context: Context, mapped: Mapped): CloudEvent {
  const htmlUrl = str(obj(context.payload['repository'])?.['html_url']);
  return validEvent({
    specversion: '1.0',
    id: context.delivery,
    source:
      htmlUrl !== undefined && /^https?:\/\/[^\s]+$/.test(htmlUrl) ? htmlUrl : `gitea/${context.sourceName}`,
    type: mapped.type,
    subject: mapped.subject,
    time: mapped.time ?? context.receivedAt.toISOString(),
    datacontenttype: 'application/json',
    data: { ...mapped.data, payload: context.payload },
  });
}

// ---------------------------------------------------------------------------------------------
// push, create and delete

function mapPush(context: Context): SourceResult {
  const { payload } = context;
  const ref = str(payload['ref']);
  if (ref === undefined || ref === '') throw invalid('the push payload has no ref');
  const before = str(payload['before']);
  const after = str(payload['after']);
  if (isZeroSha(after)) {
    return {
      events: [],
      note: `push deleting '${clip(ref, 200)}' is reported by the delete event; the delivery was accepted and not stored`,
    };
  }
  const base = {
    repository: repositoryOf(payload),
    ref,
    before,
    after,
    created: isZeroSha(before),
    deleted: false,
    actor: actorOf(payload),
  };
  const time = isoTime(str(obj(payload['head_commit'])?.['timestamp']));
  if (ref.startsWith('refs/tags/')) {
    return one(context, { type: 'git.tag', subject: ref, time, data: { ...base, tag: ref.slice(10) } });
  }
  const branchField = ref.startsWith('refs/heads/') ? { branch: ref.slice('refs/heads/'.length) } : {};
  const rawCommits = list(payload['commits']);
  const total = payload['total_commits'];
  const isComplete =
    typeof total === 'number' ? total <= rawCommits.length : rawCommits.length < GITEA_DEFAULT_MAX_COMMITS;
  const changed = changedFilesOf(rawCommits, isComplete);
  return one(context, {
    type: 'git.push',
    subject: ref,
    time,
    data: {
      ...base,
      ...branchField,
      commits: rawCommits.slice(0, GIT_MAX_COMMITS).map(commitOf),
      compare_url: str(payload['compare_url']),
      ...(changed === undefined ? {} : { changed_files: changed }),
    },
  });
}

function mapDelete(context: Context): SourceResult {
  const { payload } = context;
  const ref = str(payload['ref']);
  const refType = str(payload['ref_type']);
  if (ref === undefined || ref === '' || refType === undefined) {
    throw invalid('the delete payload has no ref or ref_type');
  }
  if (refType !== 'branch') {
    return {
      events: [],
      note: `delete of ${clip(refType)} '${clip(ref, 200)}' is not mapped; the delivery was accepted and not stored`,
    };
  }
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
  const fullRef = `refs/heads/${branch}`;
  return one(context, {
    type: 'git.branch.deleted',
    subject: fullRef,
    data: { repository: repositoryOf(payload), ref: fullRef, branch, deleted: true, actor: actorOf(payload) },
  });
}
