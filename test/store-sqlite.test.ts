/**
 * The SQLite store: the store contract on a temp file and in memory, plus what only SQLite has:
 * PRAGMAs, reopening a file, the migration runner, lock contention, and committed events
 * surviving a SIGKILL of the writing process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isJunctionError, type ErrorCode } from '../src/errors/index.ts';
import { parseHttpEvents, type CloudEvent } from '../src/events/index.ts';
import { createSqliteStore, openStore, sqlitePath, type NewEvent } from '../src/store/index.ts';
import {
  LATEST_VERSION,
  MIGRATIONS,
  applyMigrations,
  currentVersion,
} from '../src/store/sqlite/migrations.ts';
import { runStoreContract } from './conformance/store.ts';
import { consecutiveRuns } from '../src/store/sqlite/sqlite-store.ts';
import { createCheckpointer } from '../src/store/sqlite/checkpointer.ts';
import { createAppendThread } from '../src/store/sqlite/append-thread.ts';

const root = mkdtempSync(join(tmpdir(), 'junction-store-sqlite-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
});

function freshPath(name = 'junction.db'): string {
  return join(mkdtempSync(join(root, 'db-')), name);
}

/**
 * Read without taking part: the WAL index (the -shm file, laid out in SQLite's "WAL-mode file
 * format" document) holds the last committed frame (mxFrame, at byte 16 of its header) and how many
 * frames checkpoints have copied into the database file (nBackfill, at byte 96), in native order.
 */
function walIndex(path: string): { lastFrame: number; backfilled: number } {
  const shm = readFileSync(`${path}-shm`);
  return { lastFrame: shm.readUInt32LE(16), backfilled: shm.readUInt32LE(96) };
}

function newEvents(count: number, fields: Partial<CloudEvent> = {}): NewEvent[] {
  return Array.from({ length: count }, (_, n) => ({
    event: {
      specversion: '1.0',
      id: randomUUID(),
      source: '/sqlite-test',
      type: 'test.sqlite',
      data: { n },
      ...fields,
    },
    receiver: 'events',
  }));
}

function rejectsWith(code: ErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isJunctionError(error, code), `expected JunctionError ${code}, got ${String(error)}`);
    return true;
  };
}

runStoreContract('sqlite file', () => {
  const path = freshPath();
  const store = createSqliteStore({ path });
  return Promise.resolve({
    store,
    async cleanup() {
      await store.close();
      rmSync(path, { force: true });
    },
  });
});

runStoreContract('sqlite file, appends on the event loop', () => {
  const path = freshPath();
  const store = createSqliteStore({ path, appendThread: false });
  return Promise.resolve({
    store,
    async cleanup() {
      await store.close();
      rmSync(path, { force: true });
    },
  });
});

runStoreContract('sqlite memory', async () => {
  const store = await openStore('sqlite::memory:');
  return { store, cleanup: async () => store.close() };
});

