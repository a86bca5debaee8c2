/**
 * The whole loop of examples/08-deploy-and-rollback with real processes: a real `git push` through
 * Junction's post-receive hook runs ci; its pipeline.succeeded deploys the commit (the deploy job
 * writes the version the demo service serves); a second push deploys a commit the test marks
 * unhealthy; a real Prometheus scraping the service fires WebUnhealthy; a real Alertmanager posts
 * it to Junction; the rollback pipeline re-runs the deploy job of the first commit, and the
 * service serves it again. The resolved alert rolls nothing back, a repeated notification is
 * stored once, and the same alert firing again does not roll back a second time. `junction trace`
 * shows both chains. Prints how long it took from the alert being stored to the rollback's deploy
 * job starting.
 *
 * A missing `prometheus` or `prometheus-alertmanager` binary fails the test: the packages are
 * part of the test setup (`.ci/run` installs them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startApp, type App } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import type { StoredEvent } from '../src/events/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { ROUTER_CHECKPOINT } from '../src/runs/router.ts';
import type { RunDetail } from '../src/store/index.ts';
import { eventually, repoRoot, runCli, tempDir } from './helpers/app.ts';
import { findBinary, freePort, startPeer, type Peer } from './helpers/peers.ts';

const execFileAsync = promisify(execFile);
const EXAMPLE = join(repoRoot, 'examples', '08-deploy-and-rollback');
const GIT_TOKEN = 'scenario-git-hook-token-0123456789';
const ALERT_TOKEN = 'scenario-alertmanager-token-0123456789';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

/** Replaces `from` (which must be there) with `to` in a file of the example's copy. */
function replaceIn(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(from), `${file} no longer holds ${from}`);
  writeFileSync(file, text.replaceAll(from, to));
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    'git',
    ['-c', 'user.name=Example', '-c', 'user.email=example@example.com', ...args],
    { cwd, encoding: 'utf8' },
  );
  return stdout.trim();
}

/**
 * `git push`, asynchronously: the push runs the post-receive hook, which posts to the server in
 * this process, so a synchronous child would block it.
 */
async function push(work: string, refspec: string): Promise<void> {
  const { stderr } = await execFileAsync('git', ['push', 'origin', refspec], { cwd: work, encoding: 'utf8' });
  assert.doesNotMatch(stderr, /could not report/, stderr);
}

