import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import {
  formatProblems,
  parsePipeline,
  type ExpressionScope,
  type PipelineProblem,
  type PipelineSpec,
} from '../pipelines/index.ts';
import type { StatusContext } from './conditions.ts';
import {
  checkPipelineExpression,
  compilePipeline,
  evaluateIf,
  expressionVariables,
  renderInputs,
  renderScriptEnv,
  renderTemplate,
  renderTemplates,
  type CompiledJob,
  type CompiledStep,
  type ExpressionContext,
} from './expressions.ts';

const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

/** A pipeline parsed without the expression checker, so that bad expressions reach the compiler. */
function spec(...rows: string[]): PipelineSpec {
  const result = parsePipeline(lines(...rows), 'p.yaml');
  assert.deepEqual(result.problems, [], formatProblems(result.problems));
  return result.pipeline!;
}

function job(compiled: ReturnType<typeof compilePipeline>, id: string): CompiledJob {
  const found = compiled.jobs.get(id);
  assert.ok(found, `job ${id}`);
  return found;
}

function step(compiledJob: CompiledJob, index: number): CompiledStep {
  const found = compiledJob.steps[index];
  assert.ok(found, `step ${index}`);
  return found;
}

const status = (success: boolean, failure = false, cancelled = false): StatusContext => ({
  success,
  failure,
  cancelled,
});

const ALL_VARIABLES = ['event', 'run', 'env', 'jobs', 'matrix', 'steps', 'secrets'] as const;

/** The table of docs/pipelines.md, written out again so that a change to either shows here. */
const ALLOWED: Readonly<Record<ExpressionScope, readonly string[]>> = {
  'trigger-if': ['event'],
  concurrency: ['event'],
  'pipeline-env': ['event', 'run'],
  'pipeline-outputs': ['event', 'run', 'jobs'],
  'job-if': ['event', 'run', 'jobs', 'matrix'],
  'job-template': ['event', 'run', 'env', 'jobs', 'matrix'],
  'job-outputs': ['event', 'run', 'env', 'jobs', 'matrix', 'steps'],
  'step-if': ['event', 'run', 'env', 'jobs', 'matrix', 'steps'],
  'step-template': ['event', 'run', 'env', 'jobs', 'matrix', 'steps', 'secrets'],
  'step-run': ['event', 'run', 'env', 'jobs', 'matrix', 'steps', 'secrets'],
};

const IF_SCOPES = new Set<ExpressionScope>(['trigger-if', 'job-if', 'step-if']);

/** An expression reading `variable`, written as `scope` expects it. */
function using(variable: string, scope: ExpressionScope): string {
  if (IF_SCOPES.has(scope)) return `${variable} != null`;
  if (scope === 'step-run') return `echo "${'${{'} ${variable} }}" > out`;
  return `x-${'${{'} ${variable} }}`;
}

