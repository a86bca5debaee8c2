/**
 * The CloudEvents 1.0 HTTP protocol binding, receiving side: pure functions from an HTTP request's
 * headers and raw body bytes to validated CloudEvents, or a `JunctionError` saying precisely what
 * is wrong. No I/O; the server enforces the body size limit (413) before calling in.
 *
 * Content mode, from `Content-Type` (media type matched case-insensitively, parameters ignored
 * except `charset`):
 * - `application/cloudevents+json` → structured: the body is one event in the JSON format;
 * - `application/cloudevents-batch+json` → batched: the body is a JSON array of such events;
 * - any other `application/cloudevents…` format (`+xml`, `+avro`, `+protobuf`, `-batch+xml`) →
 *   EVENT_UNSUPPORTED_MEDIA_TYPE naming the two supported ones (forwarding an unknown format as
 *   opaque binary, which the binding permits, would store something nobody can route);
 * - otherwise binary mode when a `ce-specversion` header is present; `ce-*` headers without
 *   `ce-specversion` → EVENT_ATTRIBUTE_MISSING (the sender evidently meant binary mode); no
 *   `ce-*` header at all → EVENT_UNSUPPORTED_MEDIA_TYPE explaining the three accepted forms.
 * Where Junction decodes text (structured, batched, JSON and text data in binary mode) a
 * `charset` other than UTF-8 is refused with EVENT_UNSUPPORTED_MEDIA_TYPE (`utf8` is accepted as
 * the common spelling of the same charset); for opaque binary data the charset is irrelevant.
 *
 * Binary mode:
 * - every `ce-<name>` header is the attribute `<name>` (header names are case-insensitive; the
 *   name must be lowercase a-z0-9). A value is trimmed of surrounding spaces and tabs and must then
 *   be printable US-ASCII: CR, LF, any other control character or a raw non-ASCII byte is refused
 *   (EVENT_ATTRIBUTE_INVALID) whatever the HTTP parser let through, which closes header
 *   injection. A value that is a whole double-quoted string is unquoted first (RFC 9110 quoted
 *   string with backslash escapes, for senders of older spec versions), then percent-decoded once:
 *   `%XX` must have two hex digits and the decoded bytes must be valid UTF-8 (overlong forms such
 *   as `%C0%A0` are refused). A repeated header and a `ce-datacontenttype` header (the binding
 *   forbids it) are refused. All binary-mode attribute values are strings: headers carry no type.
 * - `Content-Type` becomes `datacontenttype`, verbatim.
 * - The body becomes the data: an empty body means no data; a JSON media type (`application/json`,
 *   `text/json`, any subtype ending `+json`) is parsed into `data` with the same depth limit and
 *   error reporting as structured mode; text media types (see `isTextMediaType`: `text/*`, XML,
 *   YAML, form data…) become a UTF-8 string in `data` (EVENT_INVALID_UTF8 when they are not);
 *   everything else is kept byte for byte in `data_base64`.
 * - Without `Content-Type` the event has no `datacontenttype`. A JSON-format event without
 *   `datacontenttype` means JSON data, so a body that is valid UTF-8 JSON becomes `data`; any other
 *   body is kept as opaque bytes in `data_base64`. Either way the stored event says exactly what
 *   was received, and the common sender who forgot the header still gets routable data.
 *
 * Structured and batched mode: the body must be UTF-8 JSON (EVENT_INVALID_UTF8,
 * EVENT_MALFORMED_JSON with position) no deeper than `maxJsonDepth` (EVENT_TOO_DEEP, checked by a
 * byte scan before anything is parsed). A structured body must be one object; an attribute named
 * twice in an event envelope is refused (EVENT_ATTRIBUTE_INVALID) because different parsers
 * disagree on which copy wins, and `id`, `source` and `type` decide dedupe and routing. Each event
 * is checked by `validateCloudEvent`.
 *
 * A batch is all-or-nothing: it must be an array (EVENT_BATCH_INVALID), hold at most
 * `maxBatchEvents` events (EVENT_BATCH_TOO_LARGE) and every element must be a valid event; the
 * first invalid one refuses the whole batch with EVENT_BATCH_INVALID naming its index and the
 * inner problem (`details: { index, code, message }`), and nothing of it is stored. Senders retry a
 * batch as a unit; accepting part of it would make such a retry ambiguous. An empty array is a
 * valid batch of zero events.
 */
