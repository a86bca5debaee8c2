/**
 * `junction.yaml` as a YAML document that keeps source positions (see src/yaml for parsing,
 * positions and alias-bomb refusal) and `${VAR}` substitution in its string values.
 * Nothing here reads files or the process environment.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import {
  formatPath,
  parseYamlDocument,
  positionAt,
  type PathSegment,
  type YamlDocument,
} from '../yaml/index.ts';
import { coerceText } from './coerce.ts';
import { interpolate } from './interpolate.ts';
import { schemaAt, typesOf } from './schema.ts';
import type { ConfigProblem } from './types.ts';

export { positionOf, toPlainValue } from '../yaml/index.ts';

export type ConfigDocument = YamlDocument;

/** Parses `text`; syntax errors (including duplicate keys and several documents) are problems. */
export function parseConfigDocument(
  text: string,
  file: string | undefined,
): { document: ConfigDocument; problems: ConfigProblem[] } {
  return parseYamlDocument(text, file, { uniqueKeys: true });
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
