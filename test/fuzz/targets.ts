/**
 * Property-based fuzz targets (fast-check) for every parser that reads outside input: the
 * CloudEvents HTTP binding, each source's `map` after a passing `authenticate`, the pipeline
 * parser, and the CEL / `${{ }}` template compiler.
 *
 * The property of every target: the parser returns or throws a JunctionError (the parsers'
 * declared error type) whose cause is not a TypeError or RangeError (a bug wrapped as bad input);
 * never anything else, and every call returns within `MAX_CALL_MS`. Mapped events and parsed
 * events must also pass `validateCloudEvent`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { JunctionError } from '../../src/errors/index.ts';
import { parseHttpEvents, validateCloudEvent } from '../../src/events/index.ts';
import { compileExpression, compileTemplate } from '../../src/expr/index.ts';
import { parsePipeline } from '../../src/pipelines/index.ts';
import { checkPipelineExpression } from '../../src/runs/expressions.ts';
import { createSources, type HookRequest, type Source } from '../../src/sources/index.ts';
import { stringify } from 'yaml';
import { PROVIDER_HEADERS, SOURCE_SETTINGS, authHeaders } from './sources.ts';

/** Longest a single call may take before the target fails. */
export const MAX_CALL_MS = 2000;

export interface FuzzTarget {
  readonly name: string;
  /** A property whose predicate calls `count()` once per execution. */
  property(count: () => void): fc.IPropertyWithHooks<unknown> | fc.IProperty<unknown>;
}

/**
 * Why `error` is not an acceptable outcome, or undefined when it is. A strict UTF-8 decoder's
 * TypeError (ERR_ENCODING_INVALID_ENCODED_DATA) is the declared way to find invalid bytes, so it
 * may be a cause.
 */
export function unexpected(error: unknown): string | undefined {
  if (!(error instanceof JunctionError)) {
    const name = error instanceof Error ? error.name : typeof error;
    return `threw ${name}: ${error instanceof Error ? error.message : String(error)}`;
  }
  let cause: unknown = error.cause;
  for (let depth = 0; cause !== undefined && depth < 10; depth += 1) {
    const isDecoding = (cause as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA';
    if ((cause instanceof TypeError || cause instanceof RangeError) && !isDecoding) {
      return `JunctionError ${error.code} wraps ${cause.name}: ${cause.message}`;
    }
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return undefined;
}

/** Runs `fn`; throws an assertion-style Error when it fails the shared property. */
function check<T>(what: string, fn: () => T, after?: (value: T) => void): void {
  const started = performance.now();
  let outcome: { value: T } | { error: unknown };
  try {
    outcome = { value: fn() };
  } catch (error) {
    outcome = { error };
  }
  const took = performance.now() - started;
  if (took > MAX_CALL_MS) throw new Error(`${what}: took ${Math.round(took)} ms (limit ${MAX_CALL_MS})`);
  if ('error' in outcome) {
    const why = unexpected(outcome.error);
    if (why !== undefined) throw new Error(`${what}: ${why}`, { cause: outcome.error });
    return;
  }
  after?.(outcome.value);
}

// ---- shared arbitraries -------------------------------------------------------------------

const nasty = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '',
  '\u0000',
  '\u202e',
  '../../etc/passwd',
  '${{ event }}',
  '$(id)',
  '1e999',
  '-0',
  'NaN',
);

const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string({ unit: 'binary' }),
    nasty,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string(), nasty), tie('value'), { maxKeys: 5 }),
  ),
})).value;

function bytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

/** A JSON text with `__proto__` keys kept as own keys (JSON.stringify keeps them). */
function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

// ---- CloudEvents --------------------------------------------------------------------------

const LIMITS = { maxJsonDepth: 64, maxBatchEvents: 100 };
const ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'traceparent',
  'extension1',
];
const CONTENT_TYPES = [
  'application/cloudevents+json',
  'application/cloudevents+json; charset=utf-8',
  'application/cloudevents-batch+json',
  'application/json',
  'text/plain; charset=latin1',
  'application/cloudevents+xml',
  '',
  ';;;',
];

const eventObject = fc.dictionary(
  fc.oneof(fc.constantFrom(...ATTRIBUTES), fc.string({ maxLength: 12 }), nasty),
  fc.oneof(
    fc.constantFrom('1.0', '0.3', 'a', 'com.example.x', '2024-01-01T00:00:00Z', 'application/json', '/src'),
    jsonish,
  ),
  { maxKeys: 10 },
);

