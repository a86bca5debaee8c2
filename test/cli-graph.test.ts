/**
 * `junction graph`: the real CLI on a folder of pipelines prints the Mermaid picture of how events
 * flow (and `--json` its nodes and edges); broken files are left out and reported, exit 65.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from './helpers/app.ts';

const CI = `name: ci
on:
  - event: git.push
    branches: [main]
jobs:
  build:
    steps:
      - run: make
      - uses: emit
        with:
          type: build.done
          data: { commit: '\${{ event.data.after }}' }
`;
const DEPLOY = `name: deploy
on:
  - event: build.done
jobs:
  ship:
    steps:
      - run: echo ship
`;
const NOTIFY = `name: notify
on:
  - event: pipeline.failed
jobs:
  tell:
    steps:
      - run: echo failed
`;

interface Flow {
  nodes: { id: string; kind: string; label: string }[];
  edges: { from: string; to: string; kind: string }[];
}

/** `from-label -> to-label` for every `A --> B` or `A -.-> B` line of the Mermaid text. */
function mermaidEdges(text: string): string[] {
  const labels = new Map<string, string>();
  for (const match of text.matchAll(/^ {2}(\w+)\(?\["([^"]*)"\]\)?/gm)) labels.set(match[1]!, match[2]!);
  return [...text.matchAll(/^ {2}(\w+) (?:-->|-\.->) (\w+)$/gm)].map(
    (m) => `${labels.get(m[1]!)} -> ${labels.get(m[2]!)}`,
  );
}

function writePipelines(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

describe('junction graph', { timeout: 60_000 }, () => {
  test('prints the flow of three pipelines as Mermaid, and as JSON', async () => {
    const dir = tempDir('junction-cli-graph-');
    try {
      const folder = join(dir.path, 'flows');
      writePipelines(folder, { 'ci.yaml': CI, 'deploy.yaml': DEPLOY, 'notify.yaml': NOTIFY });
      const result = await runCli(['graph', folder]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stderr, '');
      assert.match(result.stdout, /^flowchart LR\n/);
      assert.deepEqual(mermaidEdges(result.stdout).sort(), [
        'build.done -> deploy',
        'ci -> build.done',
        'ci -> pipeline.failed',
        'deploy -> pipeline.failed',
        'git.push -> ci',
        'notify -> pipeline.failed',
        'pipeline.failed -> notify',
      ]);
      assert.doesNotMatch(result.stdout, /pipeline\.succeeded/);

      const json = await runCli(['graph', '--json', folder]);
      assert.equal(json.code, 0, json.stderr);
      const flow = JSON.parse(json.stdout) as Flow;
      const label = new Map(flow.nodes.map((n) => [n.id, n.label]));
      const edges = flow.edges.map((e) => `${label.get(e.from)} ${e.kind} ${label.get(e.to)}`).sort();
      assert.deepEqual(edges, [
        'build.done trigger deploy',
        'ci emit build.done',
        'ci end pipeline.failed',
        'deploy end pipeline.failed',
        'git.push trigger ci',
        'notify end pipeline.failed',
        'pipeline.failed trigger notify',
      ]);
      assert.deepEqual(
        flow.nodes.filter((n) => n.kind === 'pipeline').map((n) => n.label),
        ['ci', 'deploy', 'notify'],
      );
    } finally {
      dir.remove();
    }
  });

  test('with no folder it graphs the configured pipelines folder; broken files are left out, exit 65', async () => {
    const dir = tempDir('junction-cli-graph-');
    try {
      writePipelines(join(dir.path, 'pipelines'), {
        'ci.yaml': CI,
        'deploy.yaml': DEPLOY,
        'broken.yaml': 'name: broken\non:\n  - event: build.done\njobs:\n  x:\n    stepz: []\n',
      });
      const result = await runCli(['graph'], { cwd: dir.path });
      assert.equal(result.code, 65, result.stdout + result.stderr);
      assert.match(result.stderr, /broken\.yaml:\d+:\d+ .*stepz/);
      assert.match(result.stderr, /left out 1 file\(s\)/);
      assert.deepEqual(mermaidEdges(result.stdout).sort(), [
        'build.done -> deploy',
        'ci -> build.done',
        'git.push -> ci',
      ]);
      assert.doesNotMatch(result.stdout, /broken/);
    } finally {
      dir.remove();
    }
  });

  test('a path that is not a folder is a usage error', async () => {
    const dir = tempDir('junction-cli-graph-');
    try {
      const file = join(dir.path, 'ci.yaml');
      writeFileSync(file, CI);
      for (const target of [file, join(dir.path, 'missing')]) {
        const result = await runCli(['graph', target]);
        assert.equal(result.code, 2, result.stdout + result.stderr);
        assert.match(result.stderr, /is not a folder.*\[CLI_USAGE\]/);
        assert.equal(result.stdout, '');
      }
    } finally {
      dir.remove();
    }
  });
});