import { Buffer } from 'node:buffer';
import { JunctionError, isJunctionError } from '../errors/index.ts';
import { CONTEXT_ATTRIBUTES, type CloudEvent } from './cloud-event.ts';
import { decodeUtf8, parseJsonBytes, type DuplicateKey } from './json-limits.ts';
import {
  isAttributeName,
  isJsonMediaType,
  isTextMediaType,
  jsonTypeOf,
  parseMediaType,
  quote,
  validateCloudEvent,
  type MediaType,
} from './validate.ts';

export type ContentMode = 'binary' | 'structured' | 'batch';

export interface HttpEventLimits {
  /** Deepest JSON nesting allowed in a body (the whole body, see json-limits.ts). */
  readonly maxJsonDepth: number;
  /** Most events one batched request may carry. */
  readonly maxBatchEvents: number;
}

export interface HttpEventInput {
  /** Request headers; names in any case. A string[] value means the header was repeated. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw request body. */
  readonly body: Uint8Array;
  readonly limits: HttpEventLimits;
}

export interface ParsedHttpEvents {
  readonly mode: ContentMode;
  readonly events: CloudEvent[];
  /**
   * Per event, the JSON text its `data` was parsed from, exactly as received: given in structured
   * mode for an event with `data`, so the store can write it instead of serializing the value again
   * (`eventJson`). Whoever passes it on must not change `data`.
   */
  readonly dataJson?: readonly (string | undefined)[];
}

export const STRUCTURED_MEDIA_TYPE = 'application/cloudevents+json';
export const BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json';

const NOT_A_CLOUDEVENT =
  `send one of: content-type ${STRUCTURED_MEDIA_TYPE} with the event as a json object (structured mode), ` +
  `content-type ${BATCH_MEDIA_TYPE} with a json array of events (batched mode), ` +
  `or the attributes as ce-* headers including ce-specversion with the data as the body (binary mode)`;

export function parseHttpEvents(input: HttpEventInput): ParsedHttpEvents {
  const headers = normalizeHeaders(input.headers);
  const contentType = headers.get('content-type');
  if (Array.isArray(contentType)) {
    throw new JunctionError(
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      'the request has more than one content-type header',
    );
  }
  const media = contentType === undefined || contentType.trim() === '' ? undefined : mediaTypeOf(contentType);

  if (media?.type === 'application') {
    if (media.subtype === 'cloudevents+json') {
      const { event, dataJson } = parseStructured(input.body, media, input.limits);
      return { mode: 'structured', events: [event], dataJson: [dataJson] };
    }
    if (media.subtype === 'cloudevents-batch+json') {
      return { mode: 'batch', events: parseBatch(input.body, media, input.limits) };
    }
    if (media.subtype.startsWith('cloudevents')) {
      throw new JunctionError(
        'EVENT_UNSUPPORTED_MEDIA_TYPE',
        `event format '${media.essence}' is not supported (supported: ${STRUCTURED_MEDIA_TYPE}, ${BATCH_MEDIA_TYPE}, or binary mode)`,
      );
    }
  }
  if (headers.has('ce-specversion')) {
    const raw = contentType === undefined || contentType.trim() === '' ? undefined : contentType.trim();
    return { mode: 'binary', events: [parseBinary(headers, input.body, raw, media, input.limits)] };
  }
  if ([...headers.keys()].some((name) => name.startsWith('ce-'))) {
    throw new JunctionError(
      'EVENT_ATTRIBUTE_MISSING',
      'the request has ce-* headers but no ce-specversion header (binary mode needs ce-specversion: 1.0)',
      { details: { attribute: 'specversion' } },
    );
  }
  const got = media === undefined ? 'no content-type' : `content-type '${media.essence}'`;
  throw new JunctionError(
    'EVENT_UNSUPPORTED_MEDIA_TYPE',
    `the request is not a cloudevent (${got}): ${NOT_A_CLOUDEVENT}`,
  );
}

