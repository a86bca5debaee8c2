/**
 * The numbered examples work as their READMEs say: every example pipeline loads, and each example
 * runs on a temp copy of its folder with the engine of `junction serve`, driven with the
 * documented commands (`junction emit`, `junction run`, real git for the push example).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config/index.ts';
import { loadPipelineDir } from '../src/pipelines/index.ts';
import { checkPipelineExpression } from '../src/runs/index.ts';
import type { LogLine, RunDetail } from '../src/store/index.ts';
import { compilePipelines } from '../src/triggers/index.ts';
import { eventually, repoRoot, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const examplesDir = join(repoRoot, 'examples');
/** Values for the `${VAR}` credentials the examples' junction.yaml files read. */
const EXAMPLE_ENV = {
  GITHUB_WEBHOOK_SECRET: 'example-webhook-secret',
  GIT_HOOK_TOKEN: 'example-git-hook-token',
  ALERTMANAGER_TOKEN: 'example-alertmanager-token',
  REGISTRY_NOTIFY_TOKEN: 'example-registry-token',
  SCAN_UPLOAD_TOKEN: 'example-scan-upload-token',
};
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

interface Example {
  readonly app: TestApp;
  readonly dir: string;
  close(): Promise<void>;
}

/** Starts the engine on a temp copy of an example folder (its junction.yaml, port 0). */
async function startExample(name: string): Promise<Example> {
  const temp = tempDir(`junction-${name}-`);
  const dir = join(temp.path, name);
  cpSync(join(examplesDir, name), dir, {
    recursive: true,
    filter: (source) => !source.endsWith('.junction'),
  });
  try {
    const app = await startTestApp({}, dir);
    return {
      app,
      dir,
      async close() {
        await app.close();
        temp.remove();
      },
    };
  } catch (error) {
    temp.remove();
    throw error;
  }
}

/** The runs of `pipeline` once `count` of them have ended, oldest first. */
async function endedRuns(app: TestApp, pipeline: string, count: number): Promise<RunDetail[]> {
  return eventually(
    async () => {
      const page = await app.app.store.listRuns({ pipeline }, { limit: 50, order: 'asc' });
      const runs = await Promise.all(page.items.map((r) => app.app.store.getRunDetail(r.id)));
      const ended = runs.filter((r): r is RunDetail => r !== undefined && TERMINAL.has(r.status));
      return ended.length >= count ? ended : undefined;
    },
    20_000,
    `${count} run(s) of ${pipeline} to end`,
  );
}

