/**
 * Shared helpers for YAML files that users write (junction.yaml, pipeline files): parsing with
 * positions, the position of any key path, duplicate keys, alias-bomb refusal, nearest-name
 * suggestions and the problem type with its one-line rendering. Imports nothing from Junction.
 */
export {
  parseYamlDocument,
  positionAt,
  positionOf,
  findDuplicateKeys,
  toPlainValue,
  lowerFirst,
  MAX_ALIAS_COUNT,
} from './document.ts';
export type { YamlDocument, Position, ParseYamlOptions, DuplicateKey } from './document.ts';
export { formatPath, formatProblem, sortProblems, segmentsOfPointer } from './problem.ts';
export type { PathSegment, YamlProblem } from './problem.ts';
export { editDistance, suggestKey } from './suggest.ts';
