/**
 * Validation of a pipeline file's plain value against `pipelineJsonSchema` with ajv, collecting
 * every problem in one pass and phrasing each for people: unknown keys and values name the
 * nearest valid one as a suggestion, wrong values are quoted next to what was expected. The
 * "exactly one of run or uses" rule is left to `check-pipeline.ts`, which phrases it better.
 * Returns key paths as segments; the caller adds file positions.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { segmentsOfPointer, suggestKey, type PathSegment } from '../yaml/index.ts';
import {
  DURATION_PATTERN,
  ENV_NAME_PATTERN,
  ID_PATTERN,
  PIPELINE_NAME_PATTERN,
  pipelineJsonSchema,
  type SchemaNode,
} from './schema.ts';

/** A problem before it has a file position. */
export interface Finding {
  readonly segments: readonly PathSegment[];
  readonly message: string;
  /** True when the problem is the key itself (an unknown or misnamed key), not its value. */
  readonly atKey?: boolean;
  readonly suggestion?: string;
}

const validate = new Ajv({
  allErrors: true,
  verbose: true,
  allowUnionTypes: true,
  strict: true,
  // `required` inside oneOf/if names properties declared beside them, as editors expect.
  strictRequired: false,
}).compile(pipelineJsonSchema);

const TYPE_NAMES: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
};

const PATTERN_NAMES: Readonly<Record<string, string>> = {
  [PIPELINE_NAME_PATTERN]:
    'lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters',
  [ID_PATTERN]: 'letters, digits, - and _, starting with a letter or _',
  [ENV_NAME_PATTERN]: 'letters, digits and _, not starting with a digit',
  [DURATION_PATTERN]: "a duration such as '500ms', '30s', '10m' or '2h'",
};

/** A value as quoted in a message: short, strings in single quotes. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/** Keywords whose failure is fully explained by other errors (or by check-pipeline.ts). */
const SILENT = new Set(['oneOf', 'if', 'propertyNames', 'anyOf', 'allOf']);

function phrase(error: ErrorObject, segments: PathSegment[]): Finding | undefined {
  const parent = error.parentSchema as SchemaNode | undefined;
  const params = error.params as Record<string, unknown>;
  const got = `, got ${describeValue(error.data)}`;
  if (SILENT.has(error.keyword) || error.schemaPath.includes('/oneOf/')) return undefined;
  if (error.propertyName !== undefined) {
    const name = error.propertyName;
    const expected = PATTERN_NAMES[String(params['pattern'])] ?? `text matching ${String(params['pattern'])}`;
    return { segments: [...segments, name], atKey: true, message: `name '${name}' must be ${expected}` };
  }
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys(parent?.properties ?? {});
      const suggestion = suggestKey(key, known);
      return {
        segments: [...segments, key],
        atKey: true,
        message:
          suggestion === undefined
            ? `unknown key '${key}' (valid keys: ${known.join(', ')})`
            : `unknown key '${key}'`,
        ...(suggestion === undefined ? {} : { suggestion }),
      };
    }
    case 'required':
      return { segments: [...segments, String(params['missingProperty'])], message: 'is required' };
    case 'type': {
      const types = String(params['type']).split(',');
      return { segments, message: `must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}${got}` };
    }
    case 'enum': {
      const allowed = (parent?.enum ?? []).map(String);
      const suggestion = typeof error.data === 'string' ? suggestKey(error.data, allowed) : undefined;
      return {
        segments,
        message: `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}${got}`,
        ...(suggestion === undefined ? {} : { suggestion }),
      };
    }
    case 'pattern': {
      const expected =
        PATTERN_NAMES[String(params['pattern'])] ?? `text matching ${String(params['pattern'])}`;
      return { segments, message: `must be ${expected}${got}` };
    }
    case 'minLength':
      return { segments, message: 'must not be empty' };
    case 'maxLength':
      return { segments, message: `must be at most ${String(params['limit'])} characters long` };
    case 'minItems':
      return {
        segments,
        message: params['limit'] === 1 ? 'must not be an empty list' : (error.message ?? ''),
      };
    case 'minProperties':
      return {
        segments,
        message: params['limit'] === 1 ? 'must not be an empty mapping' : (error.message ?? ''),
      };
    case 'minimum':
    case 'maximum':
      return { segments, message: `${error.message ?? 'is out of range'}${got}` };
    default:
      return { segments, message: error.message ?? `fails '${error.keyword}'` };
  }
}

/** Every schema problem with `value`, or an empty list when it matches the schema. */
export function validateAgainstSchema(value: unknown): Finding[] {
  if (validate(value)) return [];
  const findings: Finding[] = [];
  for (const error of validate.errors ?? []) {
    const finding = phrase(error, segmentsOfPointer(error.instancePath, value));
    if (finding) findings.push(finding);
  }
  return findings;
}