void describe('sqlite store', { timeout: 30_000 }, () => {
  for (const [durability, level] of [
    ['normal', 1],
    ['full', 2],
  ] as const) {
    void test(`durability '${durability}' sets WAL and synchronous=${level}`, async () => {
      const store = createSqliteStore({ path: freshPath(), durability, busyTimeoutMs: 1234 });
      try {
        await store.migrate();
        assert.deepEqual(await store.settings(), {
          journalMode: 'wal',
          synchronous: level,
          foreignKeys: true,
          busyTimeoutMs: 1234,
        });
      } finally {
        await store.close();
      }
    });
  }

  void test('checkpoints run in the background: WAL pages reach the database file without a commit doing it', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      await store.migrate();
      const pad = 'x'.repeat(2000);
      for (let batch = 0; batch < 20; batch += 1) {
        await store.appendEvents(
          Array.from({ length: 100 }, (_, i) => ({
            event: { specversion: '1.0', id: `ckpt-${batch}-${i}`, source: 's', type: 't', data: { pad } },
            receiver: 'events',
          })),
          'events',
        );
      }
      // The connection itself never checkpoints (wal_autocheckpoint = 0), and the main file only
      // grows when a checkpoint copies pages into it: the worker does that within moments.
      const deadline = Date.now() + 10_000;
      while (statSync(path).size < 4_000_000) {
        if (Date.now() > deadline) assert.fail(`database file still ${statSync(path).size} bytes after 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await store.close();
    }
  });

  void test('the checkpoint thread runs only while the store writes, and copies everything before it stops', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, checkpointIdleMs: 300 });
    try {
      await store.migrate();
      await store.getEvent('nothing-yet');
      assert.equal(store.isCheckpointing(), false, 'no thread before the first write');

      await store.appendEvents(newEvents(50), 'events');
      assert.equal(store.isCheckpointing(), true, 'the first write starts it');
      // Writes that keep coming keep it running past its idle time.
      for (let round = 0; round < 6; round += 1) {
        await new Promise((r) => setTimeout(r, 100));
        await store.appendEvents(newEvents(10), 'events');
      }
      assert.equal(store.isCheckpointing(), true, 'still running while writes come');

      const deadline = Date.now() + 10_000;
      while (store.isCheckpointing()) {
        if (Date.now() > deadline) assert.fail('the thread still runs 10 s after the last write');
        await new Promise((r) => setTimeout(r, 50));
      }
      // Its last checkpoint copied every committed frame into the database file.
      const wal = walIndex(path);
      assert.ok(wal.lastFrame > 0, 'the writes went through the WAL');
      assert.equal(wal.backfilled, wal.lastFrame, 'every frame copied');

      await store.appendEvents(newEvents(1), 'events');
      assert.equal(store.isCheckpointing(), true, 'the next write starts it again');
      assert.equal((await store.listEvents({}, { limit: 200 })).items.length, 111);
    } finally {
      await store.close();
    }
    assert.equal(store.isCheckpointing(), false, 'close stops it');
  });

  void test('under a steady stream of commits the WAL starts over once it passes restartFrames', async () => {
    /** Commits 32 KB every millisecond or so for `ms`; the largest the WAL file got. */
    const stream = async (restartFrames: number, ms: number): Promise<number> => {
      const path = freshPath();
      const db = new DatabaseSync(path);
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
      // A RESTART checkpoint holds writers back for a moment; they wait for it as the store's do.
      db.exec('PRAGMA busy_timeout = 5000');
      db.exec('CREATE TABLE t (b BLOB)');
      const checkpointer = createCheckpointer(db, path, { intervalMs: 10, restartFrames });
      const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
      const blob = Buffer.alloc(4000, 7);
      let largest = 0;
      try {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          db.exec('BEGIN IMMEDIATE');
          for (let i = 0; i < 8; i++) insert.run(blob);
          db.exec('COMMIT');
          checkpointer.wrote();
          largest = Math.max(largest, statSync(`${path}-wal`).size);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } finally {
        await checkpointer.close();
        db.close();
      }
      return largest;
    };
    // PASSIVE checkpoints alone never catch up with the stream: no commit finds the WAL copied.
    const unbounded = await stream(Number.POSITIVE_INFINITY, 1500);
    const bounded = await stream(64, 1500);
    assert.ok(bounded < 8e6, `the WAL stays small: ${bounded} bytes`);
    assert.ok(unbounded > 3 * bounded, `without restarts it grows: ${unbounded} against ${bounded} bytes`);
  });

  void test('a reader that stays on the WAL holds commits back at most briefly, not at every tick', async () => {
    const path = freshPath();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('CREATE TABLE t (b BLOB)');
    const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
    const blob = Buffer.alloc(4000, 7);
    const commit = (): number => {
      const started = performance.now();
      db.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < 8; i++) insert.run(blob);
      db.exec('COMMIT');
      return performance.now() - started;
    };
    for (let i = 0; i < 20; i++) commit();
    // A backup or a replication tool: a read transaction on a snapshot that uses the WAL.
    const reader = new DatabaseSync(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) AS n FROM t').get();
    const checkpointer = createCheckpointer(db, path, { intervalMs: 10, restartFrames: 64 });
    const slow: number[] = [];
    try {
      const end = Date.now() + 1500;
      while (Date.now() < end) {
        const took = commit();
        checkpointer.wrote();
        if (took > 20) slow.push(Math.round(took));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    } finally {
      await checkpointer.close();
      reader.exec('ROLLBACK');
      reader.close();
      db.close();
    }
    // One RESTART waits for the reader (at most 50 ms), gives up, and the next is 10 s away.
    assert.ok(slow.length <= 2, `commits held back: ${slow.join(', ')} ms`);
    assert.ok(Math.max(0, ...slow) < 300, `commits held back: ${slow.join(', ')} ms`);
  });

  void test('a checkpoint thread that fails hands checkpoints back to SQLite for good', async () => {
    const path = freshPath();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL');
    const autocheckpoint = (): unknown =>
      db.prepare('PRAGMA wal_autocheckpoint').get()?.['wal_autocheckpoint'];
    // The thread opens its own connection; one to a folder that does not exist fails at once.
    const checkpointer = createCheckpointer(db, join(path, 'missing', 'junction.db'));
    try {
      assert.equal(autocheckpoint(), 0, 'the connection leaves checkpoints to the thread');
      checkpointer.wrote();
      const deadline = Date.now() + 10_000;
      while (autocheckpoint() !== 1000) {
        if (Date.now() > deadline) assert.fail('automatic checkpoints were not turned back on');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(checkpointer.isRunning(), false);
      checkpointer.wrote();
      assert.equal(checkpointer.isRunning(), false, 'no new thread after a failure');
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  void test('a store that closes right after its first write ends cleanly with the thread', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    await store.migrate();
    await store.appendEvents(newEvents(5), 'events');
    await store.close();
    const reopened = createSqliteStore({ path });
    try {
      assert.equal((await reopened.listEvents({}, { limit: 10 })).items.length, 5);
    } finally {
      await reopened.close();
    }
  });

  void test('an event parsed from a structured body is stored with its data as it arrived, on the event loop and on the thread', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    const parsed = (id: string): NewEvent => {
      const { events, dataJson } = parseHttpEvents({
        headers: { 'content-type': 'application/cloudevents+json' },
        body: new TextEncoder().encode(
          `{"specversion":"1.0","id":"${id}","source":"/data-text","type":"t","data": { "price": 1.50, "note": "caf\\u00e9 ✓" }}`,
        ),
        limits: { maxJsonDepth: 16, maxBatchEvents: 10 },
      });
      return { event: events[0]!, receiver: 'events', dataJson: dataJson![0]! };
    };
    try {
      await store.migrate();
      const lone = await store.appendEvents([parsed('lone')], 'topic');
      const batch = await store.appendEvents(
        Array.from({ length: 20 }, (_, i) => parsed(`batch-${i}`)),
        'topic',
      );
      assert.equal(store.isAppendThreadRunning(), true);
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        for (const result of [...lone, ...batch]) {
          const row = db.prepare('SELECT body FROM events WHERE id = ?').get(result.id);
          assert.match(String(row?.['body']), /,"data":\{ "price": 1\.50, "note": "caf\\u00e9 ✓" \}\}$/);
          const stored = await store.getEvent(result.id);
          assert.deepEqual(stored?.event.data, { price: 1.5, note: 'café ✓' });
        }
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  void test('batches run on the append thread while it lives; lone events and the rest stay on the event loop', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, appendThreadIdleMs: 200 });
    const memory = createSqliteStore({ path: ':memory:' });
    const onLoop = createSqliteStore({ path: freshPath(), appendThread: false });
    try {
      await Promise.all([store.migrate(), memory.migrate(), onLoop.migrate()]);
      assert.equal(store.isAppendThreadRunning(), false, 'no thread before the first append');
      assert.equal(store.appendsOffEventLoop?.(), true);
      assert.equal(memory.appendsOffEventLoop?.(), false, 'a :memory: database cannot be shared');
      assert.equal(onLoop.appendsOffEventLoop?.(), false);
      await onLoop.appendEvents(newEvents(1), 'topic');
      assert.equal(onLoop.isAppendThreadRunning(), false);

      // A lone event with nothing on the thread commits on the event loop: no thread yet.
      const [lone] = await store.appendEvents(newEvents(1), 'topic');
      assert.equal(store.isAppendThreadRunning(), false, 'a lone event does not start the thread');

      const batch = await store.appendEvents(newEvents(20, { subject: 'on-thread' }), 'topic');
      assert.equal(store.isAppendThreadRunning(), true, 'the first batch starts it');
      const event = await store.getEvent(batch[0]!.id);
      assert.equal(event?.event.subject, 'on-thread', 'the event loop reads what the thread committed');
      // The outbox entries are marked on the thread too, and the event loop sees it.
      await store.markOutboxPublished([lone!, ...batch].map((r) => r.outbox!.seq));
      assert.deepEqual(await store.pendingOutbox(100), []);

      const startedAt = performance.now();
      while (store.isAppendThreadRunning()) {
        assert.ok(performance.now() - startedAt < 5000, 'the idle thread stops');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The next batch starts a thread again.
      const again = await store.appendEvents(newEvents(20), 'topic');
      assert.ok(again.every((r) => !r.duplicate));
      assert.equal(store.isAppendThreadRunning(), true);
      assert.equal((await store.listEvents({}, { limit: 100 })).items.length, 41);
    } finally {
      await Promise.all([store.close(), memory.close(), onLoop.close()]);
    }
  });

  void test('appends handed over before the last committed settle in call order, with the writes queued between them', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      await store.migrate();
      const batches = Array.from({ length: 6 }, (_, n) => newEvents(50, { type: `test.batch${String(n)}` }));
      // A repeated dedupe key, one batch later: reported as a duplicate of the first.
      const repeated = { ...batches[0]![0]!, receiver: 'again' };
      const writes = batches.map((batch, n) =>
        store.appendEvents(n === 1 ? [...batch, repeated] : batch, 'topic'),
      );
      const settled: (number | string)[] = [];
      // A write of the event loop's own, called while the batches are on the thread, waits its turn.
      const token = store
        .createToken({
          id: 'tok-between',
          name: 'between',
          scopes: ['read'],
          hash: 'h'.repeat(64),
          createdAt: new Date().toISOString(),
        })
        .then(() => settled.push('token'));
      const last = store.appendEvents(newEvents(1), 'topic').then(() => settled.push('after'));
      await Promise.all([...writes.map((write, n) => write.then(() => settled.push(n))), token, last]);
      assert.deepEqual(settled, [0, 1, 2, 3, 4, 5, 'token', 'after']);
      const results = await Promise.all(writes);
      const seqs = results.flatMap((batch) =>
        batch.flatMap((r) => (r.outbox === undefined ? [] : [r.outbox.event.seq])),
      );
      assert.equal(seqs.length, 300, 'every new event has its outbox entry');
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        'seqs ascend in call order',
      );
      const duplicate = results[1]!.at(-1)!;
      assert.deepEqual(duplicate, { id: results[0]![0]!.id, duplicate: true });
      const listed = (await store.listEvents({}, { limit: 500, order: 'asc' })).items;
      assert.deepEqual(
        listed.slice(0, 300).map((e) => e.id),
        results.flatMap((batch) => batch.filter((r) => !r.duplicate).map((r) => r.id)),
      );
    } finally {
      await store.close();
    }
  });

  void test('a store whose append thread cannot open the file writes on the event loop from then on', async () => {
    const dir = mkdtempSync(join(root, 'moved-'));
    const path = join(dir, 'junction.db');
    const store = createSqliteStore({ path });
    try {
      await store.migrate();
      // The store's own connection keeps its open files; a new connection finds no folder.
      renameSync(dir, `${dir}-moved`);
      const failed = store.appendEvents(newEvents(20), 'topic');
      // Queued behind a write of the event loop's own (a lone event follows the batch on the
      // thread), this one finds the thread gone at its turn.
      const token = store.createToken({
        id: 'tok-queued',
        name: 'queued',
        scopes: ['read'],
        hash: 'q'.repeat(64),
        createdAt: new Date().toISOString(),
      });
      const queued = store.appendEvents(newEvents(1, { subject: 'queued' }), 'topic');
      await assert.rejects(failed, rejectsWith('STORE_UNAVAILABLE'));
      await token;
      const [late] = await queued;
      assert.equal((await store.getEvent(late!.id))?.event.subject, 'queued');
      assert.equal(store.appendsOffEventLoop?.(), false);
      const [stored] = await store.appendEvents(newEvents(1, { subject: 'on-loop' }), 'topic');
      assert.equal((await store.getEvent(stored!.id))?.event.subject, 'on-loop');
      assert.equal(
        (await store.listEvents({}, { limit: 10 })).items.length,
        2,
        'the failed batch stored nothing',
      );
    } finally {
      await store.close();
    }
  });

  void test('the append thread refuses batches after close and rejects what a dead thread had in flight', async () => {
    const thread = createAppendThread({
      path: join(root, 'no-such-folder', 'junction.db'),
      pragmas: [],
      busyTimeoutMs: 100,
      sql: {
        insertEvent: 'SELECT 1',
        findByDedupeKey: 'SELECT 1',
        insertOutbox: 'SELECT 1',
        markPublished: 'SELECT 1',
      },
      dedupeKeyParam: 1,
      receivedAtParam: 7,
    });
    const first = thread.append([['a']], 'topic');
    const second = thread.markPublished('2026-01-01T00:00:00.000Z', [[1, 2]]);
    await assert.rejects(first, /unable to open|cannot open/i);
    await assert.rejects(second, /unable to open|cannot open/i);
    assert.equal(thread.available(), false);
    await assert.rejects(thread.append([['b']], 'topic'), /not available/);
    await thread.close();
  });

  void test('the default durability is normal', async () => {
    const store = createSqliteStore({ path: freshPath() });
    try {
      assert.equal((await store.settings()).synchronous, 1);
    } finally {
      await store.close();
    }
  });

  void test('the parent folder is created and data survives a reopen', async () => {
    const path = join(freshPath('folder'), 'nested', 'junction.db');
    const first = await openStore(`sqlite:${path}`);
    const results = await first.appendEvents(newEvents(3), 'topic');
    await first.createToken({
      id: 't1',
      name: 'ci',
      scopes: ['emit'],
      hash: 'a'.repeat(64),
      createdAt: new Date().toISOString(),
    });
    await first.close();
    assert.ok(existsSync(path));

    const second = await openStore(`sqlite:${path}`);
    try {
      for (const result of results) assert.ok((await second.getEvent(result.id)) !== undefined);
      assert.equal((await second.pendingOutbox(10)).length, 3);
      assert.equal(await second.hasTokens(), true);
      // Sequence numbers continue after the reopen.
      const [next] = await second.appendEvents(newEvents(1), 'topic');
      const last = await second.getEvent(results[2]!.id);
      assert.ok((await second.getEvent(next!.id))!.seq > last!.seq);
    } finally {
      await second.close();
    }
  });

  void test('indexed columns are filled from the event', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`);
    const [result] = await store.appendEvents(
      [
        {
          event: {
            specversion: '1.0',
            id: 'e-1',
            source: '/github/org/repo',
            type: 'git.push',
            subject: 'refs/heads/main',
            time: '2024-05-01T12:00:00Z',
            causationid: 'cause',
            correlationid: 'root',
          },
          receiver: 'github',
        },
      ],
      'topic',
    );
    await store.close();
    const db = new DatabaseSync(path);
    try {
      const row = db.prepare('SELECT * FROM events WHERE id = ?').get(result!.id);
      assert.equal(row?.['type'], 'git.push');
      assert.equal(row?.['source'], '/github/org/repo');
      assert.equal(row?.['subject'], 'refs/heads/main');
      assert.equal(row?.['event_time'], '2024-05-01T12:00:00Z');
      assert.equal(row?.['receiver'], 'github');
      assert.equal(row?.['causation_id'], 'cause');
      assert.equal(row?.['correlation_id'], 'root');
      assert.equal(row?.['replay_of'], null);
    } finally {
      db.close();
    }
  });

  void test('markOutboxFailed keeps a bounded last error', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`);
    await store.appendEvents(newEvents(1), 'topic');
    const [entry] = await store.pendingOutbox(1);
    await store.markOutboxFailed(entry!.seq, 'e'.repeat(10_000));
    await store.close();
    const db = new DatabaseSync(path);
    try {
      const row = db.prepare('SELECT attempts, length(last_error) AS length FROM outbox').get();
      assert.deepEqual({ ...row }, { attempts: 1, length: 2_000 });
    } finally {
      db.close();
    }
  });

  void test('consecutiveRuns groups only consecutive seqs, in the order given', () => {
    assert.deepEqual(consecutiveRuns([1, 2, 3, 5, 7, 8, 4]), [
      [1, 3],
      [5, 5],
      [7, 8],
      [4, 4],
    ]);
    assert.deepEqual(consecutiveRuns([]), []);
  });

  void test('a batch that fails inside the database rolls back every row', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`);
    try {
      const db = new DatabaseSync(path);
      db.exec(`CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.type = 'test.poison'
               BEGIN SELECT RAISE(ABORT, 'poisoned'); END`);
      db.close();
      const batch = [...newEvents(3), ...newEvents(1, { type: 'test.poison' }), ...newEvents(2)];
      await assert.rejects(store.appendEvents(batch, 'topic'), rejectsWith('INTERNAL'));
      assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 0);
      assert.deepEqual(await store.pendingOutbox(10), []);
      // The store is still usable, and the rolled-back dedupe keys are free.
      const results = await store.appendEvents(batch.slice(0, 3), 'topic');
      assert.ok(results.every((r) => !r.duplicate));
    } finally {
      await store.close();
    }
  });

  /** A migrated store on a fresh file, and a second connection that holds its write lock. */
  async function withLockHeld(
    busyTimeoutMs: number,
    body: (store: ReturnType<typeof createSqliteStore>, other: DatabaseSync) => Promise<void>,
  ): Promise<void> {
    const path = freshPath();
    const store = createSqliteStore({ path, busyTimeoutMs });
    await store.migrate();
    const other = new DatabaseSync(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      await body(store, other);
    } finally {
      other.close();
      await store.close();
    }
  }

  void test('another process holding the write lock makes writes STORE_UNAVAILABLE (retryable)', () =>
    withLockHeld(50, async (store, other) => {
      await assert.rejects(store.appendEvents(newEvents(1), 'topic'), (error) => {
        assert.ok(isJunctionError(error, 'STORE_UNAVAILABLE'), String(error));
        assert.equal(error.retryable, true);
        return true;
      });
      // Reads still work under WAL while another connection writes.
      assert.equal((await store.listEvents({}, { limit: 1 })).items.length, 0);
      other.exec('ROLLBACK');
      assert.equal((await store.appendEvents(newEvents(1), 'topic')).length, 1);
    }));

  void test('a write waiting for another connection keeps the event loop running and the call order', () =>
    withLockHeld(2000, async (store, other) => {
      const [first] = newEvents(1, { type: 'test.first' });
      const [second] = newEvents(1, { type: 'test.second' });
      const calledAt = performance.now();
      const firstWrite = store.appendEvents([first!], 'topic');
      const secondWrite = store.appendEvents([second!], 'topic');
      // SQLite's own busy handler would sleep on this thread for the whole busy timeout (2 s).
      const blockedMs = performance.now() - calledAt;
      assert.ok(blockedMs < 200, `the calls held the event loop for ${blockedMs.toFixed(0)} ms`);
      let ticks = 0;
      const ticker = setInterval(() => (ticks += 1), 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      clearInterval(ticker);
      assert.ok(ticks >= 10, `the event loop ran ${String(ticks)} timer ticks in 100 ms`);
      // Reads do not queue behind the waiting writes.
      assert.equal((await store.listEvents({}, { limit: 10 })).items.length, 0);
      const releasedAt = performance.now();
      other.exec('COMMIT');
      const [a] = await firstWrite;
      const [b] = await secondWrite;
      const waitedMs = performance.now() - releasedAt;
      assert.ok(waitedMs < 200, `the writes landed ${waitedMs.toFixed(0)} ms after the lock came free`);
      const stored = (await store.listEvents({}, { limit: 10, order: 'asc' })).items;
      assert.deepEqual(
        stored.map((event) => [event.id, event.event.type]),
        [
          [a!.id, 'test.first'],
          [b!.id, 'test.second'],
        ],
      );
    }));

  void test('close() lets writes waiting for the lock finish first', () =>
    withLockHeld(2000, async (store, other) => {
      const write = store.appendEvents(newEvents(1), 'topic');
      const closing = store.close();
      await new Promise((resolve) => setTimeout(resolve, 30));
      const releasedAt = performance.now();
      other.exec('ROLLBACK');
      assert.equal((await write)[0]?.duplicate, false);
      assert.ok(performance.now() - releasedAt < 200, 'the write landed soon after the lock came free');
      await closing;
      const row = other.prepare('SELECT count(*) AS n FROM events').get();
      assert.equal(row?.['n'], 1);
    }));

  void test('a closed store is not retryable', async () => {
    const store = await openStore('sqlite::memory:');
    await store.close();
    await assert.rejects(store.ping(), (error) => {
      assert.ok(isJunctionError(error, 'STORE_UNAVAILABLE'));
      assert.equal(error.retryable, false);
      return true;
    });
  });

  void test('a store written by a newer version is refused', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`);
    assert.equal(await store.schemaVersion(), LATEST_VERSION);
    await store.close();
    const db = new DatabaseSync(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      LATEST_VERSION + 100,
      'from the future',
      new Date().toISOString(),
    );
    db.close();
    await assert.rejects(openStore(`sqlite:${path}`), rejectsWith('STORE_VERSION_TOO_NEW'));
    const direct = createSqliteStore({ path });
    try {
      await assert.rejects(direct.migrate(), rejectsWith('STORE_VERSION_TOO_NEW'));
    } finally {
      await direct.close();
    }
  });

  void describe('migrations', () => {
    void test('the real migrations apply to an empty database and create every table', () => {
      const db = new DatabaseSync(':memory:');
      try {
        assert.equal(currentVersion(db), 0);
        assert.equal(applyMigrations(db), LATEST_VERSION);
        assert.equal(applyMigrations(db), LATEST_VERSION);
        const tables = db
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all()
          .map((row) => row['name']);
        for (const table of [
          'api_tokens',
          'approvals',
          'audit_log',
          'checkpoints',
          'concurrency_holders',
          'dead_letters',
          'deployments',
          'events',
          'jobs',
          'leases',
          'log_chunks',
          'outbox',
          'runs',
          'schema_migrations',
          'steps',
          'trigger_decisions',
        ]) {
          assert.ok(tables.includes(table), `table ${table}`);
        }
        const applied = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
        assert.deepEqual(
          applied.map((row) => ({ ...row })),
          MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
        );
        assert.deepEqual(db.prepare('PRAGMA foreign_key_check').all(), []);
      } finally {
        db.close();
      }
    });

    void test('a failing migration leaves the previous version and none of its changes', () => {
      const db = new DatabaseSync(':memory:');
      try {
        const good = { version: 1, name: 'one', sql: 'CREATE TABLE one (x INTEGER);' };
        const broken = { version: 2, name: 'two', sql: 'CREATE TABLE two (x INTEGER); CREATE TABLE three (' };
        assert.throws(
          () => applyMigrations(db, [good, broken]),
          (error) => {
            assert.ok(isJunctionError(error, 'STORE_MIGRATION_FAILED'), String(error));
            assert.ok(error.cause !== undefined);
            assert.match(error.message, /migration 2 'two' failed/);
            return true;
          },
        );
        assert.equal(currentVersion(db), 1);
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
        assert.ok(tables.some((t) => t['name'] === 'one'));
        assert.ok(!tables.some((t) => t['name'] === 'two'), 'the failed migration was rolled back');
        assert.equal(applyMigrations(db, [good, { ...broken, sql: 'CREATE TABLE two (x INTEGER);' }]), 2);
      } finally {
        db.close();
      }
    });

    void test('migrations out of order are refused', () => {
      const db = new DatabaseSync(':memory:');
      try {
        assert.throws(
          () => applyMigrations(db, [{ version: 2, name: 'skips one', sql: 'SELECT 1;' }]),
          rejectsWith('INTERNAL'),
        );
      } finally {
        db.close();
      }
    });
  });

  void describe('openStore urls', () => {
    void test('a relative path resolves against baseDir', async () => {
      const baseDir = mkdtempSync(join(root, 'base-'));
      assert.equal(sqlitePath('sqlite:data/junction.db', baseDir), join(baseDir, 'data', 'junction.db'));
      assert.equal(sqlitePath('sqlite:/abs/j.db', baseDir), '/abs/j.db');
      assert.equal(sqlitePath('sqlite:///abs/j.db', baseDir), '/abs/j.db');
      assert.equal(sqlitePath('sqlite::memory:', baseDir), ':memory:');
      const store = await openStore('sqlite:data/junction.db', { baseDir, durability: 'full' });
      try {
        assert.equal(store.kind, 'sqlite');
        assert.ok(existsSync(join(baseDir, 'data', 'junction.db')));
        assert.equal(await store.schemaVersion(), LATEST_VERSION);
      } finally {
        await store.close();
      }
    });

    void test('postgres and unknown schemes are CONFIG_INVALID without leaking a password', async () => {
      await assert.rejects(openStore('postgres://junction:s3cret@127.0.0.1:5432/junction'), (error) => {
        assert.ok(isJunctionError(error, 'CONFIG_INVALID'));
        assert.match(error.message, /postgresql is not available/i);
        assert.ok(!error.message.includes('s3cret'), error.message);
        return true;
      });
      await assert.rejects(openStore('postgresql://127.0.0.1/junction'), rejectsWith('CONFIG_INVALID'));
      for (const url of ['mysql://root:pw@host/db', 'junction.db', 'sqlite:', 'sqlite://host/db']) {
        await assert.rejects(openStore(url), (error) => {
          assert.ok(isJunctionError(error, 'CONFIG_INVALID'), url);
          assert.match(error.message, /sqlite:<path>/);
          assert.ok(!error.message.includes(':pw@'), error.message);
          return true;
        });
      }
    });
  });

  void test('every id reported committed survives a SIGKILL of the writer', { timeout: 60_000 }, async () => {
    const path = freshPath();
    const storeUrl = pathToFileURL(
      join(import.meta.dirname, '..', 'src', 'store', 'sqlite', 'sqlite-store.ts'),
    ).href;
    const script = join(mkdtempSync(join(root, 'child-')), 'writer.mjs');
    writeFileSync(
      script,
      `import { randomUUID } from 'node:crypto';
import { createSqliteStore } from ${JSON.stringify(storeUrl)};
const store = createSqliteStore({ path: process.argv[2], durability: 'normal' });
await store.migrate();
process.stdout.write('ready\\n');
for (let n = 0; ; n++) {
  const batch = Array.from({ length: 1 + (n % 20) }, (_, i) => ({
    event: { specversion: '1.0', id: randomUUID(), source: '/kill-test', type: 'test.kill', data: { n, i, pad: 'x'.repeat(1000) } },
    receiver: 'events',
  }));
  const results = await store.appendEvents(batch, 'topic');
  process.stdout.write(results.map((r) => 'committed ' + r.id + '\\n').join(''));
}
`,
    );
    const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const committed: string[] = [];
    let stderr = '';
    let buffered = '';
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines)
        if (line.startsWith('committed ')) committed.push(line.slice('committed '.length));
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exit = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      });
    });

    // Let a few thousand commits through, then kill at whatever point the writer has reached.
    const deadline = Date.now() + 40_000;
    while (committed.length < 3_000) {
      assert.equal(exited, undefined, `writer exited early: ${stderr}`);
      assert.ok(Date.now() < deadline, `only ${committed.length} commits reported: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGKILL');
    await exit;
    assert.equal(exited?.signal, 'SIGKILL');

    const store = await openStore(`sqlite:${path}`);
    try {
      const reported = [...committed];
      for (const id of reported) {
        assert.ok((await store.getEvent(id)) !== undefined, `committed event ${id} is missing`);
      }
      // Every stored event has its outbox entry (none was published).
      const stats = await store.outboxStats();
      let stored = 0;
      let cursor: string | undefined;
      for (;;) {
        const page = await store.listEvents(
          {},
          { limit: 1_000, ...(cursor === undefined ? {} : { cursor }) },
        );
        stored += page.items.length;
        if (page.next === null) break;
        cursor = page.next;
      }
      assert.ok(stored >= reported.length);
      assert.equal(stats.pending, stored);
    } finally {
      await store.close();
    }
  });
});