/** Lowercased header names; a name that occurs twice (in any case) maps to an array. */
function normalizeHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Map<string, string | string[]> {
  const out = new Map<string, string | string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const before = out.get(key);
    const values = Array.isArray(value) ? value : [value];
    if (before === undefined) {
      out.set(key, values.length === 1 ? values[0]! : [...values]);
    } else {
      out.set(key, [...(Array.isArray(before) ? before : [before]), ...values]);
    }
  }
  return out;
}

function mediaTypeOf(contentType: string): MediaType {
  const media = parseMediaType(contentType);
  if (media === undefined) {
    throw new JunctionError(
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      `content-type ${quote(contentType)} is not a media type (expected type/subtype, e.g. '${STRUCTURED_MEDIA_TYPE}')`,
    );
  }
  return media;
}

function requireUtf8(media: MediaType): void {
  const charset = media.parameters.get('charset');
  if (charset === undefined) return;
  const lower = charset.toLowerCase();
  if (lower !== 'utf-8' && lower !== 'utf8') {
    throw new JunctionError(
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      `charset ${quote(charset)} is not supported (expected utf-8)`,
    );
  }
}

// --- structured and batched ---------------------------------------------------------------

function parseStructured(
  body: Uint8Array,
  media: MediaType,
  limits: HttpEventLimits,
): { event: CloudEvent; dataJson: string | undefined } {
  requireUtf8(media);
  const { value, duplicateKey, dataText } = parseJsonBytes(body, {
    maxDepth: limits.maxJsonDepth,
    duplicateKeyDepth: 1,
    findData: true,
  });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const hint = Array.isArray(value) ? ` (a batch needs content-type ${BATCH_MEDIA_TYPE})` : '';
    throw new JunctionError(
      'EVENT_MALFORMED_JSON',
      `a structured-mode body must be a json object, got ${jsonTypeOf(value)}${hint}`,
    );
  }
  if (duplicateKey !== undefined) throw duplicateAttribute(duplicateKey);
  const event = validateCloudEvent(value);
  const keptData = 'data' in event && event.data === (value as { data?: unknown }).data;
  return { event, dataJson: keptData ? dataText : undefined };
}

function parseBatch(body: Uint8Array, media: MediaType, limits: HttpEventLimits): CloudEvent[] {
  requireUtf8(media);
  const { value, duplicateKey } = parseJsonBytes(body, {
    maxDepth: limits.maxJsonDepth,
    duplicateKeyDepth: 2,
  });
  if (!Array.isArray(value)) {
    throw new JunctionError(
      'EVENT_BATCH_INVALID',
      `a batch must be a json array of events, got ${jsonTypeOf(value)}`,
    );
  }
  if (value.length > limits.maxBatchEvents) {
    throw new JunctionError(
      'EVENT_BATCH_TOO_LARGE',
      `the batch holds ${value.length} events (limit ${limits.maxBatchEvents}); split it into smaller batches`,
      { details: { count: value.length, limit: limits.maxBatchEvents } },
    );
  }
  const events: CloudEvent[] = [];
  for (let index = 0; index < value.length; index++) {
    try {
      if (duplicateKey?.element === index && duplicateKey.depth === 2) throw duplicateAttribute(duplicateKey);
      events.push(validateCloudEvent(value[index]));
    } catch (error) {
      if (!isJunctionError(error)) throw error;
      throw new JunctionError(
        'EVENT_BATCH_INVALID',
        `event at index ${index} of the batch is invalid: ${error.message}; the whole batch was refused`,
        { cause: error, details: { index, code: error.code, message: error.message } },
      );
    }
  }
  return events;
}

function duplicateAttribute(duplicate: DuplicateKey): JunctionError {
  return new JunctionError(
    'EVENT_ATTRIBUTE_INVALID',
    `attribute ${quote(duplicate.name)} appears more than once in the event`,
    { details: { attribute: duplicate.name.slice(0, 64) } },
  );
}

