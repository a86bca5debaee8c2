/**
 * The CloudEvents 1.0 model as Junction keeps it: the JSON event format (structured mode) with
 * context attributes at the top level, `data` for JSON or text payloads and `data_base64` for
 * binary ones. Extension attributes sit beside the context attributes, as on the wire.
 */
export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  readonly data?: unknown;
  readonly data_base64?: string;
  readonly [extension: string]: unknown;
}

/** An event as stored: Junction's own id and order, plus where and when it arrived. */
export interface StoredEvent {
  /** Junction's id for the stored event (UUIDv7, time-ordered). */
  readonly id: string;
  /** Position in the event log; strictly increasing in commit order. */
  readonly seq: number;
  /** `source` + `id` of the CloudEvent, or a provider's delivery id. */
  readonly dedupeKey: string;
  /** Where the event came in: `events` for POST /events, or the name of a source. */
  readonly receiver: string;
  /** ISO 8601 time the event was stored. */
  readonly receivedAt: string;
  readonly event: CloudEvent;
}

/** The attributes that the CloudEvents spec defines; anything else is an extension. */
export const CONTEXT_ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
] as const;

/** The default dedupe key of a CloudEvent: the spec says `source` + `id` identify an event. */
export function dedupeKeyOf(event: Pick<CloudEvent, 'source' | 'id'>): string {
  // JSON keeps the pair unambiguous and carries no NUL (PostgreSQL text refuses NUL).
  return JSON.stringify([event.source, event.id]);
}

/**
 * The event in the JSON event format, as the store keeps it: `JSON.stringify(event)`, except that
 * `data` is written as `dataJson` when given: the JSON text that `event.data` was parsed from
 * (`ParsedHttpEvents.dataJson`). Both parse to the same value; only whitespace, escapes and number
 * spellings inside `data` can differ.
 */
export function eventJson(event: CloudEvent, dataJson?: string): string {
  if (dataJson === undefined || !('data' in event)) return JSON.stringify(event);
  const { data: _data, ...attributes } = event;
  const head = JSON.stringify(attributes);
  // `data` goes last, where validateCloudEvent puts it; `attributes` always holds specversion.
  return `${head.slice(0, -1)},"data":${dataJson}}`;
}