const cloudEventsTarget: FuzzTarget = {
  name: 'cloudevents',
  property: (count) =>
    fc.property(
      fc.oneof(
        eventObject.map(jsonText),
        fc.array(eventObject, { maxLength: 4 }).map(jsonText),
        jsonish.map(jsonText),
        fc.string({ unit: 'binary', maxLength: 200 }),
      ),
      fc.uint8Array({ maxLength: 64 }),
      fc.boolean(),
      fc.constantFrom(...CONTENT_TYPES),
      fc.dictionary(
        fc.oneof(fc.constantFrom(...ATTRIBUTES.map((a) => `ce-${a}`)), fc.string({ maxLength: 12 })),
        fc.oneof(fc.constantFrom('1.0', 'id-1', '/src', 'com.example.x', '%E2%82%AC', '%zz'), fc.string()),
        { maxKeys: 6 },
      ),
      (text, raw, useRaw, contentType, extra) => {
        count();
        const headers: Record<string, string> = { ...extra };
        if (contentType !== '') headers['content-type'] = contentType;
        const body = useRaw ? raw : bytes(text);
        check(
          'parseHttpEvents',
          () => parseHttpEvents({ headers, body, limits: LIMITS }),
          (parsed) => {
            for (const event of parsed.events)
              check('validateCloudEvent(parsed)', () => validateCloudEvent(event));
          },
        );
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return;
        }
        check('validateCloudEvent', () => validateCloudEvent(value));
      },
    ),
};

// ---- sources ------------------------------------------------------------------------------

const sources = createSources(Object.values(SOURCE_SETTINGS));

/** The string literals a mapper's source file names: a loose vocabulary of its payload. */
function vocabulary(type: string): string[] {
  const files = [`${type}.ts`];
  if (['git', 'github', 'gitlab', 'gitea', 'bitbucket'].includes(type)) files.push('git-common.ts');
  if (['registry', 'dockerhub', 'harbor', 'quay'].includes(type)) files.push('image-common.ts');
  if (['eventbridge', 'pubsub', 'eventgrid'].includes(type)) files.push('cloud-bus.ts');
  if (type === 'grafana') files.push('alertmanager.ts');
  const words = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'sources', file), 'utf8');
    for (const match of text.matchAll(/'([A-Za-z_][A-Za-z0-9_.:/-]{0,40})'/g)) words.add(match[1]!);
  }
  return [...words].sort();
}

function payloadArbitrary(words: readonly string[]): fc.Arbitrary<unknown> {
  const word = fc.constantFrom(...words);
  const key = fc.oneof(
    { weight: 6, arbitrary: word },
    { weight: 1, arbitrary: nasty },
    { weight: 1, arbitrary: fc.string() },
  );
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      word,
      fc.constantFrom(
        '2024-05-01T10:00:00Z',
        'sha256:' + 'a'.repeat(64),
        'refs/heads/main',
        'https://example.com/x',
        '1.0',
      ),
      jsonish,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 8 }),
    ),
  })).value;
}

function sourceTarget(type: string, source: Source): FuzzTarget {
  const words = vocabulary(type);
  const headerNames = PROVIDER_HEADERS[type] ?? [];
  const topLevel = fc.dictionary(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...words) }, { weight: 1, arbitrary: nasty }),
    payloadArbitrary(words),
    { maxKeys: 10 },
  );
  return {
    name: `source:${type}`,
    property: (count) =>
      fc.property(
        fc.oneof(
          { weight: 6, arbitrary: topLevel.map(jsonText) },
          { weight: 1, arbitrary: payloadArbitrary(words).map(jsonText) },
          { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
        ),
        fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
        fc.tuple(
          ...headerNames.map(() =>
            fc.option(fc.oneof(fc.constantFrom(...words), fc.string()), { nil: undefined }),
          ),
        ),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', undefined),
        (text, raw, values, contentType) => {
          count();
          const body = Buffer.from(raw ?? bytes(text));
          const headers: Record<string, string> = {};
          headerNames.forEach((header, index) => {
            const value = values[index];
            if (value !== undefined) headers[header] = value;
          });
          if (contentType !== undefined) headers['content-type'] = contentType;
          Object.assign(headers, authHeaders(type, body, headers));
          const request: HookRequest = { headers, body, receivedAt: new Date() };
          let authenticated = true;
          check(`${type}.authenticate`, () => {
            authenticated = false;
            source.authenticate(request);
            authenticated = true;
          });
          // A body the signature cannot cover (a form body of gitea, an empty webhook-id) is refused.
          if (!authenticated) return;
          check(
            `${type}.map`,
            () => source.map(request),
            (result) => {
              for (const mapped of result.events) {
                check(`${type} mapped event`, () => validateCloudEvent(mapped.event));
              }
            },
          );
        },
      ),
  };
}

// ---- pipelines and expressions ------------------------------------------------------------

