/**
 * The built-in actions and secrets through the running engine: `checkout` clones a real bare
 * repository at the event's commit, `emit` publishes a linked event that starts another pipeline,
 * and secrets reach only the steps that list them, masked in every stored log line (plain,
 * base64 and URL-encoded).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createSecretKeyFile,
  defaultSecretKeyFile,
  encryptSecret,
  loadSecretKey,
} from '../src/security/index.ts';
import type { RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);
const SECRET = 'hunter2-correct-horse';

const PIPELINES: Record<string, string> = {
  'ci.yaml': `
name: ci
on:
  - event: git.push
jobs:
  test:
    steps:
      - uses: checkout
      - id: head
        run: |
          cat VERSION
          echo "sha=$(git rev-parse HEAD)" >> "$JUNCTION_OUTPUT"
    outputs:
      sha: \${{ steps.head.outputs.sha }}
`,
  'build.yaml': `
name: build
on:
  - event: test.build
jobs:
  build:
    steps:
      - id: out
        run: echo "image=app:\${{ event.data.tag }}" >> "$JUNCTION_OUTPUT"
      - uses: emit
        with:
          type: build.done
          subject: app
          data:
            image: \${{ steps.out.outputs.image }}
            n: 3
`,
  'deploy.yaml': `
name: deploy
on:
  - event: build.done
jobs:
  deploy:
    steps:
      - run: echo "deploying \${{ event.data.image }} (\${{ event.data.n + 1 }})"
`,
  'secret.yaml': `
name: secret
on:
  - event: test.secret
secrets: [API_TOKEN]
jobs:
  use:
    steps:
      - run: |
          echo "token is $API_TOKEN"
          printf '%s' "$API_TOKEN" | base64
          echo "url form: \${{ secrets.API_TOKEN }}"
        secrets: [API_TOKEN]
      - run: echo "other step sees '\${API_TOKEN:-nothing}'"
      - id: leak
        run: echo "value=prefix-$API_TOKEN" >> "$JUNCTION_OUTPUT"
        secrets: [API_TOKEN]
      - uses: emit
        secrets: [API_TOKEN]
        with:
          type: test.leaked
          data:
            token: \${{ secrets.API_TOKEN }}
            nested: ['\${{ secrets.API_TOKEN }}']
    outputs:
      leaked: \${{ steps.leak.outputs.value }}
outputs:
  leaked: \${{ jobs.use.outputs.leaked }}
`,
};

describe('built-in actions and secrets in the engine', { timeout: 90_000 }, () => {
  let app: TestApp;
  const dir = tempDir();
  const repo = join(dir.path, 'repo.git');
  const work = join(dir.path, 'work');
  let first = '';

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    for (const [file, text] of Object.entries(PIPELINES))
      writeFileSync(join(dir.path, 'pipelines', file), text);
    const git = (cwd: string, ...args: string[]): string =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd,
        encoding: 'utf8',
      }).trim();
    execFileSync('git', ['init', '-q', '--bare', repo]);
    mkdirSync(work);
    git(work, 'init', '-q', '-b', 'main');
    writeFileSync(join(work, 'VERSION'), 'one\n');
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'one');
    first = git(work, 'rev-parse', 'HEAD');
    writeFileSync(join(work, 'VERSION'), 'two\n');
    git(work, 'commit', '-q', '-am', 'two');
    git(work, 'push', '-q', repo, 'main');

    await createSecretKeyFile(defaultSecretKeyFile(join(dir.path, '.junction')));
    app = await startTestApp({}, dir.path);
    const key = loadSecretKey({ env: {}, keyFile: defaultSecretKeyFile(join(dir.path, '.junction')) });
    await app.app.store.putSecret('API_TOKEN', encryptSecret(key, 'API_TOKEN', SECRET));
  });

  after(async () => {
    await app.close();
    dir.remove();
  });

  async function post(type: string, data: unknown): Promise<string> {
    const response = await app.post('/events', JSON.stringify(cloudEvent({ type, data })));
    assert.equal(response.status, 202, JSON.stringify(response.body));
    return response.body.id as string;
  }

  async function ended(eventId: string, pipeline: string): Promise<RunDetail> {
    return eventually(
      async () => {
        const runs = (await app.app.store.listRuns({ eventId, pipeline }, { limit: 1 })).items;
        const run = runs[0] === undefined ? undefined : await app.app.store.getRunDetail(runs[0].id);
        return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
      },
      20_000,
      `${pipeline} to end`,
    );
  }

  const texts = async (runId: string): Promise<string[]> =>
    (await app.app.store.readLogs({ runId }, 1000)).map((l) => l.text);

  test('checkout clones the event repository at the event commit, not the branch tip', async () => {
    const eventId = await post('git.push', { branch: 'main', after: first, repository: { clone_url: repo } });
    const run = await ended(eventId, 'ci');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const lines = await texts(run.id);
    assert.ok(lines.includes('one'), lines.join('\n'));
    const [job] = await app.app.store.listJobs(run.id);
    assert.deepEqual(job?.outputs, { sha: first });
  });

  test('checkout with no repository in the event fails the step with what to set', async () => {
    const eventId = await post('git.push', { branch: 'main' });
    const run = await ended(eventId, 'ci');
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /with\.repository/);
  });

  test('emit publishes a linked event with typed data; the next pipeline runs on it', async () => {
    const eventId = await post('test.build', { tag: 'v1' });
    const build = await ended(eventId, 'build');
    assert.equal(build.status, 'succeeded', build.reason ?? '');
    const emitted = await eventually(async () => {
      const page = await app.app.store.listEvents({ type: 'build.done' }, { limit: 10 });
      return page.items.find((e) => e.event['causationid'] === eventId);
    });
    assert.equal(emitted.event.source, `/junction/runs/${build.id}`);
    assert.equal(emitted.event['correlationid'], eventId);
    assert.deepEqual(emitted.event.data, { image: 'app:v1', n: 3 });
    const deploy = await ended(emitted.id, 'deploy');
    assert.equal(deploy.status, 'succeeded', deploy.reason ?? '');
    assert.ok((await texts(deploy.id)).includes('deploying app:v1 (4)'));
  });

  test('a secret reaches only the step that lists it and is masked in every form', async () => {
    const eventId = await post('test.secret', {});
    const run = await ended(eventId, 'secret');
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const lines = await texts(run.id);
    const all = lines.join('\n');
    assert.ok(!all.includes(SECRET), all);
    assert.ok(!all.includes(Buffer.from(SECRET).toString('base64').slice(0, 12)), all);
    assert.ok(lines.includes('token is ***'), all);
    assert.ok(lines.includes("other step sees 'nothing'"), all);
    const api = await app.get(`/api/v1/runs/${run.id}`);
    assert.ok(!JSON.stringify(api.body).includes(SECRET));
    assert.deepEqual(run.outputs, { leaked: 'prefix-***' }, 'outputs carry the mask, not the value');
    const events = await app.app.store.listEvents({}, { limit: 500 });
    assert.ok(!JSON.stringify(events.items).includes(SECRET), 'no stored event holds the secret');
    const leaked = events.items.find((e) => e.event.type === 'test.leaked');
    assert.deepEqual(leaked?.event.data, { token: '***', nested: ['***'] });
  });

  test('a pipeline whose secret is not set fails with what to do, and prints nothing secret', async () => {
    await app.app.store.deleteSecret('API_TOKEN');
    const eventId = await post('test.secret', {});
    const run = await ended(eventId, 'secret');
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /secret 'API_TOKEN'.*not set.*junction secret set/);
  });
});
