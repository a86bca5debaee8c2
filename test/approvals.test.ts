/**
 * Approvals and freeze windows through `junction serve`'s engine, the REST API and the CLI: a
 * deployment to a protected environment waits for approval and says who is asked; tokens without
 * the scope, or not among the approvers, are refused; an approver decides once; enough approvals
 * let the job run, a rejection fails it; a refusing freeze window refuses; a timeout rejects; and
 * odd environment configuration is refused at load with the path of every problem.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configFromSource, printConfigYaml } from '../src/config/index.ts';
import { isJunctionError } from '../src/errors/index.ts';
import { createApiToken } from '../src/security/index.ts';
import type { JobRecord, RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

const CONFIG = `
environments:
  - name: production
    protection:
      approvals: 2
      approvers: [alice-token, bob-token]
  - name: quick
    protection:
      timeout: 1s
  - name: frozen
    freeze:
      # In force from the last minute until the next 29 February: always, in practice.
      - from: "* * * * *"
        to: "0 0 29 2 *"
        timezone: Europe/Berlin
        mode: refuse
`;

describe('approvals and freeze windows', { timeout: 120_000 }, () => {
  const dir = tempDir('junction-approvals-');
  let t: TestApp;
  const tokens: Record<string, string> = {};

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'junction.yaml'), CONFIG);
    writeFileSync(
      join(dir.path, 'pipelines', 'deploy.yaml'),
      `name: deploy
on:
  - event: demo.deploy
jobs:
  deploy:
    environment:
      name: \${{ event.data.env }}
      service: api
      version: "1"
    steps:
      - run: echo deploying
`,
    );
    t = await startTestApp({ workers: { concurrency: 2 } }, dir.path);
    // Tokens exist before the first API request, so the API is not in local open mode.
    for (const [name, scopes] of [
      ['alice-token', ['approve']],
      ['bob-token', ['approve', 'read']],
      ['mallory-token', ['approve']],
      ['reader', ['read']],
      ['operator', ['operate']],
    ] as const) {
      tokens[name] = (await createApiToken(t.app.store, name, scopes)).token;
    }
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  const auth = (name: string): Record<string, string> => ({ authorization: `Bearer ${tokens[name]!}` });

  async function deploy(env: string): Promise<string> {
    const response = await t.post(
      '/events',
      JSON.stringify(cloudEvent({ type: 'demo.deploy', data: { env } })),
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const eventId = response.body.id as string;
    return eventually(
      async () => (await t.app.store.listRuns({ eventId }, { limit: 5 })).items[0]?.id,
      10_000,
      'a run',
    );
  }

  async function deployJob(runId: string, status?: string): Promise<JobRecord> {
    return eventually(
      async () => {
        const job = (await t.app.store.listJobs(runId)).find((j) => j.name === 'deploy');
        return job !== undefined && (status === undefined || job.status === status) && job.reason !== null
          ? job
          : undefined;
      },
      10_000,
      `job deploy of ${runId} ${status ?? ''}`,
    );
  }

  async function ended(runId: string): Promise<RunDetail> {
    return eventually(
      async () => {
        const run = await t.app.store.getRunDetail(runId);
        return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
      },
      20_000,
      `run ${runId} to end`,
    );
  }

  const approval = (runId: string, job = 'deploy') =>
    `/api/v1/runs/${encodeURIComponent(runId)}/jobs/${job}/approval`;
  const decide = (runId: string, token: string | undefined, body: unknown, job = 'deploy') =>
    t.post(approval(runId, job), typeof body === 'string' ? body : JSON.stringify(body), {
      'content-type': 'application/json',
      ...(token === undefined ? {} : auth(token)),
    });
  const cli = (args: string[], token: string) =>
    runCli(args, { env: { JUNCTION_URL: t.url, JUNCTION_TOKEN: tokens[token]! } });

  test('a deployment waits for approval, enough distinct approvers let it run', async () => {
    const runId = await deploy('production');
    const job = await deployJob(runId, 'waiting');
    assert.match(
      job.reason ?? '',
      /^waiting for approval: 0 of 2 from tokens with the 'approve' scope \(alice-token, bob-token\); approve with: junction approve \S+ deploy$/,
    );

    // `junction runs RUN` shows the job waiting, with who is asked.
    const shown = await cli(['runs', runId], 'reader');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /deploy\s+waiting/);
    assert.match(shown.stdout, /waiting for approval: 0 of 2 from tokens with the 'approve' scope/);

    const state = await t.get(approval(runId), auth('reader'));
    assert.equal(state.status, 200, JSON.stringify(state.body));
    assert.equal(state.body.state, 'waiting');
    assert.equal(state.body.required, 2);
    assert.deepEqual(state.body.approvers, ['alice-token', 'bob-token']);
    assert.equal(state.body.environment, 'production');

    // Without the scope, with the scope but not an approver, without a token: refused.
    for (const token of ['reader', 'operator']) {
      const refused = await decide(runId, token, { decision: 'approve' });
      assert.equal(refused.status, 403, token);
      assert.equal(refused.body.error.code, 'API_FORBIDDEN');
      assert.match(refused.body.error.message, /lacks the 'approve' scope/);
    }
    const stranger = await decide(runId, 'mallory-token', { decision: 'approve' });
    assert.equal(stranger.status, 403);
    assert.match(
      stranger.body.error.message,
      /token 'mallory-token' may not decide deployments to 'production'/,
    );
    assert.equal((await decide(runId, undefined, { decision: 'approve' })).status, 401);
    const readOnly = await t.get(approval(runId), auth('alice-token'));
    assert.equal(readOnly.status, 403, 'approve does not imply read');

    // Bad bodies.
    for (const body of [
      '',
      'nope',
      '[]',
      { decision: 'yes' },
      { decision: 'approve', extra: 1 },
      { decision: 'approve', comment: 7 },
      { decision: 'approve', comment: 'a\u0007b' },
      { decision: 'approve', comment: 'x'.repeat(1001) },
    ]) {
      const bad = await decide(runId, 'alice-token', body);
      assert.equal(bad.status, 400, JSON.stringify(body).slice(0, 40));
      assert.equal(bad.body.error.code, 'API_BAD_REQUEST');
    }
    assert.deepEqual(await t.app.store.listApprovals(runId), []);

    // The CLI approves as alice; alice again is a duplicate (exit 6, refused).
    const first = await cli(['approve', runId, 'deploy', '--comment', 'ship it'], 'alice-token');
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /^recorded: api 1 to production has 1 of 2 approvals; still waiting for tokens with the 'approve' scope/,
    );
    const twice = await cli(['approve', runId, 'deploy'], 'alice-token');
    assert.equal(twice.code, 6, twice.stdout);
    assert.match(twice.stderr, /'alice-token' already approved job 'deploy'.*\[APPROVAL_DUPLICATE\]/);
    const apiTwice = await decide(runId, 'alice-token', { decision: 'reject' });
    assert.equal(apiTwice.status, 409);
    assert.equal(apiTwice.body.error.code, 'APPROVAL_DUPLICATE');
    assert.match((await deployJob(runId, 'waiting')).reason ?? '', /^waiting for approval: 1 of 2/);

    const second = await decide(runId, 'bob-token', { decision: 'approve' });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.state, 'approved');
    assert.deepEqual(second.body.approvedBy, ['alice-token', 'bob-token']);
    const run = await ended(runId);
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const [deployment] = await t.app.store.listDeployments({ environment: 'production', service: 'api' }, 1);
    assert.equal(deployment?.status, 'succeeded');

    // The run no longer waits: approving it is refused, and the decisions stay readable.
    const late = await decide(runId, 'mallory-token', { decision: 'approve' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'APPROVAL_NOT_WAITING');
    const lateCli = await cli(['approve', runId, 'deploy'], 'bob-token');
    assert.equal(lateCli.code, 6);
    assert.match(lateCli.stderr, /APPROVAL_NOT_WAITING/);
    const decided = await t.get(approval(runId), auth('bob-token'));
    assert.deepEqual(
      decided.body.decisions.map((d: { decision: string; author: string; comment: string | null }) => [
        d.decision,
        d.author,
        d.comment,
      ]),
      [
        ['approved', 'alice-token', 'ship it'],
        ['approved', 'bob-token', null],
      ],
    );
  });

  test('a rejection fails the job with its reason, and the run fails', async () => {
    const runId = await deploy('production');
    await deployJob(runId, 'waiting');
    const rejected = await cli(
      ['approve', runId, 'deploy', '--reject', '--comment', 'not during the sale'],
      'bob-token',
    );
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(rejected.stdout, /^rejected by bob-token: api 1 to production; job deploy of run \S+ fails/);
    const run = await ended(runId);
    assert.equal(run.status, 'failed');
    const job = await deployJob(runId, 'failed');
    assert.equal(job.reason, 'rejected by bob-token: not during the sale');
    const [deployment] = await t.app.store.listDeployments({ environment: 'production', service: 'api' }, 1);
    assert.equal(deployment?.runId, runId);
    assert.equal(deployment?.status, 'refused');
  });

  test('approving what does not wait: unknown run, unknown job, a job of an unprotected run', async () => {
    const missing = await decide('run-nope', 'alice-token', { decision: 'approve' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'RUN_NOT_FOUND');
    const missingCli = await cli(['approve', 'run-nope', 'deploy'], 'alice-token');
    assert.equal(missingCli.code, 5);

    const runId = await deploy('staging');
    const run = await ended(runId);
    assert.equal(run.status, 'succeeded', 'an environment not listed deploys without approval');
    const unprotected = await decide(runId, 'alice-token', { decision: 'approve' });
    assert.equal(unprotected.status, 409);
    assert.equal(unprotected.body.error.code, 'APPROVAL_NOT_WAITING');
    const odd = await decide(runId, 'alice-token', { decision: 'approve' }, encodeURIComponent('dep/../loy'));
    assert.equal(odd.status, 409);
    assert.match(odd.body.error.message, /has no job "dep\/..\/loy"/);
  });

  test('a freeze window in refuse mode refuses the deployment', async () => {
    const runId = await deploy('frozen');
    const run = await ended(runId);
    assert.equal(run.status, 'failed');
    const job = await deployJob(runId, 'failed');
    assert.match(
      job.reason ?? '',
      /^refused: freeze window \('\* \* \* \* \*' to '0 0 29 2 \*', Europe\/Berlin\) is in force until \S+; deploy again after it ends$/,
    );
  });

  test('nobody deciding within the timeout rejects the deployment', async () => {
    const runId = await deploy('quick');
    const run = await ended(runId);
    assert.equal(run.status, 'failed');
    const job = await deployJob(runId, 'failed');
    assert.equal(job.reason, 'rejected by junction (timeout): not approved within 1s (0 of 1 approvals)');
    const decisions = await t.app.store.listApprovals(runId);
    assert.deepEqual(
      decisions.map((d) => [d.decision, d.author]),
      [['rejected', 'junction (timeout)']],
    );
  });
});

describe('environments in junction.yaml', { timeout: 10_000 }, () => {
  const load = (text: string) =>
    configFromSource({ text, filePath: '/srv/junction.yaml', cwd: '/srv', env: {} });

  test('defaults: one approval, any approver, 24h; freeze windows in UTC that wait', () => {
    const { config } = load(`environments:
  - name: production
    protection: {}
    freeze:
      - { from: "0 18 * * 5", to: "0 8 * * 1" }
  - name: staging.eu-1_b
`);
    assert.deepEqual(config.environments, [
      {
        name: 'production',
        protection: { approvals: 1, timeoutMs: 86_400_000 },
        freeze: [{ from: '0 18 * * 5', to: '0 8 * * 1', timezone: 'UTC', mode: 'wait' }],
      },
      { name: 'staging.eu-1_b', freeze: [] },
    ]);
    assert.ok(Object.isFrozen(config.environments[0]!.freeze));
  });

  test('junction config print writes environments so they load again', () => {
    const { config } = load(`environments:
  - name: production
    protection: { approvals: 2, approvers: [a, b], timeout: 90m }
    freeze:
      - { from: "0 18 * * 5", to: "0 8 * * 1", timezone: Europe/Berlin, mode: refuse }
  - name: dev
`);
    const printed = printConfigYaml(config);
    assert.match(printed, /timeout: 5400000/);
    assert.deepEqual(load(printed).config.environments, config.environments);
  });

  test('odd names, bad cron, unknown time zones and impossible approvals are refused with their paths', () => {
    let caught: unknown;
    try {
      load(`environments:
  - name: "prod/../x"
  - name: "-prod"
  - name: "pröd"
  - name: production
    protection:
      approvals: 3
      approvers: [alice-token, bob-token]
      timeout: soon
  - name: production
    protection:
      approvals: 11
  - name: weekend
    freeze:
      - from: "0 18 * * 8"
        to: "0 8 * *"
        timezone: Europe/Berln
      - from: "0 18 * * 5"
        to: "61 8 * * 1"
        mode: later
      - to: "0 8 * * 1"
`);
    } catch (error) {
      caught = error;
    }
    assert.ok(isJunctionError(caught) && caught.code === 'CONFIG_INVALID', String(caught));
    const problems = caught.details?.['problems'] as { path: string; message: string; line?: number }[];
    const at = (path: string): string[] => problems.filter((p) => p.path === path).map((p) => p.message);
    for (const index of [0, 1, 2]) {
      assert.match(at(`environments[${index}].name`)[0] ?? '', /must be letters, digits, '.', '_' and '-'/);
    }
    assert.match(
      at('environments[3].protection.approvers')[0] ?? '',
      /names 2 approvers but 'approvals' asks for 3/,
    );
    assert.match(at('environments[3].protection.timeout')[0] ?? '', /must be a duration/);
    assert.match(
      at('environments[4].name')[0] ?? '',
      /duplicate environment name 'production' \(already used by environments\[3\]\)/,
    );
    assert.ok(at('environments[4].protection.approvals').length > 0);
    assert.match(
      at('environments[5].freeze[0].timezone')[0] ?? '',
      /unknown time zone "Europe\/Berln" \(did you mean 'Europe\/Berlin'\?\)/,
    );
    assert.match(at('environments[5].freeze[1].to')[0] ?? '', /^invalid cron "61 8 \* \* 1"/);
    assert.match(at('environments[5].freeze[1].mode')[0] ?? '', /must be one of 'wait', 'refuse'/);
    assert.match(at('environments[5].freeze[2].from')[0] ?? '', /is required/);
    assert.ok(
      problems.every((p) => p.line !== undefined),
      'every problem has its line',
    );
  });

  test('a bad cron is reported when the time zone is fine', () => {
    assert.throws(
      () => load(`environments:\n  - name: x\n    freeze:\n      - { from: "0 18 * * 8", to: "0 8 * *" }\n`),
      (error) => {
        assert.ok(isJunctionError(error));
        const problems = error.details?.['problems'] as { path: string; message: string }[];
        assert.deepEqual(
          problems.map((p) => p.path),
          ['environments[0].freeze[0].from', 'environments[0].freeze[0].to'],
        );
        assert.match(problems[1]!.message, /it has 4 fields/);
        return true;
      },
    );
  });
});
