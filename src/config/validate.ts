/**
 * Validation of a configuration value (in the file's shape, after substitution and overrides)
 * against `configJsonSchema` with ajv, collecting every problem in one pass and phrasing each for
 * people: unknown keys name the nearest valid key, wrong values are quoted (never a secret) next
 * to what was expected. Also the checks JSON Schema cannot express (unique source names).
 * Returns key paths as segments; the loader adds file positions.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { segmentsOfPointer, suggestKey, type PathSegment } from '../yaml/index.ts';
import { describeValue } from './problems.ts';
import { environmentProblems } from './environments.ts';
import {
  configJsonSchema,
  ENVIRONMENT_NAME_PATTERN,
  SOURCE_NAME_PATTERN,
  type SchemaNode,
} from './schema.ts';
import { parseByteSize, parseDuration } from './units.ts';

export interface SchemaProblem {
  readonly segments: readonly PathSegment[];
  readonly message: string;
  /** True when the problem is the key itself (an unknown key), not its value. */
  readonly atKey: boolean;
}

/** `sqlite:<path>` (or `sqlite::memory:`), or a `postgres://` / `postgresql://` URL. */
export function isStoreUrl(text: string): boolean {
  if (/^sqlite:.+/.test(text)) return true;
  return /^postgres(ql)?:\/\//.test(text) && isUrl(text);
}

/** `embedded`, or NATS server URLs separated by commas. */
export function isBusUrl(text: string): boolean {
  if (text === 'embedded') return true;
  const parts = text.split(',').map((p) => p.trim());
  return parts.every((p) => /^nats:\/\/[^/\s]+$/.test(p) && isUrl(p) && new URL(p).hostname !== '');
}

function isHttpUrl(text: string): boolean {
  return /^https?:\/\/\S+$/.test(text) && isUrl(text);
}

function isUrl(text: string): boolean {
  return URL.canParse(text);
}

const FORMAT_EXPECTATIONS: Readonly<Record<string, string>> = {
  'byte-size': "a size such as '512KiB', '1MiB' or '2MB' (units B, KB, MB, GB, KiB, MiB, GiB) or whole bytes",
  duration: "a duration such as '500ms', '30s', '2m' or '1h' (at most 24.8 days) or whole milliseconds",
  'store-url': "'sqlite:<path>' or a 'postgres://user:password@host:port/database' URL",
  'bus-url': "'embedded' or 'nats://host:port' (several separated by commas)",
  'http-url': 'an http:// or https:// URL',
};

function createValidator() {
  const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true });
  ajv.addKeyword({ keyword: 'x-secret', schemaType: ['boolean', 'string'] });
  ajv.addKeyword({ keyword: 'x-shorthand', schemaType: 'string' });
  ajv.addFormat('byte-size', { type: 'string', validate: (s: string) => parseByteSize(s) !== undefined });
  ajv.addFormat('duration', { type: 'string', validate: (s: string) => parseDuration(s) !== undefined });
  ajv.addFormat('store-url', { type: 'string', validate: isStoreUrl });
  ajv.addFormat('bus-url', { type: 'string', validate: isBusUrl });
  ajv.addFormat('http-url', { type: 'string', validate: isHttpUrl });
  return ajv.compile(configJsonSchema);
}

const validateAgainstSchema = createValidator();

const TYPE_NAMES: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
};

/** The offending value as quoted in a message, or nothing for a secret. */
function got(error: ErrorObject): string {
  const schema = error.parentSchema as SchemaNode | undefined;
  if (schema?.['x-secret'] === true) return '';
  return `, got ${describeValue(error.data)}`;
}

function phrase(error: ErrorObject, segments: PathSegment[]): SchemaProblem {
  const parent = error.parentSchema as SchemaNode | undefined;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys(parent?.properties ?? {});
      const suggestion = suggestKey(key, known);
      const hint =
        suggestion !== undefined ? ` (did you mean '${suggestion}'?)` : ` (valid keys: ${known.join(', ')})`;
      return { segments: [...segments, key], message: `unknown key '${key}'${hint}`, atKey: true };
    }
    case 'required':
      return {
        segments: [...segments, String(params['missingProperty'])],
        message: 'is required',
        atKey: false,
      };
    case 'type': {
      const types = String(params['type']).split(',');
      return {
        segments,
        message: `must be ${types.map((t) => TYPE_NAMES[t] ?? t).join(' or ')}${got(error)}`,
        atKey: false,
      };
    }
    case 'enum': {
      const allowed = (parent?.enum ?? []).map(String);
      const suggestion = typeof error.data === 'string' ? suggestKey(error.data, allowed) : undefined;
      const hint = suggestion !== undefined ? ` (did you mean '${suggestion}'?)` : '';
      return {
        segments,
        message: `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}${got(error)}${hint}`,
        atKey: false,
      };
    }
    case 'format': {
      const expected = FORMAT_EXPECTATIONS[String(params['format'])] ?? `a ${String(params['format'])}`;
      return { segments, message: `must be ${expected}${got(error)}`, atKey: false };
    }
    case 'pattern': {
      const expected =
        params['pattern'] === SOURCE_NAME_PATTERN
          ? 'lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters'
          : params['pattern'] === ENVIRONMENT_NAME_PATTERN
            ? "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters"
            : `text matching ${String(params['pattern'])}`;
      return { segments, message: `must be ${expected}${got(error)}`, atKey: false };
    }
    case 'minLength':
      if (params['limit'] === 1) return { segments, message: 'must not be empty', atKey: false };
      return { segments, message: error.message ?? 'is too short', atKey: false };
    default:
      return { segments, message: error.message ?? `fails '${error.keyword}'`, atKey: false };
  }
}

/** Problems JSON Schema cannot express: source names must be unique. */
function uniquenessProblems(value: unknown): SchemaProblem[] {
  const sources = (value as { sources?: unknown } | null)?.sources;
  if (!Array.isArray(sources)) return [];
  const firstIndex = new Map<string, number>();
  const problems: SchemaProblem[] = [];
  sources.forEach((source: unknown, index) => {
    const name = (source as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    const first = firstIndex.get(name);
    if (first === undefined) firstIndex.set(name, index);
    else {
      problems.push({
        segments: ['sources', index, 'name'],
        message: `duplicate source name '${name}' (already used by sources[${first}])`,
        atKey: false,
      });
    }
  });
  return problems;
}

/** Every problem with `value`, or an empty list when it matches the schema. */
export function validateConfigValue(value: unknown): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  if (!validateAgainstSchema(value)) {
    for (const error of validateAgainstSchema.errors ?? []) {
      problems.push(phrase(error, segmentsOfPointer(error.instancePath, value)));
    }
  }
  problems.push(...uniquenessProblems(value));
  for (const problem of environmentProblems(value)) problems.push({ ...problem, atKey: false });
  return problems;
}
