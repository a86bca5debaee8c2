/**
 * The Bitbucket Cloud source: repository and workspace webhooks at `POST /hooks/<name>`.
 *
 * Authentication: `X-Hub-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed with the
 * source's `secret`, compared in constant time. A missing, malformed or wrong signature is
 * `SOURCE_UNAUTHENTICATED`, one message for all.
 *
 * Mapping (`X-Event-Key`), each event keeping the delivery's object under `data.payload`:
 * - `repo:push` → one event per entry of `push.changes` (at most `BITBUCKET_MAX_CHANGES`): a branch
 *   update → `git.push` (`before`/`after` from the old/new target hashes), a new tag → `git.tag`,
 *   a closed branch → `git.branch.deleted`; a deleted tag maps to nothing. Bitbucket sends no file
 *   lists, so `changed_files` is never set (path filters do not apply).
 * - `pullrequest:created|updated|fulfilled|rejected` → `git.pull_request` with action
 *   `opened|synchronized|merged|closed`;
 * - every other key → `bitbucket.<key>` with `:` as `.` (such as `bitbucket.repo.fork`), its data
 *   the repository and actor beside the payload.
 * The CloudEvent id is `X-Request-UUID` (with `:<n>` for the n-th change of a push) and the dedupe
 * key `bitbucket:<id>`, so a retried delivery (same request UUID) is stored once.
 *
 * Bitbucket Cloud payloads carry no clone URL: `repository.clone_url` is
 * `https://bitbucket.org/<full_name>.git`, built from the repository's full name.
 */
import type { CloudEvent } from '../events/index.ts';
import { JunctionError } from '../errors/index.ts';
import type { JsonRecord } from './git-common.ts';
import {
  GIT_MAX_COMMITS,
  clip,
  idHeader,
  invalid,
  isoTime,
  list,
  obj,
  readJsonObject,
  str,
  validEvent,
} from './git-common.ts';
import { verifyPrefixedHmac } from './hmac.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const BITBUCKET_SOURCE_TYPE = 'bitbucket';
/** At most this many changes of one push are mapped; the rest are named in the note. */
export const BITBUCKET_MAX_CHANGES = 100;
const UNAUTHENTICATED_MESSAGE = "the request has no valid X-Hub-Signature for this source's secret";
const FULL_NAME = /^[\w.-]+\/[\w.-]+$/;

const PR_ACTIONS: Readonly<Record<string, string>> = {
  'pullrequest:created': 'opened',
  'pullrequest:updated': 'synchronized',
  'pullrequest:fulfilled': 'merged',
  'pullrequest:rejected': 'closed',
};

export function createBitbucketSource(settings: SourceSettings): Source {
  const secret = settings.secret;
  if (typeof secret !== 'string' || secret === '') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `source '${settings.name}' (type bitbucket) has no secret; set \`secret: \${BITBUCKET_WEBHOOK_SECRET}\` and the same secret on the Bitbucket webhook`,
      { details: { source: settings.name } },
    );
  }
  const name = settings.name;
  return {
    name,
    type: BITBUCKET_SOURCE_TYPE,
    authenticate(request) {
      const header = request.headers['x-hub-signature'];
      if (!verifyPrefixedHmac('sha256', 'sha256=', secret, request.body, header)) {
        throw new JunctionError('SOURCE_UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE);
      }
    },
    map: (request) => mapBitbucketDelivery(name, request),
  };
}

interface Context {
  readonly sourceName: string;
  readonly requestId: string;
  readonly payload: JsonRecord;
  readonly receivedAt: Date;
}

interface Mapped {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly time?: string | undefined;
  readonly data: JsonRecord;
}

/** Maps one authenticated delivery; pure apart from `receivedAt` standing in for a missing time. */
export function mapBitbucketDelivery(sourceName: string, request: HookRequest): SourceResult {
  const eventKey = request.headers['x-event-key']?.trim();
  if (eventKey === undefined || eventKey === '') throw invalid('the X-Event-Key header is missing');
  const requestId = idHeader(request.headers, ['x-request-uuid']);
  if (requestId === undefined) throw invalid('the X-Request-UUID header is missing');
  const payload = readJsonObject(request.body);
  const context: Context = { sourceName, requestId, payload, receivedAt: request.receivedAt };
  if (eventKey === 'repo:push') return mapPush(context);
  const prAction = Object.hasOwn(PR_ACTIONS, eventKey) ? PR_ACTIONS[eventKey] : undefined;
  if (prAction !== undefined) return { events: [toMappedEvent(context, mapPullRequest(context, prAction))] };
  return { events: [toMappedEvent(context, mapForeign(context, eventKey))] };
}

