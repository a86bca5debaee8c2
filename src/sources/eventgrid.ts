/**
 * The Azure Event Grid source (`type: eventgrid`): receives webhook deliveries of an Event Grid
 * subscription at `POST /hooks/<name>`, in either delivery schema:
 * - Event Grid schema: a JSON array of `{ id, topic, subject, eventType, eventTime, data,
 *   dataVersion, metadataVersion }`;
 * - CloudEvents 1.0 schema: one structured CloudEvent, or a JSON array of them.
 *
 * Authentication: `Authorization: Bearer <token>` (or basic auth) checked by `http-auth.ts`. Event
 * Grid sends it when the event subscription sets a delivery property (a static header)
 * `Authorization` with the value `Bearer <token>`, marked secret.
 *
 * Subscription validation (Event Grid schema): a delivery holding a
 * `Microsoft.EventGrid.SubscriptionValidationEvent` maps to no events and a note; the hooks route
 * answers it with `{ "validationResponse": <code> }`, the code read by
 * `eventGridValidationCode`. A validation event must come alone.
 *
 * Mapping, one event per entry, in order, each keeping the entry as received under `data.payload`:
 * - `Microsoft.ContainerRegistry.ImagePushed` → `image.pushed` (registry = `data.request.host`,
 *   repository, tag, digest, media type from `data.target`);
 * - every other event type → `infra.changed` with `provider: azure`.
 * The CloudEvent id is the entry's `id`, `source` its `topic` (CloudEvents schema: its `source`),
 * `time` its `eventTime` (`time`), and the dedupe key `eventgrid:<CloudEvent source>:<id>`, so a
 * retried delivery is stored once. At most `EVENTGRID_MAX_EVENTS` entries per delivery; a delivery
 * is refused as a whole, never half mapped. `map` is pure and throws only SOURCE_PAYLOAD_INVALID.
 */
import type { CloudEvent } from '../events/index.ts';
import {
  finishEvent,
  guardMap,
  invalid,
  kindOf,
  obj,
  readJson,
  requiredString,
  requiredTime,
  str,
  text,
  uriSafe,
} from './cloud-bus.ts';
import type { JsonObject } from './cloud-bus.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const EVENTGRID_SOURCE_TYPE = 'eventgrid';
/** Event Grid batches at most 5000 events per delivery. */
export const EVENTGRID_MAX_EVENTS = 5000;
export const EVENTGRID_VALIDATION_TYPE = 'Microsoft.EventGrid.SubscriptionValidationEvent';
const IMAGE_PUSHED = 'Microsoft.ContainerRegistry.ImagePushed';
const VALIDATION_CODE = /^[\x21-\x7e]{1,200}$/;

export function createEventGridSource(settings: SourceSettings): Source {
  const auth = httpAuthFromSettings(settings);
  const name = settings.name;
  return {
    name,
    type: EVENTGRID_SOURCE_TYPE,
    authenticate(request: HookRequest): void {
      checkHttpAuth(auth, request, name);
    },
    map: (request) => mapEventGridDelivery(request.body),
  };
}

/**
 * The `validationCode` of a subscription validation delivery, or undefined when the body is not
 * one. The hooks route answers 200 `{ "validationResponse": <code> }` with it. Never throws; the
 * code is at most 200 printable ASCII characters, so it is safe to echo.
 */
export function eventGridValidationCode(body: Uint8Array): string | undefined {
  try {
    const entries = readEntries(body);
    const only = entries.length === 1 ? obj(entries[0]) : undefined;
    if (only === undefined || only['eventType'] !== EVENTGRID_VALIDATION_TYPE) return undefined;
    return validationCodeOf(only);
  } catch {
    return undefined;
  }
}

