/**
 * The GitLab source: project and group webhooks at `POST /hooks/<name>`.
 *
 * Authentication: GitLab does not sign bodies; it sends the webhook's secret token verbatim in
 * `X-Gitlab-Token`. It is compared in constant time with the source's `token`; a missing or
 * wrong token is `SOURCE_UNAUTHENTICATED`, with one message for both.
 *
 * Mapping (`X-Gitlab-Event`), each event keeping the delivery's object under `data.payload`:
 * - `Push Hook` → `git.push`, or `git.branch.deleted` when `after` is all zeros;
 * - `Tag Push Hook` → `git.tag`; a tag deletion maps to nothing (with a note);
 * - `Merge Request Hook` → `git.pull_request` (actions in the catalog's words);
 * - `Pipeline Hook` → `gitlab.pipeline`, `Deployment Hook` → `gitlab.deployment`: GitLab's own
 *   types (Junction's `pipeline.*` and `deployment.*` describe Junction's runs, not GitLab's);
 * - every other event (`Issue Hook`, `Job Hook`, `Wiki Page Hook`, …) → one foreign event of type
 *   `gitlab.<event>`, the name in snake case without ` Hook` (`gitlab.issue`, `gitlab.wiki_page`),
 *   with `data { action?, repository?, actor, payload }`; a name that does not reduce to lowercase
 *   letters, digits and underscores (at most 64) is SOURCE_PAYLOAD_INVALID.
 * The CloudEvent id is `X-Gitlab-Event-UUID` and the dedupe key `gitlab:<uuid>`, so a retried
 * delivery is stored once.
 *
 * `changed_files` is the sorted union of the commits' added/modified/removed paths, left out when
 * GitLab sent fewer commits than `total_commits_count` (it sends at most 20): absent means
 * "unknown", and path filters then do not apply.
 */
import type { CloudEvent } from '../events/index.ts';
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
import { safeEqualStrings } from './hmac.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const GITLAB_SOURCE_TYPE = 'gitlab';
const UNAUTHENTICATED_MESSAGE = "the request has no valid X-Gitlab-Token for this source's token";

export function createGitLabSource(settings: SourceSettings): Source {
  const token = settings.token;
  if (typeof token !== 'string' || token === '') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `source '${settings.name}' (type gitlab) has no token; set \`token: \${GITLAB_WEBHOOK_TOKEN}\` and the same secret token on the GitLab webhook`,
      { details: { source: settings.name } },
    );
  }
  const name = settings.name;
  return {
    name,
    type: GITLAB_SOURCE_TYPE,
    authenticate(request) {
      if (!safeEqualStrings(request.headers['x-gitlab-token'], token)) {
        throw new JunctionError('SOURCE_UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE);
      }
    },
    map: (request) => mapGitLabDelivery(name, request),
  };
}

