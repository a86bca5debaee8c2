/**
 * Safe JSON decoding for bodies that arrive from the network.
 *
 * `parseJsonBytes` is the one way intake turns raw bytes into a JSON value. In order it:
 * 1. decodes the bytes as UTF-8, refusing invalid sequences (overlong forms, UTF-8-encoded
 *    surrogates, truncated sequences) with the byte offset of the first bad one
 *    (EVENT_INVALID_UTF8); a leading byte order mark is ignored, as RFC 8259 allows;
 * 2. runs `scanJson`, a single pass over the bytes that measures nesting depth without building
 *    anything and stops at the first level past the limit (EVENT_TOO_DEEP), so a body like
 *    100,000 `[` costs one short loop, never a deep recursion or a deep object graph;
 * 3. parses with `JSON.parse`; on a syntax error it locates the first error itself and reports
 *    its position (line, column, offset) and what was expected, never a piece of the payload
 *    (EVENT_MALFORMED_JSON);
 * 4. refuses numbers too large for a double (`1e400`), which `JSON.parse` would silently turn into
 *    `Infinity` and which would come back out as `null`.
 *
 * Depth counts open arrays and objects: a scalar is depth 0, `{}` is 1, `{"data":{}}` is 2, and a
 * batch (an array of events) adds one level. The limit applies to the whole body as received.
 *
 * What callers may assume about the returned value: it is exactly what `JSON.parse` returns.
 * Keys such as `__proto__` become ordinary own properties (JSON.parse defines, never assigns),
 * so nothing reaches any prototype; code that copies such values must also define rather than
 * assign (object spread and structuredClone are fine, `Object.assign` is not). Duplicate member
 * names keep the last value, as everywhere in JavaScript; `scanJson` can report the first
 * duplicate in the outer levels (the event envelope) so that callers can refuse ambiguous
 * attributes. Integers beyond 2^53 lose precision, as JSON numbers do in every JavaScript program.
 * Lone surrogate escapes such as `"\ud800"` are valid JSON and are kept; `JSON.stringify`
 * writes them back as escapes, so they survive a round trip.
 */
import { isAscii } from 'node:buffer';
import { JunctionError } from '../errors/index.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const UPPER_E = 0x45;
const LOWER_E = 0x65;

/** A double overflows to Infinity only past ~1.8e308, so a shorter digit run cannot overflow. */
const MAX_SAFE_DIGIT_RUN = 300;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

export interface JsonScanOptions {
  /** The deepest nesting allowed; one level more throws EVENT_TOO_DEEP. */
  readonly maxDepth: number;
  /**
   * Objects nested at most this deep have their member names checked for duplicates (1 means
   * the top-level object only, 2 also the objects directly inside a top-level array). 0, the
   * default, checks nothing.
   */
  readonly duplicateKeyDepth?: number;
  /**
   * Find where the value of the top-level object's `data` member lies (needs
   * `duplicateKeyDepth` ≥ 1), so that a caller can keep that JSON text instead of serializing the
   * parsed value again. A name spelled with escapes (`"d\u0061ta"`) is not looked for.
   */
  readonly findData?: boolean;
  /**
   * Count the members of the objects within `duplicateKeyDepth` (`members`) instead of comparing
   * their names: far cheaper, and a parse that yields fewer members than were counted had a
   * duplicate (`parseJsonBytes` then scans again by name). `duplicateKey` stays undefined.
   */
  readonly countMembers?: boolean;
}

export interface DuplicateKey {
  /** The repeated member name (after JSON unescaping). */
  readonly name: string;
  /** The nesting depth of the object that repeats it. */
  readonly depth: number;
  /** The index of the enclosing element when the top level is an array, else -1. */
  readonly element: number;
}

export interface JsonScanResult {
  /** The deepest nesting seen (at most `maxDepth`). */
  readonly depth: number;
  /** The first repeated member name within `duplicateKeyDepth`, if any. */
  readonly duplicateKey: DuplicateKey | undefined;
  /** True when some number has an exponent or a very long digit run and might overflow. */
  readonly mayOverflow: boolean;
  /**
   * With `findData`: the byte range from just after the top-level `data` member's name to the
   * comma or brace that ends its value (so it holds the colon and any whitespace around the value).
   */
  readonly dataSpan: readonly [start: number, end: number] | undefined;
  /** With `countMembers`: members of the objects within `duplicateKeyDepth`; otherwise 0. */
  readonly members: number;
}

/**
 * One pass over JSON bytes, respecting strings and escapes: nesting depth, duplicate member names
 * in the outer levels, and whether any number could overflow. It does not validate the syntax
 * (JSON.parse does that next); on malformed input its findings are meaningless but harmless.
 * Works on raw bytes: UTF-8 multi-byte sequences never contain ASCII bytes, so they cannot be
 * mistaken for quotes or brackets.
 */