void describe('variables by place', { timeout: 30_000 }, () => {
  for (const [scope, allowed] of Object.entries(ALLOWED) as [ExpressionScope, readonly string[]][]) {
    test(`${scope}: ${allowed.join(', ')}`, () => {
      assert.deepEqual([...expressionVariables(scope)].sort(), [...allowed].sort());
      for (const variable of ALL_VARIABLES) {
        const message = checkPipelineExpression(using(variable, scope), scope);
        if (allowed.includes(variable)) {
          assert.equal(message, undefined, `${variable} in ${scope}`);
        } else {
          assert.ok(message !== undefined, `${variable} in ${scope} should be refused`);
          assert.match(message, new RegExp(`^variable '${variable}' is not available in `));
          assert.match(message, new RegExp(`${variable}(\\.<[a-zA-Z]+>)? is available`));
          assert.ok(message.endsWith(`available here: ${allowed.join(', ')}`), message);
        }
      }
    });
  }

  test('a refused variable names the place and where it can be used', () => {
    assert.equal(
      checkPipelineExpression('x-${{ secrets.TOKEN }}', 'job-template'),
      "variable 'secrets' is not available in a job's env, working-directory or environment (line 1, column 7): " +
        "secrets.<NAME> is available only in a step's run, with, env and working-directory, for secrets the step lists; " +
        'available here: event, run, env, jobs, matrix',
    );
    assert.match(
      checkPipelineExpression('env.A == "x"', 'job-if') ?? '',
      /not available in a job's if \(line 1, column 1\): env is available in jobs and steps, except in a job's if/,
    );
    assert.match(checkPipelineExpression('run.id != ""', 'trigger-if') ?? '', /use event there/);
  });

  test('a misspelt variable gets a suggestion', () => {
    assert.match(checkPipelineExpression('evnt.type == "x"', 'step-if') ?? '', /did you mean 'event'\?/);
    assert.match(checkPipelineExpression('${{ matrx.os }}', 'job-template') ?? '', /did you mean 'matrix'\?/);
  });

  test('status functions are allowed only in job and step if', () => {
    for (const scope of Object.keys(ALLOWED) as ExpressionScope[]) {
      const source = IF_SCOPES.has(scope) ? 'failure() || always()' : 'x-${{ success() }}';
      const message = checkPipelineExpression(source, scope);
      if (scope === 'job-if' || scope === 'step-if') assert.equal(message, undefined, scope);
      else
        assert.match(
          message ?? '',
          /status functions such as \w+\(\) are only available in job and step `if`/,
        );
    }
  });

  test('run scripts are checked through the shell rewrite', () => {
    assert.equal(checkPipelineExpression('echo "${{ event.id }}"', 'step-run'), undefined);
    assert.match(
      checkPipelineExpression('echo $(( ${{ event.data.n }} + 1 ))', 'step-run') ?? '',
      /inside arithmetic .* is refused/,
    );
    assert.match(
      checkPipelineExpression('echo ok\necho `${{ event.id }}`', 'step-run') ?? '',
      /backquotes .*\(script line 2, column 7\)/,
    );
    // the same text as a plain template is fine: only run scripts are shell
    assert.equal(checkPipelineExpression('$(( ${{ event.data.n }} ))', 'step-template'), undefined);
  });

  test('a blank condition is absent; broken syntax is reported', () => {
    assert.equal(checkPipelineExpression('  ', 'step-if'), undefined);
    assert.match(checkPipelineExpression('event.x ==', 'trigger-if') ?? '', /is not valid CEL/);
    assert.match(checkPipelineExpression('${{ event.x', 'pipeline-env') ?? '', /unterminated/);
  });

  test('the loader reports every problem with file, line and column', () => {
    const text = lines(
      'name: x',
      'on: [{ event: git.push, if: "steps.a == 1" }]',
      'env: { A: "${{ secrets.X }}" }',
      'jobs:',
      '  a:',
      '    if: env.A == "1"',
      '    steps:',
      '      - run: |',
      '          echo start',
      '          echo $(( ${{ event.data.n }} ))',
      '      - run: echo ok',
      '        working-directory: "${{ success() }}"',
    );
    const result = parsePipeline(text, 'p.yaml', { checkExpression: checkPipelineExpression });
    const found = result.problems.map((p: PipelineProblem) => `${p.line}:${p.column} ${p.path}`);
    assert.deepEqual(found, [
      '2:29 on[0].if',
      '3:11 env.A',
      '6:9 jobs.a.if',
      '8:14 jobs.a.steps[0].run',
      '12:28 jobs.a.steps[1].working-directory',
    ]);
    assert.match(result.problems[3]!.message, /arithmetic.*\(script line 2, column 10\)/);
  });
});

const EVENT = Object.freeze({
  id: 'ev-1',
  data: Object.freeze({
    branch: 'main',
    count: 3,
    nested: Object.freeze({ list: Object.freeze([1, 'two', null]), flag: true }),
  }),
});

