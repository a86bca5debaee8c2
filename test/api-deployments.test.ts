/**
 * Deployments and rollbacks over the API and the CLI, against a real app: two versions deployed
 * are listed by `junction deployments`, `junction rollback` puts the earlier one back through a
 * run that succeeds, the guards answer with their codes, bad queries and bodies are 400, a token
 * without the operate scope may list but not roll back, and a `rollback` step that cannot roll
 * back publishes a `deployment.rollback_failed` that matches its catalog schema.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EVENT_CATALOG, createSchemaRegistry, eventCatalogTypes } from '../src/events/index.ts';
import { createApiToken } from '../src/security/index.ts';
import type { RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);
const JSON_BODY = { 'content-type': 'application/json' };

function writePipelines(dir: string, served: string): void {
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  writeFileSync(
    join(dir, 'pipelines', 'deploy.yaml'),
    `name: deploy
on:
  - event: demo.deploy
jobs:
  build:
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=\${{ event.data.version }}" >> "$JUNCTION_OUTPUT"
  deploy:
    needs: build
    environment:
      name: \${{ event.data.env }}
      service: api
      version: \${{ jobs.build.outputs.version }}
    steps:
      - run: printf '%s' "\${{ jobs.build.outputs.version }}" > "${served}/\${{ event.data.env }}"
`,
  );
  writeFileSync(
    join(dir, 'pipelines', 'undo.yaml'),
    `name: undo
on:
  - event: demo.undo
jobs:
  back:
    steps:
      - uses: rollback
        with:
          environment: \${{ event.data.env }}
          service: web
`,
  );
}

/** Helpers over one app: send an event and wait for the run it starts to end. */
function driver(t: () => TestApp) {
  const ended = (runId: string): Promise<RunDetail> =>
    eventually(
      async () => {
        const run = await t().app.store.getRunDetail(runId);
        return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
      },
      20_000,
      `run ${runId} to end`,
    );
  const send = async (
    type: string,
    data: unknown,
    headers: Record<string, string> = {},
  ): Promise<RunDetail> => {
    const response = await t().post('/events', JSON.stringify(cloudEvent({ type, data })), {
      'content-type': 'application/cloudevents+json',
      ...headers,
    });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const eventId = response.body.id as string;
    const runId = await eventually(
      async () => (await t().app.store.listRuns({ eventId }, { limit: 5 })).items[0]?.id,
      10_000,
      'a run',
    );
    return ended(runId);
  };
  return { ended, send };
}

