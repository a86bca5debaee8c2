/**
 * The AWS EventBridge source (`type: eventbridge`): receives one EventBridge event per request
 * from an EventBridge API destination, at `POST /hooks/<name>`.
 *
 * Authentication: the API destination's connection uses "API key" authorization; it sends the
 * header named by the `header` setting (default `x-api-key`) with the value of `token`. The value
 * is compared in constant time; a missing or wrong key is `SOURCE_UNAUTHENTICATED`.
 *
 * Mapping (the body is the event as EventBridge writes it: `version`, `id`, `detail-type`,
 * `source`, `account`, `time`, `region`, `resources`, `detail`):
 * - `aws.ecr` `ECR Image Action` with `action-type` PUSH and `result` SUCCESS → `image.pushed`;
 * - `aws.ecr` `ECR Image Scan` → `security.scan.completed` (severity counts of the findings);
 * - `aws.codecommit` `CodeCommit Repository State Change` on a branch → `git.push`
 *   (`referenceCreated`, `referenceUpdated`) or `git.branch.deleted` (`referenceDeleted`); on a tag
 *   → `git.tag` (a deleted tag maps to nothing, with a note);
 * - everything else → `infra.changed` with `provider: aws`.
 * The CloudEvent id is the EventBridge `id`, `source` is `aws/<region>/<event source>`, `time` is
 * the event's `time`, and the dedupe key is `eventbridge:<CloudEvent source>:<id>`: a retry or an
 * archive replay of the same event is stored once. Every event keeps the EventBridge event under
 * `data.payload`. `map` is pure and throws only SOURCE_PAYLOAD_INVALID.
 */
import type { CloudEvent } from '../events/index.ts';
import { JunctionError } from '../errors/index.ts';
import {
  finishEvent,
  guardMap,
  invalid,
  kindOf,
  obj,
  readJson,
  requiredString,
  requiredTime,
  short,
  str,
  text,
  uriSafe,
} from './cloud-bus.ts';
import type { JsonObject } from './cloud-bus.ts';
import { safeEqualStrings } from './hmac.ts';
import type { HookRequest, Source, SourceResult, SourceSettings } from './source.ts';

export const EVENTBRIDGE_SOURCE_TYPE = 'eventbridge';
export const EVENTBRIDGE_DEFAULT_HEADER = 'x-api-key';
/** The most entries of `resources` accepted (EventBridge events list a handful). */
export const EVENTBRIDGE_MAX_RESOURCES = 1000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,100}$/;
const REGION = /^[a-z0-9-]{1,40}$/;
const EVENT_SOURCE = /^[\x21-\x7e]{1,256}$/;

export function createEventBridgeSource(settings: SourceSettings): Source {
  const { header, token } = readSettings(settings);
  const name = settings.name;
  return {
    name,
    type: EVENTBRIDGE_SOURCE_TYPE,
    authenticate(request: HookRequest): void {
      const given = request.headers[header]?.trim();
      if (!safeEqualStrings(given, token)) {
        throw new JunctionError(
          'SOURCE_UNAUTHENTICATED',
          `source '${name}' refused the request: missing or wrong api key in the ${header} header`,
          { details: { source: name, header } },
        );
      }
    },
    map: (request) => mapEventBridgeEvent(request.body),
  };
}

function readSettings(settings: SourceSettings): { header: string; token: string } {
  const problems: string[] = [];
  const rawHeader = settings['header'] ?? EVENTBRIDGE_DEFAULT_HEADER;
  const header = typeof rawHeader === 'string' ? rawHeader.trim().toLowerCase() : '';
  if (!HEADER_NAME.test(header)) {
    problems.push("'header' must be an http header name (default x-api-key)");
  }
  const token = settings.token;
  if (typeof token !== 'string' || token === '') {
    problems.push("needs 'token': the api key value set on the EventBridge connection");
  } else if (token.trim() !== token) {
    problems.push("'token' has leading or trailing whitespace, which an http header cannot carry");
  }
  if (problems.length > 0 || typeof token !== 'string') {
    throw new JunctionError('CONFIG_INVALID', `sources[name=${settings.name}]: ${problems.join('; ')}`, {
      details: { source: settings.name, problems },
    });
  }
  return { header, token };
}

