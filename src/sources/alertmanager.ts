/**
 * The Prometheus Alertmanager source (`type: alertmanager`): receives Alertmanager's webhook
 * (payload version "4") and maps every alert of a notification to one `alert.firing` or
 * `alert.resolved` CloudEvent. The alert-group mapping here is shared with the Grafana source,
 * whose unified-alerting webhook has the same shape.
 *
 * What callers may assume:
 * - Authentication is a bearer token or basic auth (see `http-auth.ts`), checked before parsing.
 * - One event per entry of `alerts[]`, in order; the type comes from the alert's own `status`
 *   (a group marked `firing` can carry resolved alerts), or from the group's when an old
 *   Alertmanager sent none.
 * - CloudEvent `id` is `<fingerprint>:<status>:<startsAt>`, `source` is `<type>/<source name>`: an
 *   alert re-sent on every `repeat_interval`, or by each replica of an HA cluster, has the same id
 *   and is stored once; its resolution is a new event. The dedupe key is
 *   `<type>:<source name>:<id>`. When an alert has no `fingerprint` (Alertmanager before 0.19),
 *   it is computed from the labels exactly as Alertmanager computes it.
 * - `time` is `startsAt` for a firing alert and `endsAt` for a resolved one; an `endsAt` of
 *   `0001-01-01T00:00:00Z` (Go's zero time: "not ended") becomes `null` in `data`.
 * - `map` is pure and throws only SOURCE_PAYLOAD_INVALID, listing every problem found (at most
 *   `MAX_PROBLEMS`) with its path, never a label value or a piece of the payload. A delivery is
 *   refused as a whole, never half mapped. At most `MAX_ALERTS` alerts are accepted.
 */
import { JunctionError, isJunctionError } from '../errors/index.ts';
import { parseJsonBytes, validateCloudEvent } from '../events/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HookRequest, MappedEvent, Source, SourceFactory, SourceResult } from './source.ts';

/** The most alerts one delivery may carry. */
export const MAX_ALERTS = 1000;
/** The most problems one error lists. */
export const MAX_PROBLEMS = 20;
const MAX_DEPTH = 64;
const ZERO_TIME = '0001-01-01T00:00:00Z';
const STATUSES = ['firing', 'resolved'] as const;
type AlertStatus = (typeof STATUSES)[number];

export type JsonObject = { readonly [key: string]: unknown };

/** How one provider's alert group differs from the others. */
export interface AlertProvider {
  /** `alertmanager`, `grafana`: the source type, used in `source` and dedupe keys. */
  readonly type: string;
  /** Human name for messages. */
  readonly label: string;
  /** The payload versions understood. */
  readonly versions: readonly string[];
  /** Provider-specific fields added to `data`. */
  readonly extraData?: (alert: JsonObject) => Record<string, unknown>;
}

export const ALERTMANAGER: AlertProvider = { type: 'alertmanager', label: 'alertmanager', versions: ['4'] };

export const alertmanagerSource: SourceFactory = (settings) => createAlertSource(settings, ALERTMANAGER);

/** A source that authenticates with `http-auth.ts` and maps an alert group of `provider`. */
export function createAlertSource(settings: Parameters<SourceFactory>[0], provider: AlertProvider): Source {
  const auth = httpAuthFromSettings(settings);
  const name = settings.name;
  return {
    name,
    type: settings.type,
    authenticate(request: HookRequest): void {
      checkHttpAuth(auth, request, name);
    },
    map(request: HookRequest): SourceResult {
      return mapAlertGroup(request.body, name, provider);
    },
  };
}

