import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  mermaidLabel,
  pipelineFlow,
  pipelineFlowGraph,
  renderMermaid,
  type PipelineFlow,
} from './mermaid.ts';
import { parsePipeline, type PipelineSpec, type UsesStepSpec } from './index.ts';

function spec(yaml: string): PipelineSpec {
  const { pipeline, problems } = parsePipeline(yaml, 'test.yaml');
  assert.deepEqual(problems, []);
  return pipeline!;
}

function pipeline(
  name: string,
  on: string[],
  emits: string[] = [],
  finallyEmits: string[] = [],
): PipelineSpec {
  const steps = (types: string[]): string =>
    types.length === 0
      ? '      - run: echo hi\n'
      : types.map((t) => `      - uses: emit\n        with: { type: ${JSON.stringify(t)} }\n`).join('');
  const triggers =
    on.length === 0 ? '' : `on:\n${on.map((e) => `  - event: ${JSON.stringify(e)}\n`).join('')}`;
  const fin = finallyEmits.length === 0 ? '' : `finally:\n  tell:\n    steps:\n${steps(finallyEmits)}`;
  return spec(`name: ${name}\n${triggers}jobs:\n  main:\n    steps:\n${steps(emits)}${fin}`);
}

/** Edges as `from-label kind to-label`, for readable assertions. */
function edges(flow: PipelineFlow): string[] {
  const label = new Map(flow.nodes.map((n) => [n.id, n.kind === 'dynamic' ? `dynamic(${n.id})` : n.label]));
  return flow.edges.map((e) => `${label.get(e.from)} ${e.kind} ${label.get(e.to)}`);
}

