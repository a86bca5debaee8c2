/**
 * A YAML document that keeps source positions: parsing (syntax errors become problems with line
 * and column), the line:column of any key path, duplicate keys with both positions, and
 * conversion to plain values with a cap on alias expansion (alias bombs are refused, not
 * expanded). Nothing here reads files.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import { formatPath, type PathSegment, type YamlProblem } from './problem.ts';

/** Alias expansions allowed when converting to plain values; more is refused as an alias bomb. */
export const MAX_ALIAS_COUNT = 100;

export interface YamlDocument {
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
  readonly text: string;
  readonly file: string | undefined;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface ParseYamlOptions {
  /**
   * When true (the default), a key repeated in one mapping is a syntax problem reported by the
   * parser; when false it is left for `findDuplicateKeys`, which names the key and both places.
   */
  readonly uniqueKeys?: boolean;
}

/** `Map keys must be unique.` → `map keys must be unique`. */
export function lowerFirst(message: string): string {
  return message.charAt(0).toLowerCase() + message.slice(1).replace(/\.$/, '');
}

const withFile = (file: string | undefined): { file?: string } => (file === undefined ? {} : { file });

/** Parses `text`; syntax errors (and several documents in one file) are problems. */
export function parseYamlDocument(
  text: string,
  file: string | undefined,
  options: ParseYamlOptions = {},
): { document: YamlDocument; problems: YamlProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: options.uniqueKeys ?? true,
    version: '1.2',
  });
  const document: YamlDocument = { doc, lineCounter, text, file };
  const problems = doc.errors.map((error) => ({
    path: '',
    message:
      error.code === 'MULTIPLE_DOCS'
        ? "the file holds more than one YAML document (a second '---'); expected one mapping"
        : lowerFirst(error.message.split('\n')[0] ?? error.message),
    ...positionAt(document, error.pos[0]),
    ...withFile(file),
  }));
  return { document, problems };
}

/** The 1-based line and column of a character offset. */
export function positionAt(document: YamlDocument, offset: number): Position {
  const { line, col } = document.lineCounter.linePos(offset);
  return { line, column: col };
}

const keyText = (key: unknown): string => String(isScalar(key) ? key.value : key);

interface Located {
  readonly node: Node | null;
  readonly key: Node | null;
  readonly found: boolean;
}

/** The deepest node on `segments` that exists, and whether the whole path was found. */
function locate(document: YamlDocument, segments: readonly PathSegment[]): Located {
  let node: unknown = document.doc.contents;
  let key: Node | null = null;
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(document.doc);
    if (isMap(node) && typeof segment === 'string') {
      // The last pair wins, as in the plain value.
      const pair = node.items.findLast((p) => isPair(p) && keyText(p.key) === segment);
      if (!pair) return { node: node, key, found: false };
      key = isScalar(pair.key) ? pair.key : null;
      node = pair.value;
      if (node === null) return { node: key, key, found: true };
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      key = null;
      node = node.items[segment];
    } else {
      return { node: node as Node | null, key, found: false };
    }
  }
  return { node: node as Node | null, key, found: true };
}

/**
 * The line and column for a problem at `segments`: of the key itself when `atKey` (unknown keys),
 * else of its value; of the nearest existing ancestor when the path is not in the document.
 */
export function positionOf(
  document: YamlDocument,
  segments: readonly PathSegment[],
  atKey = false,
): Position | undefined {
  const located = locate(document, segments);
  const target = atKey && located.found && located.key ? located.key : located.node;
  const offset = target?.range?.[0];
  return offset === undefined ? undefined : positionAt(document, offset);
}

/** A key written twice in one mapping. */
export interface DuplicateKey {
  /** Path of the mapping that holds the key. */
  readonly parent: readonly PathSegment[];
  readonly key: string;
  readonly first: Position;
  readonly duplicate: Position;
}

/** Every key repeated in a mapping (parse with `uniqueKeys: false` to see them all). */
export function findDuplicateKeys(document: YamlDocument): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  const visit = (node: unknown, segments: PathSegment[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, Position>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        const at = positionAt(document, (pair.key as Node | null)?.range?.[0] ?? 0);
        const first = seen.get(key);
        if (first === undefined) seen.set(key, at);
        else found.push({ parent: segments, key, first, duplicate: at });
        visit(pair.value, [...segments, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...segments, index]));
    }
  };
  visit(document.doc.contents, []);
  return found;
}

/**
 * The document as plain values. An alias bomb (aliases expanding beyond `maxAliasCount`) or an
 * unresolvable alias is a problem, not a crash.
 */
export function toPlainValue(
  document: YamlDocument,
  maxAliasCount = MAX_ALIAS_COUNT,
): { value: unknown; problems: YamlProblem[] } {
  try {
    const value = document.doc.toJS({ maxAliasCount }) as unknown;
    const cycle = findCycle(value);
    if (cycle === undefined) return { value, problems: [] };
    // `base: &b { <<: *b }` resolves to an object that contains itself: every walk over it would
    // not end, so it is refused here, where both pipelines and junction.yaml are read.
    return {
      value: undefined,
      problems: [
        {
          path: formatPath(cycle),
          message:
            'an alias refers to a node that contains it (a recursive anchor); use aliases only for finished values',
          ...positionOf(document, cycle),
          ...withFile(document.file),
        },
      ],
    };
  } catch (err) {
    const excessive = err instanceof Error && /excessive alias/i.test(err.message);
    const message = excessive
      ? `aliases expand to too many nodes (more than ${maxAliasCount}); refusing a possible alias bomb`
      : `cannot resolve the document: ${err instanceof Error ? lowerFirst(err.message) : String(err)}`;
    const firstAlias = document.text.search(/\*[^\s,\]}]/);
    return {
      value: undefined,
      problems: [
        {
          path: formatPath([]),
          message,
          ...(firstAlias === -1 ? {} : positionAt(document, firstAlias)),
          ...withFile(document.file),
        },
      ],
    };
  }
}

/** The path of the first value that contains itself, or undefined when there is none. */
function findCycle(root: unknown): PathSegment[] | undefined {
  const open = new Set<object>();
  const done = new Set<object>();
  const visit = (value: unknown, segments: PathSegment[]): PathSegment[] | undefined => {
    if (typeof value !== 'object' || value === null || done.has(value)) return undefined;
    if (open.has(value)) return segments;
    open.add(value);
    const entries: Array<[PathSegment, unknown]> = Array.isArray(value)
      ? value.map((item, index): [number, unknown] => [index, item])
      : Object.entries(value);
    for (const [key, child] of entries) {
      const found = visit(child, [...segments, key]);
      if (found !== undefined) return found;
    }
    open.delete(value);
    done.add(value);
    return undefined;
  };
  return visit(root, []);
}
