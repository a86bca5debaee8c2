/**
 * Environment overrides: `JUNCTION_` followed by a key path in SCREAMING_SNAKE_CASE sets that key
 * (`JUNCTION_SERVER_PORT=9090`, `JUNCTION_SERVER_BODY_LIMIT=2MiB`, `JUNCTION_LOG_LEVEL=debug`).
 * An object that may be written as a string is also settable as a whole (`JUNCTION_BUS=nats://…`
 * sets `bus.url`). The table is derived from the schema's scalar keys, so it is unambiguous and
 * complete; values are converted by the schema's type. Pure: the environment is passed in.
 */
import { coerceText } from './coerce.ts';
import { rootSchema, typesOf, type SchemaNode } from './schema.ts';
import type { ConfigProblem } from './types.ts';

export const ENV_PREFIX = 'JUNCTION_';

/** Variables that belong to the CLI and are never configuration overrides. */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set([
  'JUNCTION_CONFIG',
  'JUNCTION_URL',
  'JUNCTION_TOKEN',
  'JUNCTION_SECRET_KEY',
  'JUNCTION_SECRET_KEY_FILE',
]);

export interface EnvOverrideKey {
  readonly variable: string;
  /** Key path in the file's shape: `['server', 'bodyLimit']`. */
  readonly segments: readonly string[];
  readonly node: SchemaNode;
}

/** `maxPendingEvents` → `MAX_PENDING_EVENTS`. */
export function screamingSnake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

const SCALAR_TYPES = ['string', 'integer', 'number', 'boolean'];
const isScalarNode = (node: SchemaNode): boolean => typesOf(node).some((t) => SCALAR_TYPES.includes(t));

function collectKeys(node: SchemaNode, segments: readonly string[], into: EnvOverrideKey[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = [...segments, key];
    const variable = ENV_PREFIX + path.map(screamingSnake).join('_');
    const shorthand = child['x-shorthand'];
    if (shorthand !== undefined && child.properties?.[shorthand]) {
      into.push({ variable, segments: [...path, shorthand], node: child.properties[shorthand] });
    } else if (
      !typesOf(child).includes('object') &&
      !typesOf(child).includes('array') &&
      isScalarNode(child)
    ) {
      into.push({ variable, segments: path, node: child });
    }
    if (typesOf(child).includes('object')) collectKeys(child, path, into);
  }
}

/** Every environment override the schema allows, in schema order. */
export function envOverrideKeys(schema: SchemaNode = rootSchema): readonly EnvOverrideKey[] {
  const keys: EnvOverrideKey[] = [];
  collectKeys(schema, [], keys);
  return keys.filter((k) => !RESERVED_ENV_NAMES.has(k.variable));
}

const KEYS = envOverrideKeys();

export interface EnvOverride {
  readonly variable: string;
  readonly segments: readonly string[];
  readonly value: unknown;
}

/**
 * The overrides `env` sets, converted to the schema's types. An empty variable counts as unset.
 * A value that cannot be converted is a problem naming the variable.
 */
export function readEnvOverrides(env: Readonly<Record<string, string | undefined>>): {
  overrides: EnvOverride[];
  problems: ConfigProblem[];
} {
  const overrides: EnvOverride[] = [];
  const problems: ConfigProblem[] = [];
  for (const key of KEYS) {
    const text = env[key.variable];
    if (text === undefined || text === '') continue;
    const coerced = coerceText(text, key.node);
    if ('error' in coerced) {
      problems.push({
        path: key.segments.join('.'),
        message: `${coerced.error} (from ${key.variable})`,
        origin: `env ${key.variable}`,
      });
    } else {
      overrides.push({ variable: key.variable, segments: key.segments, value: coerced.value });
    }
  }
  return { overrides, problems };
}
