/**
 * Deployments through `junction serve`'s engine: a job with `environment` records a deployment
 * and publishes deployment.* events; deployments of one service to one environment run one at a
 * time in order; an outdated version is refused; a rollback re-runs the job that deployed the
 * version before, records it as a rollback and publishes deployment.rolled_back; the guards
 * refuse what must not happen and say why.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isJunctionError } from '../src/errors/index.ts';
import { rerunRun, requestRollback, traceFrom, type TraceNode } from '../src/runs/index.ts';
import type { RunDetail } from '../src/store/index.ts';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

describe('deployments', { timeout: 90_000 }, () => {
  const dir = tempDir('junction-deployments-');
  const served = join(dir.path, 'served');
  let t: TestApp;

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    mkdirSync(served);
    writeFileSync(
      join(dir.path, 'pipelines', 'deploy.yaml'),
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
      - run: |
          sleep "\${{ event.data.sleep }}"
          printf '%s' "\${{ jobs.build.outputs.version }}" > "${served}/\${{ event.data.env }}"
`,
    );
    writeFileSync(
      join(dir.path, 'pipelines', 'auto-rollback.yaml'),
      `name: auto-rollback
on:
  - event: alert.firing
  - event: alert.resolved
jobs:
  rollback:
    steps:
      - id: back
        uses: rollback
        with:
          window: 10m
`,
    );
    t = await startTestApp({ workers: { concurrency: 4 } }, dir.path);
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  async function deploy(version: string, env = 'prod', sleep = 0): Promise<string> {
    const response = await t.post(
      '/events',
      JSON.stringify(cloudEvent({ type: 'demo.deploy', data: { version, env, sleep } })),
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    return response.body.id as string;
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

  async function runOf(eventId: string): Promise<RunDetail> {
    const id = await eventually(
      async () => (await t.app.store.listRuns({ eventId }, { limit: 5 })).items[0]?.id,
      10_000,
      'a run',
    );
    return ended(id);
  }

  async function eventTypes(subject: string): Promise<string[]> {
    const page = await t.app.store.listEvents({}, { limit: 1000, order: 'asc' });
    return page.items
      .filter((e) => e.event.subject === subject && e.event.type.startsWith('deployment.'))
      .map((e) => `${e.event.type}:${(e.event.data as { version: string }).version}`);
  }

  test('a job with environment records a deployment and publishes its events', async () => {
    const run = await runOf(await deploy('1.0.0'));
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '1.0.0');
    const [deployment] = await t.app.store.listDeployments({ environment: 'prod', service: 'api' }, 10);
    assert.equal(deployment?.status, 'succeeded');
    assert.equal(deployment?.version, '1.0.0');
    assert.equal(deployment?.runId, run.id);
    assert.equal(deployment?.isRollback, false);
    await eventually(
      async () => ((await eventTypes('prod/api')).includes('deployment.succeeded:1.0.0') ? true : undefined),
      5000,
      'deployment.succeeded',
    );
    assert.deepEqual(
      (await eventTypes('prod/api')).filter((e) => e.endsWith(':1.0.0')),
      ['deployment.started:1.0.0', 'deployment.succeeded:1.0.0'],
    );
  });

  test('two deployments of one service to one environment run one after the other', async () => {
    const first = await deploy('2.0.0', 'prod', 1);
    // Once the first deployment runs, the second (from a newer event) queues behind it.
    await eventually(
      async () => {
        const [latest] = await t.app.store.listDeployments({ environment: 'prod', service: 'api' }, 1);
        return latest?.version === '2.0.0' && latest.status === 'running' ? true : undefined;
      },
      10_000,
      'the first deployment to run',
    );
    const second = await deploy('2.1.0', 'prod', 0);
    // The second waits behind the first, and says so.
    const waiting = await eventually(
      async () => {
        const runs = (await t.app.store.listRuns({ eventId: second }, { limit: 1 })).items;
        if (runs[0] === undefined) return undefined;
        const jobs = await t.app.store.listJobs(runs[0].id);
        const job = jobs.find((j) => j.name === 'deploy');
        return job?.status === 'waiting' && job.reason?.startsWith('waiting for deployment')
          ? job
          : undefined;
      },
      10_000,
      'the second deployment to wait',
    ).catch(async (error: unknown) => {
      console.log(JSON.stringify(await t.app.store.listDeployments({}, 20), null, 1));
      throw error;
    });
    assert.match(waiting.reason ?? '', /2\.0\.0/);
    const a = await runOf(first);
    const b = await runOf(second);
    assert.equal(a.status, 'succeeded');
    assert.equal(b.status, 'succeeded');
    const [da, db] = await Promise.all([
      t.app.store.listDeployments({ environment: 'prod' }, 100),
      Promise.resolve(undefined),
    ]).then(([all]) => [all.find((d) => d.version === '2.0.0')!, all.find((d) => d.version === '2.1.0')!]);
    assert.ok(db!.startedAt! >= da!.finishedAt!, 'the second started after the first ended');
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '2.1.0');
  });

  test('re-running an older deployment is refused as outdated', async () => {
    const [old] = await t.app.store.listDeployments(
      { environment: 'prod', status: ['succeeded'], order: 'asc' },
      1,
    );
    const rerun = await rerunRun(t.app.store, old!.runId, { failedOnly: false });
    t.app.scheduler.kick(rerun.runId);
    const run = await ended(rerun.runId);
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /outdated: api 2\.1\.0 is deployed to prod from a newer event/);
    assert.match(run.reason ?? '', /junction rollback prod api --to 1\.0\.0/);
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '2.1.0', 'nothing was deployed');
  });

  test('a rollback re-runs the job that deployed the previous version', async () => {
    const result = await requestRollback(t.app.store, {
      environment: 'prod',
      service: 'api',
      actor: 'alice',
      cause: 'manual',
      automatic: false,
    });
    assert.equal(result.from.version, '2.1.0');
    assert.equal(result.to.version, '2.0.0');
    t.app.scheduler.kick(result.runId);
    const run = await ended(result.runId);
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    assert.equal(run.rerunOf, result.to.runId);
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '2.0.0');
    const jobs = await t.app.store.listJobs(run.id);
    assert.match(jobs.find((j) => j.name === 'build')?.reason ?? '', /reused/);
    const deployment = await t.app.store.getDeployment(result.deploymentId);
    assert.equal(deployment?.status, 'succeeded');
    assert.equal(deployment?.isRollback, true);
    assert.equal(deployment?.rollbackOf, result.from.id);
    assert.equal(deployment?.actor, 'alice');
    await eventually(
      async () =>
        (await eventTypes('prod/api')).includes('deployment.rolled_back:2.0.0') ? true : undefined,
      5000,
      'deployment.rolled_back',
    );
    const page = await t.app.store.listEvents({}, { limit: 1000 });
    const rolledBack = page.items.find((e) => e.event.type === 'deployment.rolled_back');
    assert.equal((rolledBack?.event.data as { previousVersion?: string }).previousVersion, '2.1.0');
  });

  test('the guards refuse with their own codes', async () => {
    const refused = async (request: Parameters<typeof requestRollback>[1], code: string) =>
      assert.rejects(requestRollback(t.app.store, request), (error: unknown) => {
        assert.ok(isJunctionError(error, code as never), String(error));
        return true;
      });
    const base = { environment: 'prod', service: 'api', actor: 'bot', cause: 'alert:abc', automatic: true };
    await refused(base, 'ROLLBACK_OF_ROLLBACK');
    await refused({ ...base, automatic: false, to: '9.9.9' }, 'ROLLBACK_VERSION_UNKNOWN');
    await refused({ ...base, automatic: false, to: '2.0.0' }, 'ROLLBACK_NO_TARGET');
    await refused({ ...base, environment: 'nowhere' }, 'ROLLBACK_NO_TARGET');
  });

  async function alert(status: 'firing' | 'resolved', fingerprint: string, labels: Record<string, string>) {
    const response = await t.post(
      '/events',
      JSON.stringify(
        cloudEvent({
          type: `alert.${status}`,
          source: 'test/alertmanager',
          data: {
            alertname: 'ApiDown',
            status,
            labels: { alertname: 'ApiDown', ...labels },
            fingerprint,
            service: labels['service'] ?? null,
            environment: labels['environment'] ?? labels['env'] ?? null,
          },
        }),
      ),
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    return runOf(response.body.id as string);
  }

  async function stepOutputs(runId: string): Promise<Record<string, string>> {
    const steps = await t.app.store.listSteps(runId);
    return steps.find((step) => step.outputs !== null && Object.keys(step.outputs).length > 0)?.outputs ?? {};
  }

  test('an alert rolls back once: repeats, resolved alerts and rollbacks of rollbacks do not', async () => {
    // Back to a normal deployment: 4.0.0 after the manual rollback to 2.0.0.
    const four = await runOf(await deploy('4.0.0'));
    assert.equal(four.status, 'succeeded', four.reason ?? '');
    const labels = { service: 'api', env: 'prod' };

    const firing = await alert('firing', 'fp-1', labels);
    assert.equal(firing.status, 'succeeded', firing.reason ?? '');
    const outputs = await stepOutputs(firing.id);
    assert.equal(outputs['rolled_back'], 'true');
    assert.equal(outputs['from'], '4.0.0');
    assert.equal(outputs['to'], '2.0.0');
    const rollbackRun = await ended(outputs['run_id']!);
    assert.equal(rollbackRun.status, 'succeeded', rollbackRun.reason ?? '');
    assert.equal(readFileSync(join(served, 'prod'), 'utf8'), '2.0.0');
    // The trace of the alert reaches the rollback run its step started, and what that deployed.
    const trace = await traceFrom(t.app.store, firing.eventId);
    const ids: string[] = [];
    const walk = (node: TraceNode): void => {
      ids.push(node.kind === 'run' ? node.id : `${node.type}`);
      for (const child of node.children) walk(child);
    };
    walk(trace!.root);
    assert.ok(ids.includes(rollbackRun.id), ids.join(' '));
    assert.ok(ids.includes('deployment.rolled_back'), ids.join(' '));
    const [latest] = await t.app.store.listDeployments({ environment: 'prod', service: 'api' }, 1);
    assert.equal(latest?.cause, 'alert:fp-1');
    assert.equal(latest?.requestedByRun, firing.id);
    assert.equal(latest?.isRollback, true);

    // The same alert again: no second rollback.
    const repeat = await alert('firing', 'fp-1', labels);
    assert.equal(repeat.status, 'succeeded');
    assert.equal((await stepOutputs(repeat.id))['rolled_back'], 'false');
    assert.match((await stepOutputs(repeat.id))['reason'] ?? '', /already rolled back/);

    // Resolved: nothing.
    const resolved = await alert('resolved', 'fp-1', labels);
    assert.equal((await stepOutputs(resolved.id))['rolled_back'], 'false');
    assert.match((await stepOutputs(resolved.id))['reason'] ?? '', /resolved/);

    // Another alert while a rollback is in place: a person decides.
    const other = await alert('firing', 'fp-2', labels);
    assert.equal(other.status, 'failed');
    assert.match(other.reason ?? '', /itself a rollback/);

    const rollbacks = await t.app.store.listDeployments({ environment: 'prod', isRollback: true }, 10);
    assert.equal(rollbacks.filter((d) => d.cause === 'alert:fp-1').length, 1);
    const page = await t.app.store.listEvents({ type: 'deployment.rollback_failed' }, { limit: 10 });
    assert.equal(page.items.length, 1);
    assert.equal((page.items[0]!.event.data as { code: string }).code, 'ROLLBACK_OF_ROLLBACK');
  });

  test('an alert without service labels fails its rollback step and says what is missing', async () => {
    const run = await alert('firing', 'fp-3', { team: 'web' });
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /rollback needs an environment and a service/);
    assert.match(run.reason ?? '', /labels service and environment/);
  });

  test('an environment name with odd characters fails the job and records nothing', async () => {
    const run = await runOf(await deploy('3.0.0', 'prod; rm -rf /'));
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /environment name "prod; rm -rf \/" is not usable/);
    assert.deepEqual(await t.app.store.listDeployments({ environment: 'prod; rm -rf /' }, 10), []);
  });
});
