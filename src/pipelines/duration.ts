/**
 * Durations in pipeline files: a whole number with a unit, `500ms`, `30s`, `10m`, `2h`, at most
 * 24 hours. Pure; `undefined` for anything else, so validation can phrase its own message.
 */
import { MAX_DURATION_MS } from './schema.ts';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of `text`, or undefined when it is not a duration from 1ms to 24h. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h)$/.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS[match[2]!]!;
  return ms >= 1 && ms <= MAX_DURATION_MS ? ms : undefined;
}
