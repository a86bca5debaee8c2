/**
 * The Harbor source (`type: harbor`): receives Harbor webhooks, in either of Harbor's payload
 * formats (`Default` and `CloudEvents`), and maps artifact pushes to `image.pushed`, artifact
 * deletions to `image.deleted` and finished vulnerability scans to `security.scan.completed`, one
 * event per entry of the delivery's `resources`.
 *
 * What callers may assume:
 * - Harbor sends the webhook policy's "Auth Header" verbatim as the `Authorization` header; the
 *   whole header is compared with the `token` setting in constant time, before parsing.
 * - Other Harbor event types (pulls, quota, replication, retention, stopped scans) map to no event
 *   and a `note` naming the type.
 * - CloudEvent `source` is `harbor/<source name>`. `id` is `<harbor event id>:<resource index>` for
 *   the CloudEvents format; the Default format carries no id, so it is `harbor-` and 32 hex
 *   digits of a SHA-256 over type, time, repository, resource index, digest and tag. Both are
 *   stable across redeliveries; the dedupe key is `harbor:<source name>:<id>`.
 * - A resource's `tag` equal to its digest (Harbor's way of saying "pushed by digest") becomes a
 *   null `data.tag`.
 * - `map` is pure and throws only SOURCE_PAYLOAD_INVALID; at most `HARBOR_MAX_RESOURCES` resources.
 */
import { createHash } from 'node:crypto';
import { JunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { safeEqualStrings } from './hmac.ts';
import {
  asPayloadInvalid,
  isObject,
  kindOf,
  mappedEvent,
  optionalNumber,
  optionalString,
  payloadInvalid,
  readJsonObject,
  requireObject,
  requireString,
  rfc3339OrUndefined,
  stringSetting,
  unixSecondsToRfc3339,
} from './image-common.ts';
import type { JsonObject } from './image-common.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const HARBOR_SOURCE_TYPE = 'harbor';
/** The most resources one delivery may carry. */
export const HARBOR_MAX_RESOURCES = 1000;
/** The most scan reports read per resource. */
const MAX_REPORTS = 16;

/** Harbor's type (either format) → the Junction event type. */
const MAPPED_TYPES: Readonly<Record<string, string>> = {
  PUSH_ARTIFACT: 'image.pushed',
  'harbor.artifact.pushed': 'image.pushed',
  DELETE_ARTIFACT: 'image.deleted',
  'harbor.artifact.deleted': 'image.deleted',
  SCANNING_COMPLETED: 'security.scan.completed',
  'harbor.scan.completed': 'security.scan.completed',
};

export function createHarborSource(settings: SourceSettings): Source {
  const token = settings.token;
  if (typeof token !== 'string' || token === '') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `sources[name=${settings.name}]: harbor needs 'token': the exact value of the webhook policy's auth header`,
      { details: { source: settings.name, key: 'token' } },
    );
  }
  const registry = stringSetting(settings, settings.name, 'registry');
  const name = settings.name;
  return {
    name,
    type: settings.type,
    authenticate(request: HookRequest): void {
      if (!safeEqualStrings(request.headers.authorization, token)) {
        throw new JunctionError(
          'SOURCE_UNAUTHENTICATED',
          `source '${name}' refused the request: missing or wrong authorization header`,
          { details: { source: name } },
        );
      }
    },
    map(request: HookRequest): SourceResult {
      return mapHarborDelivery(name, request, registry);
    },
  };
}

/** The parts of a delivery common to both formats. */
interface Envelope {
  readonly harborType: string;
  readonly harborId: string | undefined;
  readonly time: string | undefined;
  readonly operator: string | undefined;
  readonly data: JsonObject;
  readonly body: JsonObject;
}

