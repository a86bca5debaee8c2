/**
 * `junction run` as a user runs it: the real CLI in a child process, a temp project with pipeline
 * files, real shell steps. A passing and a failing run, invalid pipelines and events, event data
 * reaching steps (and hostile data never executing), `--json`, secrets read from the project's
 * store and masked, and Ctrl-C cancelling a running step.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliPath, runCli, tempDir, type CliResult } from './helpers/app.ts';

const PIPELINES: Record<string, string> = {
  'hello.yaml': `
name: hello
on:
  - event: com.example.hello
outputs:
  greeting: \${{ jobs.greet.outputs.text }}
jobs:
  greet:
    outputs:
      text: \${{ steps.g.outputs.text }}
    steps:
      - id: g
        run: |
          echo "hello, \${{ event.data.name }}"
          echo "text=hi \${{ event.data.name }}" >> "$JUNCTION_OUTPUT"
  announce:
    needs: greet
    steps:
      - uses: emit
        with:
          type: hello.done
          data: { who: '\${{ event.data.name }}' }
`,
  'broken-build.yaml': `
name: broken-build
jobs:
  build:
    steps:
      - run: echo compiling
      - name: run the tests
        run: echo "3 tests failed" >&2; exit 3
  ship:
    needs: build
    steps:
      - run: echo shipping
`,
  'slow.yaml': `
name: slow
jobs:
  wait:
    steps:
      - run: echo waiting; sleep 30
      - if: always()
        run: echo cleanup ran
`,
  'chatty.yaml': `
name: chatty
jobs:
  talk:
    steps:
      - run: for i in $(seq 1 200); do echo "line $i"; done; sleep 0.5
      - run: touch "$MARKER"; exit 3
        env:
          MARKER: \${{ event.data.marker }}
`,
  'uses-secret.yaml': `
name: uses-secret
secrets: [DEPLOY_TOKEN]
jobs:
  deploy:
    steps:
      - run: echo "token is $DEPLOY_TOKEN"; test "$DEPLOY_TOKEN" = "$EXPECTED"
        env:
          EXPECTED: tok-5d41402abc4b2a76b9719d911017c592
        secrets: [DEPLOY_TOKEN]
`,
};

const SECRET = 'tok-5d41402abc4b2a76b9719d911017c592';
const ESC = '\u001b[';

describe('junction run', { concurrency: true, timeout: 120_000 }, () => {
  const project = tempDir('junction-run-');
  const config = join(project.path, 'junction.yaml');
  const file = (name: string, text: string): string => {
    const path = join(project.path, name);
    writeFileSync(path, text);
    return path;
  };
  const run = (args: string[], input?: string): Promise<CliResult> =>
    runCli(['-c', config, 'run', ...args], { cwd: project.path, ...(input === undefined ? {} : { input }) });

  before(async () => {
    mkdirSync(join(project.path, 'pipelines'));
    writeFileSync(config, 'pipelines:\n  dir: pipelines\nschemas:\n  dir: schemas\nlog:\n  level: warn\n');
    mkdirSync(join(project.path, 'schemas'));
    writeFileSync(
      join(project.path, 'schemas', 'com.example.hello.json'),
      JSON.stringify({ type: 'object', properties: { name: { type: 'string', minLength: 1 } } }),
    );
    for (const [name, text] of Object.entries(PIPELINES))
      writeFileSync(join(project.path, 'pipelines', name), text);
    const set = await runCli(['-c', config, 'secret', 'set', 'DEPLOY_TOKEN'], {
      cwd: project.path,
      input: SECRET,
    });
    assert.equal(set.code, 0, set.stderr);
  });
  after(() => project.remove());

  test('a passing run prints steps as they run, their output, and a summary; exit 0', async () => {
    const result = await run(['hello', '--event', file('world.json', '{"name":"world"}')]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const out = result.stdout;
    assert.match(out, /^▶ greet \/ echo "hello, \$\{\{ event\.data\.name \}\}"$/m);
    assert.match(out, /^ {2}greet │ hello, world$/m);
    assert.match(out, /^✓ greet \/ echo "hello, .* succeeded in \d+(ms|\.\ds)$/m);
    assert.match(out, /^emitted hello\.done [0-9a-f-]{36}$/m);
    assert.match(out, /^emitted pipeline\.succeeded [0-9a-f-]{36}$/m);
    assert.match(out, /^ {2}✓ greet +succeeded +\d/m);
    assert.match(out, /^ {2}✓ announce +succeeded/m);
    assert.match(out, /^run run_[a-z2-7]{26} succeeded in /m);
    assert.match(out, /^ {2}greeting = hi world$/m);
    // The event type is not the one the trigger listens for: the summary says so.
    assert.match(out, /note: no trigger of 'hello' listens for 'junction\.manual' events/);
    assert.ok(!out.includes(ESC), 'no escape codes when stdout is not a terminal');
    // The runner's own markers are not repeated as output lines.
    assert.ok(!out.includes('[junction] ▶'), out);
  });

  test('a failing run names the failing step and exits 1', async () => {
    const result = await run(['broken-build']);
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stdout, /^ {2}build │ 3 tests failed$/m);
    assert.match(result.stdout, /^✗ build \/ run the tests failed in .*: the command exited with code 3$/m);
    assert.match(result.stdout, /^ {2}✗ build +failed /m);
    assert.match(result.stdout, /^ {2}- ship +skipped/m);
    assert.match(
      result.stdout,
      /^run run_\w+ failed in .*: job 'build' failed: step 'run the tests' failed/m,
    );
    assert.ok(!result.stdout.includes('shipping'));
  });

  test('a pipeline file with problems exits 65 with file:line:col for each', async () => {
    const bad = file(
      'bad.yaml',
      'name: bad\njobs:\n  a:\n    stepz:\n      - run: echo\n  b:\n    needs: c\n    steps:\n      - run: echo\n',
    );
    const result = await run([bad]);
    assert.equal(result.code, 65, result.stderr);
    assert.match(
      result.stderr,
      /bad\.yaml:4:5 jobs\.a\.stepz: unknown key 'stepz' \(did you mean 'steps'\?\)/,
    );
    assert.match(result.stderr, /bad\.yaml:7:12 jobs\.b\.needs: job 'b' needs unknown job 'c'/);
    assert.equal(result.stdout, '');
    // Not YAML at all.
    const garbage = await run([file('garbage.yaml', 'name: [unclosed\n  - {')]);
    assert.equal(garbage.code, 65, garbage.stderr);
    assert.match(garbage.stderr, /garbage\.yaml:\d+:\d+/);
  });

  test('an unknown pipeline name exits 5 and suggests the nearest', async () => {
    const result = await run(['helo']);
    assert.equal(result.code, 5, result.stderr);
    assert.match(
      result.stderr,
      /no pipeline named 'helo' .*\(did you mean 'hello'\?\) \[PIPELINE_NOT_FOUND\]/,
    );
    const missing = await run(['nowhere/ci.yaml']);
    assert.equal(missing.code, 5, missing.stderr);
  });

  test('an event that is not JSON, or not a valid CloudEvent, exits 65; usage errors exit 2', async () => {
    const [notJson, noType, twice, deep, badData, missing, schema, typed, both] = await Promise.all([
      run(['hello', '--event', file('not.json', 'name: world\n')]),
      run(['hello', '--event', '-'], '{"specversion":"1.0","id":"1","source":"x"}'),
      run(['hello', '--event', '-'], '{"specversion":"1.0","id":"1","source":"x","type":"a","type":"b"}'),
      run(['hello', '--event', '-'], `${'['.repeat(100)}${']'.repeat(100)}`),
      run(['hello', '--data', '{"name": world}']),
      run(['hello', '--event', join(project.path, 'absent.json')]),
      // Intake checks data against the schema registered for the event's type.
      run(['hello', '--type', 'com.example.hello', '--event', '-'], '{"name":42}'),
      run(['hello', '--type', 'x', '--event', '-'], '{"specversion":"1.0","id":"1","source":"x","type":"a"}'),
      run(['hello', '--event', '-', '--data', '{}'], '{}'),
    ]);
    assert.equal(notJson.code, 65, notJson.stderr);
    assert.match(
      notJson.stderr,
      /event file '.*not\.json': the event is not valid json: .* at line 1, column 1/,
    );
    assert.match(notJson.stderr, /\[EVENT_MALFORMED_JSON\]/);
    assert.equal(notJson.stdout, '');

    assert.equal(noType.code, 65, noType.stderr);
    assert.match(noType.stderr, /event on stdin: .*'type'.* \[EVENT_ATTRIBUTE_MISSING\]/);
    assert.equal(twice.code, 65, twice.stderr);
    assert.match(twice.stderr, /'type'/);
    assert.equal(deep.code, 65, deep.stderr);
    assert.match(deep.stderr, /EVENT_TOO_DEEP/);
    assert.equal(badData.code, 65, badData.stderr);
    assert.match(badData.stderr, /--data: the data is not valid json/);
    assert.equal(schema.code, 65, schema.stderr);
    assert.match(schema.stderr, /EVENT_DATA_INVALID/);
    assert.equal(schema.stdout, '');

    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /--event: no file/);
    assert.equal(typed.code, 2, typed.stderr);
    assert.match(typed.stderr, /--type and --source apply when --event holds only data/);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /give --event or --data, not both/);
  });

  test('event data reaches steps from a data file, a CloudEvent and --data; hostile data never runs', async () => {
    const marker = join(project.path, 'pwned');
    const hostile = await run([
      'hello',
      '--event',
      file(
        'hostile.json',
        JSON.stringify({ name: `$(touch ${marker}); \`touch ${marker}\` "; touch ${marker}` }),
      ),
    ]);
    assert.equal(hostile.code, 0, hostile.stderr + hostile.stdout);
    assert.match(hostile.stdout, /greet │ hello, \$\(touch .*pwned\); `touch .*pwned` "; touch .*pwned$/m);
    assert.equal(existsSync(marker), false, 'event data was executed');

    const structured = await run(
      ['hello', '--event', '-'],
      JSON.stringify({
        specversion: '1.0',
        id: 'e-1',
        source: '/test',
        type: 'com.example.hello',
        data: { name: 'cloudevent' },
      }),
    );
    assert.equal(structured.code, 0, structured.stderr + structured.stdout);
    assert.match(structured.stdout, /greet │ hello, cloudevent$/m);
    assert.ok(!structured.stdout.includes('note:'), 'the trigger matches this event');

    const flags = await run(['hello', '--type', 'com.example.hello', '--data', '{"name":"flag"}']);
    assert.equal(flags.code, 0, flags.stderr + flags.stdout);
    assert.match(flags.stdout, /greet │ hello, flag$/m);

    const missing = await run(['hello']);
    assert.equal(missing.code, 1, 'a template over a missing field fails its step');
    assert.match(missing.stdout, /✗ greet \/ .* failed/);
  });

  test('--json prints one JSON object and nothing else', async () => {
    const result = await run(['hello', '--json', '--data', '{"name":"json"}']);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    assert.equal(body.run.status, 'succeeded');
    assert.equal(body.run.pipeline, 'hello');
    assert.equal(body.run.spec, undefined);
    assert.deepEqual(body.outputs, { greeting: 'hi json' });
    assert.deepEqual(
      body.jobs.map((j: { name: string; status: string }) => [j.name, j.status]),
      [
        ['greet', 'succeeded'],
        ['announce', 'succeeded'],
      ],
    );
    assert.equal(body.steps.length, 2);
    assert.equal(body.event.event.data.name, 'json');
    assert.deepEqual(
      body.emitted.map((e: { type: string }) => e.type),
      ['pipeline.started', 'hello.done', 'pipeline.succeeded'],
    );
    assert.equal(body.workspace, undefined);

    const failed = await run(['broken-build', '--json']);
    assert.equal(failed.code, 1);
    assert.equal(JSON.parse(failed.stdout).run.status, 'failed');
  });

  test('--keep-workspace leaves the workspace and prints it', async () => {
    const result = await run(['hello', '--data', '{"name":"kept"}', '--keep-workspace']);
    assert.equal(result.code, 0, result.stderr);
    const path = /^workspace kept at (.+)$/m.exec(result.stdout)?.[1];
    assert.ok(path !== undefined && existsSync(path), result.stdout);
    // The kept folder is `<temp folder>/<run id>`: remove the temp folder.
    rmSync(dirname(path), { recursive: true, force: true });
  });

  test("secrets come from the project's store and are masked in output", async () => {
    const result = await run(['uses-secret']);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /deploy │ token is \*\*\*/);
    assert.ok(!result.stdout.includes(SECRET) && !result.stderr.includes(SECRET));

    // Another project without the secret: the step fails, saying how to set it.
    const other = tempDir('junction-run-nosecret-');
    try {
      mkdirSync(join(other.path, 'pipelines'));
      writeFileSync(join(other.path, 'pipelines', 'uses-secret.yaml'), PIPELINES['uses-secret.yaml']!);
      const missing = await runCli(['run', 'uses-secret'], { cwd: other.path });
      assert.equal(missing.code, 1, missing.stderr + missing.stdout);
      assert.match(missing.stdout, /secret 'DEPLOY_TOKEN' of pipeline 'uses-secret' is not set/);
      assert.equal(existsSync(join(other.path, '.junction')), false, 'junction run created a project store');
    } finally {
      other.remove();
    }
  });

  test('a reader that goes away does not stop the run; the exit code still tells how it ended', async () => {
    const marker = join(project.path, 'second-step-ran');
    const child = spawn(
      process.execPath,
      [cliPath, '-c', config, 'run', 'chatty', '--data', JSON.stringify({ marker })],
      {
        cwd: project.path,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Read until the first step has started, then hang up, as `| head -n 2` does.
    await new Promise<void>((resolve) => {
      child.stdout.once('data', () => {
        child.stdout.destroy();
        resolve();
      });
    });
    assert.equal(await closed, 1, stderr);
    assert.ok(existsSync(marker), 'the run stopped when its output went away');
    assert.ok(!stderr.includes('EPIPE'), stderr);
  });

  test('SIGINT stops the running step, runs always() steps, and exits 130', async () => {
    const child = spawn(process.execPath, [cliPath, '-c', config, 'run', 'slow'], {
      cwd: project.path,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the step did not start: ${stdout}${stderr}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('wait │ waiting')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const sentAt = Date.now();
    child.kill('SIGINT');
    const code = await closed;
    const took = Date.now() - sentAt;
    assert.equal(code, 130, stdout + stderr);
    // Well under the 30 s of the step, even on a loaded machine.
    assert.ok(took < 15_000, `exited ${took} ms after SIGINT`);
    assert.match(stderr, /SIGINT: cancelling the run/);
    assert.match(stdout, /^⊘ wait \/ echo waiting; sleep 30 cancelled in /m);
    assert.match(stdout, /^ {2}wait │ cleanup ran$/m);
    assert.match(stdout, /^run run_\w+ cancelled in .*: cancelled from the command line$/m);
  });
});
