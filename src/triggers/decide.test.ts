import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import { parsePipeline, type LoadedPipeline } from '../pipelines/index.ts';
import { decideEvent, runIdFor } from './decide.ts';
import { checkTriggerIf, compilePipelines, NO_PIPELINES } from './routable.ts';

function pipeline(name: string, on: string): LoadedPipeline {
  const file = `pipelines/${name}.yaml`;
  const text = [`name: ${name}`, `on: ${on}`, 'jobs:', '  a:', '    steps:', '      - run: echo hi'].join(
    '\n',
  );
  const result = parsePipeline(text, file);
  assert.ok(result.pipeline, JSON.stringify(result.problems));
  return { spec: result.pipeline, file };
}

function event(type: string, data: unknown = {}, fields: Partial<CloudEvent> = {}): CloudEvent {
  return { specversion: '1.0', id: 'e1', source: 'https://github.com/acme/app', type, data, ...fields };
}

const { routable, problems } = compilePipelines([
  pipeline('ci', '[{ event: git.push, branches: [main] }, { event: git.pull_request }]'),
  pipeline('deploy', '[{ event: git.tag }, { event: git.push, branches: [main], if: "event.data.n > 1" }]'),
  pipeline('images', '[{ event: image.pushed }]'),
  pipeline('all', '[{ event: "git.**", paths: [src/**] }]'),
]);

describe('decideEvent', { timeout: 30_000 }, () => {
  test('the set compiles without problems', () => {
    assert.deepEqual(problems, []);
    assert.deepEqual([...routable.pipelines.keys()], ['ci', 'deploy', 'images', 'all']);
  });

  const cases: {
    name: string;
    event: CloudEvent;
    want: [string, number, boolean, string][];
  }[] = [
    {
      name: 'a push to main matches ci and deploy when if is true; paths unknown is noted',
      event: event('git.push', { branch: 'main', n: 2 }),
      want: [
        ['ci', 0, true, 'matched'],
        ['deploy', 1, true, 'matched'],
        ['all', 0, true, 'matched (changed files unknown, path filters not applied)'],
      ],
    },
    {
      name: 'the first failing clause is the reason',
      event: event('git.push', { branch: 'dev', n: 2, changed_files: ['docs/a.md'] }),
      want: [
        ['ci', 0, false, "branch 'dev' not in [main]"],
        ['deploy', 1, false, "branch 'dev' not in [main]"],
        ['all', 0, false, "changed file 'docs/a.md' does not match paths [src/**]"],
      ],
    },
    {
      name: 'a false if',
      event: event('git.push', { branch: 'main', n: 0, changed_files: ['src/a.ts'] }),
      want: [
        ['ci', 0, true, 'matched'],
        ['deploy', 1, false, "if 'event.data.n > 1' is false"],
        ['all', 0, true, 'matched'],
      ],
    },
    {
      name: 'an if that cannot be evaluated fails its clause and never throws',
      event: event('git.push', { branch: 'main' }),
      want: [
        ['ci', 0, true, 'matched'],
        ['deploy', 1, false, 'failed'],
        ['all', 0, true, 'matched (changed files unknown, path filters not applied)'],
      ],
    },
    {
      name: 'only candidate triggers are decided: no row for pipelines of other types',
      event: event('image.pushed'),
      want: [['images', 0, true, 'matched']],
    },
    { name: 'no pipeline listens for the type', event: event('nobody.listens'), want: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const decisions = decideEvent(c.event, routable);
      assert.deepEqual(
        decisions.map((d) => [d.pipeline, d.triggerIndex, d.matched]),
        c.want.map(([p, i, m]) => [p, i, m]),
      );
      decisions.forEach((d, i) => {
        const reason = c.want[i]![3];
        if (reason === 'failed') assert.match(d.reason, /^if 'event\.data\.n > 1' failed: /);
        else assert.equal(d.reason, reason);
      });
    });
  }

  test('accepts a stored event and decides on the CloudEvent inside', () => {
    const stored: StoredEvent = {
      id: 'x',
      seq: 1,
      dedupeKey: 'k',
      receiver: 'events',
      receivedAt: '2026-01-01T00:00:00.000Z',
      event: event('git.pull_request', { base_branch: 'main' }),
    };
    assert.deepEqual(decideEvent(stored, routable), [
      { pipeline: 'ci', triggerIndex: 1, matched: true, reason: 'matched' },
      {
        pipeline: 'all',
        triggerIndex: 0,
        matched: true,
        reason: 'matched (changed files unknown, path filters not applied)',
      },
    ]);
  });

  test('an empty set decides nothing', () => {
    assert.deepEqual(decideEvent(event('git.push'), NO_PIPELINES), []);
  });
});