const PIPELINE_KEYS = [
  'name',
  'on',
  'jobs',
  'steps',
  'run',
  'if',
  'needs',
  'env',
  'with',
  'uses',
  'matrix',
  'strategy',
  'concurrency',
  'timeout',
  'environment',
  'finally',
  'events',
  'filters',
  'schedule',
  'cron',
  'outputs',
  'inputs',
  'retries',
  'branches',
  'type',
  'source',
  'subject',
];

const pipelineValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(
      'build',
      'deploy',
      'echo hi',
      '${{ event.data.ref }}',
      "event.type == 'push'",
      '10m',
      '*/5 * * * *',
      'push',
      '*',
    ),
    jsonish,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PIPELINE_KEYS) }, { weight: 1, arbitrary: nasty }),
      tie('value'),
      {
        maxKeys: 6,
      },
    ),
  ),
})).value;

const YAML_SNIPPETS = [
  '!!js/function "x"',
  '&a [*a]',
  '*missing',
  '<<: *x',
  '? [a]\n: b',
  '---\n---',
  '%TAG ! x',
  '{a: 1, a: 2}',
  '"\\u0000"',
  '!!binary AAAA',
  '!!timestamp 2024-13-99',
  "'\u202e'",
];

const pipelinesTarget: FuzzTarget = {
  name: 'pipelines',
  property: (count) =>
    fc.property(
      fc.oneof(
        pipelineValue.map((value) => {
          try {
            return stringify(value);
          } catch {
            return '';
          }
        }),
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc
          .array(
            fc.oneof(
              fc.constantFrom(...YAML_SNIPPETS),
              fc.string({ maxLength: 20 }),
              fc.constantFrom('name: x', 'jobs:', '  a:', '    steps:', '      - run: x', '  - ', ':', '\t'),
            ),
            { maxLength: 12 },
          )
          .map((lines) => lines.join('\n')),
      ),
      (text) => {
        count();
        check('parsePipeline', () =>
          parsePipeline(text, 'fuzz.yaml', { checkExpression: checkPipelineExpression }),
        );
      },
    ),
};

const CEL_PIECES = [
  'event',
  'event.data',
  '.',
  '[',
  ']',
  '(',
  ')',
  '"',
  "'",
  '==',
  '&&',
  '||',
  '!',
  '?',
  ':',
  'size(',
  'has(',
  'matches(',
  '1',
  '1e999',
  '-9223372036854775809',
  '18446744073709551616u',
  'b"\\xff"',
  '{',
  '}',
  ',',
  'in',
  'null',
  'true',
  'dyn(',
  'int(',
  'string(',
  'timestamp("',
  'duration("',
  '.map(x, ',
  '.all(x, ',
  'x',
  '\\',
  '\n',
  '${{',
  '}}',
  'success()',
  'env.A',
  'steps',
  'needs',
  'matrix',
];

const celSource = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.array(fc.constantFrom(...CEL_PIECES), { maxLength: 30 }).map((p) => p.join('')),
  fc.array(fc.constantFrom(...CEL_PIECES), { maxLength: 30 }).map((p) => p.join(' ')),
);

const CONTEXT = {
  event: { data: { ref: 'refs/heads/main', n: 1, list: [1, 2] }, type: 'push' },
  env: { A: 'a' },
};

const expressionsTarget: FuzzTarget = {
  name: 'expressions',
  property: (count) =>
    fc.property(celSource, fc.string({ maxLength: 20 }), fc.boolean(), (source, text, statusFunctions) => {
      count();
      const options = { variables: ['event', 'env'], statusFunctions };
      check(
        'compileExpression',
        () => compileExpression(source, options),
        (compiled) => {
          check('evaluate', () =>
            compiled.evaluate(CONTEXT, { status: { success: true, failure: false, cancelled: false } }),
          );
        },
      );
      const template = `${text}\${{ ${source} }}${text}`;
      check(
        'compileTemplate',
        () => compileTemplate(template, options),
        (compiled) => {
          check('render', () => compiled.render(CONTEXT));
        },
      );
      check('checkPipelineExpression(job-if)', () => checkPipelineExpression(source, 'job-if'));
      check('checkPipelineExpression(step-template)', () =>
        checkPipelineExpression(template, 'step-template'),
      );
      check('checkPipelineExpression(step-run)', () => checkPipelineExpression(template, 'step-run'));
    }),
};

/** Every target, sources in the registry's order. */
export const TARGETS: readonly FuzzTarget[] = [
  cloudEventsTarget,
  ...[...sources.values()].map((source) => sourceTarget(source.type, source)),
  pipelinesTarget,
  expressionsTarget,
];