// Every line of the output: the header, a node with a quoted, escaped label, an edge between
// generated ids, or the class definition.
const LINE =
  /^(flowchart LR| {2}[epd]\d+(\(\["[^"[\](){}<>#;|`]*(?:#\d+;[^"[\](){}<>#;|`]*)*"\]\)(:::dynamic)?|\["[^"[\](){}<>#;|`]*(?:#\d+;[^"[\](){}<>#;|`]*)*"\])| {2}[epd]\d+ (-->|-\.->|-\. matches \.->) [epd]\d+| {2}classDef dynamic stroke-dasharray: 4 3)$/;

function assertWellFormed(text: string): void {
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) assert.match(line, LINE);
}

describe('pipeline flow graph', { timeout: 30_000 }, () => {
  test('events start pipelines, emits lead on, and the run end shows only when listened for', () => {
    const pipelines = [
      pipeline('ci', ['git.push'], ['build.done']),
      pipeline('deploy', ['build.done']),
      pipeline('notify', ['pipeline.failed']),
    ];
    const flow = pipelineFlow(pipelines);
    assert.deepEqual(edges(flow), [
      'build.done trigger deploy',
      'git.push trigger ci',
      'pipeline.failed trigger notify',
      'ci emit build.done',
      'ci end pipeline.failed',
      'deploy end pipeline.failed',
      'notify end pipeline.failed',
    ]);
    assert.ok(!flow.nodes.some((n) => n.label === 'pipeline.succeeded'), 'nobody listens for success');
    const text = pipelineFlowGraph(pipelines);
    assertWellFormed(text);
    assert.equal(
      text,
      [
        'flowchart LR',
        '  e1(["build.done"])',
        '  e2(["git.push"])',
        '  e3(["pipeline.failed"])',
        '  p1["ci"]',
        '  p2["deploy"]',
        '  p3["notify"]',
        '  e1 --> p2',
        '  e2 --> p1',
        '  e3 --> p3',
        '  p1 --> e1',
        '  p1 -.-> e3',
        '  p2 -.-> e3',
        '  p3 -.-> e3',
        '',
      ].join('\n'),
    );
  });

  test('without triggers on run ends, no run-end nodes or edges are drawn', () => {
    const flow = pipelineFlow([pipeline('ci', ['git.push'], ['build.done']), pipeline('manual', [])]);
    assert.deepEqual(edges(flow), ['git.push trigger ci', 'ci emit build.done']);
    assert.deepEqual(
      flow.nodes.map((n) => `${n.kind}:${n.label}`),
      ['event:build.done', 'event:git.push', 'pipeline:ci', 'pipeline:manual'],
    );
  });

  test('globs are nodes of their own, matched by the known types', () => {
    const flow = pipelineFlow([
      pipeline('build', ['git.push'], ['image.pushed', 'image.scanned.ok']),
      pipeline('scan', ['image.*']),
      pipeline('audit', ['**']),
      pipeline('after', ['pipeline.succ*']),
    ]);
    assert.deepEqual(edges(flow), [
      '** trigger audit',
      'git.push match **',
      'git.push trigger build',
      'image.* trigger scan',
      'image.pushed match **',
      'image.pushed match image.*',
      'image.scanned.ok match **',
      'pipeline.failed match **',
      'pipeline.succ* trigger after',
      'pipeline.succeeded match **',
      'pipeline.succeeded match pipeline.succ*',
      'after end pipeline.failed',
      'after end pipeline.succeeded',
      'audit end pipeline.failed',
      'audit end pipeline.succeeded',
      'build emit image.pushed',
      'build emit image.scanned.ok',
      'build end pipeline.failed',
      'build end pipeline.succeeded',
      'scan end pipeline.failed',
      'scan end pipeline.succeeded',
    ]);
    const kinds = Object.fromEntries(
      pipelineFlow([pipeline('scan', ['image.*'])]).nodes.map((n) => [n.label, n.kind]),
    );
    assert.deepEqual(kinds, { 'image.*': 'pattern', scan: 'pipeline' });
  });

  test('an if on the trigger is not evaluated: the type node is connected', () => {
    const after = spec(
      'name: release\non:\n  - event: pipeline.succeeded\n    if: event.data.pipeline == "ci"\njobs:\n  r:\n    steps:\n      - run: echo\n',
    );
    const flow = pipelineFlow([pipeline('ci', ['git.push']), after]);
    assert.deepEqual(edges(flow), [
      'git.push trigger ci',
      'pipeline.succeeded trigger release',
      'ci end pipeline.succeeded',
      'release end pipeline.succeeded',
    ]);
  });

  test('templated emit types are a dynamic node per pipeline; finally jobs count', () => {
    const flow = pipelineFlow([
      pipeline(
        'ci',
        ['git.push'],
        ['ci.${{ event.data.branch }}', 'ci.${{ event.data.branch }}'],
        ['ci.done'],
      ),
      pipeline('other', [], ['x.${{ event.type }}']),
    ]);
    assert.deepEqual(edges(flow), [
      'git.push trigger ci',
      'ci emit ci.done',
      'ci emit dynamic(d1)',
      'other emit dynamic(d2)',
    ]);
    const dynamic = flow.nodes.filter((n) => n.kind === 'dynamic');
    assert.deepEqual(
      dynamic.map((n) => [n.label, n.templates]),
      [
        ['dynamic', ['ci.${{ event.data.branch }}']],
        ['dynamic', ['x.${{ event.type }}']],
      ],
    );
    const text = renderMermaid(flow);
    assertWellFormed(text);
    assert.match(text, /d1\(\["dynamic"\]\):::dynamic/);
    assert.doesNotMatch(text, /\$\{\{/);
  });

  test('a pipeline that triggers itself is a loop in the picture', () => {
    const flow = pipelineFlow([pipeline('loop', ['tick'], ['tick'])]);
    assert.deepEqual(edges(flow), ['tick trigger loop', 'loop emit tick']);
  });

  test('output does not depend on the order pipelines are given in', () => {
    const a = pipeline('a', ['x.*', 'git.push'], ['x.one']);
    const b = pipeline('b', ['x.one', 'pipeline.*'], ['y']);
    const c = pipeline('c', ['y'], ['z.${{ 1 }}']);
    const expected = pipelineFlowGraph([a, b, c]);
    for (const order of [
      [c, b, a],
      [b, a, c],
      [c, a, b],
    ])
      assert.equal(pipelineFlowGraph(order), expected);
    assertWellFormed(expected);
  });

  test('hostile labels cannot break out of their quotes', () => {
    const hostile = [
      'a"]; click p1 call alert(1); x["',
      'b]) --> p1\n  p1',
      'c<script>alert(1)</script>',
      'd#quot;;|`x`|{{y}}',
      'e\u0000\u2028f',
      '😀.ünï',
      'end',
      `long.${'x'.repeat(500)}`,
    ];
    const base = pipeline('ci', ['git.push'], ['placeholder']);
    const job = base.jobs['main']!;
    const emit = job.steps[0] as UsesStepSpec;
    const hacked: PipelineSpec = {
      ...base,
      on: [...base.on, ...hostile.map((event, i) => ({ index: i + 1, event }))],
      jobs: {
        main: {
          ...job,
          steps: hostile.map((type, index) => ({ ...emit, index, with: { type } })),
        },
      },
    };
    const text = pipelineFlowGraph([hacked]);
    assertWellFormed(text);
    assert.doesNotMatch(text, /<script>|^\s*click/m);
    assert.match(text, /#128512;/);
    assert.equal(mermaidLabel('a"b'), 'a#34;b');
    assert.equal(mermaidLabel('x#35;'), 'x#35;35#59;');
    assert.ok([...mermaidLabel('x'.repeat(500))].length <= 125);
  });

  test('no pipelines, no nodes', () => {
    assert.equal(pipelineFlowGraph([]), 'flowchart LR\n');
    assert.deepEqual(pipelineFlow([]), { nodes: [], edges: [] });
  });
});
