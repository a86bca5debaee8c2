/**
 * Validation of one CloudEvent in the JSON event format (CloudEvents 1.0.2, JSON format 1.0.2),
 * plus the media-type helpers the HTTP binding shares with it.
 *
 * `validateCloudEvent(raw)` takes a parsed JSON value (or the attribute map a binary-mode request
 * produced) and returns a new, normalised `CloudEvent`, or throws a `JunctionError`:
 * - not an object → EVENT_MALFORMED_JSON;
 * - `specversion` absent → EVENT_ATTRIBUTE_MISSING; anything but the string `1.0` →
 *   EVENT_SPECVERSION_UNSUPPORTED (checked first, so a 0.3 event is not reported attribute by
 *   attribute);
 * - `id`, `source`, `type` absent, null or empty → EVENT_ATTRIBUTE_MISSING naming the attribute;
 * - everything else wrong with an attribute → EVENT_ATTRIBUTE_INVALID naming it: a name that is
 *   not lowercase a-z0-9 (the 20-character length is only a recommendation and is not enforced;
 *   `data` is reserved), a value of the wrong JSON type (extensions: string, boolean or 32-bit
 *   integer; never object, array or fraction), `source` not an RFC 3986 URI-reference,
 *   `dataschema` not an absolute URI (a fragment is tolerated), `time` not an RFC 3339
 *   timestamp, `datacontenttype` not an RFC 2046 media type, an optional attribute that is empty,
 *   a string holding characters the CloudEvents String type forbids (controls U+0000-U+001F and
 *   U+007F-U+009F, which also keeps CR/LF out of any header the event is written to later,
 *   Unicode noncharacters, unpaired surrogates), `data` together with `data_base64`, or
 *   `data_base64` that is not RFC 4648 base64.
 *
 * A JSON `null` attribute counts as absent, as the JSON format requires; `data: null` is kept as
 * an explicit null payload. The result keeps every value as received (no `time` is invented, no
 * string is trimmed or re-cased) and orders keys: context attributes, extensions in arrival order,
 * then `data` or `data_base64`. `data` is not inspected here; when `datacontenttype` is not JSON
 * it is normally a string, but other JSON values are accepted as the JSON format allows.
 */
import { JunctionError } from '../errors/index.ts';
import type { CloudEvent } from './cloud-event.ts';

const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
const REQUIRED = ['id', 'source', 'type'] as const;
const OPTIONAL_STRINGS = ['subject', 'time', 'datacontenttype', 'dataschema'] as const;
const CONTEXT = new Set<string>(['specversion', ...REQUIRED, ...OPTIONAL_STRINGS]);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** True when `name` is a valid CloudEvents attribute name: lowercase ASCII letters and digits. */
export function isAttributeName(name: string): boolean {
  return ATTRIBUTE_NAME.test(name);
}