export function scanJson(bytes: Uint8Array, options: JsonScanOptions): JsonScanResult {
  const { maxDepth } = options;
  const keyDepth = options.duplicateKeyDepth ?? 0;
  const n = bytes.length;
  // Per-level bookkeeping only for the outer levels where duplicates are checked.
  const isObject: boolean[] = [];
  const keys: (Set<string> | undefined)[] = [];
  let depth = 0;
  let deepest = 0;
  let expectKey = false;
  let topIsArray = false;
  let element = 0;
  let digitRun = 0;
  let mayOverflow = false;
  let duplicateKey: DuplicateKey | undefined;
  const findData = options.findData === true;
  const countMembers = options.countMembers === true;
  let members = 0;
  let dataStart = -1;
  let dataSpan: [number, number] | undefined;

  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) {
      // Jump to the closing quote: the next quote not preceded by an odd run of backslashes.
      const start = i + 1;
      let from = start;
      for (;;) {
        const q = bytes.indexOf(QUOTE, from);
        if (q < 0) {
          i = n;
          break;
        }
        let backslashes = 0;
        while (q - backslashes - 1 >= start && bytes[q - backslashes - 1] === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) {
          i = q;
          break;
        }
        from = q + 1;
      }
      if (expectKey && countMembers) {
        // expectKey is only ever set inside an object within duplicateKeyDepth.
        expectKey = false;
        members++;
        if (findData && depth === 1 && !topIsArray && isDataName(bytes, start, i)) dataStart = i + 1;
      } else if (expectKey) {
        expectKey = false;
        const set = keys[depth];
        if (set !== undefined && duplicateKey === undefined) {
          const end = Math.min(i, n);
          const name = memberName(bytes, start, end);
          if (name !== undefined) {
            if (findData && depth === 1 && !topIsArray && isDataName(bytes, start, end)) dataStart = i + 1;
            if (set.has(name)) {
              duplicateKey = { name, depth, element: topIsArray ? element : -1 };
            } else {
              set.add(name);
            }
          }
        }
      }
      digitRun = 0;
      continue;
    }
    if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > maxDepth) {
        throw new JunctionError(
          'EVENT_TOO_DEEP',
          `json nests deeper than the limit of ${maxDepth} levels (level ${depth} opens at byte offset ${i})`,
          { details: { maxDepth, offset: i } },
        );
      }
      if (depth > deepest) deepest = depth;
      if (depth === 1 && b === OPEN_BRACKET) topIsArray = true;
      if (depth <= keyDepth) {
        const obj = b === OPEN_BRACE;
        isObject[depth] = obj;
        keys[depth] = obj && !countMembers ? new Set() : undefined;
        expectKey = obj;
      }
      digitRun = 0;
      continue;
    }
    if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      if (depth === 1 && dataStart >= 0 && dataSpan === undefined) dataSpan = [dataStart, i];
      if (depth <= keyDepth) keys[depth] = undefined;
      depth--;
      expectKey = false;
      digitRun = 0;
      continue;
    }
    if (b === COMMA) {
      if (depth === 1 && dataStart >= 0 && dataSpan === undefined) dataSpan = [dataStart, i];
      if (depth <= keyDepth && isObject[depth] === true) expectKey = true;
      if (depth === 1 && topIsArray) element++;
      digitRun = 0;
      continue;
    }
    if (b >= DIGIT_0 && b <= DIGIT_9) {
      if (++digitRun > MAX_SAFE_DIGIT_RUN) mayOverflow = true;
      continue;
    }
    // `e` right after a digit is an exponent; the `e` of `true` and `false` follows a letter.
    if ((b === LOWER_E || b === UPPER_E) && digitRun > 0) mayOverflow = true;
    digitRun = 0;
  }
  return { depth: deepest, duplicateKey, mayOverflow, dataSpan, members };
}

/** Whether the member name between `start` and `end` is exactly the bytes `data`. */
function isDataName(bytes: Uint8Array, start: number, end: number): boolean {
  return (
    end - start === 4 &&
    bytes[start] === 0x64 &&
    bytes[start + 1] === 0x61 &&
    bytes[start + 2] === 0x74 &&
    bytes[start + 3] === 0x61
  );
}

/**
 * Members of the objects of a parsed value down to `maxDepth` (the value itself is depth 1), as
 * `scanJson` counts them with `countMembers`. Iterative.
 */
function membersWithin(value: unknown, maxDepth: number): number {
  if (maxDepth === 1) {
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.keys(value).length
      : 0;
  }
  let count = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    if (!Array.isArray(v)) count += children.length;
    if (depth < maxDepth) for (const child of children) stack.push([child, depth + 1]);
  }
  return count;
}

