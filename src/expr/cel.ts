/**
 * CEL expressions: compiled once (when a pipeline loads), evaluated many times against plain JSON
 * data. Built on `@marcbachmann/cel-js` (docs/decisions/0005-cel-library.md says why).
 *
 * What callers may assume:
 * - `compileExpression` either returns a `CompiledExpression` or throws a `JunctionError`:
 *   `EXPR_INVALID` (syntax, an unknown function or an operator that can never apply, too long, too
 *   deep) or `EXPR_UNKNOWN_VARIABLE` (a top-level name not in `variables`, with a suggestion).
 *   Messages quote the expression (shortened to 80 characters) and give line and column; `details`
 *   carries `expression`, `line`, `column` and, for unknown variables, `variable`, `suggestion`,
 *   `known`.
 * - `evaluate` never throws anything but `EXPR_EVAL_FAILED`, whose message names what failed
 *   (missing key, type mismatch, overflow, division by zero) and never contains the data.
 * - Numbers (the int/double policy): a JS number that is a safe integer (|n| ≤ 2^53 − 1) is a CEL
 *   `int`, any other number is a `double`. So JSON `3` is `int` (`event.data.count + 1` works) and
 *   `3.5` is `double`; JSON `3.0` is indistinguishable from `3` after parsing and is also `int`.
 *   Ints and doubles compare with each other (`<`, `==`, `in`) but do not mix in arithmetic:
 *   `event.data.ratio * 2` fails, `event.data.ratio * 2.0` or `double(event.data.count)` works.
 *   `bigint` inputs are ints, `Date` inputs are timestamps, `Uint8Array` inputs are bytes.
 * - Results come back as JSON values: ints as JS numbers (as decimal strings beyond 2^53 − 1),
 *   timestamps as RFC 3339 strings, durations as CEL duration strings (`"3600s"`), bytes as base64,
 *   maps as plain objects, types as their names.
 * - Input objects are read, never changed. Frozen objects (deeply) are converted once and the
 *   conversion is reused for later evaluations; others are converted on every evaluation.
 * - Status functions (`success()`, `failure()`, `always()`, `cancelled()`, all `(): bool`) compile
 *   only with `statusFunctions: true` (job and step `if`); elsewhere calling one is EXPR_INVALID.
 *   Their values come from `EvaluateOptions.status` for the one evaluation it is given to;
 *   evaluating an expression that calls one without `status` is EXPR_EVAL_FAILED. `always()` is
 *   true whenever `status` is given.
 */
import { Environment, EvaluationError, ParseError, TypeError as CelTypeError } from '@marcbachmann/cel-js';
import type { ParseResult } from '@marcbachmann/cel-js';
import { JunctionError } from '../errors/index.ts';
import { nearestName } from './nearest.ts';

/** Longest accepted expression, in UTF-16 code units. */
export const MAX_EXPRESSION_LENGTH = 4096;
/** Deepest accepted nesting of calls, selections, indexes, parentheses and literals. */
export const MAX_EXPRESSION_DEPTH = 48;
/** Deepest nesting of the data an expression reads (intake refuses deeper JSON long before). */
export const MAX_CONTEXT_DEPTH = 256;

const QUOTE_LENGTH = 80;
const DETAIL_LENGTH = 160;

export interface CompileOptions {
  /** The top-level names the expression may use, such as `['event']`. */
  readonly variables: readonly string[];
  /** Whether `success()`, `failure()`, `always()` and `cancelled()` may be called. Default false. */
  readonly statusFunctions?: boolean;
}

/** What the status functions return during one evaluation; `always()` is true. */
export interface StatusValues {
  readonly success: boolean;
  readonly failure: boolean;
  readonly cancelled: boolean;
}

export interface EvaluateOptions {
  /** Values of the status functions; required when the expression calls one. */
  readonly status?: StatusValues | undefined;
}

