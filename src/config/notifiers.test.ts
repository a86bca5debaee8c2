import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import { loadConfig } from './load-config.ts';
import { configProblemsOf } from './problems.ts';
import { printConfigYaml } from './redact.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'junction-config-notifiers-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

function project(text: string): string {
  counter += 1;
  const dir = path.join(root, `p${counter}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'junction.yaml'), text);
  return dir;
}

void describe('notifiers configuration', { timeout: 30_000 }, () => {
  void test('notifiers load as written, the token is a secret and redacted', async () => {
    const cwd = project(
      [
        'notifiers:',
        '  - type: github-status',
        '    token: ${STATUS_TOKEN}',
        '    context: ci/junction',
        '    pipelines: [build]',
        '  - type: gitlab-status',
        '    token: glpat-abcdefgh',
        '    apiUrl: https://gitlab.example.com',
        '    repositories: [group/sub/project]',
        '',
      ].join('\n'),
    );
    const loaded = await loadConfig({ cwd, env: { STATUS_TOKEN: 'ghp_secret123' } });
    assert.deepEqual(loaded.config.notifiers, [
      { type: 'github-status', token: 'ghp_secret123', context: 'ci/junction', pipelines: ['build'] },
      {
        type: 'gitlab-status',
        token: 'glpat-abcdefgh',
        apiUrl: 'https://gitlab.example.com',
        repositories: ['group/sub/project'],
      },
    ]);
    assert.ok(Object.isFrozen(loaded.config.notifiers[0]));
    assert.ok(loaded.secrets.has('ghp_secret123'));
    assert.ok(loaded.secrets.has('glpat-abcdefgh'));
    const printed = printConfigYaml(loaded.config);
    assert.doesNotMatch(printed, /ghp_secret123|glpat-abcdefgh/);
    assert.match(printed, /token: "\*\*\*"|token: '\*\*\*'/);
  });

  void test('bad notifier entries are each reported with their path', async () => {
    const cwd = project(
      [
        'notifiers:',
        '  - type: slack',
        '    token: t0ken',
        '  - type: github-status',
        '  - type: gitlab-status',
        '    token: t0ken',
        '    apiUrl: ftp://gitlab.example.com',
        '    colour: red',
        '',
      ].join('\n'),
    );
    let problems: readonly { path: string; message: string }[] = [];
    try {
      await loadConfig({ cwd, env: {} });
      assert.fail('expected the configuration to be refused');
    } catch (error) {
      assert.ok(isJunctionError(error, 'CONFIG_INVALID'), String(error));
      problems = configProblemsOf(error);
    }
    const paths = problems.map((p) => p.path);
    assert.ok(paths.includes('notifiers[0].type'), paths.join(', '));
    assert.ok(
      paths.some((p) => p.startsWith('notifiers[1]')),
      paths.join(', '),
    );
    assert.ok(paths.includes('notifiers[2].apiUrl'), paths.join(', '));
    assert.ok(
      paths.some((p) => p.startsWith('notifiers[2]') && p !== 'notifiers[2].apiUrl'),
      paths.join(', '),
    );
    assert.doesNotMatch(JSON.stringify(problems), /t0ken/);
  });
});