async function logText(app: TestApp, runId: string): Promise<string> {
  const lines: LogLine[] = await app.app.store.readLogs({ runId }, 10_000);
  return lines.map((line) => line.text).join('\n');
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Example', '-c', 'user.email=example@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

describe('examples', { concurrency: true, timeout: 60_000 }, () => {
  test('every example has a README, a valid junction.yaml and pipelines that load', async () => {
    const names = readdirSync(examplesDir).filter((name) => /^\d\d-/.test(name));
    assert.ok(names.length >= 4, `examples: ${names.join(', ')}`);
    for (const name of names) {
      const dir = join(examplesDir, name);
      assert.ok(existsSync(join(dir, 'README.md')), `${name} has no README.md`);
      const { config } = await loadConfig({ cwd: dir, env: EXAMPLE_ENV });
      const loaded = await loadPipelineDir(config.pipelines.dir, {
        checkExpression: checkPipelineExpression,
      });
      const compiled = compilePipelines(loaded.pipelines.values());
      assert.deepEqual([...loaded.problems, ...compiled.problems], [], `${name}: pipeline problems`);
      assert.ok(loaded.pipelines.size > 0, `${name} has no pipelines`);
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      assert.match(
        readme,
        new RegExp(`examples/${name}/junction\\.yaml`),
        `${name}: README shows no command`,
      );
    }
  });

  test('02-git-ci: a push to main tests and packages the pushed commit', async () => {
    const repos = tempDir('junction-02-git-');
    const example = await startExample('02-git-ci');
    try {
      const { app } = example;
      // A bare repository standing in for the git server, as the README makes it.
      const bare = join(repos.path, 'demo.git');
      const work = join(repos.path, 'demo');
      git(repos.path, 'init', '--quiet', '--bare', bare);
      git(repos.path, 'clone', '--quiet', bare, work);
      cpSync(join(example.dir, 'project'), work, { recursive: true });
      git(work, 'add', '.');
      git(work, 'commit', '--quiet', '-m', 'slug: first version');
      git(work, 'push', '--quiet', 'origin', 'HEAD:main');
      const sha = git(work, 'rev-parse', 'HEAD');

      const emitted = await runCli([
        'emit',
        '--url',
        app.url,
        '--type',
        'git.push',
        '--source',
        bare,
        '--data',
        JSON.stringify({
          repository: { clone_url: bare },
          ref: 'refs/heads/main',
          after: sha,
          changed_files: ['src/slug.sh', 'test/slug_test.sh'],
        }),
      ]);
      assert.equal(emitted.code, 0, emitted.stderr);
      const [run] = await endedRuns(app, 'ci', 1);
      const logs = await logText(app, run!.id);
      assert.equal(run!.status, 'succeeded', `${run!.reason ?? ''}\n${logs}`);
      assert.deepEqual(run!.outputs, { archive: `slug-${sha.slice(0, 7)}.tar.gz` });
      assert.match(logs, /slug: first version/);
      assert.match(logs, /all tests passed/);

      // A push that changes only the README starts nothing; the decision says why.
      const readmeOnly = await app.post(
        '/events',
        JSON.stringify({
          specversion: '1.0',
          id: 'push-readme',
          source: bare,
          type: 'git.push',
          data: {
            repository: { clone_url: bare },
            ref: 'refs/heads/main',
            after: sha,
            changed_files: ['README.md'],
          },
        }),
      );
      assert.equal(readmeOnly.status, 202);
      const decisions = await eventually(async () => {
        const found = await app.app.store.listDecisions(readmeOnly.body.id as string);
        return found.length > 0 ? found : undefined;
      });
      assert.equal(decisions[0]!.matched, false);
      assert.equal(decisions[0]!.reason, "changed file 'README.md' does not match paths [src/**, test/**]");
    } finally {
      await example.close();
      repos.remove();
    }
  });

  test('03-chained-build: build emits build.done, deploy runs on it, a failure is reported', async () => {
    const example = await startExample('03-chained-build');
    try {
      const { app } = example;
      const emitted = await runCli([
        'emit',
        '--url',
        app.url,
        '--type',
        'build.requested',
        '--data',
        '{"app":"web","version":"1.4.0"}',
      ]);
      assert.equal(emitted.code, 0, emitted.stderr);
      const [build] = await endedRuns(app, 'build', 1);
      const [deploy] = await endedRuns(app, 'deploy', 1);
      assert.equal(build!.status, 'succeeded', build!.reason ?? '');
      assert.equal(deploy!.status, 'succeeded', deploy!.reason ?? '');
      // The chain: deploy's event is build.done, caused by the event that started build.
      const done = await app.app.store.getEvent(deploy!.eventId);
      assert.equal(done?.event.type, 'build.done');
      assert.equal(done?.event['causationid'], build!.eventId);
      assert.equal(done?.event['correlationid'], build!.eventId);
      assert.deepEqual(done?.event.data, {
        app: 'web',
        version: '1.4.0',
        artifact: 'web-1.4.0.tar.gz',
        checksum: (done?.event.data as { checksum: string }).checksum,
      });
      assert.match((done?.event.data as { checksum: string }).checksum, /^\d+$/);
      assert.match(await logText(app, deploy!.id), /deploying web-1\.4\.0\.tar\.gz/);

      // The broken request from the sample file fails build; notify-failure reports it.
      const broken = await app.post(
        '/events',
        readFileSync(join(example.dir, 'events', 'build-broken.json'), 'utf8'),
      );
      assert.equal(broken.status, 202);
      const builds = await endedRuns(app, 'build', 2);
      const failed = builds.find((run) => run.eventId === broken.body.id);
      assert.equal(failed?.status, 'failed');
      const [notify] = await endedRuns(app, 'notify-failure', 1);
      assert.equal(notify!.status, 'succeeded', notify!.reason ?? '');
      const cause = await app.app.store.getEvent(notify!.eventId);
      assert.equal(cause?.event.type, 'pipeline.failed');
      assert.equal(cause?.event['causationid'], broken.body.id);
      assert.match(
        await logText(app, notify!.id),
        /pipeline build failed \(run run_\w+\): job 'build' failed/,
      );
      // No deploy for the failed build.
      assert.equal((await endedRuns(app, 'deploy', 1)).length, 1);
    } finally {
      await example.close();
    }
  });

  test('04-parameterized-task: junction run and emit start the task; a hostile host runs nothing', async () => {
    const example = await startExample('04-parameterized-task');
    try {
      const { app, dir } = example;
      const config = join(dir, 'junction.yaml');
      const [local, hostile] = await Promise.all([
        runCli([
          '-c',
          config,
          'run',
          'rotate-logs',
          '--type',
          'task.rotate-logs',
          '--event',
          join(dir, 'events', 'web-1.json'),
        ]),
        runCli([
          '-c',
          config,
          'run',
          'rotate-logs',
          '--type',
          'task.rotate-logs',
          '--event',
          join(dir, 'events', 'hostile.json'),
        ]),
      ]);
      assert.equal(local.code, 0, local.stderr + local.stdout);
      assert.match(local.stdout, /rotate │ web-1: kept 3, removed 3$/m);
      assert.equal(hostile.code, 1, hostile.stderr + hostile.stdout);
      assert.match(hostile.stdout, /rotate │ host 'web-1; rm -rf ~' is not a host name$/m);
      assert.match(hostile.stdout, /^- rotate \/ rotate skipped$/m);

      const emitted = await runCli([
        'emit',
        '--url',
        app.url,
        '--type',
        'task.rotate-logs',
        '--data',
        '{"host":"web-1","keep":3}',
      ]);
      assert.equal(emitted.code, 0, emitted.stderr);
      const [run] = await endedRuns(app, 'rotate-logs', 1);
      const logs = await logText(app, run!.id);
      assert.equal(run!.status, 'succeeded', `${run!.reason ?? ''}\n${logs}`);
      assert.match(logs, /web-1: kept 3, removed 3/);
    } finally {
      await example.close();
    }
  });
});