/** An event without a Junction type, stored under Bitbucket's key: `repo:fork` → `bitbucket.repo.fork`. */
function mapForeign(context: Context, eventKey: string): Mapped {
  if (!/^[a-z][a-z0-9_]{0,31}(:[a-z][a-z0-9_]{0,31}){0,3}$/.test(eventKey)) {
    throw invalid('the X-Event-Key header is not an event key (such as repo:push)');
  }
  const repository = repositoryOf(context.payload);
  const fullName = str(repository?.['full_name']);
  return {
    id: context.requestId,
    type: `bitbucket.${eventKey.replaceAll(':', '.')}`,
    subject: fullName ?? eventKey,
    data: {
      ...(repository === undefined ? {} : { repository }),
      actor: actorOf(context.payload),
    },
  };
}

function toMappedEvent(context: Context, mapped: Mapped): MappedEvent {
  const repository = repositoryOf(context.payload);
  const htmlUrl = str(repository?.['html_url']);
  const event: CloudEvent = validEvent({
    specversion: '1.0',
    id: mapped.id,
    source: htmlUrl ?? `bitbucket/${context.sourceName}`,
    type: mapped.type,
    subject: mapped.subject,
    time: mapped.time ?? context.receivedAt.toISOString(),
    datacontenttype: 'application/json',
    data: { ...mapped.data, payload: context.payload },
  });
  return { event, dedupeKey: `bitbucket:${mapped.id}` };
}

// ---------------------------------------------------------------------------------------------
// repo:push

function mapPush(context: Context): SourceResult {
  const push = obj(context.payload['push']);
  const changes = push?.['changes'];
  if (push === undefined || !Array.isArray(changes))
    throw invalid('the repo:push payload has no push.changes');
  const events: MappedEvent[] = [];
  const skipped: string[] = [];
  for (const [index, value] of changes.slice(0, BITBUCKET_MAX_CHANGES).entries()) {
    const change = obj(value);
    if (change === undefined) throw invalid(`push.changes[${index}] is not an object`);
    const mapped = mapChange(context, change, index);
    if (typeof mapped === 'string') skipped.push(mapped);
    else events.push(toMappedEvent(context, mapped));
  }
  if (changes.length > BITBUCKET_MAX_CHANGES) {
    skipped.push(
      `${changes.length - BITBUCKET_MAX_CHANGES} changes beyond the first ${BITBUCKET_MAX_CHANGES}`,
    );
  }
  if (skipped.length === 0) return { events };
  const note = `not mapped: ${skipped.slice(0, 5).join('; ')}${skipped.length > 5 ? '; …' : ''}`;
  return events.length === 0
    ? { events, note: `${note}; the delivery was accepted and not stored` }
    : { events, note };
}

interface RefState {
  readonly type: string;
  readonly name: string;
  readonly hash: string | undefined;
  readonly date: string | undefined;
}

function refState(value: unknown, where: string): RefState | undefined {
  if (value === null || value === undefined) return undefined;
  const state = obj(value);
  const type = str(state?.['type']);
  const name = str(state?.['name']);
  if (state === undefined || type === undefined || name === undefined || name === '') {
    throw invalid(`${where} has no type or name`);
  }
  const target = obj(state['target']);
  return { type, name, hash: str(target?.['hash']), date: str(target?.['date']) };
}

