/** `junction validate`: CI-friendly checking of pipeline files without starting anything. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from './helpers/app.ts';

describe('junction validate', { timeout: 60_000 }, () => {
  test('valid files pass with exit 0', async () => {
    const result = await runCli(['validate', 'test/fixtures/pipelines/valid']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /ok\s+test\/fixtures\/pipelines\/valid\/ci\.yaml/);
    assert.match(result.stdout, /2 file\(s\) valid/);
  });

  test('a broken file lists every problem with its position and suggestion, exit 65', async () => {
    const result = await runCli(['validate', 'test/fixtures/pipelines/broken/typos.yaml']);
    assert.equal(result.code, 65, result.stdout + result.stderr);
    assert.match(result.stdout, /typos\.yaml:4:5 .*branchs.*did you mean 'branches'/);
    assert.match(result.stdout, /did you mean 'build'/);
    assert.match(result.stdout, /did you mean 'checkout'/);
    const json = await runCli(['validate', '--json', 'test/fixtures/pipelines/broken/typos.yaml']);
    const report = JSON.parse(json.stdout) as { items: { file: string; problems: { line: number }[] }[] };
    assert.ok(report.items[0]!.problems.length >= 3);
    assert.ok(report.items[0]!.problems.every((p) => typeof p.line === 'number'));
  });

  test('with no paths it checks the configured pipelines folder; a missing path is a problem', async () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, 'pipelines'));
      writeFileSync(
        join(dir.path, 'pipelines', 'a.yaml'),
        'name: a\njobs:\n  x:\n    steps:\n      - run: echo hi\n',
      );
      writeFileSync(
        join(dir.path, 'pipelines', 'b.yaml'),
        'name: a\njobs:\n  x:\n    steps:\n      - run: echo hi\n',
      );
      const result = await runCli(['validate'], { cwd: dir.path });
      assert.equal(result.code, 65, result.stdout + result.stderr);
      assert.match(result.stdout, /b\.yaml/);
      const missing = await runCli(['validate', join(dir.path, 'nope.yaml')]);
      assert.equal(missing.code, 65);
      assert.match(missing.stdout, /no such file/);
    } finally {
      dir.remove();
    }
  });
});
