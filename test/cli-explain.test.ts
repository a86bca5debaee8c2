/**
 * `junction explain EVENT_ID` against a running app: a line per decision with the run a match
 * created, a line when no pipeline listens for the event's type, `--json`, and an unknown id.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatDecisions } from '../src/cli/commands/explain.ts';
import { runIdFor } from '../src/triggers/index.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const CI = `name: ci
on:
  - event: git.push
    branches: [main]
jobs:
  a:
    steps:
      - run: echo ci
`;
const DEPLOY = `name: deploy
on:
  - event: git.tag
  - event: git.push
    branches: [main]
    if: event.data.deploy == true
jobs:
  a:
    steps:
      - run: echo deploy
`;

describe('junction explain', { timeout: 60_000 }, () => {
  const dir = tempDir('junction-cli-explain-');
  let app: TestApp;
  let env: Record<string, string>;

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'ci.yaml'), CI);
    writeFileSync(join(dir.path, 'pipelines', 'deploy.yaml'), DEPLOY);
    app = await startTestApp({}, dir.path);
    env = { JUNCTION_URL: app.url };
  });

  after(async () => {
    await app?.close();
    dir.remove();
  });

  async function routed(fields: Record<string, unknown>, count: number): Promise<string> {
    const response = await app.post('/events', JSON.stringify(cloudEvent(fields)));
    assert.equal(response.status, 202);
    const id = response.body.id as string;
    if (count > 0) {
      await eventually(async () => {
        const { body } = await app.get(`/api/v1/events/${id}/decisions`);
        return body.items.length >= count ? true : undefined;
      });
    }
    return id;
  }

  test('one line per decision, with the run a match created', async () => {
    const id = await routed({ type: 'git.push', data: { branch: 'main', deploy: false } }, 2);
    const result = await runCli(['explain', id], { env });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^event ${id} \\(git\\.push from test/suite\\)$`));
    assert.deepEqual(lines.slice(1), [
      `✓ ci[0] matched → run ${runIdFor(id, 'ci', 0)}`,
      `✗ deploy[1] if 'event.data.deploy == true' is false`,
    ]);
  });

  test('--json prints the type and the API answer', async () => {
    const id = await routed({ type: 'git.push', data: { branch: 'dev' } }, 2);
    const result = await runCli(['explain', id, '--json'], { env });
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    assert.equal(body.type, 'git.push');
    assert.equal(body.next, null);
    assert.deepEqual(
      body.items.map((d: any) => [d.pipeline, d.triggerIndex, d.matched, d.reason, d.runId]),
      [
        ['ci', 0, false, "branch 'dev' not in [main]", null],
        ['deploy', 1, false, "branch 'dev' not in [main]", null],
      ],
    );
  });

  test('says so when no pipeline listens for the type', async () => {
    const id = await routed({ type: 'nobody.listens' }, 0);
    const result = await runCli(['explain', id], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /no pipeline listens for type 'nobody\.listens'/);
  });

  test('an unknown event id fails with EVENT_NOT_FOUND', async () => {
    const result = await runCli(['explain', 'no-such-event'], { env });
    assert.equal(result.code, 5, 'exit code 5: not found');
    assert.match(result.stderr, /EVENT_NOT_FOUND/);
  });

  test('formatDecisions', () => {
    assert.equal(
      formatDecisions('git.push', [
        { pipeline: 'ci', triggerIndex: 0, matched: true, reason: 'matched', runId: 'run_x', decidedAt: '' },
        {
          pipeline: 'deploy',
          triggerIndex: 1,
          matched: false,
          reason: "branch 'dev' not in [main]",
          runId: null,
          decidedAt: '',
        },
      ]),
      "✓ ci[0] matched → run run_x\n✗ deploy[1] branch 'dev' not in [main]\n",
    );
    assert.match(formatDecisions('x.y', []), /^no pipeline listens for type 'x\.y'/);
  });
});