// --- binary -------------------------------------------------------------------------------

function parseBinary(
  headers: Map<string, string | string[]>,
  body: Uint8Array,
  contentType: string | undefined,
  media: MediaType | undefined,
  limits: HttpEventLimits,
): CloudEvent {
  // The version decides how everything else reads, so it is checked first.
  const specversion = headers.get('ce-specversion');
  if (typeof specversion === 'string') {
    const version = decodeHeaderValue(specversion, 'ce-specversion');
    if (version !== '1.0') {
      throw new JunctionError(
        'EVENT_SPECVERSION_UNSUPPORTED',
        `specversion ${quote(version)} is not supported (expected the string '1.0')`,
        { details: { attribute: 'specversion' } },
      );
    }
  }
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of headers) {
    if (!name.startsWith('ce-')) continue;
    const attribute = name.slice(3);
    if (!isAttributeName(attribute)) {
      throw new JunctionError(
        'EVENT_ATTRIBUTE_INVALID',
        `header ${quote(name)} does not name a valid attribute (expected ce- followed by lowercase letters a-z and digits 0-9)`,
        { details: { header: name.slice(0, 64) } },
      );
    }
    if (attribute === 'datacontenttype') {
      throw invalidHeader(
        name,
        'is not allowed in binary mode (the content-type header carries datacontenttype)',
      );
    }
    if (attribute === 'data') {
      throw invalidHeader(name, "is not allowed ('data' is a reserved name, the body carries the data)");
    }
    if (Array.isArray(value)) throw invalidHeader(name, 'appears more than once');
    attributes[attribute] = decodeHeaderValue(value, name);
  }
  for (const required of ['id', 'source', 'type']) {
    if (attributes[required] === undefined || attributes[required] === '') {
      throw new JunctionError(
        'EVENT_ATTRIBUTE_MISSING',
        `binary-mode request lacks the header 'ce-${required}'`,
        {
          details: { attribute: required },
        },
      );
    }
  }
  if (contentType !== undefined) attributes.datacontenttype = contentType;
  const data = binaryData(body, media, limits);
  if ('data' in data) attributes.data = data.data;
  else if (data.data_base64 !== undefined) attributes.data_base64 = data.data_base64;
  return validateCloudEvent(attributes);
}

function binaryData(
  body: Uint8Array,
  media: MediaType | undefined,
  limits: HttpEventLimits,
): { data?: unknown; data_base64?: string } {
  if (body.length === 0) return {};
  if (media === undefined) return sniffedData(body, limits);
  if (isJsonMediaType(media)) {
    requireUtf8(media);
    return { data: parseJsonBytes(body, { maxDepth: limits.maxJsonDepth, what: 'data' }).value };
  }
  if (isTextMediaType(media)) {
    requireUtf8(media);
    return { data: decodeUtf8(body, 'data') };
  }
  return { data_base64: base64Of(body) };
}

const JSON_START = new Set([
  0x7b, 0x5b, 0x22, 0x2d, 0x74, 0x66, 0x6e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
]);

