/**
 * Parsing of the unit strings `junction.yaml` accepts: byte sizes (`512KiB`, `1MiB`, `2MB`) and
 * durations (`500ms`, `30s`, `2m`, `1h`). Pure functions; each returns `undefined` for input it
 * does not accept, so validation can phrase its own message.
 */

const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest duration a Node timer can wait (2^31 - 1 ms). */
export const MAX_DURATION_MS = 2_147_483_647;

const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/**
 * A byte count from a whole number or a string with a unit: B, KB/MB/GB (powers of 1000) or
 * KiB/MiB/GiB (powers of 1024), case-insensitive. Fractions round down to whole bytes. Returns
 * undefined for anything else, and for results below 1 or beyond a safe integer.
 */
export function parseByteSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 1 ? value : undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return parseByteSize(Number(text));
  const match = BYTE_SIZE.exec(text);
  if (!match) return undefined;
  const factor = BYTE_UNITS[match[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  return parseByteSize(Math.floor(Number(match[1]) * factor));
}

/**
 * Milliseconds from a whole number or a string with a unit: ms, s, m or h (`1.5s` is fine).
 * Returns undefined for anything else, for results that are not whole milliseconds, below 1, or
 * longer than `MAX_DURATION_MS`.
 */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 1 && value <= MAX_DURATION_MS ? value : undefined;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) return parseDuration(Number(text));
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * DURATION_UNITS[match[2]!]!;
  return parseDuration(Math.round(ms * 1000) / 1000);
}