export interface CompiledExpression {
  readonly source: string;
  /** The expression's value as a JSON value (see the module comment for the conversions). */
  evaluate(context: Readonly<Record<string, unknown>>, options?: EvaluateOptions): unknown;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** CEL reserved words and names the language already gives a meaning. */
const UNAVAILABLE_NAMES = new Set([
  'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop',
  'package', 'namespace', 'return', 'var', 'void', 'while', 'in', 'true', 'false', 'null',
  'int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'type', 'null_type', 'dyn',
  'timestamp', 'duration', 'cel', 'has',
]); // prettier-ignore

const baseEnvironment = new Environment({
  homogeneousAggregateLiterals: false,
  limits: { maxDepth: MAX_EXPRESSION_DEPTH, maxAstNodes: MAX_EXPRESSION_LENGTH },
})
  // CEL's heterogeneous equality (`1 == 1.0`); the library defines every other int/double pair.
  .registerOperator('int == double', (left: bigint, right: number) => intEqualsDouble(left, right));

const environments = new Map<string, Environment>();

const STATUS_FUNCTION_NAMES = ['success', 'failure', 'always', 'cancelled'] as const;
const STATUS_CALL = /^(success|failure|always|cancelled)\s*\(/;

/** The status values of the evaluation in progress; set by `evaluateRaw` and reset in `finally`. */
let currentStatus: StatusValues | undefined;

/** Thrown by a status function evaluated without status values; turned into EXPR_EVAL_FAILED. */
class MissingStatusError extends Error {}

function statusValue(name: (typeof STATUS_FUNCTION_NAMES)[number]): boolean {
  if (currentStatus === undefined) throw new MissingStatusError(name);
  return name === 'always' ? true : currentStatus[name];
}

function intEqualsDouble(left: bigint, right: number): boolean {
  return Number.isInteger(right) && BigInt(right) === left;
}

function environmentFor(variables: readonly string[], statusFunctions: boolean): Environment {
  const names = [...new Set(variables)].sort();
  const key = `${statusFunctions ? 'status:' : ''}${names.join(',')}`;
  let environment = environments.get(key);
  if (environment === undefined) {
    for (const name of names) {
      if (!IDENTIFIER.test(name) || UNAVAILABLE_NAMES.has(name)) {
        throw new JunctionError('INTERNAL', `'${name}' cannot be a CEL variable name`);
      }
    }
    environment = baseEnvironment.clone();
    for (const name of names) environment.registerVariable(name, 'dyn');
    if (statusFunctions) {
      for (const name of STATUS_FUNCTION_NAMES) {
        environment.registerFunction(`${name}(): bool`, () => statusValue(name));
      }
    }
    if (environments.size >= 64) environments.clear();
    environments.set(key, environment);
  }
  return environment;
}

/** The expression on one line, shortened to about 80 characters, for messages. */
export function quoteExpression(source: string): string {
  const flat = source.replace(/\s+/g, ' ').trim();
  return flat.length <= QUOTE_LENGTH ? flat : `${flat.slice(0, QUOTE_LENGTH - 1)}…`;
}

/** 1-based line and column of a character offset. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  const clamped = Math.max(0, Math.min(offset, source.length));
  const before = source.slice(0, clamped);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: clamped - lineStart + 1 };
}

function describeWhere(source: string, offset: number | undefined): string {
  if (offset === undefined) return '';
  const { line, column } = positionOf(source, offset);
  return source.includes('\n') ? ` (line ${line}, column ${column})` : ` (column ${column})`;
}

/** A library message as a Junction message: first letter lowercase, one line, bounded length. */
function tidy(summary: string): string {
  const line = summary.split('\n')[0]?.trim() ?? '';
  const lowered = line.charAt(0).toLowerCase() + line.slice(1);
  const bounded = lowered.length <= DETAIL_LENGTH ? lowered : `${lowered.slice(0, DETAIL_LENGTH - 1)}…`;
  return bounded.replace(/\.$/, '');
}

interface LibraryError {
  readonly code: string;
  readonly summary: string;
  readonly range?: { readonly start: number; readonly end: number };
}

function asLibraryError(error: unknown): LibraryError | undefined {
  if (error instanceof ParseError || error instanceof EvaluationError || error instanceof CelTypeError) {
    return error;
  }
  return undefined;
}

function locationDetails(source: string, offset: number | undefined): Record<string, unknown> {
  const details: Record<string, unknown> = { expression: quoteExpression(source) };
  if (offset !== undefined) Object.assign(details, positionOf(source, offset));
  return details;
}

function invalid(source: string, reason: string, offset?: number, cause?: unknown): JunctionError {
  return new JunctionError(
    'EXPR_INVALID',
    `expression '${quoteExpression(source)}' is not valid CEL: ${reason}${describeWhere(source, offset)}`,
    { cause, details: locationDetails(source, offset) },
  );
}

function compileFailure(source: string, error: unknown, options: CompileOptions): JunctionError {
  const { variables } = options;
  const library = asLibraryError(error);
  if (library === undefined) {
    return invalid(source, tidy(error instanceof Error ? error.message : String(error)), undefined, error);
  }
  const offset = library.range?.start;
  const call = offset === undefined ? null : STATUS_CALL.exec(source.slice(offset));
  if (library.code === 'no_matching_overload' && call !== null && options.statusFunctions !== true) {
    return invalid(
      source,
      `status functions such as ${call[1]}() are only available in job and step \`if\``,
      offset,
      error,
    );
  }
  if (library.code === 'unknown_variable' && library.range !== undefined) {
    const name = source.slice(library.range.start, library.range.end);
    const suggestion = nearestName(name, variables);
    const known = [...new Set(variables)].sort();
    const hint =
      suggestion !== undefined
        ? `; did you mean '${suggestion}'?`
        : known.length > 0
          ? `; available here: ${known.join(', ')}`
          : '; no variables are available here';
    return new JunctionError(
      'EXPR_UNKNOWN_VARIABLE',
      `unknown variable '${name}' in expression '${quoteExpression(source)}'${describeWhere(source, offset)}${hint}`,
      {
        cause: error,
        details: { ...locationDetails(source, offset), variable: name, suggestion, known },
      },
    );
  }
  if (library.code === 'limit_exceeded') {
    return invalid(source, `nests deeper than ${MAX_EXPRESSION_DEPTH} levels or is too large`, offset, error);
  }
  return invalid(source, tidy(library.summary), offset, error);
}

/** Compiles `source` for evaluation over the named variables; throws EXPR_INVALID / EXPR_UNKNOWN_VARIABLE. */
export function compileExpression(source: string, options: CompileOptions): CompiledExpression {
  if (source.trim() === '') throw invalid(source, 'the expression is empty');
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw invalid(source, `it is ${source.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`);
  }
  const environment = environmentFor(options.variables, options.statusFunctions === true);
  let program: ParseResult;
  try {
    program = environment.parse(source);
  } catch (error) {
    throw compileFailure(source, error, options);
  }
  const checked = program.check();
  if (!checked.valid) throw compileFailure(source, checked.error, options);
  const callsStatus = options.statusFunctions === true && callsStatusFunction(program.ast, 0);
  return new CelExpression(source, program, [...new Set(options.variables)], callsStatus);
}

/** Whether a parsed expression calls a status function anywhere (walked to the parser's depth limit). */
function callsStatusFunction(node: unknown, depth: number): boolean {
  if (depth > MAX_EXPRESSION_DEPTH * 4 || node === null || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some((item) => callsStatusFunction(item, depth + 1));
  if (!('op' in node) || !('args' in node)) return false;
  const { op, args } = node;
  if (op === 'call' && Array.isArray(args) && STATUS_FUNCTION_NAMES.some((name) => name === args[0])) {
    return true;
  }
  return callsStatusFunction(args, depth + 1);
}

class CelExpression implements CompiledExpression {
  readonly source: string;
  readonly #program: ParseResult;
  readonly #variables: readonly string[];
  readonly #callsStatus: boolean;

  constructor(source: string, program: ParseResult, variables: readonly string[], callsStatus: boolean) {
    this.source = source;
    this.#program = program;
    this.#variables = variables;
    this.#callsStatus = callsStatus;
  }

  evaluate(context: Readonly<Record<string, unknown>>, options?: EvaluateOptions): unknown {
    return fromCel(this.evaluateRaw(context, options));
  }

  /** The CEL value itself (ints as bigint, timestamps as Date, …), for callers inside this module. */
  evaluateRaw(context: Readonly<Record<string, unknown>>, options?: EvaluateOptions): unknown {
    if (this.#callsStatus && options?.status === undefined) {
      // checked before evaluating: `success() || true` would otherwise hide the missing status
      throw this.#evaluationFailure(new MissingStatusError('a status function such as success'));
    }
    const bindings: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    sawUnfrozen = false;
    try {
      for (const name of this.#variables) {
        if (Object.hasOwn(context, name) && context[name] !== undefined) {
          bindings[name] = toCel(context[name], 0);
        }
      }
    } catch (error) {
      if (error instanceof JunctionError) {
        throw new JunctionError(
          'EXPR_EVAL_FAILED',
          `expression '${quoteExpression(this.source)}' failed: ${error.message}`,
          {
            details: { expression: quoteExpression(this.source) },
          },
        );
      }
      throw error;
    }
    const outerStatus = currentStatus;
    currentStatus = options?.status;
    try {
      return this.#program(bindings) as unknown;
    } catch (error) {
      throw this.#evaluationFailure(error);
    } finally {
      currentStatus = outerStatus;
    }
  }

  #evaluationFailure(error: unknown): JunctionError {
    const library = asLibraryError(error);
    const offset = library?.range?.start;
    let reason: string;
    if (error instanceof MissingStatusError) {
      reason = `${error.message}() has no job or step status to answer it; pass one with the evaluation`;
    } else if (library === undefined) {
      reason = tidy(error instanceof Error ? error.message : String(error));
    } else if (library.code === 'unknown_variable' && library.range !== undefined) {
      reason = `variable '${this.source.slice(library.range.start, library.range.end)}' has no value`;
    } else reason = tidy(library.summary);
    return new JunctionError(
      'EXPR_EVAL_FAILED',
      `expression '${quoteExpression(this.source)}' failed: ${reason}${describeWhere(this.source, offset)}`,
      { cause: error, details: locationDetails(this.source, offset) },
    );
  }
}

/** The CEL value of `compiled` (ints as bigint, timestamps as Date, …); for this module's renderers. */
export function evaluateRaw(
  compiled: CompiledExpression,
  context: Readonly<Record<string, unknown>>,
  options?: EvaluateOptions,
): unknown {
  return compiled instanceof CelExpression
    ? compiled.evaluateRaw(context, options)
    : compiled.evaluate(context, options);
}

/**
 * Evaluates a condition (an `if:`); anything but a bool is EXPR_EVAL_FAILED naming the type it
 * returned. `options.status` answers the status functions.
 */
export function evaluateCondition(
  compiled: CompiledExpression,
  context: Readonly<Record<string, unknown>>,
  options?: EvaluateOptions,
): boolean {
  const value = evaluateRaw(compiled, context, options);
  if (typeof value === 'boolean') return value;
  throw new JunctionError(
    'EXPR_EVAL_FAILED',
    `condition '${quoteExpression(compiled.source)}' returned ${celTypeName(value)}, expected bool`,
    { details: { expression: quoteExpression(compiled.source), returned: celTypeName(value) } },
  );
}

/** The CEL type name of a value as the library represents it. */
export function celTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'object':
      break;
    case 'function':
    case 'symbol':
    case 'undefined':
      return typeof value;
  }
  if (Array.isArray(value)) return 'list';
  if (value instanceof Map) return 'map';
  if (value instanceof Date) return 'timestamp';
  if (value instanceof Uint8Array) return 'bytes';
  const kind = value.constructor?.name;
  if (kind === 'Duration') return 'duration';
  if (kind === 'UnsignedInt') return 'uint';
  if (kind === 'Type') return 'type';
  return 'map';
}