/** No Content-Type: JSON when the body is UTF-8 JSON, else opaque bytes (see module comment). */
function sniffedData(body: Uint8Array, limits: HttpEventLimits): { data?: unknown; data_base64?: string } {
  let first = 0;
  while (first < body.length && [0x20, 0x09, 0x0a, 0x0d].includes(body[first]!)) first++;
  if (first < body.length && JSON_START.has(body[first]!)) {
    try {
      return { data: parseJsonBytes(body, { maxDepth: limits.maxJsonDepth, what: 'data' }).value };
    } catch (error) {
      // Too deep is refused as in every JSON body; anything else just is not JSON.
      if (isJunctionError(error, 'EVENT_TOO_DEEP')) throw error;
    }
  }
  return { data_base64: base64Of(body) };
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function invalidHeader(name: string, problem: string): JunctionError {
  return new JunctionError('EVENT_ATTRIBUTE_INVALID', `header ${quote(name)} ${problem}`, {
    details: { header: name.slice(0, 64), attribute: name.slice(3, 67) },
  });
}

const utf8Attribute = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/**
 * Decodes one binary-mode header value into the attribute's string (HTTP binding 3.1.3.2): trim,
 * refuse anything but printable ASCII, unquote a quoted string, then one round of percent-decoding
 * whose bytes must be UTF-8.
 */
export function decodeHeaderValue(raw: string, headerName: string): string {
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      throw invalidHeader(
        headerName,
        `contains a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')}) at index ${i}; header values must be printable ascii, percent-encoded`,
      );
    }
    if (code > 0x7e) {
      throw invalidHeader(
        headerName,
        `contains a non-ascii character at index ${i}; percent-encode it as utf-8`,
      );
    }
  }
  const unquoted = value.startsWith('"') ? unquote(value, headerName) : value;
  if (!unquoted.includes('%')) return unquoted;

  const bytes = new Uint8Array(unquoted.length);
  let length = 0;
  for (let i = 0; i < unquoted.length; i++) {
    const code = unquoted.charCodeAt(i);
    if (code === 0x25) {
      const hex = unquoted.slice(i + 1, i + 3);
      if (!HEX_PAIR.test(hex)) {
        throw invalidHeader(
          headerName,
          `has an invalid percent-encoding at index ${i} (expected % and two hex digits)`,
        );
      }
      bytes[length++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      bytes[length++] = code;
    }
  }
  try {
    return utf8Attribute.decode(bytes.subarray(0, length));
  } catch (error) {
    throw new JunctionError(
      'EVENT_ATTRIBUTE_INVALID',
      `header ${quote(headerName)} percent-encodes bytes that are not valid utf-8`,
      { cause: error, details: { header: headerName.slice(0, 64), attribute: headerName.slice(3, 67) } },
    );
  }
}

/** RFC 9110 section 5.6.4 quoted-string → its content. */
function unquote(value: string, headerName: string): string {
  let out = '';
  for (let i = 1; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') {
      if (i !== value.length - 1) throw invalidHeader(headerName, 'has text after its closing double quote');
      return out;
    }
    if (c === '\\') {
      i++;
      if (i >= value.length) break;
      out += value[i];
    } else {
      out += c;
    }
  }
  throw invalidHeader(headerName, 'has an unterminated double-quoted string');
}

/**
 * Percent-encodes an attribute value for a binary-mode header (HTTP binding 3.1.3.2): space,
 * double quote, percent and everything outside U+0021-U+007E become UTF-8 `%XX` (upper case).
 */
export function encodeHeaderValue(value: string): string {
  const encoder = new TextEncoder();
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x21 && code <= 0x7e && code !== 0x22 && code !== 0x25) {
      out += ch;
    } else {
      for (const byte of encoder.encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

// --- output -------------------------------------------------------------------------------

const CONTEXT_SET = new Set<string>(CONTEXT_ATTRIBUTES);
const EXTENSION_NAME = /^[a-z0-9]+$/;

/**
 * The JSON event format of an event, for the API: context attributes in spec order, then
 * extensions sorted by name, then `data` (kept when null) or `data_base64`. Absent attributes are
 * omitted. Keys that are not valid attribute names are dropped, so a hand-built object cannot
 * smuggle `__proto__` or similar into the output. Values are not copied.
 */
export function toJsonFormat(event: CloudEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of CONTEXT_ATTRIBUTES) {
    const value = event[name];
    if (value !== undefined && value !== null) out[name] = value;
  }
  const extensions = Object.keys(event)
    .filter((name) => !CONTEXT_SET.has(name) && name !== 'data' && EXTENSION_NAME.test(name))
    .sort();
  for (const name of extensions) {
    const value = event[name];
    if (value !== undefined && value !== null) out[name] = value;
  }
  if (Object.hasOwn(event, 'data') && event.data !== undefined) out.data = event.data;
  else if (typeof event.data_base64 === 'string') out.data_base64 = event.data_base64;
  return out;
}
