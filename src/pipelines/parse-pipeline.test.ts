import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProblems, MAX_PIPELINE_FILE_BYTES, parsePipeline, type PipelineProblem } from './index.ts';

const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

/** What a test expects of one problem: `line:col path`, a piece of the message, the suggestion. */
interface Expected {
  readonly at: string;
  readonly message: string;
  readonly suggestion?: string;
}

interface Case {
  readonly name: string;
  readonly text: string;
  readonly expected: readonly Expected[];
}

const where = (p: PipelineProblem): string => `${p.line ?? '?'}:${p.column ?? '?'} ${p.path}`;

const CASES: readonly Case[] = [
  {
    name: 'environment on a matrix job',
    text: lines(
      'name: x',
      'on: [{ event: demo.x }]',
      'jobs:',
      '  deploy:',
      '    strategy: { matrix: { region: [eu, us] } }',
      '    environment: { name: prod, service: api, version: "1" }',
      '    steps: [{ run: echo }]',
    ),
    expected: [{ at: '6:5 jobs.deploy.environment', message: 'cannot use `strategy.matrix`' }],
  },
  {
    name: 'YAML syntax error',
    text: lines('name: x', 'jobs:', '  a:', '    steps: [', '      - run: x'),
    expected: [
      { at: '5:7 ', message: 'block collections are not allowed within flow collections' },
      { at: '6:1 ', message: 'flow sequence in block collection must be sufficiently indented' },
    ],
  },
  {
    name: 'missing name and jobs',
    text: lines('description: nothing else'),
    expected: [
      { at: '1:1 jobs', message: 'is required' },
      { at: '1:1 name', message: 'is required' },
    ],
  },
  {
    name: 'bad name, wrong types',
    text: lines(
      'name: CI Build',
      'env: [a]',
      'jobs:',
      '  a:',
      '    timeout: 10',
      '    steps:',
      '      - run: 42',
    ),
    expected: [
      {
        at: '1:7 name',
        message:
          "must be lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters, got 'CI Build'",
      },
      { at: '2:6 env', message: 'must be a mapping, got a list' },
      { at: '5:14 jobs.a.timeout', message: 'must be text, got 10' },
      { at: '7:14 jobs.a.steps[0].run', message: 'must be text, got 42' },
    ],
  },
  {
    name: 'unknown keys suggest the nearest valid key',
    text: lines(
      'name: x',
      'on:',
      '  - event: git.push',
      '    branchs: [main]',
      'jobs:',
      '  a:',
      '    need: [b]',
      '    steps:',
      '      - run: x',
      '        continue-on-eror: true',
      '  b:',
      '    steps: [{ run: y, shell: bash }]',
    ),
    expected: [
      { at: '4:5 on[0].branchs', message: "unknown key 'branchs'", suggestion: 'branches' },
      { at: '7:5 jobs.a.need', message: "unknown key 'need'", suggestion: 'needs' },
      {
        at: '10:9 jobs.a.steps[0].continue-on-eror',
        message: "unknown key 'continue-on-eror'",
        suggestion: 'continue-on-error',
      },
      { at: '12:23 jobs.b.steps[0].shell', message: "unknown key 'shell' (valid keys: id, name, run, uses" },
    ],
  },
  {
    name: 'duplicate keys and duplicate job ids',
    text: lines(
      'name: x',
      'jobs:',
      '  a:',
      '    steps: [{ run: x }]',
      '  a:',
      '    steps: [{ run: y }]',
      'name: y',
    ),
    expected: [
      { at: '5:3 jobs.a', message: "duplicate job id 'a' (first at line 3)" },
      { at: '7:1 name', message: "duplicate key 'name' (first at line 1)" },
    ],
  },
  {
    name: 'unknown needs suggest the nearest job; a job needing itself',
    text: lines(
      'name: x',
      'jobs:',
      '  build:',
      '    steps: [{ run: x }]',
      '  test:',
      '    needs: buld',
      '    steps: [{ run: x }]',
      '  deploy:',
      '    needs: [test, deploy, nothing-like-it]',
      '    steps: [{ run: x }]',
    ),
    expected: [
      { at: '6:12 jobs.test.needs', message: "job 'test' needs unknown job 'buld'", suggestion: 'build' },
      { at: '9:19 jobs.deploy.needs[1]', message: "job 'deploy' needs itself" },
      { at: '9:27 jobs.deploy.needs[2]', message: "job 'deploy' needs unknown job 'nothing-like-it'" },
    ],
  },
  {
    name: 'cycles are named in order',
    text: lines(
      'name: x',
      'jobs:',
      '  build:',
      '    needs: [test]',
      '    steps: [{ run: x }]',
      '  test:',
      '    needs: [lint]',
      '    steps: [{ run: x }]',
      '  lint:',
      '    needs: [build]',
      '    steps: [{ run: x }]',
      '  a:',
      '    needs: b',
      '    steps: [{ run: x }]',
      '  b:',
      '    needs: a',
      '    steps: [{ run: x }]',
    ),
    expected: [
      {
        at: '4:12 jobs.build.needs',
        message: 'jobs need each other in a cycle: build → test → lint → build',
      },
      { at: '13:12 jobs.a.needs', message: 'jobs need each other in a cycle: a → b → a' },
    ],
  },
  {
    name: 'finally jobs may need only finally jobs; ids unique across both',
    text: lines(
      'name: x',
      'jobs:',
      '  build:',
      '    steps: [{ run: x }]',
      'finally:',
      '  report:',
      '    needs: [build, cleanup]',
      '    steps: [{ run: x }]',
      '  build:',
      '    steps: [{ run: x }]',
    ),
    expected: [
      { at: '7:13 finally.report.needs[0]', message: "finally job 'report' cannot need job 'build'" },
      {
        at: '7:20 finally.report.needs[1]',
        message: "finally job 'report' needs unknown finally job 'cleanup'",
      },
      { at: '9:3 finally.build', message: "job id 'build' is used under both 'jobs' and 'finally'" },
    ],
  },
  {
    name: 'steps: both or neither of run and uses, unknown uses, duplicate ids, empty steps',
    text: lines(
      'name: x',
      'jobs:',
      '  a:',
      '    steps:',
      '      - id: one',
      '        run: x',
      '        uses: checkout',
      '      - id: one',
      '        name: nothing to do',
      '      - uses: chekout',
      '  b:',
      '    steps: []',
    ),
    expected: [
      { at: '7:9 jobs.a.steps[0].uses', message: "a step has either 'run' or 'uses', not both" },
      { at: '8:9 jobs.a.steps[1]', message: "a step needs 'run' (a command) or 'uses' (a built-in action)" },
      { at: '8:13 jobs.a.steps[1].id', message: "step id 'one' is already used by steps[0] of job 'a'" },
      {
        at: '10:15 jobs.a.steps[2].uses',
        message: "must be one of 'checkout', 'emit', 'rollback', 'http', got 'chekout'",
        suggestion: 'checkout',
      },
      { at: '12:12 jobs.b.steps', message: 'must not be an empty list' },
    ],
  },
  {
    name: 'built-in action inputs are checked',
    text: lines(
      'name: x',
      'jobs:',
      '  a:',
      '    steps:',
      '      - uses: checkout',
      '        with: { reff: main }',
      '      - uses: emit',
      '        with: { data: { a: 1 } }',
    ),
    expected: [
      { at: '6:17 jobs.a.steps[0].with.reff', message: "unknown key 'reff'", suggestion: 'ref' },
      { at: '8:15 jobs.a.steps[1].with.type', message: 'is required' },
    ],
  },
  {
    name: 'http step inputs are checked',
    text: lines(
      'name: x',
      'jobs:',
      '  a:',
      '    steps:',
      '      - uses: http',
      '        with: { header: { a: b } }',
      '      - uses: http',
      '        with: { url: u, method: FETCH, attempts: 11, expect: [], timeout: soon }',
      '      - uses: http',
    ),
    expected: [
      { at: '6:15 jobs.a.steps[0].with.url', message: 'is required' },
      { at: '6:17 jobs.a.steps[0].with.header', message: "unknown key 'header'", suggestion: 'headers' },
      {
        at: '8:33 jobs.a.steps[1].with.method',
        message: "must be one of 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'",
      },
      { at: '8:50 jobs.a.steps[1].with.attempts', message: 'must be <= 10' },
      { at: '8:62 jobs.a.steps[1].with.expect', message: 'must not be an empty list' },
      { at: '8:75 jobs.a.steps[1].with.timeout', message: 'must be a duration' },
      { at: '9:9 jobs.a.steps[2].with', message: 'is required' },
    ],
  },
  {
    name: 'secrets must be declared by the pipeline',
    text: lines(
      'name: x',
      'secrets: [REGISTRY_TOKEN]',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: x',
      '        secrets: [REGISTRY_TOKN, DEPLOY_KEY, bad-name]',
    ),
    expected: [
      {
        at: '7:19 jobs.a.steps[0].secrets[0]',
        message: "secret 'REGISTRY_TOKN' is not in the pipeline's 'secrets'",
        suggestion: 'REGISTRY_TOKEN',
      },
      {
        at: '7:34 jobs.a.steps[0].secrets[1]',
        message: "secret 'DEPLOY_KEY' is not in the pipeline's 'secrets'",
      },
      {
        at: '7:46 jobs.a.steps[0].secrets[2]',
        message: "must be letters, digits and _, not starting with a digit, got 'bad-name'",
      },
      {
        at: '7:46 jobs.a.steps[0].secrets[2]',
        message: "secret 'bad-name' is not in the pipeline's 'secrets'",
      },
    ],
  },
  {
    name: 'include and ignore filters cannot be combined',
    text: lines(
      'name: x',
      'on:',
      '  - event: git.push',
      '    branches: [main]',
      '    branches-ignore: [dev]',
      '    paths: [src/**]',
      '    paths-ignore: [docs/**]',
      '    tags-ignore: [v0*]',
      'jobs: { a: { steps: [{ run: x }] } }',
    ),
    expected: [
      {
        at: '5:5 on[0].branches-ignore',
        message: "'branches' and 'branches-ignore' cannot be used together",
      },
      { at: '7:5 on[0].paths-ignore', message: "'paths' and 'paths-ignore' cannot be used together" },
    ],
  },
  {
    name: 'durations, retry and enums',
    text: lines(
      'name: x',
      'concurrency: { group: g, mode: cancel, max-wait: 2d }',
      'jobs:',
      '  a:',
      '    timeout: 25h',
      '    steps:',
      '      - run: x',
      '        retry: 11',
      '      - run: y',
      '        retry: { max: 2, backoff: 0s, on-exit-codes: [300] }',
      '        on-worker-lost: requeue',
    ),
    expected: [
      {
        at: '2:32 concurrency.mode',
        message: "must be one of 'queue', 'cancel-previous', 'skip-if-running', 'latest', got 'cancel'",
        suggestion: 'cancel-previous',
      },
      {
        at: '2:50 concurrency.max-wait',
        message: "must be a duration such as '500ms', '30s', '10m' or '2h', got '2d'",
      },
      { at: '5:14 jobs.a.timeout', message: "must be a duration from 1ms to 24h, got '25h'" },
      { at: '8:16 jobs.a.steps[0].retry', message: 'must be <= 10, got 11' },
      { at: '10:35 jobs.a.steps[1].retry.backoff', message: "must be a duration from 1ms to 24h, got '0s'" },
      { at: '10:55 jobs.a.steps[1].retry.on-exit-codes[0]', message: 'must be <= 255, got 300' },
      {
        at: '11:25 jobs.a.steps[1].on-worker-lost',
        message: "must be one of 'retry', 'fail', got 'requeue'",
      },
    ],
  },
  {
    name: 'matrix over the cap after exclude and include; exclude of an unknown axis',
    text: lines(
      'name: x',
      'jobs:',
      '  a:',
      '    strategy:',
      '      matrix:',
      '        a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]',
      '        b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]',
      '        exclude: [{ a: 1 }, { c: 1 }]',
      '        include: [{ a: 99, b: 99 }]',
      '    steps: [{ run: x }]',
      '  b:',
      '    strategy: { matrix: { os: [] } }',
      '    steps: [{ run: x }]',
    ),
    expected: [
      {
        at: '6:9 jobs.a.strategy.matrix',
        message: 'the matrix expands to 257 combinations; at most 256 are allowed',
      },
      {
        at: '8:31 jobs.a.strategy.matrix.exclude[1].c',
        message: "exclude names 'c', which is not a matrix axis",
      },
      { at: '12:31 jobs.b.strategy.matrix.os', message: 'must not be an empty list' },
    ],
  },
  {
    name: 'names of env vars, jobs and outputs',
    text: lines(
      'name: x',
      'env: { 1BAD: x }',
      'jobs:',
      '  "a b":',
      '    outputs: { "x.y": z }',
      '    steps: [{ run: x }]',
    ),
    expected: [
      { at: '2:8 env.1BAD', message: "name '1BAD' must be letters, digits and _, not starting with a digit" },
      {
        at: '4:3 jobs.a b',
        message: "name 'a b' must be letters, digits, - and _, starting with a letter or _",
      },
      { at: '5:16 jobs.a b.outputs.x.y', message: "name 'x.y' must be letters, digits, - and _" },
    ],
  },
  {
    name: 'an empty file and a file that is not a mapping',
    text: '',
    expected: [{ at: '1:1 ', message: 'the file is empty' }],
  },
  {
    name: 'a list at the top',
    text: lines('- a', '- b'),
    expected: [{ at: '1:1 ', message: 'must be a mapping, got a list' }],
  },
  {
    name: 'a YAML alias bomb is refused',
    text: lines(
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ),
    expected: [{ at: '2:8 ', message: 'refusing a possible alias bomb' }],
  },
  {
    name: 'schedule triggers: bad cron, unknown time zone, mixed keys, a cron that never fires',
    text: lines(
      'name: x',
      'on:',
      '  - schedule: "61 * * * *"',
      '    timezone: Europe/Berln',
      '    branches: [main]',
      '  - schedule: "0 0 31 2 *"',
      '    event: git.push',
      '    missed: sometimes',
      '  - timezone: UTC',
      '  - schedule: "* * * * * * *"',
      '  - schedule: "*/0 * * * *"',
      '  - schedule: ""',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: x',
    ),
    expected: [
      {
        at: '3:15 on[0].schedule',
        message: "invalid cron '61 * * * *': invalid value for minute: 61; write 5 fields",
      },
      {
        at: '4:15 on[0].timezone',
        message: "unknown time zone 'Europe/Berln'; write an IANA name",
        suggestion: 'Europe/Berlin',
      },
      { at: '5:5 on[0].branches', message: "'branches' cannot be used with 'schedule'" },
      { at: '6:15 on[1].schedule', message: "cron '0 0 31 2 *' never fires" },
      { at: '7:5 on[1].event', message: "a trigger has either 'event' or 'schedule', not both" },
      { at: '8:13 on[1].missed', message: "must be one of 'skip', 'latest', 'all', got 'sometimes'" },
      {
        at: '9:5 on[2]',
        message: "a trigger needs 'event' (an event type) or 'schedule' (a cron expression)",
      },
      { at: '9:5 on[2].timezone', message: "'timezone' belongs to schedule triggers" },
      { at: '10:15 on[3].schedule', message: "invalid cron '* * * * * * *': it has 7 fields" },
      {
        at: '11:15 on[4].schedule',
        message: "invalid cron '*/0 * * * *': syntax error, illegal stepping: 0",
      },
      { at: '12:15 on[5].schedule', message: 'must not be empty' },
    ],
  },
  {
    name: 'schedule triggers: oversized cron and time zone are refused unparsed, nothing quoted whole',
    text: lines(
      'name: x',
      'on:',
      `  - schedule: "${'1 '.repeat(150)}"`,
      `    timezone: "${'a'.repeat(300)}"`,
      '  - schedule: "@reboot"',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: x',
    ),
    expected: [
      { at: '3:15 on[0].schedule', message: 'must be at most 200 characters long' },
      { at: '4:15 on[0].timezone', message: 'must be at most 100 characters long' },
      { at: '5:15 on[1].schedule', message: "invalid cron '@reboot': @reboot is not supported" },
    ],
  },
];