export function validateCloudEvent(raw: unknown): CloudEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new JunctionError(
      'EVENT_MALFORMED_JSON',
      `expected a json object for the event, got ${jsonTypeOf(raw)}`,
    );
  }
  const input = raw as Record<string, unknown>;
  const own = (name: string): unknown => (Object.hasOwn(input, name) ? input[name] : undefined);

  const specversion = own('specversion');
  if (specversion === undefined || specversion === null) {
    throw missing('specversion');
  }
  if (specversion !== '1.0') {
    const got =
      typeof specversion === 'string'
        ? `specversion ${quote(specversion)} is not supported`
        : `specversion is ${jsonTypeOf(specversion)}`;
    throw new JunctionError('EVENT_SPECVERSION_UNSUPPORTED', `${got} (expected the string '1.0')`, {
      details: { attribute: 'specversion' },
    });
  }

  const required: Record<(typeof REQUIRED)[number], string> = { id: '', source: '', type: '' };
  for (const name of REQUIRED) {
    const value = own(name);
    if (value === undefined || value === null || value === '') throw missing(name);
    if (typeof value !== 'string') throw wrongType(name, value, 'a string');
    checkString(name, value);
    required[name] = value;
  }
  if (!validSources.has(required.source)) {
    if (!isUriReference(required.source)) {
      throw invalid('source', `source ${quote(required.source)} is not a uri-reference (rfc 3986)`);
    }
    // Most events come from a few sources: remember recent valid ones (bounded).
    if (validSources.size >= REMEMBERED) validSources.clear();
    validSources.add(required.source);
  }

  const optional: Partial<Record<(typeof OPTIONAL_STRINGS)[number], string>> = {};
  for (const name of OPTIONAL_STRINGS) {
    const value = own(name);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw wrongType(name, value, 'a string');
    if (value === '')
      throw invalid(name, `attribute '${name}' is empty (expected a non-empty string or no attribute)`);
    checkString(name, value);
    optional[name] = value;
  }
  if (optional.time !== undefined && !isRfc3339Timestamp(optional.time)) {
    throw invalid(
      'time',
      `time ${quote(optional.time)} is not an rfc 3339 timestamp (expected e.g. '2018-04-05T17:31:00Z')`,
    );
  }
  if (optional.dataschema !== undefined && !isAbsoluteUri(optional.dataschema)) {
    throw invalid(
      'dataschema',
      `dataschema ${quote(optional.dataschema)} is not an absolute uri (expected e.g. 'https://example.com/schema.json')`,
    );
  }
  if (optional.datacontenttype !== undefined && parseMediaType(optional.datacontenttype) === undefined) {
    throw invalid(
      'datacontenttype',
      `datacontenttype ${quote(optional.datacontenttype)} is not a media type (expected e.g. 'application/json')`,
    );
  }

  const extensions: [string, string | number | boolean][] = [];
  let hasData = false;
  let data: unknown;
  let dataBase64: string | undefined;
  for (const name of Object.keys(input)) {
    if (CONTEXT.has(name)) continue;
    const value = input[name];
    if (name === 'data') {
      hasData = value !== undefined;
      data = value;
      continue;
    }
    if (name === 'data_base64') {
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') throw wrongType(name, value, 'a base64 string');
      if (!isBase64(value))
        throw invalid(name, 'data_base64 is not valid base64 (rfc 4648, standard alphabet with padding)');
      dataBase64 = value;
      continue;
    }
    if (!isAttributeName(name)) {
      throw invalid(
        name,
        `attribute name ${quote(name)} is invalid (expected lowercase letters a-z and digits 0-9 only)`,
      );
    }
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') {
      checkString(name, value);
    } else if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
        throw invalid(
          name,
          `extension attribute '${name}' is ${String(value)}, which is not an integer between ${INT32_MIN} and ${INT32_MAX}`,
        );
      }
    } else if (typeof value !== 'boolean') {
      throw wrongType(name, value, 'a string, boolean or integer');
    }
    extensions.push([name, value]);
  }
  if (hasData && dataBase64 !== undefined) {
    throw invalid('data_base64', "an event carries either 'data' or 'data_base64', not both");
  }

  const out: Record<string, unknown> = { specversion: '1.0', ...required };
  for (const name of OPTIONAL_STRINGS) {
    if (optional[name] !== undefined) out[name] = optional[name];
  }
  for (const [name, value] of extensions) out[name] = value;
  if (hasData) out.data = data;
  else if (dataBase64 !== undefined) out.data_base64 = dataBase64;
  return out as CloudEvent;
}

function missing(name: string): JunctionError {
  return new JunctionError('EVENT_ATTRIBUTE_MISSING', `required attribute '${name}' is missing or empty`, {
    details: { attribute: name },
  });
}

function invalid(name: string, message: string): JunctionError {
  return new JunctionError('EVENT_ATTRIBUTE_INVALID', message, { details: { attribute: name.slice(0, 64) } });
}

function wrongType(name: string, value: unknown, expected: string): JunctionError {
  return invalid(name, `attribute ${quote(name)} is ${jsonTypeOf(value)} (expected ${expected})`);
}

// Control characters (Cc: U+0000-U+001F, U+007F-U+009F) and Unicode noncharacters.
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Noncharacter_Code_Point}]/u;