/** Maps one Harbor webhook body; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapHarborDelivery(sourceName: string, request: HookRequest, registry?: string): SourceResult {
  try {
    const envelope = readEnvelope(readJsonObject(request.body, 'harbor payload'));
    const type = Object.hasOwn(MAPPED_TYPES, envelope.harborType)
      ? MAPPED_TYPES[envelope.harborType]
      : undefined;
    if (type === undefined) {
      return { events: [], note: `harbor event type '${envelope.harborType.slice(0, 60)}' is not mapped` };
    }
    return mapResources(envelope, type, sourceName, registry);
  } catch (error) {
    throw asPayloadInvalid(error, 'harbor payload');
  }
}

function readEnvelope(body: JsonObject): Envelope {
  const harborType = requireString(body, 'type', 'type', 128);
  const operator = optionalString(body, 'operator', 'operator', 512);
  if (body.specversion !== undefined) {
    return {
      harborType,
      harborId: requireString(body, 'id', 'id', 256),
      time: rfc3339OrUndefined(body.time),
      operator,
      data: isObject(body.data) ? body.data : {},
      body,
    };
  }
  const occurAt = optionalNumber(body, 'occur_at', 'occur_at');
  return {
    harborType,
    harborId: undefined,
    time: unixSecondsToRfc3339(occurAt),
    operator,
    data: isObject(body.event_data) ? body.event_data : {},
    body,
  };
}

function mapResources(
  envelope: Envelope,
  type: string,
  sourceName: string,
  registrySetting?: string,
): SourceResult {
  const where = envelope.harborId === undefined ? 'event_data' : 'data';
  const resources = envelope.data.resources;
  if (!Array.isArray(resources)) {
    throw payloadInvalid(`${where}.resources must be an array (got ${kindOf(resources)})`);
  }
  if (resources.length > HARBOR_MAX_RESOURCES) {
    throw payloadInvalid(
      `${where}.resources holds ${resources.length} entries (at most ${HARBOR_MAX_RESOURCES})`,
    );
  }
  const repo = requireObject(envelope.data, 'repository', `${where}.repository`);
  const repository = requireString(repo, 'repo_full_name', `${where}.repository.repo_full_name`);
  const events: MappedEvent[] = [];
  for (const [index, raw] of resources.entries()) {
    const path = `${where}.resources[${index}]`;
    if (!isObject(raw)) throw payloadInvalid(`${path} must be an object (got ${kindOf(raw)})`);
    const digest = requireString(raw, 'digest', `${path}.digest`, 256);
    const rawTag = optionalString(raw, 'tag', `${path}.tag`, 256);
    const tag = rawTag === undefined || rawTag === '' || rawTag === digest ? null : rawTag;
    const resourceUrl = optionalString(raw, 'resource_url', `${path}.resource_url`, 2048);
    const id = eventId(envelope, repository, index, digest, rawTag);
    const data: Record<string, unknown> = {
      registry: registrySetting ?? registryOf(resourceUrl),
      repository,
      namespace: optionalString(repo, 'namespace', `${where}.repository.namespace`) ?? null,
      name: optionalString(repo, 'name', `${where}.repository.name`) ?? null,
      tag,
      digest,
      resource_url: resourceUrl ?? null,
      media_type: null,
      size: null,
      actor: envelope.operator === undefined || envelope.operator === '' ? null : envelope.operator,
      harbor_type: envelope.harborType,
      ...(type === 'security.scan.completed' ? scanSummary(raw, path) : {}),
      payload: envelope.body,
    };
    const candidate: CloudEvent = {
      specversion: '1.0',
      id,
      source: `${HARBOR_SOURCE_TYPE}/${sourceName}`,
      type,
      subject: tag === null ? `${repository}@${digest}` : `${repository}:${tag}`,
      ...(envelope.time === undefined ? {} : { time: envelope.time }),
      datacontenttype: 'application/json',
      data,
    };
    events.push(mappedEvent(candidate, `${HARBOR_SOURCE_TYPE}:${sourceName}:${id}`, path));
  }
  if (events.length === 0)
    return { events, note: `harbor ${envelope.harborType} delivery holds no resources` };
  return { events };
}

function eventId(
  envelope: Envelope,
  repository: string,
  index: number,
  digest: string,
  tag?: string,
): string {
  if (envelope.harborId !== undefined) return `${envelope.harborId}:${index}`;
  const key = JSON.stringify([
    envelope.harborType,
    envelope.time ?? null,
    repository,
    index,
    digest,
    tag ?? null,
  ]);
  return `harbor-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32)}`;
}

/** The host part of `host/project/repo@digest` or `host/project/repo:tag`. */
function registryOf(resourceUrl: string | undefined): string | null {
  if (resourceUrl === undefined) return null;
  const slash = resourceUrl.indexOf('/');
  return slash > 0 ? resourceUrl.slice(0, slash) : null;
}

/**
 * `scan_status`, `severity`, `total`, `fixable`, `summary` (counts by severity) and `scanner` of
 * the resource's first report, plus every report (at most `MAX_REPORTS`) under `reports`.
 */
function scanSummary(resource: JsonObject, path: string): Record<string, unknown> {
  const overview = resource.scan_overview;
  if (!isObject(overview)) {
    throw payloadInvalid(`${path}.scan_overview must be an object (got ${kindOf(overview)})`);
  }
  const reports: Record<string, unknown>[] = [];
  for (const [reportType, report] of Object.entries(overview).slice(0, MAX_REPORTS)) {
    if (!isObject(report)) throw payloadInvalid(`${path}.scan_overview entry must be an object`);
    const summary = isObject(report.summary) ? report.summary : {};
    const scanner = isObject(report.scanner) ? report.scanner : {};
    reports.push({
      report_type: reportType.slice(0, 256),
      report_id: stringOrNull(report.report_id),
      scan_status: stringOrNull(report.scan_status),
      severity: stringOrNull(report.severity),
      total: numberOrNull(summary.total),
      fixable: numberOrNull(summary.fixable),
      summary: isObject(summary.summary) ? summary.summary : {},
      scanner: {
        name: stringOrNull(scanner.name),
        vendor: stringOrNull(scanner.vendor),
        version: stringOrNull(scanner.version),
      },
      start_time: stringOrNull(report.start_time),
      end_time: stringOrNull(report.end_time),
    });
  }
  const first = reports[0];
  return {
    scan_status: first?.scan_status ?? null,
    severity: first?.severity ?? null,
    total: first?.total ?? null,
    fixable: first?.fixable ?? null,
    summary: first?.summary ?? {},
    scanner: first?.scanner ?? null,
    reports,
  };
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
