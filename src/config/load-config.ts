/**
 * Loading `junction.yaml` into the effective, frozen `JunctionConfig`, in one pass that reports
 * every problem at once:
 * parse YAML (keeping positions) → substitute `${VAR}` → environment overrides → command-line
 * overrides → validate against the schema → defaults and absolute paths → freeze.
 *
 * Callers may assume: a resolved promise holds a valid, deeply frozen configuration; a rejection
 * is a `JunctionError`: `CONFIG_NOT_FOUND` (a named file does not exist), `CONFIG_ENV_MISSING`
 * (the only problems are unset `${VAR}` references) or `CONFIG_INVALID`, the latter two with
 * `details.problems` (see `formatConfigProblems`). Nothing is logged, and messages never hold a
 * secret value.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { JunctionError } from '../errors/index.ts';
import { readEnvOverrides } from './env-overrides.ts';
import { describeValue, formatPath, isPathWithin, sortProblems } from './problems.ts';
import { collectSecrets } from './redact.ts';
import { resolveConfig } from './resolve.ts';
import { rootSchema, type SchemaNode } from './schema.ts';
import type { ConfigOverrides, ConfigProblem, LoadedConfig } from './types.ts';
import { validateConfigValue } from './validate.ts';
import {
  parseConfigDocument,
  positionOf,
  substituteEnvironment,
  toPlainValue,
  type ConfigDocument,
} from './yaml-document.ts';

/** The file looked for in the working folder when none is named. */
export const DEFAULT_CONFIG_FILE = 'junction.yaml';

/** Configuration files larger than this are refused. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export interface LoadConfigOptions {
  /** The file to load; else `JUNCTION_CONFIG`; else `junction.yaml` in `cwd` if it exists. */
  readonly path?: string | undefined;
  /** Defaults to `process.cwd()`. */
  readonly cwd?: string | undefined;
  /** Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * Values from command-line flags in the file's shape (`{ server: { port: 9090 } }`); they beat
   * the environment, which beats the file. `undefined` values are ignored. Checked like the file.
   */
  readonly overrides?: ConfigOverrides | Readonly<Record<string, unknown>> | undefined;
}

export interface ConfigSource {
  /** The file's text, or undefined when no file is used. */
  readonly text: string | undefined;
  /** Absolute path of the file, when there is one. */
  readonly filePath: string | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly overrides?: ConfigOverrides | Readonly<Record<string, unknown>> | undefined;
}

interface Origin {
  /** `env JUNCTION_SERVER_PORT` or `command line`. */
  readonly label: string;
  /** Appended to messages: `JUNCTION_SERVER_PORT`, `the command line`. */
  readonly from: string;
}

type Tree = Record<string, unknown>;

const isTree = (value: unknown): value is Tree =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A copy with no shared subtrees (YAML aliases resolve to shared objects). */
function cloneTree(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneTree);
  if (isTree(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cloneTree(v)]));
  return value;
}

/** `store: sqlite:…` → `store: { url: sqlite:… }`, wherever the schema allows a shorthand. */
function expandShorthands(value: Tree, node: SchemaNode = rootSchema): Tree {
  const expanded: Tree = { ...value };
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const current = expanded[key];
    const shorthand = child['x-shorthand'];
    if (shorthand !== undefined && typeof current === 'string') expanded[key] = { [shorthand]: current };
    else if (isTree(current)) expanded[key] = expandShorthands(current, child);
  }
  return expanded;
}

function setIn(tree: Tree, segments: readonly string[], value: unknown): void {
  let current = tree;
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment];
    if (isTree(next)) current = next;
    else {
      const created: Tree = {};
      current[segment] = created;
      current = created;
    }
  }
  const last = segments[segments.length - 1];
  if (last !== undefined) current[last] = value;
}

/** Every set value of the overrides as (key path, value); lists count as single values. */
function leavesOf(tree: Tree, prefix: readonly string[] = []): [string[], unknown][] {
  return Object.entries(tree).flatMap(([key, value]): [string[], unknown][] => {
    if (value === undefined) return [];
    if (isTree(value)) return leavesOf(value, [...prefix, key]);
    return [[[...prefix, key], value]];
  });
}

function displayName(filePath: string, cwd: string): string {
  const relative = path.relative(cwd, filePath);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : filePath;
}

function fail(problems: readonly ConfigProblem[], onlyMissingEnv: boolean, file: string | undefined): never {
  const sorted = sortProblems(problems);
  const count = `${sorted.length} problem${sorted.length === 1 ? '' : 's'}`;
  throw new JunctionError(
    onlyMissingEnv ? 'CONFIG_ENV_MISSING' : 'CONFIG_INVALID',
    `${file ?? 'configuration'} has ${count}`,
    {
      details: { problems: sorted, ...(file === undefined ? {} : { file }) },
    },
  );
}