/** Converted copies of deeply frozen inputs, reused across evaluations. */
const frozenConversions = new WeakMap<object, unknown>();

/** Set when any object in the subtree converted last is not frozen (so not cacheable). */
let sawUnfrozen = false;

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** A JSON-ish input value as the CEL value the library reads (see the number policy above). */
export function toCel(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object':
      break;
    case 'function':
    case 'symbol':
    case 'undefined':
      return undefined;
  }
  if (value === null || value instanceof Date || value instanceof Uint8Array) return value;
  const cached = frozenConversions.get(value);
  if (cached !== undefined) return cached;
  if (depth >= MAX_CONTEXT_DEPTH) {
    throw new JunctionError('EXPR_EVAL_FAILED', `its data nests deeper than ${MAX_CONTEXT_DEPTH} levels`);
  }
  const outer = sawUnfrozen;
  sawUnfrozen = false;
  let converted: unknown;
  if (Array.isArray(value)) {
    converted = value.map((item) => {
      const inner = toCel(item, depth + 1);
      return inner === undefined ? null : inner;
    });
  } else if (value instanceof Map) {
    const map = new Map<unknown, unknown>();
    for (const [key, item] of value) {
      const inner = toCel(item, depth + 1);
      if (inner !== undefined) map.set(toCel(key, depth + 1), inner);
    }
    converted = map;
  } else if (Object.hasOwn(value, 'constructor')) {
    // The library tells maps from other objects by `.constructor`; an own `constructor` key
    // (`{"constructor": null}` in a payload) would shadow it, so such an object becomes a Map.
    const map = new Map<string, unknown>();
    for (const key of Object.keys(value)) {
      const inner = toCel((value as Record<string, unknown>)[key], depth + 1);
      if (inner !== undefined) map.set(key, inner);
    }
    converted = map;
  } else {
    const object = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value)) {
      const inner = toCel((value as Record<string, unknown>)[key], depth + 1);
      if (inner !== undefined) setOwn(object, key, inner);
    }
    converted = object;
  }
  const cacheable = !sawUnfrozen && Object.isFrozen(value);
  if (cacheable) frozenConversions.set(value, converted);
  sawUnfrozen = outer || !cacheable;
  return converted;
}

/** A CEL value as a JSON value (see the module comment). */
export function fromCel(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'number':
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      break;
    case 'function':
    case 'symbol':
    case 'undefined':
      return null;
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(fromCel);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Map) {
    const object: Record<string, unknown> = {};
    for (const [key, item] of value) setOwn(object, String(fromCel(key)), fromCel(item));
    return object;
  }
  const kind = celTypeName(value);
  if (kind === 'type') return (value as { name: string }).name;
  if (kind === 'duration' || kind === 'uint') return (value as { toString(): string }).toString();
  const object: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setOwn(object, key, fromCel((value as Record<string, unknown>)[key]));
  return object;
}
