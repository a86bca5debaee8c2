/**
 * `junction trace ID` and `GET /api/v1/trace/:id` against a running app, through a real chain:
 * `demo.start` → run of `a` (which emits `demo.note`) → `pipeline.succeeded` → run of `b` (fails).
 * Tracing the first event and tracing the last run show the same tree with a different focus;
 * unknown and hostile ids are 404 (exit 5), and the route needs the read scope.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatTrace, type TraceAnswer } from '../src/cli/commands/trace.ts';
import { createApiToken } from '../src/security/index.ts';
import { runIdFor } from '../src/triggers/index.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const A = `name: a
on:
  - event: demo.start
jobs:
  one:
    steps:
      - run: echo a
      - uses: emit
        with:
          type: demo.note
          data:
            n: 1
`;
const B = `name: b
on:
  - event: pipeline.succeeded
    if: event.data.pipeline == "a"
jobs:
  one:
    steps:
      - run: exit 3
`;

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

interface Node {
  kind: 'event' | 'run';
  id: string;
  type?: string;
  pipeline?: string;
  status?: string;
  focus?: boolean;
  children: Node[];
}

/** `kind:type-or-pipeline` lines indented two spaces a level, children sorted for a stable shape. */
function shape(node: Node, depth = 0): string[] {
  const own = `${'  '.repeat(depth)}${node.kind}:${node.kind === 'event' ? node.type : node.pipeline}${node.focus === true ? ' *' : ''}`;
  const children = node.children.map((child) => shape(child, depth + 1));
  children.sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  return [own, ...children.flat()];
}