/** The nesting depth of JSON bytes, stopping early (and throwing EVENT_TOO_DEEP) past `maxDepth`. */
export function jsonDepth(bytes: Uint8Array, maxDepth = Number.MAX_SAFE_INTEGER): number {
  return scanJson(bytes, { maxDepth }).depth;
}

/** Longest member name read byte by byte; longer ones (rare) go through the decoder. */
const SHORT_NAME = 32;

function memberName(bytes: Uint8Array, start: number, end: number): string | undefined {
  // Attribute names are short ASCII without escapes: read those without the decoder, whose call
  // costs more than the name (this runs for every member of every event's envelope).
  if (end - start <= SHORT_NAME) {
    let name = '';
    let i = start;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80 || b === BACKSLASH) break;
      name += String.fromCharCode(b);
    }
    if (i === end) return name;
  }
  const raw = utf8Lenient.decode(bytes.subarray(start, end));
  if (!raw.includes('\\')) return raw;
  try {
    const value: unknown = JSON.parse(`"${raw}"`);
    return typeof value === 'string' ? value : undefined;
  } catch (error) {
    // A malformed escape: JSON.parse of the whole body reports it with its position next.
    void error;
    return undefined;
  }
}

/**
 * Decodes UTF-8 strictly. `what` names the bytes in the error message ("body", "data").
 * A leading byte order mark is dropped.
 */
export function decodeUtf8(bytes: Uint8Array, what = 'body'): string {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    const offset = findInvalidUtf8(bytes);
    throw new JunctionError(
      'EVENT_INVALID_UTF8',
      `${what} is not valid utf-8 (invalid byte sequence at byte offset ${offset}); send utf-8 text`,
      { cause: error, details: { offset } },
    );
  }
}

/**
 * The offset of the first byte that starts an ill-formed UTF-8 sequence (Unicode 15, table 3-7),
 * or -1 when all bytes are well formed.
 */
export function findInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // shorter forms would be overlong
      if (b === 0xed) hi = 0x9f; // ED A0..BF would encode a surrogate
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // beyond U+10FFFF
    } else {
      return i; // a continuation byte, C0/C1 (always overlong) or F5..FF
    }
    if (i + need >= n) return i;
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

export interface JsonSyntaxError {
  /** Character offset into the decoded text. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  /** What was wrong, without quoting the payload beyond one ASCII character. */
  readonly reason: string;
}

const WS = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX = /^[0-9a-fA-F]{4}$/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Finds the first JSON syntax error in `text` (RFC 8259), or undefined when the text is valid.
 * Iterative, so it is safe on any nesting. Only used after JSON.parse has failed, to say where.
 */
export function locateJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const fail = (offset: number, reason: string): JsonSyntaxError => {
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < offset; k++) {
      if (text.charCodeAt(k) === 0x0a) {
        line++;
        lineStart = k + 1;
      }
    }
    return { offset, line, column: offset - lineStart + 1, reason };
  };
  const describe = (ch: string): string =>
    /^[\x21-\x7e]$/.test(ch) ? `unexpected character '${ch}'` : 'unexpected character';

  const stack: ('{' | '[')[] = [];
  type State = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'after';
  let state: State = 'value';
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && WS.has(text[i]!)) i++;
    if (i >= n) {
      return state === 'after' && stack.length === 0
        ? undefined
        : fail(i, n === 0 ? 'no json value (empty)' : 'unexpected end of input');
    }
    const c = text[i]!;
    switch (state) {
      case 'value':
      case 'value-or-close': {
        if (c === ']' && state === 'value-or-close') {
          stack.pop();
          state = 'after';
          i++;
        } else if (c === '{') {
          stack.push('{');
          state = 'key-or-close';
          i++;
        } else if (c === '[') {
          stack.push('[');
          state = 'value-or-close';
          i++;
        } else if (c === '"') {
          const end = scanString(text, i);
          if (typeof end !== 'number') return fail(end.offset, end.reason);
          i = end;
          state = 'after';
        } else if (c === '-' || (c >= '0' && c <= '9')) {
          NUMBER.lastIndex = i;
          const m = NUMBER.exec(text);
          if (m === null) return fail(i, 'invalid number');
          i += m[0].length;
          // A digit or dot right after a complete number (01, 1.e5) is malformed.
          if (i < n && /[0-9.eE+-]/.test(text[i]!)) return fail(i, 'invalid number');
          state = 'after';
        } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
          i += 4;
          state = 'after';
        } else if (text.startsWith('false', i)) {
          i += 5;
          state = 'after';
        } else {
          return fail(i, `${describe(c)} (expected a json value)`);
        }
        break;
      }
      case 'key':
      case 'key-or-close': {
        if (c === '}' && state === 'key-or-close') {
          stack.pop();
          state = 'after';
          i++;
        } else if (c === '"') {
          const end = scanString(text, i);
          if (typeof end !== 'number') return fail(end.offset, end.reason);
          i = end;
          state = 'colon';
        } else {
          return fail(i, `${describe(c)} (expected a property name in double quotes)`);
        }
        break;
      }
      case 'colon': {
        if (c !== ':') return fail(i, `${describe(c)} (expected ':')`);
        i++;
        state = 'value';
        break;
      }
      case 'after': {
        const top = stack.at(-1);
        if (top === undefined) return fail(i, `${describe(c)} after the json value`);
        if (c === ',') {
          state = top === '{' ? 'key' : 'value';
          i++;
        } else if ((c === '}' && top === '{') || (c === ']' && top === '[')) {
          stack.pop();
          i++;
        } else {
          return fail(i, `${describe(c)} (expected ',' or '${top === '{' ? '}' : ']'}')`);
        }
        break;
      }
    }
  }
}

