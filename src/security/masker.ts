/**
 * Masking of secret values in text that leaves Junction (step logs, error messages). A masker is
 * built once from the secret values a run may see; `mask` replaces every occurrence of any of them
 * with `***`.
 *
 * What callers may assume:
 * - Besides each value as it is, these forms are masked: each line of a multi-line value on its
 *   own (logs are masked a line at a time); the value in standard and URL-safe base64, padded and
 *   not; the part of that base64 that does not depend on neighbouring bytes when the value sits at
 *   any of the three byte offsets of a longer base64-encoded text (as in `user:secret` sent as
 *   basic auth); the value URI-encoded (`encodeURIComponent`, and form encoding with spaces as
 *   `+`); and the value as it appears inside a JSON string (quotes, backslashes and control
 *   characters escaped, with and without `/` escaped).
 * - Values and lines shorter than `MIN_MASKED_LENGTH` (4) characters are not masked: masking `ab`
 *   would blank out every `ab` in a log and tell a reader the secret anyway. `junction secret set`
 *   refuses such values. Whitespace-only values and lines are skipped for the same reason, and a
 *   line is matched without its surrounding whitespace.
 * - Occurrences that overlap (two secrets sharing characters, one secret inside another) are
 *   merged and replaced by one `***`, so no part of either is left in view.
 * - Matching is exact and case-sensitive. A value split across two `mask` calls, or transformed
 *   in a way not listed above (hex, reversed, quoted by a shell), is not found.
 * - Cost: one regular-expression scan for the four-character heads of all forms, then a direct
 *   comparison where a head matches; linear in the text for ordinary logs.
 */

export const MASK = '***';

/** Values (and lines of values) shorter than this are never masked. */
export const MIN_MASKED_LENGTH = 4;

const HEAD_LENGTH = MIN_MASKED_LENGTH;

export interface Masker {
  /** True when there is nothing to mask; `mask` then returns its input. */
  readonly empty: boolean;
  /** `text` with every occurrence of every masked form replaced by `***`. */
  mask(text: string): string;
}

const EMPTY_MASKER: Masker = Object.freeze({ empty: true, mask: (text: string) => text });

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * The characters of the base64 encoding of `bytes` that stay the same whatever bytes come before
 * and after, when `bytes` starts `offset` (0, 1 or 2) bytes into a 3-byte group.
 */
function stableBase64(bytes: Buffer, offset: number, encoding: 'base64' | 'base64url'): string {
  const shifted = Buffer.concat([Buffer.alloc(offset), bytes]);
  const encoded = shifted.toString(encoding).replace(/=+$/, '');
  // Character i covers bits [6i, 6i + 6); keep those that lie wholly inside `bytes`.
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + bytes.length)) / 6);
  return encoded.slice(first, end);
}

function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms: string[] = [];
  for (const encoding of ['base64', 'base64url'] as const) {
    const unpadded = bytes.toString(encoding).replace(/=+$/, '');
    const padding = '='.repeat((4 - (unpadded.length % 4)) % 4);
    forms.push(unpadded, unpadded + padding);
    for (const offset of [0, 1, 2]) forms.push(stableBase64(bytes, offset, encoding));
  }
  return forms;
}

function uriForms(value: string): string[] {
  const component = encodeURIComponent(value);
  return [
    component,
    component.replaceAll('%20', '+'),
    new URLSearchParams([['', value]]).toString().slice(1),
  ];
}

function jsonForms(value: string): string[] {
  const escaped = JSON.stringify(value).slice(1, -1);
  return [escaped, escaped.replaceAll('/', '\\/')];
}

/** Every form of `value` a masker looks for, longest first; empty when the value is too short. */
export function maskedForms(value: string): string[] {
  if (value.trim().length < MIN_MASKED_LENGTH) return [];
  const forms = new Set<string>([value]);
  const lines = value.split(/\r\n|\r|\n/);
  if (lines.length > 1) for (const line of lines) forms.add(line.trim());
  let uri: string[];
  try {
    uri = uriForms(value);
  } catch {
    // A lone surrogate cannot be URI-encoded; such a value has no URI form to find.
    uri = [];
  }
  for (const form of [...base64Forms(value), ...uri, ...jsonForms(value)]) forms.add(form);
  return [...forms]
    .filter((form) => form.trim().length >= MIN_MASKED_LENGTH)
    .sort((a, b) => b.length - a.length);
}

/** Merges [start, end) ranges sorted by start; overlapping ranges become one. */
function mergeRanges(ranges: [number, number][]): [number, number][] {
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last !== undefined && range[0] < last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push(range);
  }
  return merged;
}

/** A masker for `values`; an empty list (or only short values) gives an identity masker. */
export function createMasker(values: readonly string[]): Masker {
  const forms = [...new Set(values.flatMap(maskedForms))].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return EMPTY_MASKER;

  // Forms grouped by their first four characters, each group longest first.
  const byHead = new Map<string, string[]>();
  for (const form of forms) {
    const head = form.slice(0, HEAD_LENGTH);
    const group = byHead.get(head);
    if (group === undefined) byHead.set(head, [form]);
    else group.push(form);
  }
  const heads = new RegExp([...byHead.keys()].map(escapeRegExp).join('|'), 'g');

  const mask = (text: string): string => {
    const ranges: [number, number][] = [];
    heads.lastIndex = 0;
    for (let match = heads.exec(text); match !== null; match = heads.exec(text)) {
      const start = match.index;
      const found = byHead.get(match[0])?.find((form) => text.startsWith(form, start));
      if (found !== undefined) ranges.push([start, start + found.length]);
      // Go on from the next character, so overlapping occurrences are found too.
      heads.lastIndex = start + 1;
    }
    if (ranges.length === 0) return text;
    let out = '';
    let at = 0;
    for (const [start, end] of mergeRanges(ranges)) {
      out += text.slice(at, start) + MASK;
      at = end;
    }
    return out + text.slice(at);
  };
  return Object.freeze({ empty: false, mask });
}
