/**
 * The generic webhook source (`type: webhook`): receives any JSON body and maps it to one
 * CloudEvent with CEL expressions from the entry's `map:` (type, subject, data, id), evaluated over
 * `body` (the parsed JSON) and `headers` (lower-case names).
 *
 * What callers may assume:
 * - Authentication is either Standard Webhooks signing (`secret: whsec_<base64>`: HMAC-SHA256 of
 *   `<webhook-id>.<webhook-timestamp>.<body>` with the decoded key, any `v1,<base64>` entry of
 *   `webhook-signature` may match, compared in constant time; the timestamp must be within
 *   `tolerance` seconds of the request's arrival) or a static credential through `http-auth.ts`
 *   (`token`, bearer). Every refusal is SOURCE_UNAUTHENTICATED; only a signed request whose
 *   timestamp is out of the window is told so (the sender holds the secret, its clock is off).
 * - Expressions are compiled once, when the source is created: a bad one is CONFIG_INVALID naming
 *   `sources[name=…].map.<field>` with the CEL message. At run time an expression that fails, or
 *   a type/subject/id that is not a string, is SOURCE_PAYLOAD_INVALID with the expression's
 *   message, never the data.
 * - The event: `type` from `map.type` (checked by `validateCloudEvent`), `source` is
 *   `webhook/<name>`, `data` exactly what `map.data` returns (default: the body itself); when
 *   `map.data` is set and returns an object, the original body is added as `data.payload`.
 * - The CloudEvent id is `map.id`, or the `webhook-id` header with the signing scheme, or the
 *   SHA-256 of the body; the dedupe key is `webhook:<name>:<id>`, so a redelivery is stored once.
 * - The `authorization` header is never given to the expressions, so no credential can be mapped
 *   into an event. `map` is pure and throws only SOURCE_PAYLOAD_INVALID.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { JunctionError, isJunctionError } from '../errors/index.ts';
import { parseJsonBytes, validateCloudEvent } from '../events/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { compileExpression } from '../expr/index.ts';
import type { CompiledExpression } from '../expr/index.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HttpAuth } from './http-auth.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const WEBHOOK_SOURCE_TYPE = 'webhook';
/** Default `tolerance`: how far (seconds) a signed timestamp may be from the arrival time. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** Largest accepted `tolerance`, in seconds (one day). */
export const MAX_TOLERANCE_SECONDS = 86_400;
/** The most `webhook-signature` entries looked at. */
export const MAX_SIGNATURES = 16;
/** Longest accepted event id (header or mapped), in characters. */
export const MAX_ID_LENGTH = 256;
const MAX_DEPTH = 64;
const MIN_KEY_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MAP_FIELDS = ['type', 'subject', 'data', 'id'] as const;
type MapField = (typeof MAP_FIELDS)[number];
const VARIABLES = ['body', 'headers'];

type Mapping = { readonly type: CompiledExpression } & {
  readonly [K in Exclude<MapField, 'type'>]?: CompiledExpression;
};

type Auth =
  | { readonly scheme: 'standard'; readonly key: Buffer; readonly tolerance: number }
  | { readonly scheme: 'http'; readonly http: HttpAuth };

/** Makes a `webhook` source; throws CONFIG_INVALID naming the entry for bad settings. */
export function createWebhookSource(settings: SourceSettings): Source {
  const where = `sources[name=${settings.name}]`;
  const problems: string[] = [];
  const auth = authFromSettings(settings, problems);
  const mapping = mappingFromSettings(settings.map, where, problems);
  if (problems.length > 0 || auth === undefined || mapping === undefined) {
    const message = problems.map((p) => (p.startsWith(where) ? p : `${where}: ${p}`)).join('; ');
    throw new JunctionError('CONFIG_INVALID', message, {
      details: { source: settings.name, problems },
    });
  }
  const name = settings.name;
  return {
    name,
    type: settings.type,
    authenticate(request: HookRequest): void {
      if (auth.scheme === 'http') checkHttpAuth(auth.http, request, name);
      else verifyStandardWebhook(auth.key, auth.tolerance, request, name);
    },
    map(request: HookRequest): SourceResult {
      try {
        return mapWebhook(request, name, mapping, auth.scheme === 'standard');
      } catch (error) {
        if (isJunctionError(error, 'SOURCE_PAYLOAD_INVALID')) throw error;
        // anything else is a bug here, but the contract is one error code
        throw payloadInvalid(`webhook payload could not be mapped`, error);
      }
    },
  };
}