describe('deployments and rollbacks over the API and the CLI', { timeout: 120_000 }, () => {
  const dir = tempDir('junction-api-deployments-');
  const served = join(dir.path, 'served');
  let t: TestApp;
  const { ended, send } = driver(() => t);
  const cli = (args: readonly string[]) => runCli(args, { env: { JUNCTION_URL: t.url } });

  before(async () => {
    mkdirSync(served);
    writePipelines(dir.path, served);
    t = await startTestApp({ workers: { concurrency: 4 } }, dir.path);
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  test('junction deployments lists two versions deployed, newest first', async () => {
    for (const version of ['1.0.0', '2.0.0']) {
      const run = await send('demo.deploy', { version, env: 'prod' });
      assert.equal(run.status, 'succeeded', run.reason ?? '');
    }
    const listed = await cli(['deployments', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const { items } = JSON.parse(listed.stdout) as { items: Record<string, unknown>[] };
    assert.deepEqual(
      items.map((d) => [d['environment'], d['service'], d['version'], d['status'], d['isRollback']]),
      [
        ['prod', 'api', '2.0.0', 'succeeded', false],
        ['prod', 'api', '1.0.0', 'succeeded', false],
      ],
    );
    assert.deepEqual(Object.keys(items[0]!).sort(), [
      'actor',
      'cause',
      'createdAt',
      'environment',
      'finishedAt',
      'id',
      'isRollback',
      'jobName',
      'pipeline',
      'reason',
      'rollbackOf',
      'rollbackOfVersion',
      'runId',
      'service',
      'startedAt',
      'status',
      'url',
      'version',
    ]);
    assert.equal(items[0]!['jobName'], 'deploy');
    assert.equal(items[0]!['pipeline'], 'deploy');

    const table = await cli(['deployments', 'prod', 'api', '--limit', '1']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+ENV\s+SERVICE\s+VERSION\s+STATUS\s+RUN/);
    assert.equal(lines.length, 2, table.stdout);
    assert.match(lines[1]!, /prod\s+api\s+2\.0\.0\s+succeeded\s+run_/);

    const none = await cli(['deployments', 'staging']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'no deployments to staging\n');
  });

  test('junction rollback puts the version before back, in a run that succeeds', async () => {
    const rolled = await cli(['rollback', 'prod', 'api']);
    assert.equal(rolled.code, 0, rolled.stderr);
    const match = /^rolling back api in prod from 2\.0\.0 to 1\.0\.0 in run (run_\S+)\n$/.exec(rolled.stdout);
    assert.ok(match, rolled.stdout);
    const run = await ended(match[1]!);
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '1.0.0');

    const { body } = await t.get('/api/v1/deployments?environment=prod&service=api&limit=1');
    const [latest] = body.items as Record<string, unknown>[];
    assert.equal(latest?.['version'], '1.0.0');
    assert.equal(latest?.['isRollback'], true);
    assert.equal(latest?.['rollbackOfVersion'], '2.0.0');
    assert.equal(latest?.['cause'], 'manual');
    assert.equal(latest?.['actor'], 'local', 'an anonymous loopback request acts as local');
    assert.equal(latest?.['runId'], match[1]);

    const table = await cli(['deployments', 'prod']);
    assert.match(table.stdout.split('\n')[1] ?? '', /1\.0\.0\s+succeeded ↩ rollback of 2\.0\.0\s+run_/);
  });

  test('rollback --to a version never deployed exits non-zero with the message', async () => {
    const unknown = await cli(['rollback', 'prod', 'api', '--to', '9.9.9']);
    assert.equal(unknown.code, 5, unknown.stderr);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /version "9\.9\.9" of api was never deployed to prod successfully/);
    assert.match(unknown.stderr, /ROLLBACK_VERSION_UNKNOWN/);

    const current = await cli(['rollback', 'prod', 'api', '--to', '1.0.0']);
    assert.equal(current.code, 6, current.stderr);
    assert.match(current.stderr, /version 1\.0\.0 is the one deployed in prod now/);

    const odd = await cli(['rollback', 'prod; rm -rf /', 'api']);
    assert.equal(odd.code, 2, odd.stderr);
    assert.match(odd.stderr, /environment name "prod; rm -rf \/" is not usable/);
    const oddList = await cli(['deployments', 'prod', '$(id)']);
    assert.equal(oddList.code, 2, oddList.stderr);
    assert.match(oddList.stderr, /service name "\$\(id\)" is not usable/);
  });

  test('POST /api/v1/rollbacks with no history is 409 ROLLBACK_NO_TARGET', async () => {
    const response = await t.post(
      '/api/v1/rollbacks',
      JSON.stringify({ environment: 'staging', service: 'api' }),
      JSON_BODY,
    );
    assert.equal(response.status, 409, JSON.stringify(response.body));
    assert.equal(response.body.error.code, 'ROLLBACK_NO_TARGET');
    assert.match(response.body.error.message, /no successful deployment of api in staging is recorded/);
    assert.equal(
      (await t.app.store.listDeployments({ environment: 'staging' }, 10)).length,
      0,
      'nothing was recorded',
    );
  });

  test('bad queries and bodies are 400 with what is expected, never 500', async () => {
    const queries: [string, RegExp][] = [
      ['environment=prod%3B%20rm%20-rf', /environment name "prod; rm -rf" is not usable/],
      ['service=%1B%5B31m', /service name .* is not usable/],
      [`environment=${'e'.repeat(5000)}`, /environment name .* is not usable/],
      ['environment=a&environment=b', /'environment' was given more than once/],
      ['limit=0', /'limit' must be an integer from 1 to 1000/],
      ['limit=1e2', /'limit' must be an integer/],
      ['limit=-1', /'limit' must be an integer/],
      ['limit=99999999999999999999', /'limit' must be an integer/],
      ['order=asc', /unknown query parameter 'order'/],
    ];
    for (const [query, message] of queries) {
      const response = await t.get(`/api/v1/deployments?${query}`);
      assert.equal(response.status, 400, `${query}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, 'API_BAD_REQUEST');
      assert.match(response.body.error.message, message, query);
    }
    const bodies: [string, RegExp][] = [
      ['', /it is empty/],
      ['{"environment":', /not valid JSON/],
      ['["prod","api"]', /must be a JSON object/],
      ['{"environment":"prod"}', /'environment' and 'service' are required strings/],
      ['{"environment":"prod","service":7}', /'environment' and 'service' are required strings/],
      ['{"environment":"prod","service":"api","force":true}', /unknown field 'force'/],
      ['{"environment":"../etc","service":"api"}', /environment name "..\/etc" is not usable/],
      ['{"environment":"prod","service":"api","to":1}', /'to' must be a version string/],
      ['{"environment":"prod","service":"api","to":"1.0\\n"}', /field 'to': version .* is not usable/],
      [`{"environment":"prod","service":"api","to":"${'9'.repeat(200)}"}`, /version .* is not usable/],
      ['{"__proto__":{"x":1},"environment":"prod","service":"api"}', /unknown field '__proto__'/],
    ];
    for (const [body, message] of bodies) {
      const response = await t.post('/api/v1/rollbacks', body, JSON_BODY);
      assert.equal(response.status, 400, `${body}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, 'API_BAD_REQUEST');
      assert.match(response.body.error.message, message, body);
    }
    const deployments = await t.app.store.listDeployments({ isRollback: true }, 100);
    assert.equal(deployments.length, 1, 'only the one rollback asked for properly was recorded');
  });

  test('a rollback step that cannot roll back publishes deployment.rollback_failed matching its schema', async () => {
    const run = await send('demo.undo', { env: 'qa' });
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /no successful deployment of web in qa is recorded/);
    const event = await eventually(
      async () =>
        (await t.app.store.listEvents({ type: 'deployment.rollback_failed' }, { limit: 10 })).items[0]?.event,
      5000,
      'deployment.rollback_failed',
    );
    assert.deepEqual(event.data, {
      environment: 'qa',
      service: 'web',
      code: 'ROLLBACK_NO_TARGET',
      reason:
        'no successful deployment of web in qa is recorded, so there is nothing to roll back (junction deployments qa web lists the history)',
      cause: `step:${run.id}`,
      runId: run.id,
    });
    const schemas = createSchemaRegistry();
    for (const type of eventCatalogTypes()) schemas.register(type, EVENT_CATALOG[type] ?? {});
    assert.doesNotThrow(() => schemas.validateData(event));
    // The deployment.* events of the runs above match theirs too.
    const page = await t.app.store.listEvents({}, { limit: 1000 });
    const published = page.items.map((e) => e.event).filter((e) => e.type.startsWith('deployment.'));
    assert.deepEqual([...new Set(published.map((e) => e.type))].sort(), [
      'deployment.rollback_failed',
      'deployment.rolled_back',
      'deployment.started',
      'deployment.succeeded',
    ]);
    for (const e of published) assert.doesNotThrow(() => schemas.validateData(e), e.type);
  });
});

describe('rollbacks on a token-protected server', { timeout: 120_000 }, () => {
  const dir = tempDir('junction-api-deployments-auth-');
  const served = join(dir.path, 'served');
  let t: TestApp;
  const { ended, send } = driver(() => t);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    mkdirSync(served);
    writePipelines(dir.path, served);
    t = await startTestApp({ workers: { concurrency: 2 }, server: { allowAnonymousEmit: true } }, dir.path);
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  test('read may list but not roll back (403); operate rolls back as the token', async () => {
    for (const version of ['1.0.0', '2.0.0']) {
      const run = await send('demo.deploy', { version, env: 'prod' });
      assert.equal(run.status, 'succeeded', run.reason ?? '');
    }
    const reader = await createApiToken(t.app.store, 'dashboard', ['read']);
    const operator = await createApiToken(t.app.store, 'oncall', ['operate']);
    const body = JSON.stringify({ environment: 'prod', service: 'api' });

    const listed = await t.get('/api/v1/deployments', bearer(reader.token));
    assert.equal(listed.status, 200);
    assert.equal(listed.body.items.length, 2);

    const forbidden = await t.post('/api/v1/rollbacks', body, { ...JSON_BODY, ...bearer(reader.token) });
    assert.equal(forbidden.status, 403, JSON.stringify(forbidden.body));
    assert.equal(forbidden.body.error.code, 'API_FORBIDDEN');
    assert.match(forbidden.body.error.message, /lacks the 'operate' scope/);

    // Without a token, once tokens exist: refused as well (the open-mode cache may lag a little).
    await eventually(
      async () => ((await t.post('/api/v1/rollbacks', body, JSON_BODY)).status === 401 ? true : undefined),
      10_000,
      'open mode to end',
    );
    const viaCli = await runCli(['rollback', 'prod', 'api', '--url', t.url, '--token', reader.token]);
    assert.equal(viaCli.code, 4, viaCli.stderr);
    assert.equal(
      (await t.app.store.listDeployments({ isRollback: true }, 10)).length,
      0,
      'nothing was rolled back',
    );

    const allowed = await t.post('/api/v1/rollbacks', body, { ...JSON_BODY, ...bearer(operator.token) });
    assert.equal(allowed.status, 202, JSON.stringify(allowed.body));
    assert.equal(allowed.body.from.version, '2.0.0');
    assert.equal(allowed.body.to.version, '1.0.0');
    const run = await ended(allowed.body.runId as string);
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const deployment = await t.app.store.getDeployment(allowed.body.deploymentId as string);
    assert.equal(deployment?.actor, 'oncall');
    assert.equal(deployment?.cause, 'manual');
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '1.0.0');
  });
});
