/**
 * Shared parts of the container-registry sources (distribution registry, Docker Hub, Harbor):
 * reading a JSON object body, reading fields with paths for error messages, and turning a
 * candidate CloudEvent into a validated `MappedEvent`.
 *
 * What callers may assume:
 * - Every function throws only SOURCE_PAYLOAD_INVALID, whose message names a path and a kind
 *   (`a string`, `an array`), never a value taken from the payload.
 * - `readJsonObject` bounds nesting depth and refuses empty, non-UTF-8 or non-object bodies.
 */
import { JunctionError } from '../errors/index.ts';
import { parseJsonBytes, validateCloudEvent } from '../events/index.ts';
import type { CloudEvent } from '../events/index.ts';
import type { MappedEvent } from './source.ts';

export type JsonObject = { readonly [key: string]: unknown };

const MAX_DEPTH = 64;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

export function payloadInvalid(message: string, cause?: unknown): JunctionError {
  return new JunctionError('SOURCE_PAYLOAD_INVALID', message, cause === undefined ? {} : { cause });
}

/** Parses `body` as a JSON object; `what` names it in messages (`harbor payload`). */
export function readJsonObject(body: Uint8Array, what: string): JsonObject {
  let value: unknown;
  try {
    value = parseJsonBytes(body, { maxDepth: MAX_DEPTH, what }).value;
  } catch (error) {
    throw payloadInvalid(error instanceof Error ? error.message : `${what} is unreadable`, error);
  }
  if (!isObject(value)) throw payloadInvalid(`${what} must be a json object (got ${kindOf(value)})`);
  return value;
}

/** The object at `object[key]`; throws naming `path` when it is anything else. */
export function requireObject(object: JsonObject, key: string, path: string): JsonObject {
  const value = object[key];
  if (!isObject(value)) throw payloadInvalid(`${path} must be an object (got ${kindOf(value)})`);
  return value;
}

/** A non-empty string at `object[key]`, at most `max` characters. */
export function requireString(object: JsonObject, key: string, path: string, max = 1024): string {
  const value = optionalString(object, key, path, max);
  if (value === undefined || value === '') {
    throw payloadInvalid(
      `${path} must be a non-empty string (got ${value === '' ? 'an empty string' : kindOf(object[key])})`,
    );
  }
  return value;
}

/** A string at `object[key]`, or undefined when absent or null; throws for any other kind. */
export function optionalString(
  object: JsonObject,
  key: string,
  path: string,
  max = 1024,
): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw payloadInvalid(`${path} must be a string (got ${kindOf(value)})`);
  if (value.length > max) throw payloadInvalid(`${path} is longer than ${max} characters`);
  return value;
}

/** A finite number at `object[key]`, or undefined when absent or null. */
export function optionalNumber(object: JsonObject, key: string, path: string): number | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw payloadInvalid(`${path} must be a number (got ${kindOf(value)})`);
  }
  return value;
}

/** `value` when it is an RFC 3339 timestamp, else undefined. */
export function rfc3339OrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 64 && RFC3339.test(value) ? value : undefined;
}

/** Unix seconds (possibly fractional) as an RFC 3339 UTC timestamp; undefined when out of range. */
export function unixSecondsToRfc3339(seconds: number | undefined): string | undefined {
  if (seconds === undefined || seconds < 0 || seconds > 253402300799) return undefined;
  return new Date(Math.round(seconds * 1000)).toISOString();
}

/** Validates `candidate`; a mapping that makes an invalid event is a payload problem. */
export function mappedEvent(candidate: CloudEvent, dedupeKey: string, path: string): MappedEvent {
  let event: CloudEvent;
  try {
    event = validateCloudEvent(candidate);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid';
    throw payloadInvalid(`${path} does not make a valid event: ${reason}`, error);
  }
  return { event, dedupeKey };
}

/** Reads an optional string setting of a source entry; throws CONFIG_INVALID naming it. */
export function stringSetting(settings: JsonObject, sourceName: string, key: string): string | undefined {
  const value = settings[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `sources[name=${sourceName}]: '${key}' must be a non-empty string`,
      {
        details: { source: sourceName, key },
      },
    );
  }
  return value;
}

/** The `auth:` value by which an entry accepts deliveries that carry no credential. */
export const AUTH_NONE = 'none';

/**
 * Refuses (CONFIG_INVALID) an entry of a source type that cannot authenticate deliveries unless
 * it says `auth: none`; `why` explains the provider's limit and ends by asking for `auth: none`.
 */
export function requireAuthNone(settings: JsonObject & { readonly name: string }, why: string): void {
  if (settings.auth === AUTH_NONE) return;
  throw new JunctionError('CONFIG_INVALID', `sources[name=${settings.name}]: ${why}`, {
    details: { source: settings.name, key: 'auth' },
  });
}

/** Rethrows SOURCE_PAYLOAD_INVALID as is; wraps anything else (a bug) into it. */
export function asPayloadInvalid(error: unknown, what: string): JunctionError {
  if (error instanceof JunctionError && error.code === 'SOURCE_PAYLOAD_INVALID') return error;
  return payloadInvalid(`${what} could not be mapped`, error);
}
