/**
 * The hostile-input corpus (test/hostile/, see its README): every case is sent to a real app with
 * every source type configured, authenticated the way its provider does it unless the case says
 * otherwise. Each answer must be a 4xx with the JSON error body, or a 2xx where the case is marked
 * as valid input; never a 5xx or a dropped connection. A refused case must store nothing, and the
 * server must still answer /healthz at the end. Pipeline files go through the pipeline loader and
 * must come back as problems, never as an exception.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPipelineDir, parsePipeline } from '../src/pipelines/index.ts';
import { checkPipelineExpression } from '../src/runs/expressions.ts';
import { SOURCE_FACTORIES } from '../src/sources/index.ts';
import { SOURCE_SETTINGS, authHeaders, standardWebhookHeaders } from './fuzz/sources.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';

const CORPUS = join(import.meta.dirname, 'hostile');

type Expect = 'refused' | 'accepted' | 'either';

interface Case {
  readonly file: string;
  readonly description?: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly bodyBase64?: string;
  readonly bodyJson?: unknown;
  readonly generate?: { readonly kind: string; readonly [option: string]: unknown };
  /** How the runner authenticates a source case: `valid` (default), `missing`, `wrong`, `stale`. */
  readonly auth?: 'valid' | 'missing' | 'wrong' | 'stale';
  readonly expect?: Expect;
  /**
   * Why this refusal comes from below the app (the HTTP parser, the framework's router) with the
   * framework's own error body rather than Junction's; such cases only need a 4xx.
   */
  readonly bareErrorBody?: string;
  /** A different expectation for some source types (`{ "webhook": "either" }`). */
  readonly expectFor?: Readonly<Record<string, Expect>>;
}

function readCases(dir: string): Case[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({
      ...(JSON.parse(readFileSync(join(dir, name), 'utf8')) as object),
      file: join(dir, name),
    }));
}

/** Bodies too large or too deep to commit, built from a small description. */
function generated(spec: NonNullable<Case['generate']>): string {
  const n = (key: string): number => Number(spec[key]);
  switch (spec.kind) {
    case 'deep-array':
      return '['.repeat(n('depth')) + ']'.repeat(n('depth'));
    case 'deep-object':
      return '{"a":'.repeat(n('depth')) + '1' + '}'.repeat(n('depth'));
    case 'huge-string':
      return JSON.stringify({ ref: 'x'.repeat(n('bytes')), message: 'y'.repeat(1000) });
    case 'quay-tags':
      return JSON.stringify({
        repository: 'a/b',
        docker_url: 'quay.io/a/b',
        updated_tags: Array.from({ length: n('count') }, (_, i) => `t${i}`),
      });
    case 'pubsub-deep':
      return JSON.stringify({
        message: {
          data: Buffer.from('['.repeat(n('depth')) + ']'.repeat(n('depth'))).toString('base64'),
          messageId: 'deep-1',
          publishTime: '2024-01-01T00:00:00Z',
        },
        subscription: 'projects/p/subscriptions/s',
      });
    case 'ce-deep-data':
      return `{"specversion":"1.0","id":"deep","source":"/s","type":"t","data":${'['.repeat(n('depth'))}${']'.repeat(n('depth'))}}`;
    case 'ce-huge-id':
      return JSON.stringify({ specversion: '1.0', id: 'i'.repeat(n('bytes')), source: '/s', type: 't' });
    case 'ce-batch':
      return JSON.stringify(
        Array.from({ length: n('count') }, (_, i) => ({
          specversion: '1.0',
          id: `b${i}`,
          source: '/s',
          type: 't',
        })),
      );
    case 'long-path':
      return `${String(spec['prefix'])}${'a'.repeat(n('bytes'))}`;
    default:
      throw new Error(`unknown generator '${spec.kind}'`);
  }
}

