/**
 * `junction.yaml` as a YAML document that keeps source positions: parsing (syntax errors become
 * problems with line and column), `${VAR}` substitution in string values, conversion to plain
 * values with a cap on alias expansion, and the line:column of any key path for messages.
 * Nothing here reads files or the process environment.
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
import { coerceText } from './coerce.ts';
import { interpolate } from './interpolate.ts';
import { formatPath, type PathSegment } from './problems.ts';
import { schemaAt, typesOf } from './schema.ts';
import type { ConfigProblem } from './types.ts';

/** Alias expansions allowed when converting to plain values; more is refused as an alias bomb. */
export const MAX_ALIAS_COUNT = 100;

export interface ConfigDocument {
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
  readonly text: string;
  readonly file: string | undefined;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Parses `text`; syntax errors (including duplicate keys and several documents) are problems. */
export function parseConfigDocument(
  text: string,
  file: string | undefined,
): { document: ConfigDocument; problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const document: ConfigDocument = { doc, lineCounter, text, file };
  const problems = doc.errors.map((error) => ({
    path: '',
    message:
      error.code === 'MULTIPLE_DOCS'
        ? "the file holds more than one YAML document (a second '---'); expected one mapping"
        : sentenceCase(error.message.split('\n')[0] ?? error.message),
    ...positionAt(document, error.pos[0]),
    ...(file === undefined ? {} : { file }),
  }));
  return { document, problems };
}

function sentenceCase(message: string): string {
  return message.charAt(0).toLowerCase() + message.slice(1).replace(/\.$/, '');
}

function positionAt(document: ConfigDocument, offset: number): Position {
  const { line, col } = document.lineCounter.linePos(offset);
  return { line, column: col };
}

interface Located {
  readonly node: Node | null;
  readonly key: Node | null;
  readonly found: boolean;
}

/** The deepest node on `segments` that exists, and whether the whole path was found. */
function locate(document: ConfigDocument, segments: readonly PathSegment[]): Located {
  let node: unknown = document.doc.contents;
  let key: Node | null = null;
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(document.doc);
    if (isMap(node) && typeof segment === 'string') {
      const pair = node.items.find(
        (p) => isPair(p) && String(isScalar(p.key) ? p.key.value : p.key) === segment,
      );
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
  document: ConfigDocument,
  segments: readonly PathSegment[],
  atKey = false,
): Position | undefined {
  const located = locate(document, segments);
  const target = atKey && located.found && located.key ? located.key : located.node;
  const offset = target?.range?.[0];
  return offset === undefined ? undefined : positionAt(document, offset);
}

export interface SubstitutionResult {
  readonly problems: ConfigProblem[];
  /** Display paths of values that held a reference that could not be substituted. */
  readonly unresolvedPaths: ReadonlySet<string>;
  /** How many of the problems are unset variables (the rest are malformed references). */
  readonly missingVariables: number;
}

/**
 * Replaces `${VAR}` references in every string value (not in keys) of the document, in place.
 * A substituted value where the schema expects an integer or boolean is converted, so
 * `port: ${PORT}` works. Values inside anchors are substituted once, where the anchor is.
 */
export function substituteEnvironment(
  document: ConfigDocument,
  env: Readonly<Record<string, string | undefined>>,
): SubstitutionResult {
  const problems: ConfigProblem[] = [];
  const unresolvedPaths = new Set<string>();
  let missingVariables = 0;
  const visit = (node: unknown, segments: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...segments, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...segments, index]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      const result = interpolate(node.value, env);
      if (!result.changed) return;
      if (result.problems.length > 0) {
        const path = formatPath(segments);
        unresolvedPaths.add(path);
        const [start, end] = node.range ?? [0, 0];
        const raw = document.text.slice(start, end);
        for (const problem of result.problems) {
          if (problem.variable !== undefined) missingVariables += 1;
          const at = raw.indexOf(problem.reference);
          problems.push({
            path,
            message: problem.message,
            ...positionAt(document, at === -1 ? start : start + at),
            ...(document.file === undefined ? {} : { file: document.file }),
          });
        }
        return;
      }
      const schema = schemaAt(segments);
      const coerced =
        schema && !typesOf(schema).includes('string') ? coerceText(result.value, schema) : undefined;
      node.value = coerced !== undefined && 'value' in coerced ? coerced.value : result.value;
    }
  };
  visit(document.doc.contents, []);
  return { problems, unresolvedPaths, missingVariables };
}

/**
 * The document as plain values. An alias bomb (aliases expanding beyond `MAX_ALIAS_COUNT`) or an
 * unresolvable alias is a problem, not a crash.
 */
export function toPlainValue(document: ConfigDocument): { value: unknown; problems: ConfigProblem[] } {
  try {
    return { value: document.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown, problems: [] };
  } catch (err) {
    const excessive = err instanceof Error && /excessive alias/i.test(err.message);
    const message = excessive
      ? `aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT}); refusing a possible alias bomb`
      : `cannot resolve the document: ${err instanceof Error ? sentenceCase(err.message) : String(err)}`;
    const firstAlias = document.text.search(/\*[^\s,\]}]/);
    return {
      value: undefined,
      problems: [
        {
          path: '',
          message,
          ...(firstAlias === -1 ? {} : positionAt(document, firstAlias)),
          ...(document.file === undefined ? {} : { file: document.file }),
        },
      ],
    };
  }
}
