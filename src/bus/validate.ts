/**
 * Checks shared by every bus adapter, so that a name or message one adapter accepts is accepted by
 * all of them: topic and group names, message ids, header names and values, and subscribe options.
 * Pure functions; each failure is a `JunctionError` that quotes the offending value.
 */
import { JunctionError } from '../errors/index.ts';
import type { BusMessage, SubscribeOptions } from './bus.ts';

/** Topic and group names: letters, digits, `_` and `-`, 1 to 100 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** Header names starting with this (any case) are reserved for the brokers' own use. */
export const RESERVED_HEADER_PREFIX = 'nats-';

const HEADER_NAME_PATTERN = /^[!-9;-~]+$/; // printable ASCII (33..126) except ':'
const LINE_BREAK = /[\r\n]/;
const DEFAULT_RETRY_DELAY_MS = 1000;

/** Throws `BUS_TOPIC_INVALID` unless `value` is a valid topic or group name. */
export function assertName(kind: 'topic' | 'group' | 'prefix', value: unknown): asserts value is string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new JunctionError(
      'BUS_TOPIC_INVALID',
      `${kind} name '${String(value).slice(0, 120)}' is invalid; expected 1 to 100 of [A-Za-z0-9_-]`,
    );
  }
}

/**
 * Checks a message before it is published and returns its headers as the bus carries them:
 * names as given, values without surrounding whitespace (brokers do not keep it), and
 * `undefined` when there are none.
 */
export function checkMessage(message: BusMessage): Readonly<Record<string, string>> | undefined {
  const { id, data, headers } = message;
  if (typeof id !== 'string' || id.length === 0 || id.length > 1024 || LINE_BREAK.test(id)) {
    throw invalid(
      `message id '${String(id).slice(0, 120)}' is invalid; expected 1 to 1024 characters on one line`,
    );
  }
  if (!(data instanceof Uint8Array)) {
    throw invalid(`message '${id}' has data of type '${typeof data}'; expected a Uint8Array`);
  }
  if (headers === undefined) return undefined;
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (!goodHeaderNames.has(name)) {
      checkHeaderName(name);
      // Publishers use a few fixed names: remember them (bounded) rather than test each again.
      if (goodHeaderNames.size >= 64) goodHeaderNames.clear();
      goodHeaderNames.add(name);
    }
    if (typeof value !== 'string' || LINE_BREAK.test(value)) {
      throw invalid(`header '${name}' has an invalid value; expected a string on one line`);
    }
    out[name] = value.trim();
  }
  return Object.freeze(out);
}

const goodHeaderNames = new Set<string>();

/** Throws BUS_MESSAGE_INVALID unless `name` may name a header on every broker. */
function checkHeaderName(name: string): void {
  if (!HEADER_NAME_PATTERN.test(name)) {
    throw invalid(
      `header name '${name.slice(0, 120)}' is invalid; expected printable ASCII without ':' or spaces`,
    );
  }
  if (name.toLowerCase().startsWith(RESERVED_HEADER_PREFIX)) {
    throw invalid(`header name '${name}' is reserved; names starting with 'Nats-' belong to the broker`);
  }
}

export interface SubscribeSettings {
  readonly maxInFlight: number;
  readonly retryDelayMs: number;
}

/** Subscribe options with defaults applied; nonsense values fall back to the defaults. */
export function subscribeSettings(options: SubscribeOptions | undefined): SubscribeSettings {
  const max = options?.maxInFlight;
  const delay = options?.retryDelayMs;
  return {
    maxInFlight: typeof max === 'number' && Number.isFinite(max) && max >= 1 ? Math.floor(max) : 1,
    retryDelayMs:
      typeof delay === 'number' && Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_RETRY_DELAY_MS,
  };
}

/** A retry delay as a whole number of milliseconds ≥ 0; anything else becomes `fallbackMs`. */
export function retryDelay(afterMs: unknown, fallbackMs: number): number {
  return typeof afterMs === 'number' && Number.isFinite(afterMs) && afterMs >= 0
    ? Math.ceil(afterMs)
    : fallbackMs;
}

function invalid(message: string): JunctionError {
  return new JunctionError('BUS_MESSAGE_INVALID', message);
}
