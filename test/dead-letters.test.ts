/**
 * Dead letters in the real app: authenticated deliveries that could not be mapped or validated
 * are kept with their raw body and without credentials; unauthenticated ones never are; events
 * whose routing keeps failing become routing dead letters and the router moves on; replay, drop,
 * the API's bad input, the CLI, and the cap per kind.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { createSqliteStore, type SqliteStore } from '../src/store/index.ts';
import { runIdFor } from '../src/triggers/index.ts';
import { cloudEvent, eventually, runCli, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const SECRET = 'dead-letter-secret';
const HOOK_TOKEN = 'hook-token-0123456789abcdef';
const CI = `name: ci
on:
  - event: com.example.routed
jobs:
  a:
    steps:
      - run: echo ci
`;
const OTHER = `name: other
on:
  - event: com.example.other
jobs:
  a:
    steps:
      - run: echo other
`;

function sign(body: string | Buffer): string {
  return `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
}

describe('dead letters', { timeout: 90_000 }, () => {
  const dir = tempDir('junction-dead-letters-');
  let t: TestApp;
  let env: Record<string, string>;

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(join(dir.path, 'pipelines', 'ci.yaml'), CI);
    writeFileSync(join(dir.path, 'pipelines', 'other.yaml'), OTHER);
    t = await startTestApp(
      {
        sources: [
          { name: 'github', type: 'github', secret: SECRET },
          {
            name: 'hook',
            type: 'webhook',
            token: HOOK_TOKEN,
            map: { type: "'com.example.' + body.kind", data: '{"n": body.n}' },
          },
        ],
        workers: { concurrency: 0 },
      },
      dir.path,
    );
    env = { JUNCTION_URL: t.url };
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  async function intakeLetters(receiver: string) {
    const { status, body } = await t.get(`/api/v1/dead-letters?kind=intake&receiver=${receiver}`);
    assert.equal(status, 200, JSON.stringify(body));
    return body.items as { id: string; code: string; receiver: string; replayedAt: string | null }[];
  }

  const replay = (id: string) => t.post(`/api/v1/dead-letters/${id}/replay`, '', {});

  test('a signed GitHub delivery with broken JSON is refused and kept without its signature', async () => {
    const body = '{"ref": "refs/heads/main", "repository": {';
    const response = await t.post('/hooks/github', body, {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': 'broken-1',
      'x-hub-signature-256': sign(body),
      'x-hub-signature': 'sha1=0000',
      cookie: 'session=abc',
    });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    const code = response.body.error.code as string;
    const [letter] = await intakeLetters('github');
    assert.ok(letter, 'a dead letter was kept');
    assert.equal(letter.code, code);
    const detail = await t.get(`/api/v1/dead-letters/${letter.id}`);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.kind, 'intake');
    assert.equal(detail.body.attempts, 1);
    assert.equal(detail.body.payloadText, body);
    assert.equal(Buffer.from(detail.body.payloadBase64 as string, 'base64').toString('utf8'), body);
    assert.equal(detail.body.headers['x-github-event'], 'push');
    assert.equal(detail.body.headers['x-github-delivery'], 'broken-1');
    for (const name of ['x-hub-signature-256', 'x-hub-signature', 'cookie', 'authorization']) {
      assert.equal(detail.body.headers[name], undefined, `${name} is not kept`);
    }
    assert.ok(!JSON.stringify(detail.body).includes(sign(body)), 'the signature appears nowhere');

    // Replaying the same bytes fails the same way, and the dead letter stays as it was.
    const again = await replay(letter.id);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, code);
    const after = await t.get(`/api/v1/dead-letters/${letter.id}`);
    assert.equal(after.body.replayedAt, null);
    assert.equal((await intakeLetters('github')).length, 1, 'the failed replay adds no dead letter');
  });

  test('unauthenticated garbage is refused with 401 and never kept', async () => {
    const before = (await t.get('/api/v1/dead-letters?limit=1000')).body.items.length as number;
    const garbage = '\u0000\u0001 not json at all';
    const unsigned = await t.post('/hooks/github', garbage, {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-hub-signature-256': 'sha256=' + '0'.repeat(64),
    });
    assert.equal(unsigned.status, 401);
    const noToken = await t.post('/hooks/hook', garbage, { 'content-type': 'application/json' });
    assert.equal(noToken.status, 401);
    const after = (await t.get('/api/v1/dead-letters?limit=1000')).body.items.length as number;
    assert.equal(after, before);
  });

  test('a webhook whose CEL mapping fails on a field is kept, and its replay fails the same way', async () => {
    const body = JSON.stringify({ n: 1 }); // no `kind`: the type expression fails
    const response = await t.post('/hooks/hook', body, {
      'content-type': 'application/json',
      authorization: `Bearer ${HOOK_TOKEN}`,
    });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.error.code, 'SOURCE_PAYLOAD_INVALID');
    const [letter] = await intakeLetters('hook');
    assert.ok(letter);
    assert.equal(letter.code, 'SOURCE_PAYLOAD_INVALID');
    const detail = await t.get(`/api/v1/dead-letters/${letter.id}`);
    assert.equal(detail.body.headers.authorization, undefined);
    assert.equal(detail.body.payloadText, body);
    const again = await replay(letter.id);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'SOURCE_PAYLOAD_INVALID');
  });

  test('POST /events: a refused body is kept with receiver events; binary bytes keep no text', async () => {
    const bad = JSON.stringify({ specversion: '1.0', type: 'x' }); // no id, no source
    const response = await t.post('/events', bad);
    assert.equal(response.status, 400);
    const [letter] = await intakeLetters('events');
    assert.ok(letter);
    assert.equal(letter.code, response.body.error.code);
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x7b]);
    const second = await t.post('/events', binary);
    assert.equal(second.status, 400);
    const letters = await intakeLetters('events');
    assert.equal(letters.length, 2);
    const detail = await t.get(`/api/v1/dead-letters/${letters[1]!.id}`);
    assert.equal(detail.body.payloadText, null, 'not UTF-8: no text preview');
    assert.deepEqual(Buffer.from(detail.body.payloadBase64 as string, 'base64'), binary);
  });

  test('an event whose routing keeps failing becomes a routing dead letter; the router moves on; replay routes it', async () => {
    const path = (t.app.store as SqliteStore).path;
    const db = new DatabaseSync(path);
    db.exec(`CREATE TRIGGER fail_ci_routing BEFORE INSERT ON trigger_decisions
               WHEN NEW.pipeline = 'ci' BEGIN SELECT RAISE(ABORT, 'routing refused by the test'); END`);
    let eventId: string;
    try {
      const posted = await t.post('/events', JSON.stringify(cloudEvent({ type: 'com.example.routed' })));
      assert.equal(posted.status, 202);
      eventId = posted.body.id as string;
      const letter = await eventually(
        async () => {
          const { body } = await t.get('/api/v1/dead-letters?kind=routing');
          return (body.items as { eventId: string; attempts: number }[]).find((d) => d.eventId === eventId);
        },
        20_000,
        'a routing dead letter',
      );
      assert.equal(letter.attempts, 5);
      // The router acknowledged it and routes the next event.
      const next = await t.post('/events', JSON.stringify(cloudEvent({ type: 'com.example.other' })));
      await eventually(
        async () => ((await t.app.store.listDecisions(next.body.id as string)).length > 0 ? true : undefined),
        10_000,
        'the next event routed',
      );
      assert.deepEqual(await t.app.store.listDecisions(eventId), []);
    } finally {
      db.exec('DROP TRIGGER IF EXISTS fail_ci_routing');
      db.close();
    }
    const [letter] = (await t.get('/api/v1/dead-letters?kind=routing')).body.items as { id: string }[];
    const cli = await runCli(['dlq', 'replay', letter!.id], { env });
    assert.equal(cli.code, 0, cli.stderr);
    const runId = runIdFor(eventId, 'ci', 0);
    assert.match(cli.stdout, new RegExp(`replayed ${letter!.id}: runs ${runId}`));
    assert.ok(await t.app.store.getRun(runId), 'the run exists');
    const detail = await t.get(`/api/v1/dead-letters/${letter!.id}`);
    assert.ok(detail.body.replayedAt, 'marked replayed');
  });

  test('dlq list, show and drop through the CLI', async () => {
    const list = await runCli(['dlq', 'list', '--kind', 'intake'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+KIND\s+FROM\s+CODE/);
    assert.match(list.stdout, /intake\s+github\s+SOURCE_PAYLOAD_INVALID|intake\s+github\s+EVENT_/);
    const json = await runCli(['dlq', 'list', '--json'], { env });
    const items = (JSON.parse(json.stdout) as { items: { id: string; receiver: string }[] }).items;
    const github = items.find((d) => d.receiver === 'github')!;
    const show = await runCli(['dlq', 'show', github.id], { env });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /x-github-event: push/);
    assert.doesNotMatch(show.stdout, /x-hub-signature/);
    assert.match(show.stdout, /"ref": "refs\/heads\/main"/);
    const drop = await runCli(['dlq', 'drop', github.id], { env });
    assert.equal(drop.code, 0, drop.stderr);
    const gone = await runCli(['dlq', 'show', github.id], { env });
    assert.equal(gone.code, 5, gone.stderr);
    assert.match(gone.stderr, /DEAD_LETTER_NOT_FOUND|no dead letter/);
    const badKind = await runCli(['dlq', 'list', '--kind', 'nope'], { env });
    assert.notEqual(badKind.code, 0);
  });

  test('unknown ids are 404; bad list queries are 400; the cursor pages', async () => {
    const unknown = '01900000-0000-7000-8000-000000000000';
    assert.equal((await t.get(`/api/v1/dead-letters/${unknown}`)).status, 404);
    assert.equal((await replay(unknown)).body.error.code, 'DEAD_LETTER_NOT_FOUND');
    const del = await fetch(`${t.url}/api/v1/dead-letters/${unknown}`, { method: 'DELETE' });
    assert.equal(del.status, 404);
    assert.equal((await t.get('/api/v1/dead-letters?kind=nope')).status, 400);
    assert.equal((await t.get('/api/v1/dead-letters?limit=5000')).status, 400);
    assert.equal((await t.get('/api/v1/dead-letters?limit=0')).status, 400);
    const badCursor = await t.get('/api/v1/dead-letters?cursor=not!a!cursor');
    assert.equal(badCursor.body.error.code, 'API_CURSOR_INVALID');
    const forged = Buffer.from(JSON.stringify({ a: 1 })).toString('base64url');
    assert.equal((await t.get(`/api/v1/dead-letters?cursor=${forged}`)).status, 400);

    const all = (await t.get('/api/v1/dead-letters?limit=1000')).body.items as { id: string }[];
    assert.ok(all.length >= 3);
    const first = await t.get('/api/v1/dead-letters?limit=2');
    assert.equal(first.body.items.length, 2);
    assert.ok(first.body.next);
    const second = await t.get(`/api/v1/dead-letters?limit=2&cursor=${first.body.next as string}`);
    assert.deepEqual(
      [...first.body.items, ...second.body.items].map((d: { id: string }) => d.id),
      all.slice(0, 2 + (second.body.items as unknown[]).length).map((d) => d.id),
    );
  });

  test('a delivery dead letter is not replayed here (409); a routing one naming a lost event is 404', async () => {
    const delivery = await t.app.store.addDeadLetter({
      kind: 'delivery',
      code: 'NOTIFY_FAILED',
      reason: 'status refused',
      attempts: 3,
      destination: 'https://git.example/api',
    });
    const response = await replay(delivery);
    assert.equal(response.status, 409);
    assert.equal(response.body.error.code, 'DEAD_LETTER_NOT_REPLAYABLE');
    const lost = await t.app.store.addDeadLetter({
      kind: 'routing',
      code: 'INTERNAL',
      reason: 'r',
      attempts: 5,
      eventId: 'no-such-event',
    });
    const missing = await replay(lost);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'EVENT_NOT_FOUND');
    assert.equal((await t.app.store.getDeadLetter(lost))?.replayedAt, null);
  });
});

describe('dead letters without anonymous emit', { timeout: 30_000 }, () => {
  test('an unauthenticated POST /events is 401 and keeps nothing', async () => {
    const t = await startTestApp({ server: { allowAnonymousEmit: false } });
    try {
      const response = await t.post('/events', '{ broken');
      assert.equal(response.status, 401);
      assert.deepEqual(await t.app.store.listDeadLetters({}, 10), []);
    } finally {
      await t.close();
    }
  });
});

describe('the dead letter cap', () => {
  test('at most `cap` per kind are kept: the oldest of that kind are dropped, other kinds stay', async () => {
    const store = createSqliteStore({ path: ':memory:', deadLetterCap: 3 });
    await store.migrate();
    try {
      const ids: string[] = [];
      for (let n = 0; n < 5; n += 1) {
        ids.push(
          await store.addDeadLetter({
            kind: 'intake',
            code: 'SOURCE_PAYLOAD_INVALID',
            reason: `n${n}`,
            attempts: 1,
          }),
        );
      }
      const routing = await store.addDeadLetter({
        kind: 'routing',
        code: 'INTERNAL',
        reason: 'r',
        attempts: 5,
      });
      const kept = await store.listDeadLetters({ kind: 'intake' }, 10);
      assert.deepEqual(
        kept.map((d) => d.id),
        ids.slice(2),
      );
      assert.equal((await store.getDeadLetter(routing))?.reason, 'r');
      assert.equal(await store.getDeadLetter(ids[0]!), undefined);
    } finally {
      await store.close();
    }
    assert.throws(() => createSqliteStore({ path: ':memory:', deadLetterCap: 0 }), /cap/);
  });
});