void describe('compilePipeline', { timeout: 30_000 }, () => {
  const good = spec(
    'name: good',
    'concurrency: "g-${{ event.data.branch }}"',
    'env: { P: "p-${{ run.attempt }}" }',
    'outputs: { image: "${{ jobs.build.outputs.tag }}" }',
    'secrets: [TOKEN]',
    'jobs:',
    '  build:',
    '    env: { J: "${{ env.P }}-${{ matrix.os }}" }',
    '    working-directory: "src/${{ matrix.os }}"',
    '    outputs: { tag: "v${{ steps.meta.outputs.version }}" }',
    '    strategy: { matrix: { os: [linux] } }',
    '    steps:',
    '      - id: meta',
    '        run: echo ${{ secrets.TOKEN }}',
    '        secrets: [TOKEN]',
    '      - name: publish',
    '        if: failure() && steps.meta.outcome == "failure"',
    '        uses: emit',
    '        with:',
    '          type: "built.${{ event.data.branch }}"',
    '          data: "${{ event.data }}"',
    '  deploy:',
    '    needs: build',
    '    if: jobs.build.outputs.tag != ""',
    '    environment: { name: prod, service: app, version: "${{ jobs.build.outputs.tag }}" }',
    '    steps:',
    '      - run: |',
    '          ' + 'x'.repeat(70),
    '          second line',
    '      - uses: checkout',
    'finally:',
    '  notify:',
    '    steps: [{ run: "echo ${{ jobs.build.result }}" }]',
  );

  test('jobs come ordinary then finally, in file order, with what each needs', () => {
    const compiled = compilePipeline(good);
    assert.deepEqual([...compiled.jobs.keys()], ['build', 'deploy', 'notify']);
    assert.deepEqual(job(compiled, 'deploy').jobsInScope, ['build']);
    assert.deepEqual(job(compiled, 'notify').jobsInScope, ['build', 'deploy']);
    assert.deepEqual(job(compiled, 'build').jobsInScope, []);
    assert.equal(compiled.concurrencyGroup?.render({ event: EVENT }), 'g-main');
  });

  test('step display names', () => {
    const compiled = compilePipeline(good);
    assert.equal(step(job(compiled, 'build'), 0).displayName, 'echo ${{ secrets.TOKEN }}');
    assert.equal(step(job(compiled, 'build'), 1).displayName, 'publish');
    const long = step(job(compiled, 'deploy'), 0).displayName;
    assert.equal(long.length, 60);
    assert.ok(long.endsWith('…'));
    assert.equal(step(job(compiled, 'deploy'), 1).displayName, 'uses: checkout');
  });

  test('conditions record whether they use a status function', () => {
    const compiled = compilePipeline(good);
    assert.equal(job(compiled, 'deploy').usesStatusFunction, false);
    assert.ok(job(compiled, 'deploy').if);
    assert.equal(step(job(compiled, 'build'), 1).usesStatusFunction, true);
    assert.equal(job(compiled, 'build').if, undefined);
  });

  test('templates render with the context of their place', () => {
    const compiled = compilePipeline(good);
    const run = { id: 'r1', pipeline: 'good', attempt: 2, eventId: 'ev-1' };
    const env = renderTemplates(compiled.env, { event: EVENT, run });
    assert.deepEqual(env, { P: 'p-2' });
    const build = job(compiled, 'build');
    const context: ExpressionContext = { event: EVENT, run, env, matrix: { os: 'linux' } };
    assert.deepEqual(renderTemplates(build.env, context), { J: 'p-2-linux' });
    assert.equal(renderTemplate(build.workingDirectory!, context), 'src/linux');
    const steps = { meta: { outputs: { version: '1.2' }, outcome: 'success' } };
    assert.deepEqual(renderTemplates(build.outputs, { ...context, steps }), { tag: 'v1.2' });
    const jobs = { build: { outputs: { tag: 'v1.2' }, result: 'success' } };
    assert.deepEqual(renderTemplates(job(compiled, 'deploy').environment!, { event: EVENT, run, jobs }), {
      name: 'prod',
      service: 'app',
      version: 'v1.2',
    });
    assert.deepEqual(renderTemplates(compiled.outputs, { event: EVENT, run, jobs }), { image: 'v1.2' });
  });

  test('a step reads the secrets it lists through secrets.NAME', () => {
    const compiled = compilePipeline(good);
    const meta = step(job(compiled, 'build'), 0);
    const env = renderScriptEnv(meta.script!, { secrets: { TOKEN: 's3cret' } });
    assert.deepEqual(Object.values(env), ['s3cret']);
  });

  test('a failing template names its path and not the data', () => {
    const compiled = compilePipeline(good);
    assert.throws(
      () => renderTemplates(job(compiled, 'build').env, { env: { P: 'secret-value' }, matrix: {} }),
      (e: unknown) =>
        isJunctionError(e, 'EXPR_EVAL_FAILED') &&
        e.message.startsWith('jobs.build.env.J: ') &&
        !e.message.includes('secret-value') &&
        e.details?.['path'] === 'jobs.build.env.J',
    );
    const publish = step(job(compiled, 'build'), 1);
    assert.throws(
      () => renderInputs(publish.with!, { event: { data: {} } }),
      (e: unknown) =>
        isJunctionError(e, 'EXPR_EVAL_FAILED') && e.message.startsWith('jobs.build.steps[1].with.type: '),
    );
  });

  test('every problem is listed at once with its path', () => {
    const bad = spec(
      'name: bad',
      'concurrency: "${{ run.id }}"',
      'env: { A: "${{ env.B }}" }',
      'outputs: { o: "${{ steps.x.outputs.y }}" }',
      'jobs:',
      '  a:',
      '    if: "env.X == \'1\'"',
      '    env: { B: "${{ secrets.T }}" }',
      '    outputs: { o: "${{ success() }}" }',
      '    steps:',
      '      - run: echo ok',
      '        if: "event.x =="',
      '      - run: "echo `${{ event.id }}`"',
      '      - uses: emit',
      '        with: { type: t, data: { deep: ["${{ evnt.x }}"] } }',
    );
    assert.throws(
      () => compilePipeline(bad),
      (e: unknown) => {
        if (!isJunctionError(e, 'PIPELINE_INVALID')) return false;
        const problems = e.details?.['problems'] as PipelineProblem[];
        assert.deepEqual(
          problems.map((p) => p.path),
          [
            'env.A',
            'concurrency.group',
            'outputs.o',
            'jobs.a.if',
            'jobs.a.env.B',
            'jobs.a.outputs.o',
            'jobs.a.steps[0].if',
            'jobs.a.steps[1].run',
            'jobs.a.steps[2].with.data.deep[0]',
          ],
        );
        assert.match(
          e.message,
          /^pipeline 'bad' has 9 expression problems: env\.A: variable 'env' is not available/,
        );
        assert.match(e.message, /jobs\.a\.steps\[2\]\.with\.data\.deep\[0\]: .*did you mean 'event'\?/);
        return true;
      },
    );
  });

  test('the loader and the compiler agree', () => {
    const texts = [
      lines('name: a', 'jobs: { a: { steps: [{ run: "echo ${{ steps.x.outputs.y }}" }] } }'),
      lines('name: b', 'jobs: { a: { if: "steps.x == 1", steps: [{ run: "echo" }] } }'),
      lines('name: c', 'jobs: { a: { env: { X: "${{ secrets.X }}" }, steps: [{ run: "echo" }] } }'),
      lines('name: d', 'jobs: { a: { steps: [{ run: "echo $(( ${{ event.n }} ))" }] } }'),
      lines('name: e', 'outputs: { x: "${{ jobs.a.result }}" }', 'jobs: { a: { steps: [{ run: "echo" }] } }'),
      lines('name: f', 'env: { X: "${{ always() }}" }', 'jobs: { a: { steps: [{ run: "echo" }] } }'),
    ];
    for (const text of texts) {
      const checked = parsePipeline(text, 'p.yaml', { checkExpression: checkPipelineExpression });
      const unchecked = parsePipeline(text, 'p.yaml').pipeline!;
      let compiles = true;
      try {
        compilePipeline(unchecked);
      } catch (error) {
        assert.ok(isJunctionError(error, 'PIPELINE_INVALID'));
        compiles = false;
      }
      assert.equal(compiles, checked.problems.length === 0, text);
    }
  });

  test('a frozen spec is compiled once; its error too', () => {
    assert.equal(compilePipeline(good), compilePipeline(good));
    const bad = spec('name: bad', 'jobs: { a: { if: "nope ==", steps: [{ run: echo }] } }');
    let first: unknown;
    let second: unknown;
    try {
      compilePipeline(bad);
    } catch (error) {
      first = error;
    }
    try {
      compilePipeline(bad);
    } catch (error) {
      second = error;
    }
    assert.ok(isJunctionError(first, 'PIPELINE_INVALID'));
    assert.equal(first, second);
    // a copy is another pipeline, and an unfrozen one is not cached
    const copy = { ...good };
    assert.notEqual(compilePipeline(copy), compilePipeline(good));
    assert.notEqual(compilePipeline(copy), compilePipeline(copy));
  });
});

