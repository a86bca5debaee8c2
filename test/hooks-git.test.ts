/**
 * End to end: `junction hook install` on a real bare repository, real `git push`es from a work
 * clone, the hook's curl delivery to `POST /hooks/git` in the real app, stored events, and the
 * router matching only the push that touches src/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TOKEN = 'tok-123456';
const PIPELINE =
  "name: build\non:\n  - event: git.push\n    branches: [main]\n    paths: ['src/**']\njobs:\n  a:\n    steps:\n      - run: echo built\n";
const hasCurl = spawnSync('curl', ['--version']).status === 0;
const skip = hasCurl ? false : 'curl is not installed; the git hook cannot deliver';
if (!hasCurl) console.log(`# NOTICE: ${skip}`);

const HOSTILE = 'say "hi" \\ back $(touch pwned) `touch pwned2`\nsecond line';

describe('git post-receive hook', { timeout: 120_000, skip }, () => {
  const dir = tempDir('junction-hooks-git-');
  const bare = join(dir.path, 'app.git');
  const work = join(dir.path, 'work');
  const tokenFile = join(dir.path, 'token');
  let t: TestApp;
  const gitEnv = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Dev "Q" Smith',
    GIT_AUTHOR_EMAIL: 'dev@example.com',
    GIT_COMMITTER_NAME: 'Dev',
    GIT_COMMITTER_EMAIL: 'dev@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: dir.path,
  };
  const git = (cwd: string, ...args: string[]): string =>
    execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Asynchronous: the app answering the hook runs in this process.
  const push = (...args: string[]): Promise<string> =>
    new Promise((resolvePush, reject) => {
      const child = spawn('git', ['push', ...args], { cwd: work, env: gitEnv });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolvePush(stderr) : reject(new Error(`git push failed: ${stderr}`)),
      );
    });
  const commit = (file: string, message: string): string => {
    mkdirSync(join(work, file, '..'), { recursive: true });
    writeFileSync(join(work, file), `${Math.random()}\n`);
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', message);
    return git(work, 'rev-parse', 'HEAD').trim();
  };

  async function gitEvents(): Promise<Array<{ id: string; event: any }>> {
    const { body } = await t.get('/api/v1/events?receiver=git&limit=100');
    return body.items as Array<{ id: string; event: any }>;
  }
  async function eventFor(type: string, check: (data: any) => boolean) {
    return eventually(
      async () => (await gitEvents()).find((i) => i.event.type === type && check(i.event.data)),
      10_000,
      `${type} event`,
    );
  }

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'build.yaml'), PIPELINE);
    t = await startTestApp(
      { sources: [{ name: 'git', type: 'git', token: TOKEN }], workers: { concurrency: 0 } },
      dir.path,
    );
    git(dir.path, 'init', '-q', '--bare', '-b', 'main', bare);
    git(dir.path, 'init', '-q', '-b', 'main', work);
    git(work, 'remote', 'add', 'origin', bare);
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  test('install refuses a non-repository, a shared token file and a foreign hook', async () => {
    const notRepo = await runCli([
      'hook',
      'install',
      dir.path,
      '--url',
      t.url,
      '--source',
      'git',
      '--token-file',
      tokenFile,
    ]);
    assert.equal(notRepo.code, 2, notRepo.stderr);
    assert.match(notRepo.stderr, /not a bare git repository/);

    const loose = join(dir.path, 'loose-token');
    writeFileSync(loose, TOKEN, { mode: 0o644 });
    const shared = await runCli([
      'hook',
      'install',
      bare,
      '--url',
      t.url,
      '--source',
      'git',
      '--token-file',
      loose,
    ]);
    assert.equal(shared.code, 2);
    assert.match(shared.stderr, /chmod 600/);
    assert.doesNotMatch(shared.stderr, new RegExp(TOKEN));

    const hookPath = join(bare, 'hooks', 'post-receive');
    writeFileSync(hookPath, '#!/bin/sh\necho mine\n', { mode: 0o755 });
    const foreign = await runCli([
      'hook',
      'install',
      bare,
      '--url',
      t.url,
      '--source',
      'git',
      '--token-file',
      tokenFile,
    ]);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /--force/);
    const keep = await runCli(['hook', 'uninstall', bare]);
    assert.equal(keep.code, 2);
    assert.equal(readFileSync(hookPath, 'utf8'), '#!/bin/sh\necho mine\n');
  });

  test('install writes an executable hook without the token', async () => {
    const result = await runCli([
      'hook',
      'install',
      bare,
      '--url',
      t.url,
      '--source',
      'git',
      '--token-file',
      tokenFile,
      '--force',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const hookPath = join(bare, 'hooks', 'post-receive');
    assert.equal(statSync(hookPath).mode & 0o777, 0o755);
    const script = readFileSync(hookPath, 'utf8');
    assert.doesNotMatch(script, new RegExp(TOKEN));
    const again = await runCli([
      'hook',
      'install',
      bare,
      '--url',
      t.url,
      '--source',
      'git',
      '--token-file',
      tokenFile,
    ]);
    assert.equal(again.code, 0, 'reinstalling over our own hook needs no --force');
  });

  test('pushes become events; only the src/ push runs the pipeline', async () => {
    const first = commit('src/app.ts', 'add app');
    const out = await push('-q', 'origin', 'main');
    assert.match(out, /junction: reported 1 ref update/);
    const srcEvent = await eventFor('git.push', (d) => d.after === first);
    assert.equal(srcEvent.event.data.branch, 'main');
    assert.equal(srcEvent.event.data.created, true);
    assert.deepEqual(srcEvent.event.data.changed_files, ['src/app.ts']);
    assert.equal(srcEvent.event.data.repository.name, 'app');
    assert.equal(srcEvent.event.data.repository.clone_url, bare);

    const docs = commit('docs/readme.md', 'docs only');
    await push('-q', 'origin', 'main');
    const docsEvent = await eventFor('git.push', (d) => d.after === docs);
    assert.deepEqual(docsEvent.event.data.changed_files, ['docs/readme.md']);
    assert.equal(docsEvent.event.data.before, first);

    const decisions = async (id: string) =>
      eventually(
        async () => {
          const list = await t.app.store.listDecisions(id);
          return list.length > 0 ? list : undefined;
        },
        10_000,
        `decisions for ${id}`,
      );
    const srcDecisions = await decisions(srcEvent.id);
    const docsDecisions = await decisions(docsEvent.id);
    assert.ok(
      srcDecisions.some((d: any) => d.matched === true),
      JSON.stringify(srcDecisions),
    );
    assert.ok(!docsDecisions.some((d: any) => d.matched === true), JSON.stringify(docsDecisions));
  });

  test('a hostile commit message arrives intact and nothing executes', async () => {
    const sha = commit('src/hostile.ts', HOSTILE);
    await push('-q', 'origin', 'main');
    const event = await eventFor('git.push', (d) => d.after === sha);
    const commits = event.event.data.commits as Array<{ id: string; message: string; author: any }>;
    assert.equal(commits.length, 1);
    assert.equal(commits[0]?.message, HOSTILE);
    assert.deepEqual(commits[0]?.author, { name: 'Dev "Q" Smith', email: 'dev@example.com' });
    for (const place of [bare, work, dir.path, process.cwd()]) {
      assert.equal(existsSync(join(place, 'pwned')), false);
      assert.equal(existsSync(join(place, 'pwned2')), false);
    }
  });

  test('a tag, a new branch and a branch deletion', async () => {
    git(work, 'tag', 'v1.0.0');
    await push('-q', 'origin', 'v1.0.0');
    const head = git(work, 'rev-parse', 'HEAD').trim();
    const tag = await eventFor('git.tag', (d) => d.tag === 'v1.0.0');
    assert.equal(tag.event.data.after, head);

    git(work, 'checkout', '-q', '-b', 'feature');
    const feature = commit('src/feature.ts', 'feature work');
    await push('-q', 'origin', 'feature');
    const created = await eventFor('git.push', (d) => d.after === feature);
    assert.deepEqual(created.event.data.changed_files, ['src/feature.ts']);
    assert.equal(created.event.data.commits.length, 1);

    await push('-q', 'origin', '--delete', 'feature');
    const deleted = await eventFor('git.branch.deleted', (d) => d.branch === 'feature');
    assert.equal(deleted.event.data.before, feature);
    assert.equal(deleted.event.data.changed_files, undefined);
  });

  test('a wrong token is refused and the push still succeeds', async () => {
    writeFileSync(tokenFile, 'wrong-token\n', { mode: 0o600 });
    try {
      const before = (await gitEvents()).length;
      git(work, 'checkout', '-q', 'main');
      commit('src/other.ts', 'refused');
      const out = await push('origin', 'main');
      assert.match(out, /junction: could not report this push/);
      assert.doesNotMatch(out, /wrong-token/);
      assert.equal((await gitEvents()).length, before);
    } finally {
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    }
  });

  test('uninstall removes only our hook', async () => {
    const result = await runCli(['hook', 'uninstall', bare]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(join(bare, 'hooks', 'post-receive')), false);
  });
});