function scanString(text: string, start: number): number | { offset: number; reason: string } {
  const n = text.length;
  for (let i = start + 1; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return { offset: i, reason: 'unescaped control character in string' };
    if (code === 0x5c) {
      const e = text[i + 1];
      if (e === 'u') {
        if (!HEX.test(text.slice(i + 2, i + 6))) return { offset: i, reason: 'invalid \\u escape in string' };
        i += 5;
      } else if (e !== undefined && ESCAPES.has(e)) {
        i++;
      } else {
        return { offset: i, reason: 'invalid escape in string' };
      }
    }
  }
  return { offset: start, reason: 'unterminated string' };
}

export interface ParseJsonOptions extends JsonScanOptions {
  /** Names the bytes in error messages: "body", "data". */
  readonly what?: string;
}

export interface ParsedJson {
  readonly value: unknown;
  readonly duplicateKey: DuplicateKey | undefined;
  /**
   * With `findData`, when the value is an object with one `data` member: that member's value as
   * JSON text, exactly as received (its whitespace, escapes and number spellings kept).
   * `JSON.parse(dataText)` gives a value equal to `value.data`.
   */
  readonly dataText: string | undefined;
}

/** UTF-8 → depth check → JSON.parse → overflow check; see the module comment. */
export function parseJsonBytes(bytes: Uint8Array, options: ParseJsonOptions): ParsedJson {
  const what = options.what ?? 'body';
  if (bytes.length === 0) {
    throw new JunctionError('EVENT_MALFORMED_JSON', `${what} is empty (expected json)`, {
      details: { offset: 0, line: 1, column: 1 },
    });
  }
  const text = decodeUtf8(bytes, what);
  const keyDepth = options.duplicateKeyDepth ?? 0;
  const scan = scanJson(bytes, {
    maxDepth: options.maxDepth,
    duplicateKeyDepth: keyDepth,
    findData: options.findData === true,
    countMembers: keyDepth > 0,
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw malformed(text, what, error);
  }
  if (scan.mayOverflow) assertFiniteNumbers(value, what);
  // A repeated name leaves one member fewer than were counted; only then find which it was.
  const duplicateKey =
    keyDepth > 0 && membersWithin(value, keyDepth) !== scan.members
      ? scanJson(bytes, { maxDepth: options.maxDepth, duplicateKeyDepth: keyDepth }).duplicateKey
      : undefined;
  const span = duplicateKey === undefined ? scan.dataSpan : undefined;
  return { value, duplicateKey, dataText: span && spanText(bytes, text, span) };
}

/**
 * The JSON value in `span` of valid JSON: after its colon, without the whitespace around it. Byte
 * offsets are string offsets only in ASCII text; otherwise the bytes are decoded again.
 */
function spanText(bytes: Uint8Array, text: string, [start, end]: readonly [number, number]): string {
  // (A byte order mark, which the decoder drops, is not ASCII either.)
  const segment = isAscii(bytes) ? text.slice(start, end) : utf8Lenient.decode(bytes.subarray(start, end));
  return segment.slice(segment.indexOf(':') + 1).trim();
}

function malformed(text: string, what: string, cause: unknown): JunctionError {
  const found = locateJsonSyntaxError(text);
  if (found === undefined) {
    return new JunctionError('EVENT_MALFORMED_JSON', `${what} is not valid json`, { cause });
  }
  const { offset, line, column, reason } = found;
  return new JunctionError(
    'EVENT_MALFORMED_JSON',
    `${what} is not valid json: ${reason} at line ${line}, column ${column} (offset ${offset})`,
    { cause, details: { offset, line, column } },
  );
}

/** Throws EVENT_MALFORMED_JSON when any number in `value` is not finite. Iterative. */
function assertFiniteNumbers(value: unknown, what: string): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        throw new JunctionError(
          'EVENT_MALFORMED_JSON',
          `${what} holds a number too large to represent (beyond ±1.7976931348623157e308)`,
        );
      }
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const item of Object.values(v)) stack.push(item);
    }
  }
}
