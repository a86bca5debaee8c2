/**
 * End to end with real peers: a real Prometheus scrapes a metrics target in this process and
 * evaluates an alerting rule on it, a real Alertmanager routes the alert to Junction's
 * `POST /hooks/alertmanager`, and Junction stores `alert.firing` when the test flips the gauge
 * to 0, then `alert.resolved` with the same fingerprint when it flips it back; a pipeline
 * listening for `alert.firing` runs. Every peer runs on a free loopback port with its state in a
 * temp dir and is stopped by its PID. A missing `prometheus` or `prometheus-alertmanager` binary
 * fails the test: the packages are part of the test setup (`.ci/run` installs them).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { labelsFingerprint } from '../src/sources/alertmanager.ts';
import { eventually, startTestApp, tempDir } from './helpers/app.ts';
import { findBinary, freePort, startAlertmanager, startPeer } from './helpers/peers.ts';

const TOKEN = 'prometheus-e2e-token';
const SOURCE = 'alertmanager';
const ALERT = 'DemoUnhealthy';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

const PIPELINE = `name: page-on-alert
on:
  - event: alert.firing
jobs:
  page:
    steps:
      - run: echo "paging for \${{ event.data.alertname }} on \${{ event.data.service }} in \${{ event.data.environment }}"
`;

function prometheusConfig(alertmanagerPort: number, targetPort: number): string {
  return [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'alerting:',
    '  alertmanagers:',
    '    - static_configs:',
    `        - targets: ['127.0.0.1:${alertmanagerPort}']`,
    'rule_files:',
    '  - rules.yml',
    'scrape_configs:',
    '  - job_name: demo',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${targetPort}']`,
    '',
  ].join('\n');
}

const RULES = `groups:
  - name: junction-demo
    rules:
      - alert: ${ALERT}
        expr: demo_healthy == 0
        for: 0s
        labels:
          service: demo
          environment: test
          severity: critical
        annotations:
          summary: the demo target reports unhealthy
`;

interface EventItem {
  readonly id: string;
  readonly event: {
    readonly id: string;
    readonly type: string;
    readonly subject?: string;
    readonly data: any;
  };
}

void test(
  'a real prometheus and alertmanager turn a flipped metric into alert.firing, then alert.resolved',
  { timeout: 60_000 },
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

    // 1. The metrics target, served from this process; the test flips the gauge.
    let healthy = 1;
    let scrapes = 0;
    const target = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      scrapes += 1;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        `# HELP demo_healthy 1 when the demo is healthy\n# TYPE demo_healthy gauge\ndemo_healthy ${healthy}\n`,
      );
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      target.closeAllConnections();
      target.close();
    });
    const targetAddress = target.address();
    assert.ok(targetAddress !== null && typeof targetAddress === 'object');

    // 2. Junction with an alertmanager source and a pipeline listening for alert.firing.
    const dir = tempDir('junction-prometheus-');
    t.after(() => dir.remove());
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'page-on-alert.yaml'), PIPELINE);
    const peersDir = join(dir.path, 'peers');
    mkdirSync(peersDir);
    const junction = await startTestApp(
      { sources: [{ name: SOURCE, type: 'alertmanager', token: TOKEN }] },
      dir.path,
    );
    t.after(() => junction.close());

    // 3. Alertmanager routing to Junction's hook with the bearer token.
    const alertmanager = await startAlertmanager({
      binary: alertmanagerBinary,
      dir: peersDir,
      webhookUrl: `${junction.url}/hooks/${SOURCE}`,
      token: TOKEN,
      cleanup: (fn) => t.after(fn),
    });

    // 4. Prometheus scraping the target every second and evaluating the rule every second.
    writeFileSync(join(peersDir, 'prometheus.yml'), prometheusConfig(alertmanager.port, targetAddress.port));
    writeFileSync(join(peersDir, 'rules.yml'), RULES);
    const prometheusPort = await freePort();
    const prom = await startPeer({
      name: 'prometheus',
      binary: prometheus,
      port: prometheusPort,
      readyPath: '/-/ready',
      cleanup: (fn) => t.after(fn),
      args: [
        `--config.file=${join(peersDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(peersDir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
        `--web.external-url=http://127.0.0.1:${prometheusPort}/`,
        // Re-send firing alerts every second (default 1m); resolved ones are sent at once.
        '--rules.alert.resend-delay=1s',
        '--log.level=warn',
      ],
    });

    const diagnose = (what: string) => () =>
      `${what}\n--- prometheus ---\n${prom.log()}\n--- alertmanager ---\n${alertmanager.log()}`;
    const events = async (type: string): Promise<EventItem[]> => {
      const response = await junction.get(`/api/v1/events?type=${type}&limit=100`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return (response.body.items as EventItem[]).filter((item) => item.event.subject === ALERT);
    };

    // Prometheus has scraped the healthy target at least once: the alert cannot fire early.
    await eventually(() => (scrapes >= 2 ? true : undefined), 15_000, 'prometheus to scrape the target');
    assert.deepEqual(await events('alert.firing'), [], 'nothing fires while the target is healthy');

    healthy = 0;
    const flippedDown = Date.now();
    const firing = await eventually(
      async () => (await events('alert.firing'))[0],
      20_000,
      'alert.firing from alertmanager',
    ).catch((error: unknown) => {
      throw new Error(diagnose(error instanceof Error ? error.message : String(error))());
    });
    const firingMs = Date.now() - flippedDown;

    const data = firing.event.data;
    assert.equal(data.alertname, ALERT);
    assert.equal(data.status, 'firing');
    assert.equal(data.service, 'demo');
    assert.equal(data.environment, 'test');
    assert.equal(data.severity, 'critical');
    assert.equal(data.receiver, 'junction');
    assert.equal(data.endsAt, null);
    assert.equal(data.externalURL, alertmanager.url);
    assert.deepEqual(data.labels, {
      alertname: ALERT,
      environment: 'test',
      instance: `127.0.0.1:${targetAddress.port}`,
      job: 'demo',
      service: 'demo',
      severity: 'critical',
    });
    assert.equal(data.annotations.summary, 'the demo target reports unhealthy');
    assert.match(data.fingerprint, /^[0-9a-f]{16}$/);
    assert.equal(
      data.fingerprint,
      labelsFingerprint(data.labels),
      'alertmanager’s fingerprint of the labels',
    );
    assert.ok(String(data.generatorURL).startsWith(prom.url), String(data.generatorURL));
    assert.equal(firing.event.id, `${data.fingerprint}:firing:${data.startsAt}`);

    // The pipeline listening for alert.firing ran on that event.
    const run = await eventually(
      async () => {
        const page = await junction.app.store.listRuns({ eventId: firing.id }, { limit: 10 });
        const found = page.items.find((r) => r.pipeline === 'page-on-alert');
        const detail = found === undefined ? undefined : await junction.app.store.getRunDetail(found.id);
        return detail !== undefined && TERMINAL.has(detail.status) ? detail : undefined;
      },
      20_000,
      'the page-on-alert run to end',
    );
    assert.equal(run.status, 'succeeded', run.reason ?? '');
    const lines = (await junction.app.store.readLogs({ runId: run.id }, 1000)).map((l) => l.text);
    assert.ok(lines.includes(`paging for ${ALERT} on demo in test`), lines.join('\n'));

    healthy = 1;
    const flippedUp = Date.now();
    const resolved = await eventually(
      async () => (await events('alert.resolved'))[0],
      20_000,
      'alert.resolved from alertmanager',
    ).catch((error: unknown) => {
      throw new Error(diagnose(error instanceof Error ? error.message : String(error))());
    });
    const resolvedMs = Date.now() - flippedUp;

    const after = resolved.event.data;
    assert.equal(after.status, 'resolved');
    assert.equal(after.fingerprint, data.fingerprint, 'the resolution carries the same fingerprint');
    assert.equal(after.startsAt, data.startsAt);
    assert.deepEqual(after.labels, data.labels);
    assert.ok(after.endsAt !== null && Date.parse(after.endsAt) >= Date.parse(data.startsAt));
    assert.equal(resolved.event.id, `${data.fingerprint}:resolved:${data.startsAt}`);
    assert.notEqual(resolved.id, firing.id);
    // A re-sent firing notification is the same event: exactly one of each is stored.
    assert.equal((await events('alert.firing')).length, 1);
    assert.equal((await events('alert.resolved')).length, 1);
    // alert.resolved starts no run of the alert.firing pipeline.
    const resolvedRuns = await junction.app.store.listRuns({ eventId: resolved.id }, { limit: 10 });
    assert.deepEqual(resolvedRuns.items, []);

    console.log(
      `# prometheus → alertmanager → junction: alert.firing ${firingMs} ms after the metric went to 0, ` +
        `alert.resolved ${resolvedMs} ms after it went back to 1`,
    );
  },
);
