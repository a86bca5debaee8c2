/**
 * Engine-independent helpers for listing events: the opaque page cursor, the `since`/`until`
 * time filters and the page limit. Every store uses them, so a cursor or a filter means the same
 * thing whichever engine holds the events.
 *
 * Callers may assume: a cursor is base64url of `{"s":<seq>,"o":"asc"|"desc"}`; anything that does
 * not decode to exactly that is `API_CURSOR_INVALID`; a cursor's order wins over the request's; times are normalised to the UTC ISO 8601 form
 * with milliseconds that stores write, so they compare as strings.
 */
import { JunctionError } from '../errors/index.ts';

export type SortOrder = 'asc' | 'desc';

export interface CursorPosition {
  /** The seq of the last item of the page the cursor follows. */
  readonly seq: number;
  readonly order: SortOrder;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ s: position.seq, o: position.order }), 'utf8').toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes a cursor issued by `encodeCursor`; anything else throws `API_CURSOR_INVALID`. */
export function decodeCursor(cursor: string): CursorPosition {
  const invalid = (): JunctionError =>
    new JunctionError('API_CURSOR_INVALID', `cursor '${shorten(cursor)}' was not issued by this server`);
  if (!BASE64URL.test(cursor)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid();
  const { s, o, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid();
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) throw invalid();
  if (o !== 'asc' && o !== 'desc') throw invalid();
  return { seq: s, order: o };
}

/**
 * The order a page is read in: a cursor's own order wins, since following a cursor in the other
 * order would skip or repeat items; without a cursor, the request's order, else `desc`.
 */
export function resolveOrder(
  requested: SortOrder | undefined,
  cursor: CursorPosition | undefined,
): SortOrder {
  return cursor?.order ?? requested ?? 'desc';
}

/** Page sizes a store accepts; the API layer sets its own, smaller maximum. */
export const MAX_PAGE_LIMIT = 10_000;

export function checkLimit(limit: number, name = 'limit'): number {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `${name} '${String(limit)}' must be an integer from 1 to ${String(MAX_PAGE_LIMIT)}`,
    );
  }
  return limit;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Normalises an ISO 8601 time (a date, or a date-time with `Z` or an offset) to the form stores
 * write: `YYYY-MM-DDTHH:MM:SS.mmmZ`. A date-time without a zone is refused rather than guessed.
 */
export function normalizeTime(value: string, name: string): string {
  const millis = ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(millis)) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `${name} '${shorten(value)}' must be an ISO 8601 date or a date-time with a zone, e.g. 2024-05-01T12:00:00Z`,
    );
  }
  return new Date(millis).toISOString();
}

/** Now as stores write it: UTC ISO 8601 with milliseconds. */
export function nowIso(): string {
  return new Date().toISOString();
}

function shorten(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}