/** Maps one webhook body; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapAlertGroup(body: Uint8Array, sourceName: string, provider: AlertProvider): SourceResult {
  try {
    return mapParsed(parseBody(body, provider), sourceName, provider);
  } catch (error) {
    if (isJunctionError(error, 'SOURCE_PAYLOAD_INVALID')) throw error;
    // Anything else is a bug here, but the contract is one error code.
    throw new JunctionError('SOURCE_PAYLOAD_INVALID', `${provider.label} payload could not be mapped`, {
      cause: error,
    });
  }
}

function parseBody(body: Uint8Array, provider: AlertProvider): JsonObject {
  let value: unknown;
  try {
    value = parseJsonBytes(body, { maxDepth: MAX_DEPTH, what: `${provider.label} payload` }).value;
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'unreadable';
    throw payloadInvalid(reason, [], error);
  }
  if (!isObject(value)) {
    throw payloadInvalid(`${provider.label} payload must be a json object (got ${kindOf(value)})`);
  }
  return value;
}

function mapParsed(body: JsonObject, sourceName: string, provider: AlertProvider): SourceResult {
  const label = provider.label;
  const version = body.version;
  if (typeof version !== 'string' || !provider.versions.includes(version)) {
    const got = typeof version === 'string' ? `'${version.slice(0, 40)}'` : kindOf(version);
    throw payloadInvalid(
      `${label} payload version ${got} is not supported (supported: ${provider.versions.map((v) => `'${v}'`).join(', ')})`,
    );
  }
  const alerts = body.alerts;
  if (!Array.isArray(alerts)) {
    throw payloadInvalid(`${label} payload needs 'alerts' as an array (got ${kindOf(alerts)})`);
  }
  if (alerts.length > MAX_ALERTS) {
    throw payloadInvalid(
      `${label} payload holds ${alerts.length} alerts (at most ${MAX_ALERTS} per delivery)`,
    );
  }
  const problems: string[] = [];
  const groupStatus = optionalString(body, 'status', 'status', problems);
  const group = groupFields(body);
  const events: MappedEvent[] = [];
  for (let i = 0; i < alerts.length && problems.length < MAX_PROBLEMS; i++) {
    const mapped = mapAlert(alerts[i], i, { body, group, groupStatus, sourceName, provider, problems });
    if (mapped !== undefined) events.push(mapped);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    throw payloadInvalid(`${label} payload is invalid: ${shown[0] ?? ''}${more}`, shown);
  }
  if (events.length === 0) return { events, note: `${label} delivery holds no alerts` };
  return { events };
}

interface AlertContext {
  readonly body: JsonObject;
  readonly group: JsonObject;
  readonly groupStatus: string | undefined;
  readonly sourceName: string;
  readonly provider: AlertProvider;
  readonly problems: string[];
}

function mapAlert(raw: unknown, index: number, ctx: AlertContext): MappedEvent | undefined {
  const path = `alerts[${index}]`;
  const { problems, provider, sourceName } = ctx;
  if (!isObject(raw)) {
    problems.push(`${path} must be an object (got ${kindOf(raw)})`);
    return undefined;
  }
  const before = problems.length;
  const labels = stringMap(raw.labels, `${path}.labels`, true, problems);
  const annotations =
    raw.annotations === undefined ? {} : objectOf(raw.annotations, `${path}.annotations`, problems);
  const status = alertStatus(raw, path, ctx.groupStatus, problems);
  const startsAt = timestamp(raw.startsAt, `${path}.startsAt`, true, problems);
  const endsAtRaw = timestamp(raw.endsAt, `${path}.endsAt`, false, problems);
  const fingerprintRaw = optionalString(raw, 'fingerprint', `${path}.fingerprint`, problems);
  const generatorURL = optionalString(raw, 'generatorURL', `${path}.generatorURL`, problems);
  if (fingerprintRaw === '') problems.push(`${path}.fingerprint is empty`);
  if (problems.length > before || labels === undefined || status === undefined || startsAt === undefined) {
    return undefined;
  }

  const fingerprint = fingerprintRaw ?? labelsFingerprint(labels);
  const endsAt = endsAtRaw === undefined || endsAtRaw === ZERO_TIME ? null : endsAtRaw;
  const alertname = labels.alertname ?? null;
  const id = `${fingerprint}:${status}:${startsAt}`;
  const data = {
    alertname,
    status,
    labels,
    annotations: annotations ?? {},
    severity: labels.severity ?? null,
    fingerprint,
    startsAt,
    endsAt,
    generatorURL: generatorURL ?? null,
    receiver: stringOrNull(ctx.body.receiver),
    groupKey: stringOrNull(ctx.body.groupKey),
    externalURL: stringOrNull(ctx.body.externalURL),
    service: labels.service ?? null,
    environment: labels.environment ?? labels.env ?? null,
    ...(provider.extraData?.(raw) ?? {}),
    payload: { ...raw, group: ctx.group },
  };
  const candidate: CloudEvent = {
    specversion: '1.0',
    id,
    source: `${provider.type}/${sourceName}`,
    type: `alert.${status}`,
    ...(alertname === null || alertname === '' ? {} : { subject: alertname }),
    time: status === 'resolved' && endsAt !== null ? endsAt : startsAt,
    datacontenttype: 'application/json',
    data,
  };
  let event: CloudEvent;
  try {
    event = validateCloudEvent(candidate);
  } catch (error) {
    problems.push(
      `${path} does not make a valid event: ${error instanceof Error ? error.message : 'invalid'}`,
    );
    return undefined;
  }
  return { event, dedupeKey: `${provider.type}:${sourceName}:${id}` };
}

/** The delivery's own fields (everything but the alerts), kept under `payload.group`. */
function groupFields(body: JsonObject): JsonObject {
  const { alerts: _alerts, ...group } = body;
  return group;
}

