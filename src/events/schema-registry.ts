/**
 * JSON Schemas for the `data` of event types, and the check that an event's data matches.
 *
 * `register(type, schema)` compiles the schema once (Ajv with every format of ajv-formats, all
 * errors collected). The draft follows the schema's `$schema`: 2020-12 and 2019-09 are honoured,
 * anything else (or none) is read as draft-07. Schemas are contracts, so Ajv's strict schema mode
 * is on: an unknown keyword (a typo such as `requried` would silently weaken the check) or an
 * unknown format is refused, except vendor keywords starting with `x-`, which are accepted as
 * annotations. A schema that is structurally invalid, uses an unresolvable `$ref` or repeats
 * another schema's `$id` is refused with CONFIG_INVALID, as is a second schema for the same
 * type. Ajv's type and tuple hints are off: they judge style, not correctness.
 *
 * `validateData(event)` passes when no schema is registered for `event.type`. Otherwise the event
 * must carry JSON data (`data` present, no `data_base64`, `datacontenttype` absent or a JSON media
 * type) that matches the schema, else EVENT_DATA_INVALID with `details.problems`: up to
 * `MAX_PROBLEMS` entries `{ path, message }`, `path` a JSON Pointer into `data` ('' is `data`
 * itself; for a missing or unexpected member it points at that member). Messages come from the
 * schema, never from the payload: no data value is ever echoed.
 *
 * `loadSchemaDir(registry, dir)` registers every `<type>.json` file of a folder (the file name
 * minus `.json` is the event type, e.g. `git.push.json`), in name order, and reports every bad
 * file at once, each by name, in one CONFIG_INVALID.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { JunctionError, isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from './cloud-event.ts';
import { locateJsonSyntaxError } from './json-limits.ts';
import { isJsonMediaType, parseMediaType, quote } from './validate.ts';

/** The most problems one EVENT_DATA_INVALID lists. */
export const MAX_PROBLEMS = 20;

export interface SchemaProblem {
  /** JSON Pointer into the event's `data`. */
  readonly path: string;
  readonly message: string;
}

export interface SchemaRegistry {
  /** Compiles and registers the schema for `type`; CONFIG_INVALID when it cannot. */
  register(type: string, schema: object): void;
  /** True when `type` has a schema. */
  has(type: string): boolean;
  /** The registered types, sorted. */
  types(): string[];
  /** Throws EVENT_DATA_INVALID when the event's type has a schema its data does not match. */
  validateData(event: CloudEvent): void;
}

type Draft = 'draft-07' | '2019-09' | '2020-12';