void describe('parsePipeline problems', { timeout: 30_000 }, () => {
  for (const c of CASES) {
    void test(c.name, () => {
      const result = parsePipeline(c.text, 'p.yaml');
      assert.equal(result.pipeline, undefined);
      const got = result.problems.map((p) => ({
        at: where(p),
        message: p.message,
        ...(p.suggestion === undefined ? {} : { suggestion: p.suggestion }),
      }));
      assert.equal(got.length, c.expected.length, formatProblems(result.problems));
      c.expected.forEach((expected, i) => {
        const actual = got[i]!;
        assert.equal(actual.at, expected.at, formatProblems(result.problems));
        assert.ok(
          actual.message.includes(expected.message),
          `${actual.message} should hold ${expected.message}`,
        );
        assert.equal(actual.suggestion, expected.suggestion, actual.message);
        assert.equal(result.problems[i]!.file, 'p.yaml');
      });
    });
  }

  void test('formatProblems writes file:line:col path: message (did you mean)', () => {
    const text = lines(
      'name: x',
      'jobs:',
      '  build: { steps: [{ run: x }] }',
      '  test: { needs: [buld], steps: [{ run: x }] }',
    );
    assert.equal(
      formatProblems(parsePipeline(text, 'pipelines/ci.yaml').problems),
      "pipelines/ci.yaml:4:19 jobs.test.needs[0]: job 'test' needs unknown job 'buld' (did you mean 'build'?)",
    );
  });

  void test('a file over the size cap is refused unparsed', () => {
    const result = parsePipeline(`name: x\n#${'x'.repeat(MAX_PIPELINE_FILE_BYTES)}\n`, 'big.yaml');
    assert.equal(result.problems.length, 1);
    assert.match(result.problems[0]!.message, /at most 1048576/);
  });

  void test('an injected expression checker sees every condition and template with its scope', () => {
    const seen: string[] = [];
    const text = lines(
      'name: x',
      'on: [{ event: git.push, if: "bad(" }]',
      'concurrency: "g-${{ event.data.branch }}"',
      'env: { A: "${{ secrets.X }}", B: plain }',
      'outputs: { o: "${{ jobs.a.outputs.v }}" }',
      'jobs:',
      '  a:',
      '    if: "jobs.b"',
      '    name: "${{ not checked }}"',
      '    env: { J: "${{ matrix.os }}" }',
      '    outputs: { v: "${{ steps.s.outputs.v }}" }',
      '    environment: { name: "${{ env.E }}", service: s, version: v }',
      '    steps:',
      '      - run: echo ${{ event.id }}',
      '        if: success()',
      '        with: {}',
      '        name: no templates here',
      '      - uses: emit',
      '        with: { type: t, data: { list: ["${{ steps.x }}"] } }',
      '        working-directory: "${{ env.W }}"',
    );
    const result = parsePipeline(text, 'p.yaml', {
      checkExpression: (source, scope) => {
        seen.push(`${scope}:${source}`);
        return source.includes('bad(') ? 'syntax error at column 5' : undefined;
      },
    });
    assert.deepEqual(seen.sort(), [
      'concurrency:g-${{ event.data.branch }}',
      'job-if:jobs.b',
      'job-outputs:${{ steps.s.outputs.v }}',
      'job-template:${{ env.E }}',
      'job-template:${{ matrix.os }}',
      'pipeline-env:${{ secrets.X }}',
      'pipeline-outputs:${{ jobs.a.outputs.v }}',
      'step-if:success()',
      'step-run:echo ${{ event.id }}',
      'step-template:${{ env.W }}',
      'step-template:${{ steps.x }}',
      'trigger-if:bad(',
    ]);
    const messages = result.problems.map((p) => `${where(p)} ${p.message}`);
    assert.ok(messages.includes('2:29 on[0].if syntax error at column 5'), messages.join('\n'));
  });

  void test('every problem is reported at once, in line order', () => {
    const text = lines(
      'name: Bad',
      'jobs:',
      '  a:',
      '    needs: [zz]',
      '    stepz: []',
      '  b: { steps: [{}] }',
    );
    const lineNumbers = parsePipeline(text, 'p.yaml').problems.map((p) => p.line ?? 0);
    assert.equal(lineNumbers.length, 5);
    assert.deepEqual(
      lineNumbers,
      [...lineNumbers].sort((a, b) => a - b),
    );
  });
});