describe('runIdFor', { timeout: 30_000 }, () => {
  test('is stable, run_ and 26 base32 characters', () => {
    const id = runIdFor('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 'ci', 0);
    assert.match(id, /^run_[a-z2-7]{26}$/);
    assert.equal(id, runIdFor('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 'ci', 0));
  });

  test('a known value, so the id never changes between versions', () => {
    assert.equal(runIdFor('e', 'p', 0), 'run_4prmawmo3n4arumb3fjmazknok');
  });

  test('differs by event, pipeline and trigger index', () => {
    const ids = new Set([
      runIdFor('e1', 'ci', 0),
      runIdFor('e2', 'ci', 0),
      runIdFor('e1', 'cd', 0),
      runIdFor('e1', 'ci', 1),
      runIdFor('e1', 'ci1', 0),
    ]);
    assert.equal(ids.size, 5);
  });
});

describe('compilePipelines', { timeout: 30_000 }, () => {
  test('a pipeline with an invalid trigger is left out with its problems; the others stay', () => {
    const bad = pipeline('bad', '[{ event: git.push }, { event: git.push, branches: ["!x"] }]');
    const result = compilePipelines([bad, pipeline('ok', '[{ event: git.push }]')]);
    assert.deepEqual([...result.routable.pipelines.keys()], ['ok']);
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]!.file, 'pipelines/bad.yaml');
    assert.equal(result.problems[0]!.path, 'on[1].branches');
    assert.deepEqual(
      decideEvent(event('git.push'), result.routable).map((d) => d.pipeline),
      ['ok'],
    );
  });

  test('an if that does not compile is left out too', () => {
    const broken = pipeline('broken', '[{ event: git.push, if: "nope.x == 1" }]');
    const result = compilePipelines([broken]);
    assert.equal(result.routable.pipelines.size, 0);
    assert.equal(result.problems[0]!.path, 'on[0].if');
  });

  test('the digest changes when the spec changes', () => {
    const a = compilePipelines([pipeline('p', '[{ event: a }]')]).routable.pipelines.get('p')!;
    const b = compilePipelines([pipeline('p', '[{ event: b }]')]).routable.pipelines.get('p')!;
    assert.match(a.digest, /^[0-9a-f]{64}$/);
    assert.notEqual(a.digest, b.digest);
  });
});

describe('checkTriggerIf', { timeout: 30_000 }, () => {
  test('reports a CEL error in on[].if at load with its position', () => {
    const text = [
      'name: p',
      'on:',
      '  - event: git.push',
      '    if: "event.data.x =="',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: x',
    ].join('\n');
    const result = parsePipeline(text, 'p.yaml', { checkExpression: checkTriggerIf });
    assert.equal(result.pipeline, undefined);
    const problem = result.problems.find((p) => p.path === 'on[0].if');
    assert.ok(problem, JSON.stringify(result.problems));
    assert.equal(problem.line, 4);
  });

  test('an unknown variable is refused; other scopes are left alone', () => {
    assert.match(checkTriggerIf('jobs.a == 1', 'trigger-if') ?? '', /jobs/);
    assert.equal(checkTriggerIf('event.type == "x"', 'trigger-if'), undefined);
    assert.equal(checkTriggerIf('success()', 'job-if'), undefined);
  });
});