void test(
  'push → ci → deploy A; push → deploy B (unhealthy) → prometheus → alertmanager → rollback → A',
  { timeout: 90_000 },
  async (t) => {
    const prometheus = findBinary(['prometheus']);
    const alertmanagerBinary = findBinary(['prometheus-alertmanager', 'alertmanager']);
    assert.ok(
      prometheus !== undefined,
      'no prometheus binary on PATH: install it (apt-get install prometheus); .ci/run does so',
    );
    assert.ok(
      alertmanagerBinary !== undefined,
      'no alertmanager binary on PATH: install it (apt-get install prometheus-alertmanager); .ci/run does so',
    );

    // 1. A copy of the example, its demo folder pointed into the temp dir.
    const temp = tempDir('junction-scenario-');
    t.after(() => temp.remove());
    const dir = join(temp.path, 'example');
    cpSync(EXAMPLE, dir, { recursive: true, filter: (s) => !s.endsWith('.junction') });
    const demo = join(temp.path, 'demo');
    mkdirSync(demo);
    replaceIn(join(dir, 'pipelines', 'deploy.yaml'), 'DEMO_DIR: /tmp/junction-demo-web', `DEMO_DIR: ${demo}`);

    // 2. Junction, with the example's junction.yaml (port 0).
    const { config } = await loadConfig({
      cwd: dir,
      env: { JUNCTION_SERVER_PORT: '0', GIT_HOOK_TOKEN: GIT_TOKEN, ALERTMANAGER_TOKEN: ALERT_TOKEN },
    });
    assert.ok(config.workers.concurrency >= 2, 'the example runs two workers');
    const app: App = await startApp(config, { logger: createLogger({ level: 'silent', format: 'json' }) });
    t.after(() => app.stop());
    const { store } = app;

    // 3. The demo service, from the example, on a free port.
    const servicePort = await freePort();
    const cleanup = (fn: () => Promise<void>): void => {
      t.after(fn);
    };
    const service = await startPeer({
      name: 'web',
      // env(1) execs node in its place, so the PID stopped at the end is the service's.
      binary: findBinary(['env']) ?? '/usr/bin/env',
      args: [`DEMO_DIR=${demo}`, `PORT=${servicePort}`, process.execPath, join(dir, 'service', 'server.mjs')],
      port: servicePort,
      readyPath: '/',
      cleanup,
    });
    const served = async (): Promise<string> => (await (await fetch(`${service.url}/`)).text()).trim();
    assert.equal(await served(), 'nothing deployed');

    // 4. Alertmanager and Prometheus with the example's monitoring/ files, on free ports.
    const monitoring = join(dir, 'monitoring');
    writeFileSync(join(monitoring, 'alertmanager.token'), `${ALERT_TOKEN}\n`);
    chmodSync(join(monitoring, 'alertmanager.token'), 0o600);
    replaceIn(
      join(monitoring, 'alertmanager.yml'),
      'http://127.0.0.1:8080/hooks/alertmanager',
      `${app.url}/hooks/alertmanager`,
    );
    const alertmanagerPort = await freePort();
    const alertmanager = await startPeer({
      name: 'alertmanager',
      binary: alertmanagerBinary,
      port: alertmanagerPort,
      readyPath: '/-/ready',
      cleanup,
      args: [
        `--config.file=${join(monitoring, 'alertmanager.yml')}`,
        `--storage.path=${join(temp.path, 'alertmanager-data')}`,
        `--web.listen-address=127.0.0.1:${alertmanagerPort}`,
        `--web.external-url=http://127.0.0.1:${alertmanagerPort}/`,
        '--cluster.listen-address=',
      ],
    });
    replaceIn(join(monitoring, 'prometheus.yml'), "'127.0.0.1:9093'", `'127.0.0.1:${alertmanagerPort}'`);
    replaceIn(join(monitoring, 'prometheus.yml'), "'127.0.0.1:8081'", `'127.0.0.1:${servicePort}'`);
    const prometheusPort = await freePort();
    const prom: Peer = await startPeer({
      name: 'prometheus',
      binary: prometheus,
      port: prometheusPort,
      readyPath: '/-/ready',
      cleanup,
      args: [
        `--config.file=${join(monitoring, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(temp.path, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
        `--web.external-url=http://127.0.0.1:${prometheusPort}/`,
        // Re-send firing alerts every second (default 1m); resolved ones are sent at once.
        '--rules.alert.resend-delay=1s',
        '--log.level=warn',
      ],
    });
    const diagnose = (error: unknown): never => {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\n--- prometheus ---\n${prom.log()}` +
          `\n--- alertmanager ---\n${alertmanager.log()}\n--- web ---\n${service.log()}`,
      );
    };

    // 5. The bare repository with Junction's hook, and a clone to push from.
    const bare = join(temp.path, 'web.git');
    const work = join(temp.path, 'web');
    await git(temp.path, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    writeFileSync(join(bare, 'junction.token'), `${GIT_TOKEN}\n`);
    chmodSync(join(bare, 'junction.token'), 0o600);
    const installed = await runCli(['hook', 'install', bare, '--url', app.url, '--source', 'repos']);
    assert.equal(installed.code, 0, installed.stderr + installed.stdout);
    await git(temp.path, 'clone', '--quiet', bare, work);
    cpSync(join(dir, 'project'), work, { recursive: true });

    const events = async (type: string): Promise<readonly StoredEvent[]> =>
      (await store.listEvents({ type }, { limit: 100, order: 'asc' })).items;
    const ended = async (runId: string, what: string): Promise<RunDetail> =>
      eventually(
        async () => {
          const run = await store.getRunDetail(runId);
          return run !== undefined && TERMINAL.has(run.status) ? run : undefined;
        },
        30_000,
        what,
      );
    const runOf = async (pipeline: string, eventId: string): Promise<RunDetail> => {
      const id = await eventually(
        async () =>
          (await store.listRuns({ eventId }, { limit: 20 })).items.find((r) => r.pipeline === pipeline)?.id,
        30_000,
        `a ${pipeline} run for ${eventId}`,
      );
      const run = await ended(id, `the ${pipeline} run ${id} to end`);
      const logs = (await store.readLogs({ runId: run.id }, 1000)).map((l) => l.text).join('\n');
      assert.equal(run.status, 'succeeded', `${pipeline}: ${run.reason ?? ''}\n${logs}`);
      return run;
    };
    /** Pushes HEAD to main; the push event, its ci run, and the deploy run it chained. */
    const pushAndDeploy = async (count: number) => {
      await push(work, 'HEAD:main');
      const pushEvent = await eventually(
        async () => (await events('git.push'))[count - 1],
        10_000,
        `push ${count}`,
      );
      const ci = await runOf('ci', pushEvent.id);
      const succeeded = await eventually(
        async () =>
          (await events('pipeline.succeeded')).find(
            (e) => (e.event.data as { runId?: string }).runId === ci.id,
          ),
        10_000,
        'pipeline.succeeded of ci',
      );
      const deploy = await runOf('deploy', succeeded.id);
      return { pushEvent, ci, succeeded, deploy };
    };

    // 6. Commit A: tested, deployed, served; healthy.
    await git(work, 'add', '.');
    await git(work, 'commit', '--quiet', '-m', 'web: first version');
    const a = await git(work, 'rev-parse', 'HEAD');
    const first = await pushAndDeploy(1);
    assert.equal((first.succeeded.event.data as { after?: string }).after, a);
    assert.equal(await served(), a);

    // 7. Commit B, which the test marks unhealthy for the service before pushing it.
    writeFileSync(join(work, 'index.html'), '<p>hello from web, second version</p>\n');
    await git(work, 'commit', '--quiet', '-am', 'web: second version');
    const b = await git(work, 'rev-parse', 'HEAD');
    writeFileSync(join(demo, 'unhealthy'), `${b}\n`);
    const second = await pushAndDeploy(2);
    const [deploymentB] = await store.listDeployments({ environment: 'production', service: 'web' }, 1);
    assert.equal(deploymentB?.version, b);
    assert.equal(deploymentB?.runId, second.deploy.id);

    // 8. Prometheus sees demo_healthy 0, Alertmanager posts WebUnhealthy, the rollback runs.
    const firing = await eventually(
      async () => (await events('alert.firing'))[0],
      20_000,
      'alert.firing',
    ).catch(diagnose);
    const alertMs = Date.parse(firing.receivedAt) - Date.parse(second.deploy.finishedAt ?? '');
    const alert = firing.event.data as Record<string, any>;
    assert.equal(alert['alertname'], 'WebUnhealthy');
    assert.equal(alert['service'], 'web');
    assert.equal(alert['environment'], 'production');
    const rollbackRun = await runOf('rollback', firing.id);
    const rollbackLogs = (await store.readLogs({ runId: rollbackRun.id }, 1000))
      .map((l) => l.text)
      .join('\n');
    assert.match(rollbackLogs, new RegExp(`rolling web in production back from ${b} to ${a} in run run_`));
    const [rollbackDeployment, ...more] = await store.listDeployments(
      { environment: 'production', service: 'web', isRollback: true },
      10,
    );
    assert.ok(rollbackDeployment !== undefined, 'a rollback deployment is recorded');
    assert.deepEqual(more, []);
    assert.equal(rollbackDeployment.version, a);
    assert.equal(rollbackDeployment.cause, `alert:${alert['fingerprint']}`);
    assert.equal(rollbackDeployment.rollbackOf, deploymentB.id);
    // The rollback re-runs the deploy run of A: same event, only the deploy job.
    const redeploy = await ended(rollbackDeployment.runId, 'the rollback deployment to end');
    assert.equal(redeploy.status, 'succeeded', redeploy.reason ?? '');
    assert.equal(redeploy.pipeline, 'deploy');
    assert.equal(redeploy.rerunOf, first.deploy.id);
    assert.equal(await served(), a, 'the service serves A again');
    const [redeployJob] = (await store.listJobs(redeploy.id)).filter((j) => j.name === 'deploy');
    assert.ok(redeployJob?.startedAt, 'the deploy job of the rollback started');
    const reactionMs = Date.parse(redeployJob.startedAt) - Date.parse(firing.receivedAt);
    assert.ok(reactionMs >= 0, `${redeployJob.startedAt} before ${firing.receivedAt}`);

    // 9. Healthy again: the resolved alert arrives and starts no run. It passes two more scrape
    // and notify cycles than the firing one; on a machine busy with the rest of the suite that
    // took longer than 20 s once, so it gets 40 s, and a miss shows what both peers held.
    const resolved = await eventually(
      async () => (await events('alert.resolved'))[0],
      40_000,
      'alert.resolved',
    ).catch(async (error: unknown) => {
      const peerView = async (url: string): Promise<string> =>
        fetch(url).then(
          async (response) => `${url}: ${await response.text()}`,
          (failure: unknown) => `${url}: ${String(failure)}`,
        );
      const views = await Promise.all([
        peerView(`${prom.url}/api/v1/alerts`),
        peerView(
          `${alertmanager.url}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true`,
        ),
        peerView(`${service.url}/metrics`),
      ]);
      return diagnose(
        new Error(`${error instanceof Error ? error.message : String(error)}\n${views.join('\n')}`),
      );
    });
    assert.equal((resolved.event.data as { fingerprint?: string }).fingerprint, alert['fingerprint']);
    // No pipeline listens for alert.resolved, so it gets no decision: wait until the router has
    // passed it (its checkpoint), then count its runs.
    await eventually(
      async () =>
        Number((await store.getCheckpoint(ROUTER_CHECKPOINT)) ?? '0') >= resolved.seq ? true : undefined,
      10_000,
      'the router to pass alert.resolved',
    );
    assert.deepEqual((await store.listRuns({ eventId: resolved.id }, { limit: 10 })).items, []);

    // 10. The same notification again (a new delivery of the same body) is stored once: no run.
    const body = {
      version: '4',
      groupKey: '{}:{alertname="WebUnhealthy"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'junction',
      groupLabels: { alertname: 'WebUnhealthy' },
      commonLabels: alert['labels'],
      commonAnnotations: alert['annotations'],
      externalURL: alert['externalURL'],
      alerts: [
        {
          status: 'firing',
          labels: alert['labels'],
          annotations: alert['annotations'],
          startsAt: alert['startsAt'],
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: alert['generatorURL'],
          fingerprint: alert['fingerprint'],
        },
      ],
    };
    const repeat = await fetch(`${app.url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERT_TOKEN}` },
      body: JSON.stringify(body),
    });
    assert.ok(repeat.ok, `${repeat.status} ${await repeat.text()}`);
    assert.equal((await events('alert.firing')).length, 1, 'a repeated notification is the same event');
    // The same body with a wrong token, or a body cut short, is refused and stores nothing.
    const forged = await fetch(`${app.url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GIT_TOKEN}` },
      body: JSON.stringify({ ...body, alerts: [{ ...body.alerts[0], startsAt: new Date().toISOString() }] }),
    });
    assert.equal(forged.status, 401, await forged.text());
    const cut = await fetch(`${app.url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERT_TOKEN}` },
      body: JSON.stringify(body).slice(0, 100),
    });
    assert.equal(cut.status, 400, await cut.text());
    assert.equal((await events('alert.firing')).length, 1);

    // 11. The same alert firing again (same labels, so the same fingerprint; a new start), as
    // Alertmanager reports it: a new event and a rollback run, which does not roll back a second
    // time. (Posted to the hook here: Prometheus keeps re-sending the resolved alert for 15 min,
    // which would race a re-fire posted to Alertmanager.)
    const refiredAt = new Date().toISOString();
    const again = await fetch(`${app.url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERT_TOKEN}` },
      body: JSON.stringify({ ...body, alerts: [{ ...body.alerts[0], startsAt: refiredAt }] }),
    });
    assert.ok(again.ok, `${again.status} ${await again.text()}`);
    const refired = await eventually(
      async () => (await events('alert.firing'))[1],
      10_000,
      'the second alert.firing',
    );
    assert.equal(refired.event.id, `${String(alert['fingerprint'])}:firing:${refiredAt}`);
    assert.equal((refired.event.data as { fingerprint?: string }).fingerprint, alert['fingerprint']);
    const secondRollbackId = await eventually(
      async () => (await store.listRuns({ eventId: refired.id }, { limit: 5 })).items[0]?.id,
      20_000,
      'the second rollback run',
    );
    const secondRollback = await ended(secondRollbackId, 'the second rollback run to end');
    // A repeat of an alert that already rolled back is handled: the step succeeds, rolls nothing back.
    const secondLogs = (await store.readLogs({ runId: secondRollback.id }, 1000))
      .map((l) => l.text)
      .join('\n');
    assert.equal(secondRollback.status, 'succeeded', `${secondRollback.reason ?? ''}\n${secondLogs}`);
    assert.match(
      secondLogs,
      new RegExp(`no rollback: alert:${String(alert['fingerprint'])} already rolled back web in production`),
    );
    assert.equal(
      (await store.listDeployments({ environment: 'production', service: 'web', isRollback: true }, 10))
        .length,
      1,
      'exactly one rollback deployment',
    );
    assert.equal((await store.listDeployments({ environment: 'production', service: 'web' }, 10)).length, 3);
    assert.equal(await served(), a);

    // 12. junction trace. The push of B: push → ci → pipeline.succeeded → deploy of B.
    const trace = async (id: string): Promise<string> => {
      const result = await runCli(['trace', id, '--url', app.url]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };
    const inOrder = (text: string, parts: readonly string[]): void => {
      let at = 0;
      for (const part of parts) {
        const found = text.indexOf(part, at);
        assert.ok(found >= 0, `${JSON.stringify(part)} after position ${at} in\n${text}`);
        at = found + part.length;
      }
    };
    const traceB = await trace(second.pushEvent.id);
    inOrder(traceB, [
      `evt ${second.pushEvent.id}  git.push  web main ${b.slice(0, 7)}`,
      `run ${second.ci.id}  ci  succeeded`,
      `evt ${second.succeeded.id}  pipeline.succeeded  ci succeeded`,
      `run ${second.deploy.id}  deploy  succeeded`,
      `deployment.succeeded  web production ${b}`,
    ]);
    // The alert is a chain of its own: alert.firing → the rollback run → the deploy run its
    // rollback step started (a re-run of A's deploy) → deployment.rolled_back.
    const traceAlert = await trace(firing.id);
    inOrder(traceAlert, [
      `evt ${firing.id}  alert.firing  WebUnhealthy firing`,
      `run ${rollbackRun.id}  rollback  succeeded`,
      `run ${redeploy.id}  deploy  succeeded`,
      `deployment.rolled_back  web production ${a}`,
      `pipeline.succeeded  rollback succeeded`,
    ]);
    // The rollback deployment is a re-run of A's deploy run, so it sits in the chain of push A,
    // under the run it repeats, with deployment.rolled_back.
    const traceA = await trace(first.pushEvent.id);
    inOrder(traceA, [
      `evt ${first.pushEvent.id}  git.push  web main ${a.slice(0, 7)}`,
      `run ${first.ci.id}  ci  succeeded`,
      `run ${first.deploy.id}  deploy  succeeded`,
      `run ${redeploy.id}  deploy  succeeded`,
      `(re-run of ${first.deploy.id})`,
      `deployment.rolled_back  web production ${a}`,
    ]);
    console.log(
      `# junction trace <push B>\n${traceB}# junction trace <alert>\n${traceAlert}# junction trace <push A>\n${traceA}`,
    );

    console.log(
      `# WebUnhealthy stored ${alertMs} ms after deploy B ended; ` +
        `alert received → rollback deploy job started: ${reactionMs} ms`,
    );
  },
);