/** Throws EVENT_ATTRIBUTE_INVALID when `value` breaks the CloudEvents String type. */
function checkString(name: string, value: string): void {
  const m = FORBIDDEN_CHARACTER.exec(value);
  if (m !== null) {
    const cp = m[0].codePointAt(0)!;
    const what = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ? 'a control character' : 'a unicode noncharacter';
    throw invalid(
      name,
      `attribute '${name.slice(0, 64)}' contains ${what} (${codePoint(cp)}) at index ${m.index}`,
    );
  }
  if (!value.isWellFormed()) {
    throw invalid(name, `attribute '${name.slice(0, 64)}' contains an unpaired surrogate`);
  }
}

function codePoint(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The JSON type of a value, for messages: "object", "array", "null", "number"... */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/**
 * A value for a message: single-quoted, at most 64 characters, with control characters and
 * quotes escaped so nothing can break a log line.
 */
export function quote(value: string): string {
  const cut = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  const escaped = cut.replace(/[\p{Cc}'\\]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `'${escaped}'`;
}

// --- RFC 3339 ------------------------------------------------------------------------------

// Every field sits at a fixed offset once the shape matches, so the numbers are read from there.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 `date-time` (section 5.6): full date, `T`, full time with a zone; leap seconds allowed. */
export function isRfc3339Timestamp(value: string): boolean {
  if (!TIMESTAMP.test(value)) return false;
  const digits = (at: number, count: number): number => {
    let n = 0;
    for (let i = at; i < at + count; i++) n = n * 10 + value.charCodeAt(i) - 0x30;
    return n;
  };
  const year = digits(0, 4);
  const month = digits(5, 2);
  const day = digits(8, 2);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (digits(11, 2) > 23 || digits(14, 2) > 59 || digits(17, 2) > 60) return false;
  const zone = value.length - 6; // `+hh:mm` or `-hh:mm` when the last character is not Z
  const last = value[value.length - 1];
  if (last !== 'Z' && last !== 'z' && (digits(zone + 1, 2) > 23 || digits(zone + 4, 2) > 59)) return false;
  return true;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// --- RFC 3986 ------------------------------------------------------------------------------

// unreserved / sub-delims / ":" / "@" / pct-encoded, the building blocks of RFC 3986 section 3.
const PCHAR = String.raw`(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})`;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const USERINFO = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*$/;
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
const IP_LITERAL = /^\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]$/;
const PORT = /^\d*$/;
const PATH = new RegExp(`^(?:${PCHAR}|/)*$`);
const SEGMENT_NZ_NC = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=@]|%[0-9A-Fa-f]{2})+/;
const QUERY_OR_FRAGMENT = new RegExp(`^(?:${PCHAR}|[/?])*$`);

interface UriParts {
  readonly scheme: string | undefined;
}

function parseUriReference(value: string): UriParts | undefined {
  let rest = value;
  const scheme = SCHEME.exec(rest)?.[0];
  if (scheme !== undefined) rest = rest.slice(scheme.length);

  const hash = rest.indexOf('#');
  if (hash >= 0) {
    if (!QUERY_OR_FRAGMENT.test(rest.slice(hash + 1))) return undefined;
    rest = rest.slice(0, hash);
  }
  const question = rest.indexOf('?');
  if (question >= 0) {
    if (!QUERY_OR_FRAGMENT.test(rest.slice(question + 1))) return undefined;
    rest = rest.slice(0, question);
  }
  let path = rest;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash >= 0 ? rest.slice(2, slash) : rest.slice(2);
    path = slash >= 0 ? rest.slice(slash) : '';
    if (!isAuthority(authority)) return undefined;
  } else if (scheme === undefined && path !== '' && !path.startsWith('/')) {
    // A relative path's first segment may not contain ':' (it would read as a scheme).
    const first = SEGMENT_NZ_NC.exec(path)?.[0] ?? '';
    const next = path[first.length];
    if (next !== undefined && next !== '/') return undefined;
  }
  if (!PATH.test(path)) return undefined;
  return { scheme };
}

function isAuthority(authority: string): boolean {
  let hostPort = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    if (!USERINFO.test(authority.slice(0, at))) return false;
    hostPort = authority.slice(at + 1);
  }
  let host = hostPort;
  let port = '';
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) return false;
    host = hostPort.slice(0, close + 1);
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return false;
      port = after.slice(1);
    }
    if (!IP_LITERAL.test(host)) return false;
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
    if (!REG_NAME.test(host)) return false;
  }
  return PORT.test(port);
}