function alertStatus(
  alert: JsonObject,
  path: string,
  groupStatus: string | undefined,
  problems: string[],
): AlertStatus | undefined {
  const own = alert.status;
  const value = own === undefined ? groupStatus : own;
  const where = own === undefined ? `${path}.status (from the group's status)` : `${path}.status`;
  if (value === undefined) {
    problems.push(`${path}.status is missing and the group has none`);
    return undefined;
  }
  if (typeof value !== 'string' || !(STATUSES as readonly string[]).includes(value)) {
    const got = typeof value === 'string' ? `'${value.slice(0, 40)}'` : kindOf(value);
    problems.push(`${where} is ${got} (expected 'firing' or 'resolved')`);
    return undefined;
  }
  return value as AlertStatus;
}

function timestamp(value: unknown, path: string, required: boolean, problems: string[]): string | undefined {
  if (value === undefined || value === null) {
    if (required) problems.push(`${path} is missing`);
    return undefined;
  }
  if (typeof value !== 'string') {
    problems.push(`${path} must be a string (got ${kindOf(value)})`);
    return undefined;
  }
  if (value.length > 64 || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value)) {
    problems.push(`${path} is not an rfc 3339 timestamp`);
    return undefined;
  }
  return value;
}

function stringMap(
  value: unknown,
  path: string,
  required: boolean,
  problems: string[],
): Record<string, string> | undefined {
  if (value === undefined && !required) return {};
  const object = objectOf(value, path, problems);
  if (object === undefined) return undefined;
  for (const [key, v] of Object.entries(object)) {
    if (typeof v !== 'string') {
      problems.push(`${path}.${key.slice(0, 60)} must be a string (got ${kindOf(v)})`);
      return undefined;
    }
  }
  return object as Record<string, string>;
}

function objectOf(value: unknown, path: string, problems: string[]): JsonObject | undefined {
  if (!isObject(value)) {
    problems.push(`${path} must be an object (got ${kindOf(value)})`);
    return undefined;
  }
  return value;
}

function optionalString(
  object: JsonObject,
  key: string,
  path: string,
  problems: string[],
): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    problems.push(`${path} must be a string (got ${kindOf(value)})`);
    return undefined;
  }
  return value;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function payloadInvalid(message: string, problems: readonly string[] = [], cause?: unknown): JunctionError {
  return new JunctionError('SOURCE_PAYLOAD_INVALID', message, {
    ...(cause === undefined ? {} : { cause }),
    ...(problems.length > 0 ? { details: { problems } } : {}),
  });
}

const FNV_OFFSET = 14695981039346656037n;
const FNV_PRIME = 1099511628211n;
const MASK_64 = (1n << 64n) - 1n;
const SEPARATOR = 0xff;

/**
 * Alertmanager's fingerprint of a label set (prometheus/common `model.LabelSet.Fingerprint`):
 * FNV-1a 64 over the labels sorted by name (byte order), each name and value followed by 0xff,
 * written as 16 lower-case hex digits.
 */
export function labelsFingerprint(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let hash = FNV_OFFSET;
  const add = (byte: number): void => {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK_64;
  };
  for (const name of names) {
    for (const byte of Buffer.from(name, 'utf8')) add(byte);
    add(SEPARATOR);
    for (const byte of Buffer.from(labels[name] ?? '', 'utf8')) add(byte);
    add(SEPARATOR);
  }
  return hash.toString(16).padStart(16, '0');
}
