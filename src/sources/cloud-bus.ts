/**
 * Small pieces shared by the cloud event bus sources (`eventbridge`, `pubsub`, `eventgrid`):
 * reading a JSON body within limits, reading fields without trusting their types, and turning a
 * candidate event into a validated CloudEvent.
 *
 * What callers may assume:
 * - Every function that refuses input throws `SOURCE_PAYLOAD_INVALID` and nothing else; messages
 *   quote at most a short, bounded piece of a value and never a credential.
 * - `guardMap` turns any other error thrown while mapping into `SOURCE_PAYLOAD_INVALID`, so a
 *   source keeps its one-error-code contract even on a bug.
 */
import type { CloudEvent } from '../events/index.ts';
import { parseJsonBytes, validateCloudEvent } from '../events/index.ts';
import { JunctionError, errorMessage, isJunctionError } from '../errors/index.ts';

export type JsonObject = Record<string, unknown>;

/** Deeper JSON than this is refused before parsing (cloud buses nest far less). */
export const MAX_JSON_DEPTH = 64;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses a body as JSON (UTF-8, bounded depth); throws SOURCE_PAYLOAD_INVALID. */
export function readJson(body: Uint8Array, what: string): unknown {
  try {
    return parseJsonBytes(body, { maxDepth: MAX_JSON_DEPTH, what }).value;
  } catch (error) {
    throw invalid(`${what} is not valid JSON: ${errorMessage(error)}`, error);
  }
}

/** Validates a candidate event; a problem becomes SOURCE_PAYLOAD_INVALID naming `what`. */
export function finishEvent(candidate: unknown, what: string): CloudEvent {
  try {
    return validateCloudEvent(candidate);
  } catch (error) {
    throw invalid(`${what} does not make a valid CloudEvent: ${errorMessage(error)}`, error);
  }
}

/** Runs a mapping; any error but SOURCE_PAYLOAD_INVALID becomes one, naming `label`. */
export function guardMap<T>(label: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (isJunctionError(error, 'SOURCE_PAYLOAD_INVALID')) throw error;
    throw invalid(`${label} payload could not be mapped`, error);
  }
}

/** A required non-empty string field; throws SOURCE_PAYLOAD_INVALID naming `path`. */
export function requiredString(object: JsonObject, key: string, path: string): string {
  const value = object[key];
  if (typeof value !== 'string' || value === '') {
    throw invalid(`${path} must be a non-empty string (got ${kindOf(value)})`);
  }
  return value;
}

/** A required RFC 3339 timestamp, returned as received. */
export function requiredTime(object: JsonObject, key: string, path: string): string {
  const value = requiredString(object, key, path);
  if (value.length > 64 || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid(`${path} is not an rfc 3339 timestamp`);
  }
  return value;
}

export function obj(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A non-empty string, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A value cut to `max` characters for a message. */
export function short(value: string, max = 80): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

export function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

export function invalid(message: string, cause?: unknown): JunctionError {
  return new JunctionError('SOURCE_PAYLOAD_INVALID', message, cause === undefined ? {} : { cause });
}

/**
 * `value` with every character that RFC 3986 does not allow in a URI reference percent-encoded
 * (as UTF-8), and a `%` not followed by two hex digits written `%25`. A valid URI reference comes
 * back unchanged, so the result is stable for the same input. Cloud providers' documentation uses
 * placeholders such as `<subscription-id>` in resource paths; these become `%3Csubscription-id%3E`.
 */
export function uriSafe(value: string): string {
  return value.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch (error) {
      throw invalid('a source or topic holds an unpaired surrogate', error);
    }
  });
}