export function createSchemaRegistry(): SchemaRegistry {
  const engines = new Map<Draft, Ajv | Ajv2019 | Ajv2020>();
  const validators = new Map<string, ValidateFunction>();

  const engine = (draft: Draft): Ajv | Ajv2019 | Ajv2020 => {
    let ajv = engines.get(draft);
    if (ajv === undefined) {
      const options = {
        allErrors: true,
        strictSchema: true,
        strictNumbers: true,
        strictTypes: false,
        strictTuples: false,
        strictRequired: false,
        validateFormats: true,
      } as const;
      ajv =
        draft === '2020-12'
          ? new Ajv2020(options)
          : draft === '2019-09'
            ? new Ajv2019(options)
            : new Ajv(options);
      addFormats.default(ajv);
      engines.set(draft, ajv);
    }
    return ajv;
  };

  return {
    register(type, schema) {
      if (typeof type !== 'string' || type === '') {
        throw new JunctionError('CONFIG_INVALID', 'a data schema needs a non-empty event type');
      }
      if (validators.has(type)) {
        throw new JunctionError('CONFIG_INVALID', `event type ${quote(type)} already has a data schema`);
      }
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw new JunctionError(
          'CONFIG_INVALID',
          `the data schema for event type ${quote(type)} must be a json object`,
        );
      }
      try {
        const ajv = engine(draftOf(schema));
        for (const keyword of vendorKeywords(schema)) {
          if (ajv.getKeyword(keyword) === false) ajv.addKeyword(keyword);
        }
        validators.set(type, ajv.compile(schema));
      } catch (error) {
        throw new JunctionError(
          'CONFIG_INVALID',
          `the data schema for event type ${quote(type)} is invalid: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    },

    has(type) {
      return validators.has(type);
    },

    types() {
      return [...validators.keys()].sort();
    },

    validateData(event) {
      const validate = validators.get(event.type);
      if (validate === undefined) return;
      const notJson = reasonDataIsNotJson(event);
      if (notJson !== undefined) {
        throw new JunctionError(
          'EVENT_DATA_INVALID',
          `data of event type ${quote(event.type)} must be json because the type has a schema, but ${notJson}`,
          { details: { type: event.type, problems: [{ path: '', message: notJson }] } },
        );
      }
      if (validate(event.data)) return;
      const errors = validate.errors ?? [];
      const problems = errors.slice(0, MAX_PROBLEMS).map(problemOf);
      const shown = problems
        .slice(0, 3)
        .map((p) => `${p.path === '' ? '(data)' : p.path} ${p.message}`)
        .join('; ');
      const more = errors.length > 3 ? ` (and ${errors.length - 3} more)` : '';
      throw new JunctionError(
        'EVENT_DATA_INVALID',
        `data of event type ${quote(event.type)} does not match its schema: ${shown}${more}`,
        { details: { type: event.type, problems, problemCount: errors.length } },
      );
    },
  };
}

function draftOf(schema: object): Draft {
  const declared = (schema as { $schema?: unknown }).$schema;
  if (typeof declared === 'string') {
    if (declared.includes('2020-12')) return '2020-12';
    if (declared.includes('2019-09')) return '2019-09';
  }
  return 'draft-07';
}

/** Every `x-…` member name anywhere in the schema (iterative; schemas are trusted config). */
function vendorKeywords(schema: object): Set<string> {
  const found = new Set<string>();
  const stack: unknown[] = [schema];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key.startsWith('x-')) found.add(key);
        stack.push(value);
      }
    }
  }
  return found;
}

function reasonDataIsNotJson(event: CloudEvent): string | undefined {
  if (event.data_base64 !== undefined) return 'the event carries binary data (data_base64)';
  if (event.datacontenttype !== undefined) {
    const media = parseMediaType(event.datacontenttype);
    if (media === undefined || !isJsonMediaType(media)) {
      return `its datacontenttype is ${quote(event.datacontenttype)}`;
    }
  }
  if (!Object.hasOwn(event, 'data') || event.data === undefined) return 'the event has no data';
  return undefined;
}

function problemOf(error: ErrorObject): SchemaProblem {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return { path: `${error.instancePath}/${pointerToken(params.missingProperty)}`, message: 'is required' };
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return {
      path: `${error.instancePath}/${pointerToken(params.additionalProperty)}`,
      message: 'is not allowed by the schema',
    };
  }
  return { path: error.instancePath, message: error.message ?? `fails '${error.keyword}'` };
}

/** A member name as a JSON Pointer token (RFC 6901), cut to a sane length. */
function pointerToken(name: string): string {
  const cut = name.length > 100 ? `${name.slice(0, 100)}…` : name;
  return cut.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Registers every `<type>.json` file in `dir` (sorted by name; other files and folders are
 * ignored) and returns the registered types. CONFIG_NOT_FOUND when the folder does not exist;
 * CONFIG_INVALID listing every file that is not JSON or not a valid schema (the good ones stay
 * registered).
 */
export async function loadSchemaDir(registry: SchemaRegistry, dir: string): Promise<string[]> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith('.json'))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new JunctionError(
        'CONFIG_NOT_FOUND',
        `schema folder ${quote(dir)} does not exist (expected a folder of <event type>.json files)`,
        {
          cause: error,
        },
      );
    }
    throw new JunctionError(
      'CONFIG_INVALID',
      `schema folder ${quote(dir)} cannot be read: ${code ?? 'unknown error'}`,
      {
        cause: error,
      },
    );
  }

  const registered: string[] = [];
  const problems: { file: string; message: string }[] = [];
  for (const file of names) {
    const type = file.slice(0, -'.json'.length);
    try {
      if (type === '')
        throw new JunctionError('CONFIG_INVALID', 'the file name has no event type before .json');
      const text = await readFile(path.join(dir, file), 'utf8');
      let schema: unknown;
      try {
        schema = JSON.parse(text);
      } catch (error) {
        const at = locateJsonSyntaxError(text);
        const where = at === undefined ? '' : `: ${at.reason} at line ${at.line}, column ${at.column}`;
        throw new JunctionError('CONFIG_INVALID', `not valid json${where}`, { cause: error });
      }
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw new JunctionError('CONFIG_INVALID', 'a schema file must hold a json object');
      }
      registry.register(type, schema);
      registered.push(type);
    } catch (error) {
      if (!isJunctionError(error)) {
        problems.push({
          file,
          message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        });
      } else {
        problems.push({ file, message: error.message });
      }
    }
  }
  if (problems.length > 0) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `schema folder ${quote(dir)} has ${problems.length} bad file${problems.length === 1 ? '' : 's'}: ${problems
        .map((p) => `${p.file}: ${p.message}`)
        .join('; ')}`,
      { details: { dir, problems } },
    );
  }
  return registered;
}