/** RFC 3986 section 4.1 URI-reference: an absolute URI or a relative reference. */
export function isUriReference(value: string): boolean {
  return parseUriReference(value) !== undefined;
}

/**
 * An RFC 3986 URI with a scheme. The CloudEvents `URI` type is section 4.3's absolute-URI, which
 * has no fragment; a fragment is tolerated because schema references commonly carry one.
 */
export function isAbsoluteUri(value: string): boolean {
  return parseUriReference(value)?.scheme !== undefined;
}

// --- base64 ----------------------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** RFC 4648 section 4 base64: standard alphabet, padded, no whitespace. */
export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && BASE64.test(value);
}

// --- media types (RFC 2046 / RFC 9110 section 8.3.1) -----------------------------------------

export interface MediaType {
  /** Lowercased top-level type, e.g. `application`. */
  readonly type: string;
  /** Lowercased subtype, e.g. `cloudevents+json`. */
  readonly subtype: string;
  /** `type/subtype`, lowercased. */
  readonly essence: string;
  /** Parameters by lowercased name; quoted values unquoted; the first occurrence wins. */
  readonly parameters: ReadonlyMap<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses `type/subtype; name=value; ...`. Returns undefined when the text is not a media type.
 * Empty parameters (a stray or trailing `;`) are tolerated.
 */
export function parseMediaType(text: string): MediaType | undefined {
  // Senders repeat the same few content types: remember recent answers (bounded, so headers that
  // all differ cost a parse each and nothing more).
  if (mediaTypes.has(text)) return mediaTypes.get(text);
  const media = parseMediaTypeText(text);
  if (mediaTypes.size >= REMEMBERED) mediaTypes.clear();
  mediaTypes.set(text, media);
  return media;
}

/** How many parsed media types, and valid sources, are remembered. */
const REMEMBERED = 256;
const mediaTypes = new Map<string, MediaType | undefined>();
const validSources = new Set<string>();

function parseMediaTypeText(text: string): MediaType | undefined {
  const semi = text.indexOf(';');
  const essence = (semi >= 0 ? text.slice(0, semi) : text).trim();
  const slash = essence.indexOf('/');
  if (slash < 0) return undefined;
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;

  const parameters = new Map<string, string>();
  let i = semi >= 0 ? semi + 1 : text.length;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    if (text[i] === ';') {
      i++;
      continue;
    }
    const eq = text.indexOf('=', i);
    if (eq < 0) return undefined;
    const name = text.slice(i, eq).toLowerCase();
    if (!TOKEN.test(name)) return undefined;
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return undefined;
        const c = text[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= n) return undefined;
          value += text[i + 1];
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      const end = text.indexOf(';', i);
      value = (end >= 0 ? text.slice(i, end) : text.slice(i)).trimEnd();
      if (!TOKEN.test(value)) return undefined;
      i += value.length;
    }
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i < n && text[i] !== ';') return undefined;
    if (!parameters.has(name)) parameters.set(name, value);
  }
  const lowerType = type.toLowerCase();
  const lowerSubtype = subtype.toLowerCase();
  return { type: lowerType, subtype: lowerSubtype, essence: `${lowerType}/${lowerSubtype}`, parameters };
}

/** Subtype `json` or ending in `+json`: the JSON format's test for JSON-formatted data. */
export function isJsonMediaType(media: MediaType): boolean {
  return media.subtype === 'json' || media.subtype.endsWith('+json');
}

const TEXT_SUBTYPES = new Set([
  'xml',
  'x-www-form-urlencoded',
  'javascript',
  'ecmascript',
  'yaml',
  'x-yaml',
  'x-ndjson',
  'graphql',
]);

/**
 * Media types whose bytes are text Junction keeps as a string: type `text`, and subtypes `xml`,
 * `yaml`, `x-yaml`, `x-www-form-urlencoded`, `javascript`, `ecmascript`, `x-ndjson`, `graphql`
 * or ending in `+xml` or `+yaml`.
 */
export function isTextMediaType(media: MediaType): boolean {
  return (
    media.type === 'text' ||
    TEXT_SUBTYPES.has(media.subtype) ||
    media.subtype.endsWith('+xml') ||
    media.subtype.endsWith('+yaml')
  );
}