interface Envelope {
  readonly raw: JsonObject;
  readonly id: string;
  readonly detailType: string;
  readonly eventSource: string;
  readonly account: string;
  readonly region: string;
  readonly time: string;
  readonly resources: readonly string[];
  readonly detail: JsonObject;
  /** The CloudEvent `source`: `aws/<region>/<event source>`. */
  readonly ceSource: string;
}

interface Mapped {
  readonly type: string;
  readonly subject?: string | undefined;
  readonly data: JsonObject;
}

/** Maps one EventBridge event body; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapEventBridgeEvent(body: Uint8Array): SourceResult {
  return guardMap('eventbridge', () => {
    const envelope = readEnvelope(readJson(body, 'the eventbridge event'));
    const mapped = mapEnvelope(envelope);
    if (mapped === undefined) {
      return {
        events: [],
        note: `codecommit deletion of tag '${short(str(envelope.detail['referenceName']) ?? '', 200)}' is not mapped; the event was accepted and not stored`,
      };
    }
    const candidate: CloudEvent = {
      specversion: '1.0',
      id: envelope.id,
      source: envelope.ceSource,
      type: mapped.type,
      ...(mapped.subject === undefined || mapped.subject === '' ? {} : { subject: mapped.subject }),
      time: envelope.time,
      datacontenttype: 'application/json',
      data: { ...mapped.data, payload: envelope.raw },
    };
    const event = finishEvent(candidate, 'the eventbridge event');
    return { events: [{ event, dedupeKey: `eventbridge:${envelope.ceSource}:${envelope.id}` }] };
  });
}

function readEnvelope(value: unknown): Envelope {
  const raw = obj(value);
  if (raw === undefined) {
    throw invalid(`the eventbridge event must be a json object (got ${kindOf(value)})`);
  }
  const id = requiredString(raw, 'id', 'id');
  const detailType = requiredString(raw, 'detail-type', 'detail-type');
  const eventSource = requiredString(raw, 'source', 'source');
  const account = requiredString(raw, 'account', 'account');
  const region = requiredString(raw, 'region', 'region');
  const time = requiredTime(raw, 'time', 'time');
  if (!REGION.test(region)) throw invalid(`region '${short(region, 40)}' is not an aws region name`);
  if (!EVENT_SOURCE.test(eventSource)) throw invalid('source is not an eventbridge event source');
  const resources = raw['resources'] ?? [];
  if (!Array.isArray(resources)) throw invalid(`resources must be an array (got ${kindOf(resources)})`);
  if (resources.length > EVENTBRIDGE_MAX_RESOURCES) {
    throw invalid(
      `resources holds ${resources.length} entries (at most ${EVENTBRIDGE_MAX_RESOURCES} are accepted)`,
    );
  }
  if (!resources.every((r) => typeof r === 'string')) throw invalid('resources must hold only strings');
  const detail = obj(raw['detail']);
  if (detail === undefined) throw invalid(`detail must be an object (got ${kindOf(raw['detail'])})`);
  return {
    raw,
    id,
    detailType,
    eventSource,
    account,
    region,
    time,
    resources,
    detail,
    ceSource: `aws/${region}/${uriSafe(eventSource)}`,
  };
}

function mapEnvelope(envelope: Envelope): Mapped | undefined {
  const { eventSource, detailType, detail } = envelope;
  if (eventSource === 'aws.ecr' && detailType === 'ECR Image Action') {
    if (detail['action-type'] === 'PUSH' && detail['result'] === 'SUCCESS') return imagePushed(envelope);
  } else if (eventSource === 'aws.ecr' && detailType === 'ECR Image Scan') {
    return imageScan(envelope);
  } else if (eventSource === 'aws.codecommit' && detailType === 'CodeCommit Repository State Change') {
    const event = detail['event'];
    const referenceType = detail['referenceType'];
    const isReference =
      event === 'referenceCreated' || event === 'referenceUpdated' || event === 'referenceDeleted';
    if (isReference && (referenceType === 'branch' || referenceType === 'tag')) {
      return codeCommitReference(envelope, event, referenceType);
    }
  }
  return infraChanged(envelope);
}

function registryOf(envelope: Envelope): string {
  return `${envelope.account}.dkr.ecr.${envelope.region}.amazonaws.com`;
}

function imagePushed(envelope: Envelope): Mapped {
  const { detail } = envelope;
  const repository = requiredString(detail, 'repository-name', 'detail.repository-name');
  const digest = requiredString(detail, 'image-digest', 'detail.image-digest');
  const tag = text(detail['image-tag']);
  return {
    type: 'image.pushed',
    subject: tag === undefined ? `${repository}@${digest}` : `${repository}:${tag}`,
    data: {
      registry: registryOf(envelope),
      repository,
      tag: tag ?? null,
      digest,
      media_type: str(detail['manifest-media-type']) ?? null,
      provider: 'aws',
    },
  };
}

function imageScan(envelope: Envelope): Mapped {
  const { detail } = envelope;
  const repository = requiredString(detail, 'repository-name', 'detail.repository-name');
  const digest = str(detail['image-digest']) ?? null;
  const counts = obj(detail['finding-severity-counts']) ?? {};
  const severityCounts: Record<string, number> = {};
  for (const [severity, count] of Object.entries(counts)) {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw invalid(`detail.finding-severity-counts.${short(severity, 40)} must be a count`);
    }
    severityCounts[severity] = count;
  }
  const tags = Array.isArray(detail['image-tags'])
    ? (detail['image-tags'] as unknown[]).filter((t): t is string => typeof t === 'string').slice(0, 100)
    : [];
  return {
    type: 'security.scan.completed',
    subject: digest === null ? repository : `${repository}@${digest}`,
    data: {
      tool: 'ecr',
      provider: 'aws',
      registry: registryOf(envelope),
      repository,
      digest,
      tags,
      status: str(detail['scan-status']) ?? null,
      severity_counts: severityCounts,
    },
  };
}

function codeCommitReference(
  envelope: Envelope,
  event: 'referenceCreated' | 'referenceUpdated' | 'referenceDeleted',
  referenceType: 'branch' | 'tag',
): Mapped | undefined {
  const { detail, region } = envelope;
  const name = requiredString(detail, 'repositoryName', 'detail.repositoryName');
  const referenceName = requiredString(detail, 'referenceName', 'detail.referenceName');
  const prefix = referenceType === 'branch' ? 'refs/heads/' : 'refs/tags/';
  const ref = text(detail['referenceFullName']) ?? `${prefix}${referenceName}`;
  const deleted = event === 'referenceDeleted';
  if (deleted && referenceType === 'tag') return undefined;
  const base = {
    provider: 'aws',
    repository: {
      name,
      full_name: name,
      id: str(detail['repositoryId']) ?? null,
      arn: envelope.resources[0] ?? null,
      clone_url: `https://git-codecommit.${region}.amazonaws.com/v1/repos/${encodeURIComponent(name)}`,
    },
    ref,
    before: str(detail['oldCommitId']) ?? null,
    after: deleted ? null : requiredString(detail, 'commitId', 'detail.commitId'),
    created: event === 'referenceCreated',
    deleted,
    actor: str(detail['callerUserArn']) ?? null,
  };
  if (referenceType === 'tag') {
    return { type: 'git.tag', subject: ref, data: { ...base, tag: referenceName } };
  }
  return {
    type: deleted ? 'git.branch.deleted' : 'git.push',
    subject: ref,
    data: { ...base, branch: referenceName },
  };
}

function infraChanged(envelope: Envelope): Mapped {
  const resource = envelope.resources[0] ?? envelope.eventSource;
  return {
    type: 'infra.changed',
    subject: resource,
    data: {
      provider: 'aws',
      resource,
      kind: envelope.detailType,
      source: envelope.eventSource,
      account: envelope.account,
      region: envelope.region,
      resources: envelope.resources,
      detail: envelope.detail,
    },
  };
}
