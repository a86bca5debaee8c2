/**
 * The use-case examples work as their READMEs say, each on a temp copy of its folder with the
 * engine of `junction serve`, driven with real events: signed GitHub deliveries (05), real git
 * pushes through the post-receive hook (06), registry notifications and a scan report uploaded
 * by the pipeline itself (07).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/observability/index.ts';
import type { DecisionRecord, LogLine, RunDetail } from '../src/store/index.ts';
import { eventually, repoRoot, runCli, tempDir, type TestApp } from './helpers/app.ts';

const execFileAsync = promisify(execFile);
const examplesDir = join(repoRoot, 'examples');
const githubFixtures = join(repoRoot, '..', 'shared', 'fixtures', 'github');
const skipGithub =
  !existsSync(githubFixtures) && `shared fixtures absent at ${githubFixtures}; GitHub deliveries skipped`;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

interface Example {
  readonly app: TestApp;
  readonly dir: string;
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the engine on a temp copy of an example folder with its own junction.yaml (port 0) and
 * `env` for its `${VAR}` references. `edit` may change the copy first (demo paths and ports).
 */
async function startExample(
  name: string,
  env: Record<string, string>,
  edit: (dir: string) => void | Promise<void> = () => {},
): Promise<Example> {
  const temp = tempDir(`junction-${name}-`);
  const dir = join(temp.path, name);
  cpSync(join(examplesDir, name), dir, { recursive: true, filter: (s) => !s.endsWith('.junction') });
  try {
    await edit(dir);
    const { config } = await loadConfig({ cwd: dir, env: { JUNCTION_SERVER_PORT: '0', ...env } });
    const app = await startApp(config, { logger: createLogger({ level: 'silent', format: 'json' }) });
    const call = async (method: string, path: string, body?: string | Uint8Array, headers = {}) => {
      const response = await fetch(`${app.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed as any, headers: response.headers };
    };
    const testApp: TestApp = {
      app,
      url: app.url,
      dir,
      post: (path, body, headers = { 'content-type': 'application/json' }) =>
        call('POST', path, body, headers),
      get: (path, headers) => call('GET', path, undefined, headers),
      close: () => app.stop(),
    };
    return {
      app: testApp,
      dir,
      env,
      async close() {
        await app.stop();
        temp.remove();
      },
    };
  } catch (error) {
    temp.remove();
    throw error;
  }
}

/** Replaces `from` (which must be there) with `to` in a file of an example's copy. */
function replaceIn(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(from), `${file} no longer holds ${from}`);
  writeFileSync(file, text.replaceAll(from, to));
}

async function allRuns(app: TestApp, pipeline: string): Promise<RunDetail[]> {
  const page = await app.app.store.listRuns({ pipeline }, { limit: 50, order: 'asc' });
  const runs = await Promise.all(page.items.map((r) => app.app.store.getRunDetail(r.id)));
  return runs.filter((r): r is RunDetail => r !== undefined);
}

/** The runs of `pipeline` once `count` of them have ended, oldest first. */
async function endedRuns(app: TestApp, pipeline: string, count: number): Promise<RunDetail[]> {
  return eventually(
    async () => {
      const ended = (await allRuns(app, pipeline)).filter((r) => TERMINAL.has(r.status));
      return ended.length >= count ? ended : undefined;
    },
    30_000,
    `${count} run(s) of ${pipeline} to end`,
  );
}

/** The run of `pipeline` for `eventId`, once it has ended. */
async function runFor(app: TestApp, pipeline: string, eventId: string): Promise<RunDetail> {
  return eventually(
    async () => (await allRuns(app, pipeline)).find((r) => r.eventId === eventId && TERMINAL.has(r.status)),
    30_000,
    `the run of ${pipeline} for ${eventId} to end`,
  );
}

/** The routing decisions of an event, once it has been routed (`pipelines` decisions). */
async function decisionsOf(app: TestApp, eventId: string, pipelines: number): Promise<DecisionRecord[]> {
  return eventually(
    async () => {
      const found = await app.app.store.listDecisions(eventId);
      return found.length >= pipelines ? found : undefined;
    },
    10_000,
    `decisions of ${eventId}`,
  );
}

async function logText(app: TestApp, runId: string): Promise<string> {
  const lines: LogLine[] = await app.app.store.readLogs({ runId }, 10_000);
  return lines.map((line) => line.text).join('\n');
}

async function succeeded(app: TestApp, run: RunDetail): Promise<string> {
  const logs = await logText(app, run.id);
  assert.equal(run.status, 'succeeded', `${run.pipeline}: ${run.reason ?? ''}\n${logs}`);
  return logs;
}

/** A loopback port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/**
 * Runs git without blocking the event loop: a push runs the repository's post-receive hook, which
 * posts to the server running in this process.
 */
async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    'git',
    ['-c', 'user.name=Example', '-c', 'user.email=example@example.com', ...args],
    { cwd, encoding: 'utf8' },
  );
  return stdout.trim();
}

/** `git push` from `work`; the hook must have reported the push (it warns when it could not). */
async function push(work: string, ...refspecs: string[]): Promise<void> {
  const { stderr } = await execFileAsync('git', ['push', 'origin', ...refspecs], {
    cwd: work,
    encoding: 'utf8',
  });
  assert.doesNotMatch(stderr, /could not report/, stderr);
}

describe('use-case examples', { concurrency: true, timeout: 120_000 }, () => {
  // ------------------------------------------------------------------------------------------
  test(
    '05-ci-push-and-pr: signed GitHub deliveries start ci-main on a push to main and ci-pr on a pull request',
    { skip: skipGithub },
    async () => {
      // The signed delivery from GitHub, with the secret it was signed with.
      const signed = JSON.parse(
        readFileSync(join(githubFixtures, 'deliveries', 'push.branch.signed.json'), 'utf8'),
      ) as {
        headers: Record<string, string>;
        secret: string;
        body_raw: string;
      };
      const secret = signed.secret;
      const example = await startExample('05-ci-push-and-pr', { GITHUB_WEBHOOK_SECRET: secret });
      const sign = (body: Buffer | string) =>
        `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      const deliver = (event: string, delivery: string, body: Buffer | string, signature = sign(body)) =>
        example.app.post('/hooks/github', body, {
          'content-type': 'application/json',
          'x-github-event': event,
          'x-github-delivery': delivery,
          'x-hub-signature-256': signature,
        });
      try {
        const { app } = example;

        // A push to main, exactly as GitHub sent and signed it.
        const push = await example.app.post('/hooks/github', signed.body_raw, {
          'content-type': signed.headers['Content-Type']!,
          'x-github-event': signed.headers['X-Github-Event']!,
          'x-github-delivery': signed.headers['X-Github-Delivery']!,
          'x-hub-signature-256': signed.headers['X-Hub-Signature-256']!,
        });
        assert.equal(push.status, 202, JSON.stringify(push.body));
        const main = await runFor(app, 'ci-main', push.body.id as string);
        const mainLogs = await succeeded(app, main);
        const after = (JSON.parse(signed.body_raw) as { after: string }).after;
        assert.match(mainLogs, new RegExp(`building ctbur/ctbur.net at ${after.slice(0, 7)}`));
        assert.match(mainLogs, /all tests passed/);
        assert.deepEqual(main.outputs, { artifact: `app-${after.slice(0, 7)}.tar.gz` });
        const pushDecisions = await decisionsOf(app, push.body.id as string, 1);
        assert.deepEqual(
          pushDecisions.map((d) => [d.pipeline, d.matched]),
          [['ci-main', true]],
        );

        // A pull request opened against main (a real delivery's body, signed with our secret).
        const capture = JSON.parse(
          readFileSync(join(githubFixtures, 'deliveries', 'pull_request.opened.capture.json'), 'utf8'),
        ) as { headers: Record<string, string>; body_raw_base64: string };
        const prBody = Buffer.from(capture.body_raw_base64, 'base64');
        const opened = await deliver('pull_request', capture.headers['x-github-delivery']!, prBody);
        assert.equal(opened.status, 202, JSON.stringify(opened.body));
        const pr = await runFor(app, 'ci-pr', opened.body.id as string);
        const prLogs = await succeeded(app, pr);
        const number = (JSON.parse(prBody.toString()) as { number: number }).number;
        assert.match(prLogs, new RegExp(`building pull request #${number} of derekg1729/test-repo`));
        assert.match(prLogs, /all tests passed/);
        assert.deepEqual(
          (await decisionsOf(app, opened.body.id as string, 1)).map((d) => [d.pipeline, d.matched]),
          [['ci-pr', true]],
        );

        // New commits on a pull request ("synchronize") run ci-pr again; closing one runs nothing.
        const synchronize = readFileSync(join(githubFixtures, 'payloads', 'pull_request.synchronize.json'));
        const synced = await deliver('pull_request', 'sync-1', synchronize);
        assert.equal(synced.status, 202, JSON.stringify(synced.body));
        await succeeded(app, await runFor(app, 'ci-pr', synced.body.id as string));
        const closed = await deliver(
          'pull_request',
          'closed-1',
          readFileSync(join(githubFixtures, 'payloads', 'pull_request.closed.not-merged.json')),
        );
        assert.equal(closed.status, 202, JSON.stringify(closed.body));
        const [closedDecision] = await decisionsOf(app, closed.body.id as string, 1);
        assert.equal(closedDecision!.matched, false);
        assert.match(
          closedDecision!.reason,
          /^if 'event\.data\.action in \["opened", "synchronized"\]' is false$/,
        );

        // A push to another branch (master) runs nothing; the decision says why.
        const other = await deliver(
          'push',
          'push-master-1',
          readFileSync(join(githubFixtures, 'payloads', 'push.branch-created.json')),
        );
        assert.equal(other.status, 202, JSON.stringify(other.body));
        const [otherDecision] = await decisionsOf(app, other.body.id as string, 1);
        assert.equal(otherDecision!.pipeline, 'ci-main');
        assert.equal(otherDecision!.matched, false);
        assert.equal(otherDecision!.reason, "branch 'master' not in [main]");

        // Bad signatures are refused and store nothing: wrong secret, a changed body, none at all.
        const body = readFileSync(join(githubFixtures, 'payloads', 'push.branch.go-playground.json'));
        for (const signature of [
          `sha256=${createHmac('sha256', 'not-the-secret').update(body).digest('hex')}`,
          sign(Buffer.concat([body, Buffer.from(' ')])),
          '',
        ]) {
          const refused = await deliver('push', 'forged-1', body, signature);
          assert.equal(refused.status, 401, JSON.stringify(refused.body));
        }
        const hostile = await deliver('push', 'hostile-1', '{"ref":');
        assert.equal(hostile.status, 400, JSON.stringify(hostile.body));

        // The README's own deliveries, signed with its openssl command and sent with its curl.
        const readmeDelivery = async (event: string, file: string): Promise<string> => {
          const script = [
            `SIG=$(openssl dgst -sha256 -hmac "$GITHUB_WEBHOOK_SECRET" < "$BODY" | sed 's/^.* //')`,
            `curl -sS "$URL/hooks/github" -H 'Content-Type: application/json' -H "X-GitHub-Event: $EVENT" \\`,
            `  -H "X-GitHub-Delivery: readme-$EVENT-$(basename "$BODY")" -H "X-Hub-Signature-256: sha256=$SIG" \\`,
            `  --data-binary @"$BODY"`,
          ].join('\n');
          const { stdout } = await execFileAsync('sh', ['-c', script], {
            encoding: 'utf8',
            env: {
              PATH: process.env['PATH'] ?? '',
              GITHUB_WEBHOOK_SECRET: secret,
              BODY: join(example.dir, 'events', file),
              EVENT: event,
              URL: app.url,
            },
          });
          const answer = JSON.parse(stdout) as { id: string; duplicate: boolean };
          assert.equal(answer.duplicate, false, stdout);
          return answer.id;
        };
        const readmePush = await readmeDelivery('push', 'push-main.json');
        const readmeMain = await succeeded(app, await runFor(app, 'ci-main', readmePush));
        assert.match(readmeMain, /building acme\/app at 4d2a9e0/);
        const readmePr = await readmeDelivery('pull_request', 'pull-request-opened.json');
        const readmePrLogs = await succeeded(app, await runFor(app, 'ci-pr', readmePr));
        assert.match(readmePrLogs, /building pull request #42 of acme\/app at 9b1c7d3/);
        assert.match(readmePrLogs, /\(feature\/login into main\)/);
        const readmeFeature = await readmeDelivery('push', 'push-feature.json');
        const [featureDecision] = await decisionsOf(app, readmeFeature, 1);
        assert.equal(featureDecision!.reason, "branch 'feature/login' not in [main]");

        // Nothing more ran than the runs above.
        assert.equal((await allRuns(app, 'ci-main')).length, 2);
        assert.equal((await allRuns(app, 'ci-pr')).length, 3);
      } finally {
        await example.close();
      }
    },
  );

  // ------------------------------------------------------------------------------------------
  test('06-iac-plan-apply: a pull request touching infra/ is planned, a push to main applied; docs/ runs nothing', async () => {
    const repos = tempDir('junction-06-git-');
    const state = join(repos.path, 'state', 'terraform.tfstate');
    const token = 'example-git-hook-token-0123456789';
    const example = await startExample('06-iac-plan-apply', { GIT_HOOK_TOKEN: token }, (dir) => {
      for (const file of ['plan.yaml', 'apply.yaml'])
        replaceIn(join(dir, 'pipelines', file), '/tmp/junction-iac-state/terraform.tfstate', state);
    });
    try {
      const { app, dir } = example;
      // The bare repository standing in for the git server, with Junction's hook, as in the README.
      const bare = join(repos.path, 'infra.git');
      const work = join(repos.path, 'infra');
      await git(repos.path, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
      writeFileSync(join(bare, 'junction.token'), `${token}\n`);
      chmodSync(join(bare, 'junction.token'), 0o600);
      const installed = await runCli(['hook', 'install', bare, '--url', app.url, '--source', 'repos']);
      assert.equal(installed.code, 0, installed.stderr + installed.stdout);
      await git(repos.path, 'clone', '--quiet', bare, work);
      cpSync(join(dir, 'project'), work, { recursive: true });
      await git(work, 'add', '.');
      await git(work, 'commit', '--quiet', '-m', 'infra: network and www');
      await push(work, 'HEAD:main');

      const pushes = async (count: number) =>
        eventually(async () => {
          const page = await app.app.store.listEvents({ type: 'git.push' }, { limit: 50, order: 'asc' });
          return page.items.length >= count ? page.items : undefined;
        });
      const [first] = await pushes(1);
      const apply1 = await runFor(app, 'apply', first!.id);
      const apply1Logs = await succeeded(app, apply1);
      assert.match(apply1Logs, /infra: network and www/);
      assert.deepEqual(apply1.outputs, {
        summary: 'Apply complete! Resources: 3 added, 0 changed, 0 destroyed.',
      });
      assert.equal(
        readFileSync(state, 'utf8'),
        'dns_record.www\tname="www" ttl=300\nnetwork.main\tcidr="10.0.0.0/16"\nsubnet.web\tnetwork="main" cidr="10.0.1.0/24"\n',
      );

      const pullRequest = async (branch: string, number: number) => {
        const data = execFileSync(
          'sh',
          [join(dir, 'bin', 'pull-request-event'), bare, branch, String(number)],
          {
            encoding: 'utf8',
          },
        );
        const emitted = await runCli([
          'emit',
          '--url',
          app.url,
          '--type',
          'git.pull_request',
          '--source',
          bare,
          '--data',
          data,
        ]);
        assert.equal(emitted.code, 0, emitted.stderr);
        const page = await app.app.store.listEvents(
          { type: 'git.pull_request' },
          { limit: 50, order: 'asc' },
        );
        return page.items.at(-1)!;
      };

      // A pull request that changes only docs/: pushing its branch and opening it run nothing.
      await git(work, 'switch', '--quiet', '-c', 'docs-only');
      writeFileSync(join(work, 'docs', 'README.md'), '# Infrastructure\n\nNow with more words.\n');
      await git(work, 'commit', '--quiet', '-am', 'docs: more words');
      await push(work, 'docs-only');
      const docsPush = (await pushes(2))[1]!;
      const [docsBranch] = await decisionsOf(app, docsPush.id, 1);
      assert.equal(docsBranch!.reason, "branch 'docs-only' not in [main]");
      const docsPr = await pullRequest('docs-only', 1);
      assert.deepEqual((docsPr.event.data as { changed_files: string[] }).changed_files, ['docs/README.md']);
      const [docsDecision] = await decisionsOf(app, docsPr.id, 1);
      assert.equal(docsDecision!.matched, false);
      assert.equal(docsDecision!.reason, "changed file 'docs/README.md' does not match paths [infra/**]");

      // A pull request that adds a resource: plan shows it, the state is not touched.
      await git(work, 'switch', '--quiet', 'main');
      await git(work, 'switch', '--quiet', '-c', 'add-cache');
      writeFileSync(join(work, 'infra', 'cache.tf'), 'resource "cache" "sessions" {\n  size = "1g"\n}\n');
      await git(work, 'add', '.');
      await git(work, 'commit', '--quiet', '-m', 'infra: a cache for sessions');
      await push(work, 'add-cache');
      const cachePr = await pullRequest('add-cache', 2);
      const plan = await runFor(app, 'plan', cachePr.id);
      const planLogs = await succeeded(app, plan);
      assert.match(planLogs, /^\+ cache\.sessions size="1g"$/m);
      assert.deepEqual(plan.outputs, { summary: 'Plan: 1 to add, 0 to change, 0 to destroy.' });
      assert.doesNotMatch(readFileSync(state, 'utf8'), /cache/);

      // Merging it into main applies it: the state holds what was pushed.
      await push(work, 'add-cache:main');
      const merge = (await pushes(4))[3]!;
      assert.equal((merge.event.data as { branch: string }).branch, 'main');
      const apply2 = await runFor(app, 'apply', merge.id);
      await succeeded(app, apply2);
      assert.deepEqual(apply2.outputs, {
        summary: 'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.',
      });
      assert.match(readFileSync(state, 'utf8'), /^cache\.sessions\tsize="1g"$/m);

      // Merging the docs change into main applies nothing.
      await git(work, 'switch', '--quiet', 'docs-only');
      await git(work, 'rebase', '--quiet', 'origin/main');
      await push(work, 'HEAD:main');
      const docsMerge = (await pushes(5))[4]!;
      const [docsMergeDecision] = await decisionsOf(app, docsMerge.id, 1);
      assert.equal(
        docsMergeDecision!.reason,
        "changed file 'docs/README.md' does not match paths [infra/**]",
      );

      // Two pushes to main in a row: their applies queue, one after the other, in push order.
      await git(work, 'switch', '--quiet', 'main');
      await git(work, 'pull', '--quiet', '--ff-only', 'origin', 'main');
      for (const ttl of [120, 60]) {
        writeFileSync(
          join(work, 'infra', 'dns.tf'),
          `resource "dns_record" "www" {\n  name = "www"\n  ttl  = ${ttl}\n}\n`,
        );
        await git(work, 'commit', '--quiet', '-am', `dns: ttl ${ttl}`);
        await push(work, 'HEAD:main');
      }
      const applies = await endedRuns(app, 'apply', 4);
      assert.equal(applies.length, 4);
      const [third, fourth] = applies.slice(2);
      await succeeded(app, third!);
      await succeeded(app, fourth!);
      assert.equal(third!.concurrencyGroup, 'infra-apply');
      assert.ok(third!.eventSeq < fourth!.eventSeq);
      assert.ok(
        third!.finishedAt! <= fourth!.startedAt!,
        `applies overlapped: ${JSON.stringify([third, fourth])}`,
      );
      assert.match(readFileSync(state, 'utf8'), /^dns_record\.www\tname="www" ttl=60$/m);
      assert.equal((await allRuns(app, 'plan')).length, 1);
    } finally {
      await example.close();
      repos.remove();
    }
  });

  // ------------------------------------------------------------------------------------------
  test('07-security-automation: a pushed image is scanned; a critical finding fails the scan and is triaged', async () => {
    const env = {
      REGISTRY_NOTIFY_TOKEN: 'example-registry-token-0123456789',
      SCAN_UPLOAD_TOKEN: 'example-scan-upload-token-0123456789',
    };
    // The scan step uploads its report to this server: the pipeline's JUNCTION_URL names it, so
    // the copy serves on a free port written there, and fake-trivy is on the PATH Junction runs
    // with, as the README says. The upload token is a stored secret.
    const port = await freePort();
    const pathBefore = process.env['PATH'];
    const example = await startExample(
      '07-security-automation',
      { ...env, JUNCTION_SERVER_PORT: String(port) },
      async (dir) => {
        replaceIn(join(dir, 'pipelines', 'scan.yaml'), 'http://127.0.0.1:8080', `http://127.0.0.1:${port}`);
        process.env['PATH'] = `${join(dir, 'bin')}:${pathBefore ?? ''}`;
        const stored = await runCli(
          ['-c', join(dir, 'junction.yaml'), 'secret', 'set', 'SCAN_UPLOAD_TOKEN'],
          {
            env,
            input: env.SCAN_UPLOAD_TOKEN,
          },
        );
        assert.equal(stored.code, 0, stored.stderr);
      },
    );
    try {
      const { app, dir } = example;
      assert.equal(app.url, `http://127.0.0.1:${port}`);
      const notify = (file: string, token = env.REGISTRY_NOTIFY_TOKEN) =>
        app.post('/hooks/registry', readFileSync(join(dir, 'events', file)), {
          'content-type': 'application/vnd.docker.distribution.events.v1+json',
          authorization: `Bearer ${token}`,
        });
      // A notification without the registry's token is refused.
      assert.equal((await notify('push-good.json', 'wrong-token-0123456789')).status, 401);

      const good = await notify('push-good.json');
      assert.equal(good.status, 202, JSON.stringify(good.body));
      const goodScan = await runFor(app, 'scan', good.body.id as string);
      const goodLogs = await succeeded(app, goodScan);
      assert.match(goodLogs, /registry\.example\.com:5000\/demo\/app:good has no critical findings/);
      assert.match(goodLogs, /no findings/);

      const bad = await notify('push-bad.json');
      assert.equal(bad.status, 202, JSON.stringify(bad.body));
      const badScan = await runFor(app, 'scan', bad.body.id as string);
      const badLogs = await logText(app, badScan.id);
      assert.equal(badScan.status, 'failed', badLogs);
      assert.match(badScan.reason ?? '', /step 'fail on critical findings' failed/);
      assert.match(badLogs, /registry\.example\.com:5000\/demo\/app:bad has 1 critical finding\(s\)/);
      assert.doesNotMatch(badLogs, new RegExp(env.SCAN_UPLOAD_TOKEN));

      const findings = (
        await app.app.store.listEvents({ type: 'security.finding' }, { limit: 50, order: 'asc' })
      ).items;
      assert.deepEqual(
        findings.map((f) => {
          const data = f.event.data as { severity: string; vulnerability: string; subject: string };
          return [f.receiver, data.severity, data.vulnerability, data.subject];
        }),
        [
          ['scans', 'critical', 'CVE-2023-38545', 'registry.example.com:5000/demo/app:bad'],
          ['scans', 'low', 'CVE-2023-38546', 'registry.example.com:5000/demo/app:bad'],
        ],
      );

      // triage runs once, for the critical finding only.
      const [triage] = await endedRuns(app, 'triage', 1);
      const triageLogs = await succeeded(app, triage!);
      assert.equal(triage!.eventId, findings[0]!.id);
      assert.match(
        triageLogs,
        /ticket: CVE-2023-38545 \(critical\) in registry\.example\.com:5000\/demo\/app:bad/,
      );
      const [lowDecision] = await decisionsOf(app, findings[1]!.id, 1);
      assert.equal(lowDecision!.matched, false);
      assert.equal(lowDecision!.reason, `if 'event.data.severity == "critical"' is false`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await allRuns(app, 'triage')).length, 1);
      assert.equal((await allRuns(app, 'scan')).length, 2);
    } finally {
      process.env['PATH'] = pathBefore;
      await example.close();
    }
  });
});