/** Maps one delivery; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapEventGridDelivery(body: Uint8Array): SourceResult {
  return guardMap('event grid', () => {
    const entries = readEntries(body);
    const validations = entries.filter((e) => obj(e)?.['eventType'] === EVENTGRID_VALIDATION_TYPE);
    if (validations.length > 0) {
      const first = obj(validations[0]);
      if (entries.length !== 1 || first === undefined || validationCodeOf(first) === undefined) {
        throw invalid('a subscription validation delivery must hold one event with data.validationCode');
      }
      return {
        events: [],
        note: 'event grid subscription validation: answered with the validation code; no event stored',
      };
    }
    if (entries.length === 0) return { events: [], note: 'event grid delivery holds no events' };
    const events: MappedEvent[] = entries.map((entry, index) => mapEntry(entry, `[${index}]`));
    return { events };
  });
}

function readEntries(body: Uint8Array): readonly unknown[] {
  const value = readJson(body, 'the event grid delivery');
  const entries = Array.isArray(value)
    ? value
    : obj(value)?.['specversion'] !== undefined
      ? [value]
      : undefined;
  if (entries === undefined) {
    throw invalid(
      `the event grid delivery must be an array of events or one CloudEvent (got ${kindOf(value)})`,
    );
  }
  if (entries.length > EVENTGRID_MAX_EVENTS) {
    throw invalid(`the delivery holds ${entries.length} events (at most ${EVENTGRID_MAX_EVENTS})`);
  }
  return entries;
}

function validationCodeOf(entry: JsonObject): string | undefined {
  const code = str(obj(entry['data'])?.['validationCode']);
  return code !== undefined && VALIDATION_CODE.test(code) ? code : undefined;
}

/** An entry of either schema, read into the same fields. */
interface Entry {
  readonly raw: JsonObject;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string | undefined;
  readonly time: string;
  readonly data: unknown;
  readonly topic: string;
}

function mapEntry(value: unknown, path: string): MappedEvent {
  const raw = obj(value);
  if (raw === undefined) throw invalid(`${path} must be an object (got ${kindOf(value)})`);
  const entry = raw['specversion'] !== undefined ? cloudEventEntry(raw, path) : eventGridEntry(raw, path);
  const mapped = entry.type === IMAGE_PUSHED ? imagePushed(entry, path) : infraChanged(entry);
  const candidate: CloudEvent = {
    specversion: '1.0',
    id: entry.id,
    source: entry.source,
    type: mapped.type,
    ...(mapped.subject === undefined || mapped.subject === '' ? {} : { subject: mapped.subject }),
    time: entry.time,
    datacontenttype: 'application/json',
    data: { ...mapped.data, payload: raw },
  };
  return {
    event: finishEvent(candidate, `event grid entry ${path}`),
    dedupeKey: `eventgrid:${entry.source}:${entry.id}`,
  };
}

function eventGridEntry(raw: JsonObject, path: string): Entry {
  const topic = uriSafe(requiredString(raw, 'topic', `${path}.topic`));
  const subject = raw['subject'];
  if (subject !== undefined && typeof subject !== 'string') {
    throw invalid(`${path}.subject must be a string (got ${kindOf(subject)})`);
  }
  return {
    raw,
    id: requiredString(raw, 'id', `${path}.id`),
    type: requiredString(raw, 'eventType', `${path}.eventType`),
    source: topic,
    subject,
    time: requiredTime(raw, 'eventTime', `${path}.eventTime`),
    data: raw['data'] ?? null,
    topic,
  };
}

function cloudEventEntry(raw: JsonObject, path: string): Entry {
  const source = uriSafe(requiredString(raw, 'source', `${path}.source`));
  const event = finishEvent({ ...raw, source }, `event grid entry ${path}`);
  const time = event.time;
  if (time === undefined) throw invalid(`${path}.time is missing`);
  requiredTime({ time }, 'time', `${path}.time`);
  return {
    raw,
    id: event.id,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time,
    data: event.data ?? null,
    topic: event.source,
  };
}

interface Mapped {
  readonly type: string;
  readonly subject?: string | undefined;
  readonly data: JsonObject;
}

function imagePushed(entry: Entry, path: string): Mapped {
  const data = obj(entry.data);
  const target = obj(data?.['target']);
  const request = obj(data?.['request']);
  if (data === undefined || target === undefined || request === undefined) {
    throw invalid(`${path}.data needs the objects target and request for ${IMAGE_PUSHED}`);
  }
  const repository = requiredString(target, 'repository', `${path}.data.target.repository`);
  const registry = requiredString(request, 'host', `${path}.data.request.host`);
  const tag = text(target['tag']);
  const digest = text(target['digest']);
  return {
    type: 'image.pushed',
    subject:
      tag !== undefined
        ? `${repository}:${tag}`
        : digest !== undefined
          ? `${repository}@${digest}`
          : repository,
    data: {
      registry,
      repository,
      tag: tag ?? null,
      digest: digest ?? null,
      media_type: str(target['mediaType']) ?? null,
      provider: 'azure',
      actor: str(obj(data['actor'])?.['name']) ?? null,
    },
  };
}

function infraChanged(entry: Entry): Mapped {
  const resource = entry.subject !== undefined && entry.subject !== '' ? entry.subject : entry.topic;
  return {
    type: 'infra.changed',
    subject: resource,
    data: {
      provider: 'azure',
      resource,
      kind: entry.type,
      topic: entry.topic,
      subject: entry.subject ?? null,
      detail: entry.data,
    },
  };
}
