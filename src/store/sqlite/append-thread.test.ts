/**
 * The append thread on its own: calls run in order on a real SQLite file, and a thread that cannot
 * work fails every call with a retryable STORE_UNAVAILABLE and says so once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { isJunctionError, type JunctionError } from '../../errors/index.ts';
import { startAppendThread, type AppendThreadOptions } from './append-thread.ts';

const SQL: AppendThreadOptions['sql'] = {
  insertEvent: 'INSERT INTO t (id, key, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING',
  insertOutbox: 'INSERT INTO o (id, topic, at) VALUES (?, ?, ?)',
  findByDedupeKey: 'SELECT id FROM t WHERE key = ?',
  markPublished: 'UPDATE o SET done = ? WHERE seq BETWEEN ? AND ?',
};
const COLUMNS = { id: 0, dedupeKey: 1, receivedAt: 2 };

function tempDb(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'junction-append-thread-'));
  const path = join(dir, 'a.db');
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL;
    CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, key TEXT NOT NULL UNIQUE, at TEXT NOT NULL);
    CREATE TABLE o (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, topic TEXT NOT NULL, at TEXT NOT NULL, done TEXT);`);
  db.close();
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

void describe('sqlite append thread', { timeout: 30_000 }, () => {
  void test('appends in call order, reports duplicates by the first id, marks ranges', async () => {
    const file = tempDb();
    const thread = startAppendThread({
      path: file.path,
      setup: ['PRAGMA busy_timeout = 1000'],
      sql: SQL,
      columns: COLUMNS,
    });
    try {
      const calls = [
        thread.append(
          [
            ['a', 'k1', 't'],
            ['b', 'k2', 't'],
          ],
          'topic',
        ),
        thread.append(
          [
            ['c', 'k1', 't'],
            ['d', 'k3', 't'],
          ],
          'topic',
        ),
      ];
      assert.deepEqual(await Promise.all(calls), [
        [
          [1, 1],
          [2, 2],
        ],
        ['a', [3, 3]],
      ]);
      await thread.markPublished([[1, 2]], 'now');
      const db = new DatabaseSync(file.path);
      try {
        const rows = db.prepare('SELECT seq, done FROM o ORDER BY seq').all();
        assert.deepEqual(
          rows.map((row) => [row['seq'], row['done']]),
          [
            [1, 'now'],
            [2, 'now'],
            [3, null],
          ],
        );
      } finally {
        db.close();
      }
    } finally {
      await thread.stop();
      file.remove();
    }
  });

  void test('a failing statement rolls its call back and rejects with SQLite errcode', async () => {
    const file = tempDb();
    const thread = startAppendThread({ path: file.path, setup: [], sql: SQL, columns: COLUMNS });
    try {
      // NOT NULL on `at` fails the second row: the first must not stay.
      await assert.rejects(
        thread.append(
          [
            ['a', 'k1', 't'],
            ['b', 'k2', null],
          ],
          'topic',
        ),
        (error: unknown) => typeof (error as { errcode?: unknown }).errcode === 'number',
      );
      // k1 is free again and seq 1 unused: nothing of the failed call stayed.
      assert.deepEqual(await thread.append([['c', 'k1', 't']], 'topic'), [[1, 1]]);
    } finally {
      await thread.stop();
      file.remove();
    }
  });

  void test('a thread that cannot open its file fails every call and says so once', async () => {
    const failures: JunctionError[] = [];
    const thread = startAppendThread({
      path: '/proc/junction-no-such-dir/a.db',
      setup: [],
      sql: SQL,
      columns: COLUMNS,
      onFailure: (error) => failures.push(error),
    });
    try {
      const isUnavailable = (error: unknown): boolean =>
        isJunctionError(error, 'STORE_UNAVAILABLE') && error.message.includes('append thread');
      await assert.rejects(thread.append([['a', 'k', 't']], 'topic'), isUnavailable);
      await assert.rejects(thread.append([['b', 'k2', 't']], 'topic'), isUnavailable);
      assert.equal(failures.length, 1);
    } finally {
      await thread.stop();
    }
  });
});