void describe('evaluateIf', { timeout: 30_000 }, () => {
  const compiled = compilePipeline(
    spec(
      'name: s',
      'jobs:',
      '  a:',
      '    steps:',
      '      - run: echo 0',
      '      - run: echo 1',
      '        if: event.data.branch == "main"',
      '      - run: echo 2',
      '        if: always()',
      '      - run: echo 3',
      '        if: failure() && event.data.count == 3',
      '      - run: echo 4',
      '        if: event.data.missing.deeper',
      '      - run: echo 5',
      '        if: event.data.count',
      '      - run: echo 6',
      '        if: cancelled()',
    ),
  );
  const steps = job(compiled, 'a').steps;
  const decide = (index: number, s: StatusContext, event: unknown = EVENT): boolean => {
    const found = steps[index]!;
    return evaluateIf(found.if, found.usesStatusFunction, { event }, s);
  };

  test('no if means success()', () => {
    assert.equal(decide(0, status(true)), true);
    assert.equal(decide(0, status(false, true)), false);
    assert.equal(decide(0, status(false, false, true)), false);
  });
  test('an if without a status function is success() && if', () => {
    assert.equal(decide(1, status(true)), true);
    assert.equal(decide(1, status(true), { data: { branch: 'dev' } }), false);
    assert.equal(decide(1, status(false, true)), false);
  });
  test('always() runs whatever happened', () => {
    assert.equal(decide(2, status(false, true)), true);
    assert.equal(decide(2, status(false, false, true)), true);
  });
  test('failure() in a step if runs only after a failure', () => {
    assert.equal(decide(3, status(false, true)), true);
    assert.equal(decide(3, status(true)), false);
    assert.equal(decide(3, status(false, true), { data: { count: 4 } }), false);
  });
  test('cancelled() sees the cancellation', () => {
    assert.equal(decide(6, status(false, false, true)), true);
    assert.equal(decide(6, status(true)), false);
  });
  test('the if is not evaluated when the implicit success() is false', () => {
    assert.equal(decide(4, status(false, true)), false);
    assert.throws(
      () => decide(4, status(true)),
      (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED'),
    );
  });
  test('a result that is not a bool is EXPR_EVAL_FAILED', () => {
    assert.throws(
      () => decide(5, status(true)),
      (e: unknown) =>
        isJunctionError(e, 'EXPR_EVAL_FAILED') &&
        e.message === "if 'event.data.count' must be true or false, got number",
    );
  });
});

void describe('renderInputs', { timeout: 30_000 }, () => {
  const compiled = compilePipeline(
    spec(
      'name: r',
      'jobs:',
      '  a:',
      '    steps:',
      '      - uses: emit',
      '        with:',
      '          type: "t.${{ event.data.branch }}"',
      '          subject: plain',
      '          data:',
      '            whole: "${{ event.data }}"',
      '            count: "${{ event.data.count }}"',
      '            text: "n=${{ event.data.count }}"',
      '            padded: " ${{ event.data.count }}"',
      '            flag: "${{ event.data.nested.flag }}"',
      '            missing: "${{ event.data.nothing }}"',
      '            list: ["${{ event.data.nested.list }}", 7, false, null, "${{ event.id }}"]',
      '            literal: 5',
      '            "__proto__": { polluted: "${{ event.id }}" }',
    ),
  );
  const withInputs = step(job(compiled, 'a'), 0).with!;

  test('a string that is one expression keeps its JSON type; others are text', () => {
    const event = { id: 'ev-1', data: { ...EVENT.data, nothing: null } };
    const rendered = renderInputs(withInputs, { event }) as Record<string, unknown>;
    const data = rendered['data'] as Record<string, unknown>;
    assert.equal(rendered['type'], 't.main');
    assert.equal(rendered['subject'], 'plain');
    assert.deepEqual(data['whole'], { ...EVENT.data, nothing: null });
    assert.equal(data['count'], 3);
    assert.equal(data['text'], 'n=3');
    assert.equal(data['padded'], ' 3');
    assert.equal(data['flag'], true);
    assert.equal(data['missing'], null);
    assert.deepEqual(data['list'], [[1, 'two', null], 7, false, null, 'ev-1']);
    assert.equal(data['literal'], 5);
  });

  test('a `__proto__` key stays an own key and pollutes nothing', () => {
    const rendered = renderInputs(withInputs, {
      event: { id: 'x', data: { nothing: null, count: 1, branch: 'b', nested: { list: [], flag: false } } },
    }) as Record<string, unknown>;
    const data = rendered['data'] as Record<string, unknown>;
    assert.ok(Object.hasOwn(data, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(data, '__proto__')?.value, { polluted: 'x' });
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

const execFileAsync = promisify(execFile);

async function sh(script: string, env: Record<string, string>, cwd: string): Promise<string> {
  const { stdout } = await execFileAsync('/bin/sh', ['-e', '-c', script], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    timeout: 10_000,
  });
  return stdout;
}

void describe('run scripts with hostile event data', { timeout: 30_000 }, () => {
  test('command substitutions, backquotes, quotes and separators in event data stay data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'junction-expr-'));
    try {
      const marker = join(dir, 'pwned');
      const hostile = [
        `$(touch ${marker})`,
        `\`touch ${marker}\``,
        `"; touch ${marker}; echo "`,
        `'; touch ${marker}; echo '`,
        `x\ntouch ${marker}`,
        '*',
      ];
      const compiled = compilePipeline(
        spec(
          'name: hostile',
          'jobs:',
          '  a:',
          '    steps:',
          '      - run: |',
          '          printf "%s|" ${{ event.data.v }} >> out',
          `          printf '%s|' '${'${{'} event.data.v }}' >> out`,
          '          printf "%s|" "in ${{ event.data.v }} quotes" >> out',
          '          printf "%s|" "$(printf "%s" ${{ event.data.v }})" >> out',
          '          cat <<EOF >> out',
          '          ${{ event.data.v }}|',
          '          EOF',
        ),
      );
      const script = step(job(compiled, 'a'), 0).script!;
      assert.ok(!script.script.includes('event.data.v'));
      for (const value of hostile) {
        await rm(join(dir, 'out'), { force: true });
        const env = renderScriptEnv(script, { event: Object.freeze({ data: Object.freeze({ v: value }) }) });
        await sh(script.script, env, dir);
        assert.equal(existsSync(marker), false, `event data ${JSON.stringify(value)} ran a command`);
        const out = await readFile(join(dir, 'out'), 'utf8');
        assert.equal(out, `${value}|${value}|in ${value} quotes|${value}|${value}|\n`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a NUL character in event data fails the rendering, not the shell', () => {
    const compiled = compilePipeline(
      spec('name: nul', 'jobs: { a: { steps: [{ run: "echo ${{ event.v }}" }] } }'),
    );
    assert.throws(
      () => renderScriptEnv(step(job(compiled, 'a'), 0).script!, { event: { v: 'a\0b' } }),
      (e: unknown) => isJunctionError(e, 'EXPR_EVAL_FAILED'),
    );
  });
});