/** One change as an event, or a short reason it maps to nothing. */
function mapChange(context: Context, change: JsonRecord, index: number): Mapped | string {
  const oldState = refState(change['old'], `push.changes[${index}].old`);
  const newState = refState(change['new'], `push.changes[${index}].new`);
  const state = newState ?? oldState;
  if (state === undefined) throw invalid(`push.changes[${index}] has neither old nor new`);
  const isTag = state.type === 'tag' || state.type === 'annotated_tag';
  const isBranch = state.type === 'branch' || state.type === 'named_branch' || state.type === 'bookmark';
  if (!isTag && !isBranch) return `change ${index} of '${clip(state.type)}'`;
  const ref = `${isTag ? 'refs/tags/' : 'refs/heads/'}${state.name}`;
  const id = `${context.requestId}:${index}`;
  const base = {
    repository: repositoryOf(context.payload),
    ref,
    before: oldState?.hash,
    after: newState?.hash,
    created: change['created'] === true || oldState === undefined,
    deleted: change['closed'] === true || newState === undefined,
    forced: change['forced'] === true,
    actor: actorOf(context.payload),
  };
  if (isTag) {
    if (base.deleted) return `deleted tag '${clip(state.name, 200)}'`;
    return {
      id,
      type: 'git.tag',
      subject: ref,
      time: isoTime(newState?.date),
      data: { ...base, tag: state.name },
    };
  }
  if (base.deleted) {
    return { id, type: 'git.branch.deleted', subject: ref, data: { ...base, branch: state.name } };
  }
  const commits = list(change['commits']).slice(0, GIT_MAX_COMMITS).map(commitOf);
  return {
    id,
    type: 'git.push',
    subject: ref,
    time: isoTime(newState?.date),
    data: { ...base, branch: state.name, commits, truncated: change['truncated'] === true },
  };
}

function commitOf(value: unknown): JsonRecord {
  const commit = obj(value) ?? {};
  const author = obj(commit['author']) ?? {};
  const user = obj(author['user']);
  return {
    id: str(commit['hash']),
    message: str(commit['message']),
    author: { name: str(user?.['display_name']) ?? str(author['display_name']) ?? str(author['raw']) },
    timestamp: str(commit['date']),
    url: str(obj(obj(commit['links'])?.['html'])?.['href']),
  };
}

// ---------------------------------------------------------------------------------------------
// pull requests

function mapPullRequest(context: Context, action: string): Mapped {
  const { payload } = context;
  const pr = obj(payload['pullrequest']);
  const number = pr?.['id'];
  if (pr === undefined || typeof number !== 'number')
    throw invalid('the pull request payload has no pullrequest.id');
  const source = obj(pr['source']) ?? {};
  const destination = obj(pr['destination']) ?? {};
  const headRef = str(obj(source['branch'])?.['name']);
  const baseRef = str(obj(destination['branch'])?.['name']);
  return {
    id: context.requestId,
    type: 'git.pull_request',
    subject: `pull/${number}`,
    time: isoTime(str(pr['updated_on'])),
    data: {
      repository: repositoryOf(payload),
      action,
      number,
      title: str(pr['title']),
      url: str(obj(obj(pr['links'])?.['html'])?.['href']),
      author: nameOf(pr['author']),
      labels: [],
      head_ref: headRef,
      head_sha: str(obj(source['commit'])?.['hash']),
      base_ref: baseRef,
      base_branch: baseRef,
      base_sha: str(obj(destination['commit'])?.['hash']),
      draft: pr['draft'] === true,
      merged: action === 'merged',
      actor: actorOf(payload),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared fields

function repositoryOf(payload: JsonRecord): JsonRecord | undefined {
  const repo = obj(payload['repository']);
  if (repo === undefined) return undefined;
  const fullName = str(repo['full_name']);
  const isKnown = fullName !== undefined && FULL_NAME.test(fullName);
  return {
    full_name: fullName,
    name: str(repo['name']),
    owner: fullName?.split('/')[0],
    clone_url: isKnown ? `https://bitbucket.org/${fullName}.git` : undefined,
    html_url: isKnown ? `https://bitbucket.org/${fullName}` : undefined,
    default_branch: str(obj(repo['mainbranch'])?.['name']),
  };
}

function nameOf(value: unknown): string | undefined {
  const user = obj(value);
  return str(user?.['nickname']) ?? str(user?.['username']) ?? str(user?.['display_name']);
}

function actorOf(payload: JsonRecord): string | undefined {
  return nameOf(payload['actor']);
}
