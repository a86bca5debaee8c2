import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import {
  GITIGNORE_ENTRY,
  ignoresStateFolder,
  initProject,
  STARTER_CONFIG,
  STARTER_PIPELINE,
} from './init-project.ts';
import { loadConfig } from './load-config.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'junction-config-init-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = (): string => path.join(root, `d${++counter}`);

const example = (file: string): string =>
  readFileSync(new URL(`../../examples/01-quickstart/${file}`, import.meta.url), 'utf8');

void describe('initProject', { timeout: 30_000 }, () => {
  void test('writes the starter files and a .gitignore into a new folder', async () => {
    const dir = freshDir();
    const result = await initProject(dir);
    const files = ['junction.yaml', path.join('pipelines', 'hello.yaml'), '.gitignore'].map((f) =>
      path.join(dir, f),
    );
    assert.deepEqual(result, { written: files, skipped: [] });
    assert.equal(readFileSync(files[0]!, 'utf8'), STARTER_CONFIG);
    assert.equal(readFileSync(files[1]!, 'utf8'), STARTER_PIPELINE);
    assert.equal(readFileSync(files[2]!, 'utf8'), `${GITIGNORE_ENTRY}\n`);
  });

  void test('the starter junction.yaml loads and validates, giving the defaults', async () => {
    const dir = freshDir();
    await initProject(dir);
    const withFile = await loadConfig({ cwd: dir, env: {} });
    assert.equal(withFile.path, path.join(dir, 'junction.yaml'));
    const other = freshDir();
    const defaults = await loadConfig({ cwd: other, env: {} });
    assert.equal(defaults.path, undefined);
    assert.deepEqual(
      JSON.parse(JSON.stringify(withFile.config).replaceAll(dir, '<dir>')),
      JSON.parse(JSON.stringify(defaults.config).replaceAll(other, '<dir>')),
    );
  });

  void test('the example pipeline has the documented shape', () => {
    const pipeline = parse(STARTER_PIPELINE) as {
      name: string;
      on: { event: string }[];
      jobs: Record<string, { steps: { run?: string }[] }>;
    };
    assert.equal(pipeline.name, 'hello');
    assert.deepEqual(pipeline.on, [{ event: 'com.example.hello' }]);
    assert.match(pipeline.jobs['greet']!.steps[0]!.run!, /^echo /);
  });

  void test('existing files are kept and reported as skipped; an existing .gitignore is appended to', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'junction.yaml'), 'log:\n  level: debug\n');
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules/');
    const result = await initProject(dir);
    assert.deepEqual(result.skipped, [path.join(dir, 'junction.yaml')]);
    assert.deepEqual(result.written, [
      path.join(dir, 'pipelines', 'hello.yaml'),
      path.join(dir, '.gitignore'),
    ]);
    assert.equal(readFileSync(path.join(dir, 'junction.yaml'), 'utf8'), 'log:\n  level: debug\n');
    assert.equal(readFileSync(path.join(dir, '.gitignore'), 'utf8'), 'node_modules/\n.junction/\n');

    const again = await initProject(dir);
    assert.deepEqual(again.written, []);
    assert.equal(again.skipped.length, 3);
    assert.equal(readFileSync(path.join(dir, '.gitignore'), 'utf8'), 'node_modules/\n.junction/\n');
  });

  void test('force overwrites the starter files but never duplicates the .gitignore entry', async () => {
    const dir = freshDir();
    await initProject(dir);
    writeFileSync(path.join(dir, 'junction.yaml'), 'changed: true\n');
    writeFileSync(path.join(dir, 'pipelines', 'hello.yaml'), 'changed: true\n');
    const result = await initProject(dir, { force: true });
    assert.deepEqual(result.written, [
      path.join(dir, 'junction.yaml'),
      path.join(dir, 'pipelines', 'hello.yaml'),
    ]);
    assert.deepEqual(result.skipped, [path.join(dir, '.gitignore')]);
    assert.equal(readFileSync(path.join(dir, 'junction.yaml'), 'utf8'), STARTER_CONFIG);
    assert.equal(readFileSync(path.join(dir, 'pipelines', 'hello.yaml'), 'utf8'), STARTER_PIPELINE);
    await loadConfig({ cwd: dir, env: {} });
  });

  void test('ignoresStateFolder recognises the usual spellings', () => {
    for (const line of ['.junction', '.junction/', '/.junction/', '  .junction/  ']) {
      assert.equal(ignoresStateFolder(`a\n${line}\nb`), true, line);
    }
    assert.equal(ignoresStateFolder('junction/\n# .junction/\n'), false);
  });

  void test('examples/01-quickstart holds exactly the starter files', () => {
    const hint =
      "regenerate with: npx node -e \"import('./src/config/index.ts').then(m => m.initProject('examples/01-quickstart', { force: true }))\" (then delete examples/01-quickstart/.gitignore)";
    assert.equal(example('junction.yaml'), STARTER_CONFIG, hint);
    assert.equal(example('pipelines/hello.yaml'), STARTER_PIPELINE, hint);
    assert.ok(existsSync(new URL('../../examples/01-quickstart/README.md', import.meta.url)));
  });
});