void describe('parsePipeline spec', { timeout: 30_000 }, () => {
  void test('short forms are expanded, defaults filled, the result frozen', () => {
    const text = lines(
      'name: ci',
      'on:',
      '  - event: git.push',
      '    branches: main',
      '    if: true',
      'concurrency: ci-${{ event.data.branch }}',
      'env: { N: 1, B: true }',
      'jobs:',
      '  build:',
      '    steps:',
      '      - run: make',
      '        retry: 2',
      '  test:',
      '    needs: build',
      '    timeout: 90s',
      '    strategy: { matrix: { node: [22, 24] } }',
      '    steps:',
      '      - uses: checkout',
      '        with: { depth: 0 }',
      '        retry: { max: 1, backoff: 5m, on-exit-codes: [1, 2] }',
      '        timeout: 500ms',
      '  ship:',
      '    needs: test',
      '    environment: { name: staging, service: app, version: "1.2" }',
      '    steps: [{ run: ./ship }]',
    );
    const { pipeline, problems } = parsePipeline(text, 'ci.yaml');
    assert.deepEqual(problems, []);
    assert.ok(pipeline);
    assert.deepEqual(pipeline.on, [{ index: 0, event: 'git.push', branches: ['main'], if: 'true' }]);
    assert.deepEqual(pipeline.concurrency, { group: 'ci-${{ event.data.branch }}', mode: 'queue' });
    assert.deepEqual(pipeline.env, { N: '1', B: 'true' });
    const build = pipeline.jobs['build']!;
    assert.deepEqual(build.needs, []);
    assert.equal(build.timeoutMs, 3_600_000);
    assert.deepEqual(build.steps[0], {
      index: 0,
      env: {},
      retry: { max: 2, backoffMs: 1000, maxBackoffMs: 60_000 },
      continueOnError: false,
      secrets: [],
      onWorkerLost: 'fail',
      run: 'make',
    });
    const testJob = pipeline.jobs['test']!;
    assert.deepEqual(testJob.needs, ['build']);
    assert.equal(testJob.timeoutMs, 90_000);
    assert.deepEqual(testJob.strategy, {
      matrix: { axes: { node: [22, 24] }, include: [], exclude: [] },
      failFast: true,
    });
    assert.deepEqual(pipeline.jobs['ship']!.environment, { name: 'staging', service: 'app', version: '1.2' });
    const checkout = testJob.steps[0]!;
    assert.equal(checkout.uses, 'checkout');
    assert.deepEqual(checkout.uses === 'checkout' ? checkout.with : undefined, { depth: 0 });
    assert.deepEqual(checkout.retry, {
      max: 1,
      backoffMs: 300_000,
      maxBackoffMs: 300_000,
      onExitCodes: [1, 2],
    });
    assert.equal(checkout.timeoutMs, 500);
    assert.deepEqual(pipeline.finally, {});
    assert.ok(Object.isFrozen(pipeline) && Object.isFrozen(testJob.steps) && Object.isFrozen(checkout.retry));
  });

  void test('a schedule trigger becomes a trigger on its own ticks, with defaults filled', () => {
    const text = lines(
      'name: nightly',
      'on:',
      '  - event: git.push',
      '  - schedule: "*/15 * * * *"',
      '    timezone: Europe/Berlin',
      '    missed: all',
      '    if: event.data.missed != true',
      '  - schedule: "@daily"',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: x',
    );
    const { pipeline, problems } = parsePipeline(text, 'nightly.yaml');
    assert.deepEqual(problems, []);
    assert.deepEqual(pipeline?.on, [
      { index: 0, event: 'git.push' },
      {
        index: 1,
        event: 'schedule.tick',
        source: '/junction/schedule',
        subject: 'nightly/1',
        schedule: { cron: '*/15 * * * *', timezone: 'Europe/Berlin', missed: 'all' },
        if: 'event.data.missed != true',
      },
      {
        index: 2,
        event: 'schedule.tick',
        source: '/junction/schedule',
        subject: 'nightly/2',
        schedule: { cron: '@daily', timezone: 'UTC', missed: 'latest' },
      },
    ]);
  });
});
