import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { loadPipelineDir, watchPipelineDir, type PipelineDirResult } from './index.ts';

const pipeline = (name: string, command = 'echo ok'): string =>
  `name: ${name}\non: [{ event: git.push }]\njobs:\n  a:\n    steps: [{ run: ${command} }]\n`;

/** Polls `check` until it holds or the deadline passes. */
async function waitFor(check: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

void describe('loadPipelineDir and watchPipelineDir', { timeout: 30_000 }, () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'junction-pipelines-'));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  void test('a broken file is refused and reported; the others load', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.yaml'), pipeline('alpha'));
    writeFileSync(path.join(dir, 'b.yml'), 'name: beta\njobs:\n  a:\n    stepz: []\n');
    writeFileSync(path.join(dir, 'c.yaml'), pipeline('gamma'));
    writeFileSync(path.join(dir, 'notes.txt'), 'not a pipeline');
    const result = await loadPipelineDir(dir);
    assert.deepEqual([...result.pipelines.keys()], ['alpha', 'gamma']);
    assert.equal(result.pipelines.get('alpha')!.file, path.join(dir, 'a.yaml'));
    assert.deepEqual(
      result.problems.map((p) => `${path.basename(p.file!)}:${p.line}:${p.column} ${p.path}`),
      ['b.yml:4:5 jobs.a.steps', 'b.yml:4:5 jobs.a.stepz'],
    );
  });

  void test('a duplicate pipeline name: the first file in name order keeps it', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.yaml'), pipeline('ci'));
    writeFileSync(path.join(dir, 'b.yaml'), `# another\n${pipeline('ci')}`);
    const result = await loadPipelineDir(dir);
    assert.equal(result.pipelines.get('ci')!.file, path.join(dir, 'a.yaml'));
    assert.equal(result.problems.length, 1);
    const [problem] = result.problems;
    assert.equal(problem!.file, path.join(dir, 'b.yaml'));
    assert.deepEqual([problem!.line, problem!.column, problem!.path], [2, 7, 'name']);
    assert.match(
      problem!.message,
      /pipeline name 'ci' is already used by .*a\.yaml; this file is not loaded/,
    );
  });

  void test('a folder that does not exist is CONFIG_NOT_FOUND', async () => {
    await assert.rejects(loadPipelineDir(path.join(tempDir(), 'missing')), (err) =>
      isJunctionError(err, 'CONFIG_NOT_FOUND'),
    );
  });

  void test('added, changed and removed files are reloaded', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.yaml'), pipeline('alpha'));
    let latest: PipelineDirResult | undefined;
    const watcher = watchPipelineDir(dir, (result) => (latest = result), { debounceMs: 20 });
    try {
      writeFileSync(path.join(dir, 'b.yaml'), pipeline('beta'));
      await waitFor(() => latest?.pipelines.has('beta') === true, 'the added file');
      writeFileSync(path.join(dir, 'b.yaml'), pipeline('beta', 'echo changed'));
      await waitFor(() => {
        const step = latest?.pipelines.get('beta')?.spec.jobs['a']?.steps[0];
        return step?.run === 'echo changed';
      }, 'the changed file');
      writeFileSync(path.join(dir, 'a.yaml'), 'name: alpha\njobs: {}\n');
      await waitFor(
        () => latest?.pipelines.has('alpha') === false && latest.problems.length === 1,
        'the broken file',
      );
      unlinkSync(path.join(dir, 'b.yaml'));
      await waitFor(() => latest?.pipelines.size === 0, 'the removed file');
    } finally {
      watcher.close();
    }
  });
});