function bodyOf(c: Case): Buffer {
  if (c.generate !== undefined && c.generate.kind !== 'long-path') return Buffer.from(generated(c.generate));
  if (c.bodyBase64 !== undefined) return Buffer.from(c.bodyBase64, 'base64');
  if (c.bodyJson !== undefined) return Buffer.from(JSON.stringify(c.bodyJson));
  return Buffer.from(c.body ?? '');
}

function sourceHeaders(type: string, c: Case, body: Buffer): Record<string, string> {
  const given = { ...c.headers };
  switch (c.auth ?? 'valid') {
    case 'missing':
      return given;
    case 'wrong': {
      const wrong = Object.entries(authHeaders(type, body, given)).map(([k, v]) => [k, `${v}x`]);
      return { ...given, ...Object.fromEntries(wrong) };
    }
    case 'stale':
      return { ...given, ...standardWebhookHeaders(body, 'stale-1', Math.floor(Date.now() / 1000) - 3600) };
    case 'valid':
      return { ...given, ...authHeaders(type, body, given) };
  }
}

interface Tally {
  inputs: number;
  refused: number;
  accepted: number;
  crashes: number;
}

describe('hostile-input corpus', { timeout: 300_000 }, () => {
  let t: TestApp;
  const tally: Tally = { inputs: 0, refused: 0, accepted: 0, crashes: 0 };

  before(async () => {
    t = await startTestApp({ sources: Object.values(SOURCE_SETTINGS) });
  });
  after(async () => {
    console.log(
      `# hostile: ${tally.inputs} inputs, ${tally.refused} refused, ${tally.accepted} accepted, ${tally.crashes} crashes`,
    );
    await t.close();
  });

  async function newestSeq(): Promise<number> {
    const page = await t.app.store.listEvents({}, { limit: 1 });
    return page.items[0]?.seq ?? 0;
  }

  /** Sends one request and checks the answer against the case; returns a failure or undefined. */
  async function send(
    label: string,
    c: Case,
    expect: Expect,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<string | undefined> {
    tally.inputs += 1;
    const before = await newestSeq();
    let response: Response;
    try {
      response = await fetch(`${t.url}${path}`, {
        method,
        headers,
        ...(body === undefined || method === 'GET' || method === 'OPTIONS' ? {} : { body }),
      });
    } catch (error) {
      tally.crashes += 1;
      return `${label}: the request failed (${String(error)})`;
    }
    const text = await response.text();
    const status = response.status;
    if (status >= 500) {
      tally.crashes += 1;
      return `${label}: answered ${status}: ${text.slice(0, 300)}`;
    }
    if (status >= 400) {
      tally.refused += 1;
      let parsed: { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | undefined;
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      const error = parsed?.error;
      if (c.bareErrorBody !== undefined) {
        console.log(`# hostile: ${label}: ${status} with the framework's error body (${c.bareErrorBody})`);
      } else if (
        typeof error?.code !== 'string' ||
        typeof error.message !== 'string' ||
        typeof error.requestId !== 'string'
      ) {
        return `${label}: ${status} without the {error:{code,message,requestId}} body: ${text.slice(0, 200)}`;
      }
      const afterSeq = await newestSeq();
      if (afterSeq !== before)
        return `${label}: refused with ${status} but stored events (seq ${before} → ${afterSeq})`;
      if (expect === 'accepted')
        return `${label}: expected a 2xx, got ${status} ${String(error?.code)}: ${String(error?.message)}`;
      return undefined;
    }
    tally.accepted += 1;
    if (expect === 'refused') return `${label}: expected a 4xx, got ${status}: ${text.slice(0, 200)}`;
    return undefined;
  }

  test('every source case is refused or accepted as marked, never a 5xx', async () => {
    const common = readCases(join(CORPUS, 'sources', '_common'));
    const failures: string[] = [];
    const types = Object.keys(SOURCE_FACTORIES);
    assert.deepEqual(
      Object.keys(SOURCE_SETTINGS).sort(),
      [...types].sort(),
      'every source type is configured',
    );
    for (const type of types) {
      const own = readCases(join(CORPUS, 'sources', type));
      assert.ok(own.length > 0, `test/hostile/sources/${type}/ has cases`);
      for (const c of [...common, ...own]) {
        const body = bodyOf(c);
        const expect = c.expectFor?.[type] ?? c.expect ?? 'refused';
        const label = `${type} ${c.file.slice(CORPUS.length + 1)}`;
        const failure = await send(
          label,
          c,
          expect,
          'POST',
          `/hooks/${type}`,
          sourceHeaders(type, c, body),
          body,
        );
        if (failure !== undefined) failures.push(failure);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('every CloudEvents case is refused or accepted as marked, never a 5xx', async () => {
    const failures: string[] = [];
    for (const c of readCases(join(CORPUS, 'cloudevents'))) {
      const label = `events ${c.file.slice(CORPUS.length + 1)}`;
      const failure = await send(
        label,
        c,
        c.expect ?? 'refused',
        'POST',
        '/events',
        { ...c.headers },
        bodyOf(c),
      );
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, []);
  });

  test('every API case is refused or accepted as marked, never a 5xx', async () => {
    const failures: string[] = [];
    for (const c of readCases(join(CORPUS, 'api'))) {
      const path = c.generate?.kind === 'long-path' ? generated(c.generate) : (c.path ?? '/');
      const method = c.method ?? 'GET';
      const label = `api ${c.file.slice(CORPUS.length + 1)}`;
      const failure = await send(label, c, c.expect ?? 'refused', method, path, { ...c.headers }, bodyOf(c));
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, []);
  });

  test('the server still answers /healthz after the corpus', async () => {
    const health = await t.get('/healthz');
    assert.equal(health.status, 200);
    assert.equal(tally.crashes, 0);
  });
});

describe('hostile pipeline files', () => {
  const dir = join(CORPUS, 'pipelines');
  const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));

  const deep = (depth: number): string => `name: deep\njobs: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
  const laughs = (levels: number): string => {
    let text = 'name: laughs\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i <= levels; i += 1)
      text += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    return `${text}jobs: *a${levels}\n`;
  };
  const generatedFiles: ReadonlyArray<readonly [string, string]> = [
    ['generated: 10k nested flow sequences', deep(10_000)],
    [
      'generated: 10k nested block mappings',
      `name: nest\njobs:\n${Array.from({ length: 10_000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')}\n`,
    ],
    ['generated: a 2 MB file', `name: big\njobs: {}\nx: "${'x'.repeat(2_000_000)}"\n`],
    ['generated: 12 levels of alias expansion', laughs(12)],
    [
      'generated: a 100k-character run script',
      `name: long\non: [{type: push}]\njobs:\n  a:\n    steps:\n      - run: "${'$'.repeat(100_000)}{{"\n`,
    ],
  ];

  test('each file yields problems and never throws', () => {
    const failures: string[] = [];
    const cases: Array<readonly [string, string]> = [
      ...files.map((name) => [name, readFileSync(join(dir, name), 'utf8')] as const),
      ...generatedFiles,
    ];
    for (const [name, text] of cases) {
      const started = performance.now();
      try {
        const result = parsePipeline(text, name, { checkExpression: checkPipelineExpression });
        if (result.problems.length === 0) failures.push(`${name}: no problems reported`);
      } catch (error) {
        failures.push(
          `${name}: threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        );
      }
      const ms = performance.now() - started;
      if (ms > 5000) failures.push(`${name}: took ${Math.round(ms)} ms`);
    }
    console.log(
      `# hostile: ${cases.length} pipeline inputs, ${cases.length - failures.length} refused with problems`,
    );
    assert.deepEqual(failures, []);
  });

  test('the folder loads with a problem per file and no pipelines', async () => {
    const result = await loadPipelineDir(dir, { checkExpression: checkPipelineExpression });
    assert.equal(result.pipelines.size, 0, [...result.pipelines.keys()].join(', '));
    const withProblems = new Set(result.problems.map((p) => p.file));
    assert.deepEqual(
      files.filter((name) => !withProblems.has(join(dir, name))),
      [],
    );
  });
});