function authFromSettings(settings: SourceSettings, problems: string[]): Auth | undefined {
  const secret = settings.secret as unknown;
  const tolerance = toleranceOf(settings.tolerance, problems);
  if (secret === undefined || secret === null) {
    if (settings.tolerance !== undefined) problems.push("'tolerance' applies only with 'secret'");
    try {
      return { scheme: 'http', http: httpAuthFromSettings(settings) };
    } catch (error) {
      if (!isJunctionError(error, 'CONFIG_INVALID')) throw error;
      problems.push(`needs 'secret' (standard webhooks) or 'token' (bearer): ${error.message}`);
      return undefined;
    }
  }
  if (settings.token !== undefined || settings.username !== undefined || settings.password !== undefined) {
    problems.push("set either 'secret' (standard webhooks) or 'token', not both");
  }
  const key = standardKey(secret, problems);
  if (key === undefined || tolerance === undefined) return undefined;
  return { scheme: 'standard', key, tolerance };
}

function toleranceOf(value: unknown, problems: string[]): number | undefined {
  if (value === undefined || value === null) return DEFAULT_TOLERANCE_SECONDS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TOLERANCE_SECONDS) {
    problems.push(`'tolerance' must be a whole number of seconds from 1 to ${MAX_TOLERANCE_SECONDS}`);
    return undefined;
  }
  return value;
}

/** The signing key of a `whsec_<base64>` secret (the prefix is optional, as in the spec's libraries). */
function standardKey(secret: unknown, problems: string[]): Buffer | undefined {
  if (typeof secret !== 'string' || secret === '') {
    problems.push("'secret' must be a non-empty string");
    return undefined;
  }
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) {
    problems.push("'secret' must be 'whsec_' followed by base64 (the signing secret the sender shows)");
    return undefined;
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES) {
    problems.push(`'secret' decodes to ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
    return undefined;
  }
  return key;
}

function mappingFromSettings(value: unknown, where: string, problems: string[]): Mapping | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push("needs 'map' with at least 'type' (a cel expression, e.g. \"'deploy.requested'\")");
    return undefined;
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(MAP_FIELDS as readonly string[]).includes(key)) {
      problems.push(`'map.${key.slice(0, 40)}' is not known (known: ${MAP_FIELDS.join(', ')})`);
    }
  }
  const compiled: Partial<Record<MapField, CompiledExpression>> = {};
  for (const field of MAP_FIELDS) {
    const source = raw[field];
    if (source === undefined || source === null) {
      if (field === 'type') problems.push("'map.type' is required (a cel expression)");
      continue;
    }
    if (typeof source !== 'string') {
      problems.push(`'map.${field}' must be a cel expression written as a string`);
      continue;
    }
    try {
      compiled[field] = compileExpression(source, { variables: VARIABLES });
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'invalid';
      problems.push(`${where}.map.${field}: ${reason}`);
    }
  }
  const type = compiled.type;
  if (type === undefined) return undefined;
  return { ...compiled, type };
}

/** Checks a Standard Webhooks signature and timestamp; throws SOURCE_UNAUTHENTICATED. */
function verifyStandardWebhook(key: Buffer, tolerance: number, request: HookRequest, name: string): void {
  const id = request.headers['webhook-id'];
  const timestamp = request.headers['webhook-timestamp'];
  const signature = request.headers['webhook-signature'];
  const ok =
    id !== undefined &&
    timestamp !== undefined &&
    signature !== undefined &&
    id !== '' &&
    id.length <= MAX_ID_LENGTH &&
    /^\d{1,15}$/.test(timestamp) &&
    signatureMatches(key, `${id}.${timestamp}.`, request.body, signature);
  if (!ok) {
    throw new JunctionError(
      'SOURCE_UNAUTHENTICATED',
      `source '${name}' refused the request: missing or wrong webhook-id, webhook-timestamp or webhook-signature`,
      { details: { source: name, scheme: 'standard-webhooks' } },
    );
  }
  const skew = Math.round(request.receivedAt.getTime() / 1000) - Number(timestamp);
  if (Math.abs(skew) > tolerance) {
    const direction = skew > 0 ? 'old' : 'in the future';
    throw new JunctionError(
      'SOURCE_UNAUTHENTICATED',
      `source '${name}' refused the request: webhook-timestamp is ${Math.abs(skew)}s ${direction}, outside the tolerance of ${tolerance}s (a replay, or the sender's clock is off)`,
      { details: { source: name, scheme: 'standard-webhooks', skewSeconds: skew, tolerance } },
    );
  }
}

