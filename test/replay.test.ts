/**
 * Replaying stored events in the real app: a replay is a new event linked by `replayof` (and the
 * `replay_of` column) that the router routes into a new run; `--dry-run` stores and runs nothing
 * and prints what the pipelines loaded now would decide; bulk replay by type and time window;
 * bad input.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { formatReplayItems } from '../src/cli/commands/replay.ts';
import type { SqliteStore } from '../src/store/index.ts';
import { runIdFor } from '../src/triggers/index.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const CI = `name: ci
on:
  - event: git.push
jobs:
  a:
    steps:
      - run: echo ci
`;
const DEPLOY = `name: deploy
on:
  - event: git.push
    branches: [main]
jobs:
  a:
    steps:
      - run: echo deploy
`;

describe('replay', { timeout: 90_000 }, () => {
  const dir = tempDir('junction-replay-');
  let t: TestApp;
  let env: Record<string, string>;

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'ci.yaml'), CI);
    writeFileSync(join(dir.path, 'pipelines', 'deploy.yaml'), DEPLOY);
    t = await startTestApp({ workers: { concurrency: 0 } }, dir.path);
    env = { JUNCTION_URL: t.url };
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  async function routedPush(branch: string, type = 'git.push'): Promise<string> {
    const response = await t.post(
      '/events',
      JSON.stringify(
        cloudEvent({ type, source: 'test/replay', data: { ref: `refs/heads/${branch}`, branch } }),
      ),
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const id = response.body.id as string;
    if (type === 'git.push') {
      await eventually(
        async () => ((await t.app.store.listDecisions(id)).length === 2 ? true : undefined),
        10_000,
        `decisions of ${id}`,
      );
    }
    return id;
  }

  const json = { 'content-type': 'application/json' };

  /** Events from the test's source (with replays); runs add their own events at any time. */
  async function eventCount(): Promise<number> {
    return ((await t.get('/api/v1/events?limit=1000&source=test/replay')).body.items as unknown[]).length;
  }

  test('a replay is a new event with replayof that the router routes into a new run', async () => {
    const original = await routedPush('main');
    const response = await t.post(`/api/v1/events/${original}/replay`, '', {});
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const [item] = response.body.items as { eventId: string; replayId: string }[];
    assert.equal(item!.eventId, original);
    const replayId = item!.replayId;
    assert.notEqual(replayId, original);
    const stored = await t.get(`/api/v1/events/${replayId}`);
    assert.equal(stored.body.event.replayof, original);
    assert.notEqual(stored.body.event.id, (await t.get(`/api/v1/events/${original}`)).body.event.id);
    assert.deepEqual(stored.body.event.data, (await t.get(`/api/v1/events/${original}`)).body.event.data);
    const db = new DatabaseSync((t.app.store as SqliteStore).path, { readOnly: true });
    try {
      const row = db.prepare('SELECT replay_of FROM events WHERE id = ?').get(replayId);
      assert.equal(row?.['replay_of'], original);
    } finally {
      db.close();
    }
    const runId = runIdFor(replayId, 'ci', 0);
    await eventually(async () => await t.app.store.getRun(runId), 10_000, 'the replay run');
    assert.ok(await t.app.store.getRun(runIdFor(original, 'ci', 0)), 'the original run stays');
  });

  test('--dry-run stores nothing and prints what each pipeline would do, and why', async () => {
    const feature = await routedPush('feature');
    const eventsBefore = await eventCount();
    const runsBefore = ((await t.get('/api/v1/runs?limit=1000')).body.items as unknown[]).length;
    const result = await runCli(['replay', feature, '--dry-run'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^dry run: nothing stored, nothing run$/m);
    assert.match(
      result.stdout,
      new RegExp(
        `^evt ${feature} git\\.push → ci: would run \\(matched\\) · deploy: no \\(branch 'feature' .*\\)$`,
        'm',
      ),
    );
    const api = await t.post(`/api/v1/events/${feature}/replay`, JSON.stringify({ dryRun: true }), json);
    assert.equal(api.status, 200);
    assert.deepEqual(
      (api.body.items[0].decisions as { pipeline: string; matched: boolean }[]).map((d) => [
        d.pipeline,
        d.matched,
      ]),
      [
        ['ci', true],
        ['deploy', false],
      ],
    );
    assert.equal(await eventCount(), eventsBefore, 'no event stored');
    assert.equal(((await t.get('/api/v1/runs?limit=1000')).body.items as unknown[]).length, runsBefore);
  });

  test('the dry run decides with the pipelines as they are now', async () => {
    const feature = await routedPush('feature');
    writeFileSync(
      join(dir.path, 'pipelines', 'deploy.yaml'),
      DEPLOY.replace('branches: [main]', "branches: [main, 'feat*']"),
    );
    try {
      await eventually(
        async () => {
          const { body } = await t.post(
            `/api/v1/events/${feature}/replay`,
            JSON.stringify({ dryRun: true }),
            json,
          );
          const deploy = (body.items[0].decisions as { pipeline: string; matched: boolean }[]).find(
            (d) => d.pipeline === 'deploy',
          );
          return deploy?.matched === true ? true : undefined;
        },
        15_000,
        'the reloaded pipeline deciding',
      );
      const recorded = await t.app.store.listDecisions(feature);
      assert.equal(recorded.find((d) => d.pipeline === 'deploy')?.matched, false, 'recorded decisions stay');
    } finally {
      writeFileSync(join(dir.path, 'pipelines', 'deploy.yaml'), DEPLOY);
    }
  });

  test('bulk replay by type and time window; replays are not replayed again', async () => {
    const type = 'com.example.bulk';
    const first = await routedPush('main', type);
    const second = await routedPush('main', type);
    const third = await routedPush('main', type);
    const receivedAt = async (id: string) => (await t.get(`/api/v1/events/${id}`)).body.receivedAt as string;
    const since = await receivedAt(second);
    const until = await receivedAt(third);
    // [since, until) holds the second event, unless it shares the third's millisecond.
    const windowed = await t.post('/api/v1/replay', JSON.stringify({ type, since, until }), json);
    const expected = since === until ? [] : [second];
    assert.deepEqual(
      (windowed.body.items as { eventId: string }[]).map((i) => i.eventId),
      expected,
    );

    const dry = await runCli(['replay', '--type', type, '--dry-run'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    const lines = dry.stdout.trimEnd().split('\n').slice(1);
    assert.deepEqual(
      lines,
      [first, second, third].map((id) => `evt ${id} ${type} → no pipeline listens for this type`),
    );

    const all = await runCli(['replay', '--type', type, '--json'], { env });
    assert.equal(all.code, 0, all.stderr);
    const items = (JSON.parse(all.stdout) as { items: { eventId: string; replayId: string }[] }).items;
    assert.deepEqual(
      items.map((i) => i.eventId),
      [first, second, third],
      'originals only, in log order; the windowed replay is left out',
    );
    for (const item of items) {
      assert.equal((await t.get(`/api/v1/events/${item.replayId}`)).body.event.replayof, item.eventId);
    }
    const limited = await t.post('/api/v1/replay', JSON.stringify({ type, limit: 1, dryRun: true }), json);
    assert.deepEqual(
      (limited.body.items as { eventId: string }[]).map((i) => i.eventId),
      [first],
    );
  });

  test('bad input: unknown ids 404, limit over 1000, since after until, malformed bodies 400', async () => {
    const unknown = await t.post('/api/v1/events/no-such-event/replay', '', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'EVENT_NOT_FOUND');
    const cli = await runCli(['replay', 'no-such-event', '--dry-run'], { env });
    assert.equal(cli.code, 5, cli.stderr);

    const bad = async (body: string, pattern: RegExp) => {
      const response = await t.post('/api/v1/replay', body, json);
      assert.equal(response.status, 400, body);
      assert.equal(response.body.error.code, 'API_BAD_REQUEST');
      assert.match(response.body.error.message as string, pattern);
    };
    await bad(JSON.stringify({ type: 'git.push', limit: 1001 }), /limit/);
    await bad(JSON.stringify({ type: 'git.push', limit: 0 }), /limit/);
    await bad(JSON.stringify({ type: 'git.push', limit: '10' }), /limit/);
    await bad(
      JSON.stringify({ type: 'git.push', since: '2026-05-02T00:00:00Z', until: '2026-05-01T00:00:00Z' }),
      /since/,
    );
    await bad(JSON.stringify({ type: 'git.push', since: 'yesterday' }), /since/);
    await bad(JSON.stringify({ dryRun: true }), /type/);
    await bad(JSON.stringify({ type: 'git.push', dryRun: 'yes' }), /dryRun/);
    await bad(JSON.stringify({ type: 'git.push', everything: true }), /unknown field 'everything'/);
    await bad(JSON.stringify({ type: 'x'.repeat(2000) }), /type/);
    await bad('{ not json', /not valid JSON/);
    await bad('[1,2]', /JSON object/);
    const single = await t.post('/api/v1/events/x/replay', JSON.stringify({ dryRun: 1 }), json);
    assert.equal(single.status, 400);

    const usage = await runCli(['replay', '--since', '2026-01-01T00:00:00Z'], { env });
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /--type/);
    const both = await runCli(['replay', 'evt', '--type', 'git.push'], { env });
    assert.notEqual(both.code, 0);
  });
});

describe('formatReplayItems', () => {
  test('formats replays, refusals and verdicts', () => {
    assert.equal(
      formatReplayItems([
        { eventId: 'e1', type: 'git.push', source: 's', replayId: 'e2' },
        {
          eventId: 'e3',
          type: 'git.push',
          source: 's',
          error: { code: 'EVENT_DATA_INVALID', message: 'bad' },
        },
        {
          eventId: 'e4',
          type: 'git.push',
          source: 's',
          decisions: [
            { pipeline: 'ci', triggerIndex: 0, matched: true, reason: 'matched' },
            { pipeline: 'ci', triggerIndex: 1, matched: false, reason: "tag 'x' is not in tags [v*]" },
          ],
        },
      ]),
      [
        'evt e1 git.push → replayed as e2',
        'evt e3 git.push → refused: EVENT_DATA_INVALID bad',
        "evt e4 git.push → ci[0]: would run (matched) · ci[1]: no (tag 'x' is not in tags [v*])",
        '',
      ].join('\n'),
    );
    assert.equal(formatReplayItems([]), 'no stored events match\n');
  });
});