/** The file's contents as a tree (empty for no file), or the problems that prevent reading it. */
function readDocument(
  source: ConfigSource,
  file: string | undefined,
): {
  document?: ConfigDocument;
  tree?: Tree;
  problems: ConfigProblem[];
  missingEnv: number;
  unresolved: ReadonlySet<string>;
} {
  if (source.text === undefined) return { tree: {}, problems: [], missingEnv: 0, unresolved: new Set() };
  const { document, problems: syntax } = parseConfigDocument(source.text, file);
  if (syntax.length > 0) return { problems: syntax, missingEnv: 0, unresolved: new Set() };
  const substitution = substituteEnvironment(document, source.env);
  const plain = toPlainValue(document);
  const problems = [...substitution.problems, ...plain.problems];
  const missingEnv = substitution.missingVariables;
  const value = plain.value ?? {};
  if (plain.problems.length > 0)
    return { document, problems, missingEnv, unresolved: substitution.unresolvedPaths };
  if (!isTree(value)) {
    problems.push({
      path: '',
      message: `must be a mapping of configuration keys, got ${describeValue(value)}`,
      ...(positionOf(document, []) ?? { line: 1, column: 1 }),
      ...(file === undefined ? {} : { file }),
    });
    return { document, problems, missingEnv, unresolved: substitution.unresolvedPaths };
  }
  return {
    document,
    tree: cloneTree(value) as Tree,
    problems,
    missingEnv,
    unresolved: substitution.unresolvedPaths,
  };
}

/**
 * The effective configuration from a file's text (or none), the environment and overrides.
 * Synchronous and free of I/O; `loadConfig` reads the file and calls it.
 */
export function configFromSource(source: ConfigSource): LoadedConfig {
  const file = source.filePath === undefined ? undefined : displayName(source.filePath, source.cwd);
  const read = readDocument(source, file);
  const env = readEnvOverrides(source.env);
  const problems = [...read.problems, ...env.problems];
  if (read.tree === undefined) fail(problems, read.missingEnv === problems.length, file);

  const tree = expandShorthands(read.tree);
  const origins = new Map<string, Origin>();
  for (const override of env.overrides) {
    setIn(tree, override.segments, override.value);
    origins.set(override.segments.join('.'), { label: `env ${override.variable}`, from: override.variable });
  }
  const cli = expandShorthands(source.overrides ?? {});
  for (const [segments, value] of leavesOf(cli)) {
    setIn(tree, segments, value);
    origins.set(segments.join('.'), { label: 'command line', from: 'the command line' });
  }

  const originOf = (displayPath: string): Origin | undefined => {
    for (const [key, origin] of origins) if (isPathWithin(displayPath, key)) return origin;
    return undefined;
  };
  for (const problem of validateConfigValue(tree)) {
    const displayPath = formatPath(problem.segments);
    if ([...read.unresolved].some((p) => isPathWithin(displayPath, p))) continue;
    const origin = originOf(displayPath);
    if (origin !== undefined) {
      problems.push({
        path: displayPath,
        message: `${problem.message} (from ${origin.from})`,
        origin: origin.label,
      });
      continue;
    }
    const position = read.document ? positionOf(read.document, problem.segments, problem.atKey) : undefined;
    problems.push({
      path: displayPath,
      message: problem.message,
      ...(position ?? {}),
      ...(file === undefined ? {} : { file }),
    });
  }
  if (problems.length > 0) fail(problems, read.missingEnv === problems.length, file);

  const config = resolveConfig(tree, {
    fileDir: source.filePath === undefined ? source.cwd : path.dirname(source.filePath),
    cwd: source.cwd,
    overridden: new Set(origins.keys()),
  });
  return Object.freeze({ config, path: source.filePath, secrets: collectSecrets(config) });
}

async function readConfigText(filePath: string, named: boolean, cwd: string): Promise<string | undefined> {
  const shown = displayName(filePath, cwd);
  let size: number;
  try {
    const info = await stat(filePath);
    if (!info.isFile()) {
      throw new JunctionError('CONFIG_NOT_FOUND', `configuration file '${shown}' is not a file`);
    }
    size = info.size;
  } catch (err) {
    if (err instanceof JunctionError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (!named) return undefined;
      throw new JunctionError('CONFIG_NOT_FOUND', `configuration file '${shown}' does not exist`, {
        cause: err,
      });
    }
    throw new JunctionError(
      'CONFIG_INVALID',
      `cannot read configuration file '${shown}': ${code ?? 'error'}`,
      {
        cause: err,
        details: {
          problems: [{ path: '', message: `cannot read the file (${code ?? 'error'})`, file: shown }],
          file: shown,
        },
      },
    );
  }
  if (size > MAX_CONFIG_FILE_BYTES) {
    fail(
      [{ path: '', message: `file is larger than ${MAX_CONFIG_FILE_BYTES} bytes`, file: shown }],
      false,
      shown,
    );
  }
  return readFile(filePath, 'utf8');
}

/**
 * Finds, reads and validates the configuration. A file named by `options.path` or
 * `JUNCTION_CONFIG` must exist; without either, `junction.yaml` in the working folder is used
 * when present, and defaults apply when it is not.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const envPath = env['JUNCTION_CONFIG'];
  const named = options.path ?? (envPath === '' ? undefined : envPath);
  const filePath = path.resolve(cwd, named ?? DEFAULT_CONFIG_FILE);
  const text = await readConfigText(filePath, named !== undefined, cwd);
  return configFromSource({
    text,
    filePath: text === undefined ? undefined : filePath,
    cwd,
    env,
    overrides: options.overrides,
  });
}