function signatureMatches(key: Buffer, prefix: string, body: Buffer, header: string): boolean {
  const expected = createHmac('sha256', key).update(prefix, 'utf8').update(body).digest();
  let matched = false;
  const entries = header.split(' ').slice(0, MAX_SIGNATURES);
  for (const entry of entries) {
    if (!entry.startsWith('v1,')) continue;
    const encoded = entry.slice(3);
    if (!BASE64.test(encoded)) continue;
    const given = Buffer.from(encoded, 'base64');
    // every entry is compared, so timing does not tell which one matched
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

/** Maps one delivery with the compiled expressions; pure; throws only SOURCE_PAYLOAD_INVALID. */
function mapWebhook(request: HookRequest, name: string, mapping: Mapping, signed: boolean): SourceResult {
  const body = parseBody(request.body);
  const context = { body, headers: headersFor(request.headers) };
  const type = evaluateString(mapping.type, 'type', context);
  const subject =
    mapping.subject === undefined ? undefined : evaluateString(mapping.subject, 'subject', context);
  const id =
    mapping.id === undefined ? defaultId(request, signed) : evaluateString(mapping.id, 'id', context);
  if (id === '' || id.length > MAX_ID_LENGTH) {
    throw payloadInvalid(`map.id returned an id that is empty or longer than ${MAX_ID_LENGTH} characters`);
  }
  let data: unknown = body;
  if (mapping.data !== undefined) {
    data = evaluate(mapping.data, 'data', context);
    if (isObject(data)) data = { ...data, payload: body };
  }
  const timestamp = request.headers['webhook-timestamp'];
  const time =
    signed && timestamp !== undefined && /^\d{1,12}$/.test(timestamp)
      ? new Date(Number(timestamp) * 1000).toISOString()
      : undefined;
  const candidate: CloudEvent = {
    specversion: '1.0',
    id,
    source: `${WEBHOOK_SOURCE_TYPE}/${name}`,
    type,
    ...(subject === undefined ? {} : { subject }),
    ...(time === undefined ? {} : { time }),
    datacontenttype: 'application/json',
    data,
  };
  let event: CloudEvent;
  try {
    event = validateCloudEvent(candidate);
  } catch (error) {
    const reason = error instanceof Error ? error.message.slice(0, 300) : 'invalid';
    throw payloadInvalid(`the mapped event is not a valid cloudevent: ${reason}`, error);
  }
  const mapped: MappedEvent = { event, dedupeKey: `${WEBHOOK_SOURCE_TYPE}:${name}:${id}` };
  return { events: [mapped] };
}

function parseBody(bytes: Buffer): unknown {
  let value: unknown;
  try {
    value = parseJsonBytes(bytes, { maxDepth: MAX_DEPTH, what: 'webhook payload' }).value;
  } catch (error) {
    throw payloadInvalid(error instanceof Error ? error.message : 'webhook payload is unreadable', error);
  }
  if (typeof value !== 'object' || value === null) {
    throw payloadInvalid(
      `webhook payload must be a json object or array (got ${value === null ? 'null' : typeof value})`,
    );
  }
  return value;
}

/** The request headers the expressions see: every one but `authorization`. */
function headersFor(headers: HookRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && key !== 'authorization') out[key] = value;
  }
  return out;
}

function defaultId(request: HookRequest, signed: boolean): string {
  const header = request.headers['webhook-id'];
  if (signed && header !== undefined && header !== '') return header;
  return createHash('sha256').update(request.body).digest('hex');
}

function evaluate(
  expression: CompiledExpression,
  field: MapField,
  context: Record<string, unknown>,
): unknown {
  try {
    return expression.evaluate(context);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'evaluation failed';
    throw payloadInvalid(`map.${field}: ${reason}`, error);
  }
}

function evaluateString(
  expression: CompiledExpression,
  field: MapField,
  context: Record<string, unknown>,
): string {
  const value = evaluate(expression, field, context);
  if (typeof value !== 'string') {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value;
    throw payloadInvalid(
      `map.${field} '${expression.source.slice(0, 80)}' returned ${kind}, expected a string`,
    );
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function payloadInvalid(message: string, cause?: unknown): JunctionError {
  return new JunctionError('SOURCE_PAYLOAD_INVALID', message, cause === undefined ? {} : { cause });
}