interface Context {
  readonly sourceName: string;
  readonly uuid: string;
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
export function mapGitLabDelivery(sourceName: string, request: HookRequest): SourceResult {
  const eventName = request.headers['x-gitlab-event']?.trim();
  if (eventName === undefined || eventName === '') throw invalid('the X-Gitlab-Event header is missing');
  const uuid = idHeader(request.headers, ['x-gitlab-event-uuid']);
  if (uuid === undefined) throw invalid('the X-Gitlab-Event-UUID header is missing');
  const payload = readJsonObject(request.body);
  const context: Context = { sourceName, uuid, payload, receivedAt: request.receivedAt };
  switch (eventName) {
    case 'Push Hook':
      return one(context, mapPush(context));
    case 'Tag Push Hook':
      return mapTagPush(context);
    case 'Merge Request Hook':
      return one(context, mapMergeRequest(context));
    case 'Pipeline Hook':
      return one(context, mapPipeline(context));
    case 'Deployment Hook':
      return one(context, mapDeployment(context));
    default:
      return one(context, mapForeign(context, eventName));
  }
}

function one(context: Context, mapped: Mapped): SourceResult {
  const event: MappedEvent = { event: toCloudEvent(context, mapped), dedupeKey: `gitlab:${context.uuid}` };
  return { events: [event] };
}

function toCloudEvent(context: Context, mapped: Mapped): CloudEvent {
  const webUrl = str(obj(context.payload['project'])?.['web_url']);
  return validEvent({
    specversion: '1.0',
    id: context.uuid,
    source:
      webUrl !== undefined && /^https?:\/\/[^\s]+$/.test(webUrl) ? webUrl : `gitlab/${context.sourceName}`,
    type: mapped.type,
    subject: mapped.subject,
    time: mapped.time ?? context.receivedAt.toISOString(),
    datacontenttype: 'application/json',
    data: { ...mapped.data, payload: context.payload },
  });
}

// ---------------------------------------------------------------------------------------------
// Push and tag push

function pushBase(payload: JsonRecord, ref: string): JsonRecord {
  const before = str(payload['before']);
  const after = str(payload['after']);
  return {
    repository: repositoryOf(payload),
    ref,
    before,
    after,
    created: isZeroSha(before),
    deleted: isZeroSha(after),
    actor: str(payload['user_username']),
  };
}

function refOf(payload: JsonRecord, what: string): string {
  const ref = str(payload['ref']);
  if (ref === undefined || ref === '') throw invalid(`the ${what} payload has no ref`);
  return ref;
}

function mapPush(context: Context): Mapped {
  const { payload } = context;
  const ref = refOf(payload, 'push');
  const base = pushBase(payload, ref);
  const branchField = ref.startsWith('refs/heads/') ? { branch: ref.slice('refs/heads/'.length) } : {};
  if (base['deleted'] === true) {
    return { type: 'git.branch.deleted', subject: ref, data: { ...base, ...branchField } };
  }
  const rawCommits = list(payload['commits']);
  const total = payload['total_commits_count'];
  const isComplete = typeof total !== 'number' || total <= rawCommits.length;
  const changed = changedFilesOf(rawCommits, isComplete);
  const commits = rawCommits.slice(0, GIT_MAX_COMMITS).map(commitOf);
  const last = rawCommits.length > 0 ? obj(rawCommits[rawCommits.length - 1]) : undefined;
  return {
    type: 'git.push',
    subject: ref,
    time: isoTime(str(last?.['timestamp'])),
    data: {
      ...base,
      ...branchField,
      commits,
      total_commits: typeof total === 'number' ? total : rawCommits.length,
      ...(changed === undefined ? {} : { changed_files: changed }),
    },
  };
}

function mapTagPush(context: Context): SourceResult {
  const { payload } = context;
  const ref = refOf(payload, 'tag push');
  const tag = ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : ref;
  const base = pushBase(payload, ref);
  if (base['deleted'] === true) {
    return {
      events: [],
      note: `tag push deleting tag '${clip(tag, 200)}' is not mapped; the delivery was accepted and not stored`,
    };
  }
  return one(context, {
    type: 'git.tag',
    subject: ref.startsWith('refs/tags/') ? ref : `refs/tags/${tag}`,
    data: { ...base, tag, message: str(payload['message']) },
  });
}

// ---------------------------------------------------------------------------------------------
// Merge requests

const MR_ACTIONS: Readonly<Record<string, string>> = {
  open: 'opened',
  update: 'synchronized',
  close: 'closed',
  merge: 'merged',
  reopen: 'reopened',
  approved: 'approved',
  unapproved: 'unapproved',
  approval: 'approved',
  unapproval: 'unapproved',
};

function mapMergeRequest(context: Context): Mapped {
  const { payload } = context;
  const mr = obj(payload['object_attributes']);
  const number = mr?.['iid'];
  if (mr === undefined || typeof number !== 'number') {
    throw invalid('the merge request payload has no object_attributes.iid');
  }
  const rawAction = str(mr['action']);
  const action = rawAction === undefined ? undefined : (MR_ACTIONS[rawAction] ?? rawAction);
  const labelSource = Array.isArray(mr['labels']) ? mr['labels'] : list(payload['labels']);
  const labels = labelSource
    .slice(0, 1000)
    .map((label) => str(obj(label)?.['title']))
    .filter((label) => label !== undefined);
  const target = str(mr['target_branch']);
  const user = str(obj(payload['user'])?.['username']);
  return {
    type: 'git.pull_request',
    subject: `pull/${number}`,
    time: isoTime(str(mr['updated_at'])),
    data: {
      repository: repositoryOf(payload),
      action,
      number,
      title: str(mr['title']),
      url: str(mr['url']),
      author: user,
      labels,
      head_ref: str(mr['source_branch']),
      head_sha: str(obj(mr['last_commit'])?.['id']),
      base_ref: target,
      base_branch: target,
      draft: mr['draft'] === true || mr['work_in_progress'] === true,
      merged: action === 'merged' || str(mr['state']) === 'merged',
      actor: user,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Pipelines and deployments (GitLab's own event types)

function mapPipeline(context: Context): Mapped {
  const { payload } = context;
  const pipeline = obj(payload['object_attributes']);
  const id = pipeline?.['id'];
  if (pipeline === undefined || typeof id !== 'number') {
    throw invalid('the pipeline payload has no object_attributes.id');
  }
  const ref = str(pipeline['ref']);
  const isTag = pipeline['tag'] === true;
  const refField = ref === undefined ? {} : isTag ? { tag: ref } : { branch: ref };
  const mr = obj(payload['merge_request']);
  return {
    type: 'gitlab.pipeline',
    subject: `pipelines/${id}`,
    time: isoTime(str(pipeline['finished_at']) ?? str(pipeline['created_at'])),
    data: {
      repository: repositoryOf(payload),
      id,
      iid: pipeline['iid'],
      status: str(pipeline['status']),
      detailed_status: str(pipeline['detailed_status']),
      pipeline_source: str(pipeline['source']),
      ref,
      ...refField,
      after: str(pipeline['sha']),
      url: str(pipeline['url']),
      ...(mr === undefined ? {} : { merge_request: { number: mr['iid'], url: str(mr['url']) } }),
      actor: str(obj(payload['user'])?.['username']),
    },
  };
}

function mapDeployment(context: Context): Mapped {
  const { payload } = context;
  const id = payload['deployment_id'];
  const environment = str(payload['environment']);
  if (typeof id !== 'number' || environment === undefined) {
    throw invalid('the deployment payload has no deployment_id or environment');
  }
  return {
    type: 'gitlab.deployment',
    subject: `environments/${environment}`,
    time: isoTime(str(payload['status_changed_at'])),
    data: {
      repository: repositoryOf(payload),
      id,
      status: str(payload['status']),
      environment,
      environment_url: str(payload['environment_external_url']),
      ref: str(payload['ref']),
      short_sha: str(payload['short_sha']),
      commit_url: str(payload['commit_url']),
      job_url: str(payload['deployable_url']),
      actor: str(obj(payload['user'])?.['username']),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Events without a Junction type: stored under GitLab's own name.

/** `Wiki Page Hook` → `wiki_page`; undefined for a name that does not reduce to one. */
export function gitlabEventKey(eventName: string): string | undefined {
  const key = eventName
    .replace(/ Hook$/, '')
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return /^[a-z][a-z0-9_]{0,63}$/.test(key) ? key : undefined;
}

function mapForeign(context: Context, eventName: string): Mapped {
  const key = gitlabEventKey(eventName);
  if (key === undefined) {
    throw invalid('the X-Gitlab-Event header is not an event name (letters, digits, spaces, ending in Hook)');
  }
  const { payload } = context;
  const repository = repositoryOf(payload);
  const action = str(obj(payload['object_attributes'])?.['action']) ?? str(payload['action']);
  const fullName = str(repository?.['full_name']);
  return {
    type: `gitlab.${key}`,
    subject: fullName ?? key,
    data: {
      ...(action === undefined ? {} : { action }),
      ...(repository === undefined ? {} : { repository }),
      actor: str(obj(payload['user'])?.['username']) ?? str(payload['user_username']),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared fields

function repositoryOf(payload: JsonRecord): JsonRecord | undefined {
  const project = obj(payload['project']);
  if (project === undefined) return undefined;
  return {
    full_name: str(project['path_with_namespace']),
    name: str(project['name']),
    owner: str(project['namespace']),
    clone_url: str(project['git_http_url']) ?? str(project['http_url']),
    html_url: str(project['web_url']),
    default_branch: str(project['default_branch']),
  };
}