describe('junction trace', { timeout: 90_000 }, () => {
  const dir = tempDir('junction-cli-trace-');
  let app: TestApp;
  let env: Record<string, string>;
  let startId: string;
  let runA: string;
  let runB: string;

  async function ended(runId: string): Promise<string> {
    return eventually(
      async () => {
        const run = await app.app.store.getRun(runId);
        return run !== undefined && TERMINAL.has(run.status) ? run.status : undefined;
      },
      20_000,
      `run ${runId} to end`,
    );
  }

  /** The stored event of `type` the run produced, once it is stored. */
  async function produced(runId: string, type: string): Promise<string> {
    return eventually(
      async () => {
        const linked = await app.app.store.listEventsLinkedTo(
          { source: `/junction/runs/${runId}`, subject: runId },
          100,
        );
        return linked.find((e) => e.event.type === type)?.id;
      },
      20_000,
      `${type} of ${runId}`,
    );
  }

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'a.yaml'), A);
    writeFileSync(join(dir.path, 'pipelines', 'b.yaml'), B);
    app = await startTestApp({}, dir.path);
    env = { JUNCTION_URL: app.url };

    const posted = await app.post('/events', JSON.stringify(cloudEvent({ type: 'demo.start' })));
    assert.equal(posted.status, 202);
    startId = posted.body.id as string;
    runA = runIdFor(startId, 'a', 0);
    assert.equal(await ended(runA), 'succeeded');
    const succeeded = await produced(runA, 'pipeline.succeeded');
    runB = runIdFor(succeeded, 'b', 0);
    assert.equal(await ended(runB), 'failed');
    await produced(runB, 'pipeline.failed');
  });

  after(async () => {
    await app?.close();
    dir.remove();
  });

  const TREE = [
    'event:demo.start',
    '  run:a',
    '    event:demo.note',
    '    event:pipeline.started',
    '    event:pipeline.succeeded',
    '      run:b',
    '        event:pipeline.failed',
    '        event:pipeline.started',
  ];

  test('from the first event: event → run a → its events → run b, the event focused', async () => {
    const result = await runCli(['trace', startId, '--json'], { env });
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as {
      root: Node;
      focus: string;
      nodes: number;
      truncated: boolean;
    };
    assert.equal(body.focus, startId);
    assert.equal(body.truncated, false);
    assert.equal(body.nodes, TREE.length);
    assert.deepEqual(shape(body.root), [`${TREE[0]!} *`, ...TREE.slice(1)]);
    assert.equal(body.root.id, startId);
    assert.equal(body.root.children[0]?.id, runA);
  });

  test('from the last run: the same tree, run b focused', async () => {
    const result = await runCli(['trace', runB, '--json'], { env });
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { root: Node; focus: string };
    assert.equal(body.focus, runB);
    assert.equal(body.root.id, startId, 'the tree starts at the root of the chain');
    assert.deepEqual(
      shape(body.root),
      TREE.map((line) => (line === '      run:b' ? `${line} *` : line)),
    );
  });

  test('the text tree: one line a node, drawn branches, the focus marked', async () => {
    const result = await runCli(['trace', runB], { env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, TREE.length);
    assert.match(lines[0]!, new RegExp(`^evt ${startId}  demo\\.start  \\(\\d\\d:\\d\\d:\\d\\d\\)$`));
    assert.match(lines[1]!, new RegExp(`^└─ run ${runA}  a  succeeded  [\\d.]+(ms|s)$`));
    const runBLine = lines.find((line) => line.includes(`run ${runB}`));
    assert.match(
      runBLine ?? '',
      new RegExp(
        `^ {3}[│ ] {2}└─ run ${runB} {2}b {2}failed: job 'one' failed: step 'exit 3' failed: .+ {2}[\\d.]+(ms|s) {2}◀$`,
      ),
    );
    assert.ok(
      lines.some((line) => /^ {3}[├└]─ evt \S+ {2}pipeline\.succeeded {2}a succeeded {2}\(/.test(line)),
      result.stdout,
    );
    assert.equal(lines.filter((line) => line.endsWith('◀')).length, 1, 'one node is focused');
    assert.ok(!result.stdout.includes('\u001b['), 'no colour without a terminal');
  });

  test('an unknown id exits 5 with the code; a run-shaped one says run', async () => {
    const unknown = await runCli(['trace', 'no-such-thing'], { env });
    assert.equal(unknown.code, 5, unknown.stderr);
    assert.match(unknown.stderr, /EVENT_NOT_FOUND/);
    assert.match(unknown.stderr, /no event or run with id 'no-such-thing'/);
    const run = await runCli(['trace', 'run_doesnotexist'], { env });
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /RUN_NOT_FOUND/);
  });

  test('ids with odd characters are 404, not 500', async () => {
    for (const id of ["x' OR '1'='1", '../../etc', '%00', 'a b', '\u001b[31m', 'é', 'x'.repeat(100)]) {
      const response = await app.get(`/api/v1/trace/${encodeURIComponent(id)}`);
      assert.equal(
        response.status,
        404,
        `${JSON.stringify(id.slice(0, 20))}: ${JSON.stringify(response.body)}`,
      );
      assert.equal(response.body.error.code, 'EVENT_NOT_FOUND');
      assert.ok(JSON.stringify(response.body).length < 1000, 'the id is not echoed whole');
    }
    // Longer than the router takes in a path segment: refused before the route, still not a 5xx.
    const long = await app.get(`/api/v1/trace/${'x'.repeat(5000)}`);
    assert.ok(long.status >= 400 && long.status < 500, String(long.status));
    const cli = await runCli(['trace', '\u001b[31mred'], { env });
    assert.equal(cli.code, 5);
  });

  test('formatTrace draws nested branches and says when the tree was cut', () => {
    const run = (id: string, children: TraceAnswer['root'][] = []): TraceAnswer['root'] => ({
      kind: 'run',
      id,
      pipeline: 'p',
      status: 'queued',
      reason: null,
      startedAt: null,
      finishedAt: null,
      rerunOf: id === 'r3' ? 'r1' : null,
      children,
    });
    const text = formatTrace({
      root: {
        kind: 'event',
        id: 'e1',
        type: 'x.y',
        source: '/s',
        subject: null,
        time: 'not a time',
        summary: 'say\u001b[2J\nhi',
        focus: true,
        children: [run('r1', [run('r2')]), run('r3')],
      },
      focus: 'e1',
      nodes: 4,
      truncated: true,
    });
    assert.equal(
      text,
      [
        'evt e1  x.y  say [2J hi  ◀',
        '├─ run r1  p  queued',
        '│  └─ run r2  p  queued',
        '└─ run r3  p  queued  (re-run of r1)',
        '… the chain is longer than shown (4 nodes); trace a node further down to see past it',
        '',
      ].join('\n'),
    );
  });

  test('the route needs the read scope once tokens exist', async () => {
    const emitter = await createApiToken(app.app.store, 'ci', ['emit']);
    const reader = await createApiToken(app.app.store, 'dash', ['read']);
    const path = `/api/v1/trace/${startId}`;
    await eventually(
      async () => ((await app.get(path)).status === 401 ? true : undefined),
      10_000,
      'open mode to end',
    );
    const forbidden = await app.get(path, { authorization: `Bearer ${emitter.token}` });
    assert.equal(forbidden.status, 403);
    const allowed = await app.get(path, { authorization: `Bearer ${reader.token}` });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.body.root.id, startId);
  });
});
