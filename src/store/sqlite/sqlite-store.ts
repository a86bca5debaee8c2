/**
 * The embedded store: the `Store` contract (see ../store.ts) on one `node:sqlite` connection to a
 * file in WAL mode.
 *
 * What callers may assume beyond the contract:
 * - Each method runs synchronously on the one connection inside its promise, so calls from this
 *   process never interleave; writes run in `BEGIN IMMEDIATE … COMMIT`. While another connection
 *   holds the write lock (the checkpoint thread's RESTART, another process), a write waits on a
 *   timer instead, with the event loop running, and later writes queue behind it in call order;
 *   reads still run at once. A lock held longer than `busyTimeoutMs` makes the waiting write
 *   reject with `STORE_UNAVAILABLE` (retryable). `close()` lets waiting writes finish first.
 * - `durability: 'normal'` (default) is `synchronous=NORMAL`: a commit survives a killed process;
 *   `'full'` is `synchronous=FULL`: it survives a power loss too (an fsync per commit).
 * - Statements are prepared once per connection and reused; the schema must be migrated
 *   (`migrate()`) before other methods are called.
 * - `findTokenByHash` returns revoked tokens too, with `revokedAt` set; the caller decides.
 * - `revokeToken` is true when it revoked an active token, false when no token has that id or it
 *   was already revoked (the first revocation time is kept).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { JunctionError, isJunctionError } from '../../errors/index.ts';
import { dedupeKeyOf, eventJson, uuidv7, type CloudEvent, type StoredEvent } from '../../events/index.ts';
import { checkLimit, decodeCursor, encodeCursor, normalizeTime, nowIso, resolveOrder } from '../paging.ts';
import {
  DEAD_LETTER_CAP,
  type ApiTokenRecord,
  type AppendResult,
  type DecisionRecord,
  type EventFilter,
  type NewEvent,
  type OutboxEntry,
  type OutboxStats,
  type Page,
  type RunRecord,
  type Store,
  type StoreDurability,
  type TokenScope,
} from '../store.ts';
import { applyMigrations, currentVersion } from './migrations.ts';
import { integer, optionalText, text, type Row } from './rows.ts';
import { deploymentMethods } from './deployments.ts';
import { deadLetterMethods, insertDeadLetter } from './dead-letters.ts';
import { runStateMethods, toRun } from './run-state.ts';
import { linkMethods } from './links.ts';
import { createCheckpointer } from './checkpointer.ts';
import { createAppendThread, type AppendOutcome, type AppendThread } from './append-thread.ts';

export interface SqliteStoreOptions {
  /** A file path, or `:memory:` for a private in-memory database (tests). */
  readonly path: string;
  readonly durability?: StoreDurability;
  /** How long a write waits for another process's write lock; default 5000. */
  readonly busyTimeoutMs?: number;
  /** Dead letters kept per kind before the oldest are dropped; default `DEAD_LETTER_CAP`. */
  readonly deadLetterCap?: number;
  /** How long without a write before the WAL checkpoint thread stops (checkpointer.ts); default 30 s. */
  readonly checkpointIdleMs?: number;
  /**
   * Whether `appendEvents` and `markOutboxPublished` may commit on a thread of their own
   * (append-thread.ts) rather than on the event loop: writes of `THREAD_MIN_ROWS` rows or more, and
   * any while the thread has one in flight. Default true for a file, always false for `:memory:`.
   */
  readonly appendThread?: boolean;
  /** How long without an append before the append thread stops (append-thread.ts); default 30 s. */
  readonly appendThreadIdleMs?: number;
}

/** The connection settings in effect, read back from SQLite (for tests and diagnostics). */
export interface SqliteSettings {
  /** `wal` for a file, `memory` for `:memory:`. */
  readonly journalMode: string;
  /** 1 = NORMAL, 2 = FULL. */
  readonly synchronous: number;
  readonly foreignKeys: boolean;
  readonly busyTimeoutMs: number;
}

export interface SqliteStore extends Store {
  readonly kind: 'sqlite';
  /** The database file, or `:memory:`. */
  readonly path: string;
  settings(): Promise<SqliteSettings>;
  /** Whether the WAL checkpoint thread runs now: from the first write until the store idles. */
  isCheckpointing(): boolean;
  /** Whether the append thread runs now: from the first batch it takes until the store idles. */
  isAppendThreadRunning(): boolean;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** Rows from which a write goes to the append thread even while it has nothing in flight. */
const THREAD_MIN_ROWS = 16;
/** How often a write waiting for another connection's write lock tries again. */
const LOCK_RETRY_MS = 1;
const BUSY = Symbol('busy');

/**
 * Write tuning, measured with batches of 100 events of 2 KB (see docs/decisions/0002-sqlite-store.md).
 * 8 KiB pages hold three such events where 4 KiB pages hold one, so a commit writes fewer WAL
 * frames. Checkpoints keep SQLite's default interval (1000 pages, 8 MiB of WAL here): a larger
 * interval wrote less in total but made each checkpoint, which runs inside a commit on the event
 * loop, long enough to lift intake's p99 latency several-fold under load (docs/benchmarks.md).
 */
const PAGE_SIZE = 8_192;
const TUNING = [
  'PRAGMA cache_size = -16384', // 16 MiB of page cache, so hot index pages are not read back from the file
  'PRAGMA journal_size_limit = 67108864', // truncate the WAL back to 64 MiB after a checkpoint
];
/** The longest `last_error` kept for an outbox entry. */
const MAX_ERROR_LENGTH = 2_000;

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_IOERR = 10;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_CONSTRAINT = 19;

const EVENT_COLUMNS = 'e.seq, e.id, e.dedupe_key, e.receiver, e.received_at, e.body';

const RUN_COLUMNS =
  'rowid AS seq, id, event_id, pipeline, trigger_index, status, pipeline_digest, created_at, started_at, finished_at, reason';

const STATEMENTS = {
  insertEvent: `INSERT INTO events
      (id, dedupe_key, receiver, type, source, subject, event_time, received_at, causation_id, correlation_id, body, replay_of)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (dedupe_key) DO NOTHING`,
  findByDedupeKey: 'SELECT id FROM events WHERE dedupe_key = ?',
  insertOutbox: 'INSERT INTO outbox (event_id, topic, created_at) VALUES (?, ?, ?)',
  getEvent: `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = ?`,
  pendingOutbox: `SELECT o.seq AS outbox_seq, o.event_id, o.topic, o.attempts, ${EVENT_COLUMNS}
      FROM outbox o JOIN events e ON e.id = o.event_id
      WHERE o.published_at IS NULL AND o.dead_letter_id IS NULL ORDER BY o.seq LIMIT ?`,
  markPublished: 'UPDATE outbox SET published_at = ? WHERE seq BETWEEN ? AND ? AND published_at IS NULL',
  markFailed: 'UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?',
  markOutboxDeadLettered: `UPDATE outbox SET attempts = attempts + 1, last_error = ?, dead_letter_id = ?
      WHERE seq = ? AND published_at IS NULL AND dead_letter_id IS NULL`,
  requeueOutbox: `UPDATE outbox SET attempts = 0, last_error = NULL, dead_letter_id = NULL
      WHERE dead_letter_id = ? AND published_at IS NULL`,
  outboxStats: `SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox
      WHERE published_at IS NULL AND dead_letter_id IS NULL`,
  createToken: `INSERT INTO api_tokens (id, name, scopes, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
  findToken: 'SELECT * FROM api_tokens WHERE hash = ?',
  listTokens: 'SELECT * FROM api_tokens ORDER BY created_at, id',
  revokeToken: 'UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  touchToken: 'UPDATE api_tokens SET last_used_at = ? WHERE id = ?',
  hasTokens: 'SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL) AS found',
  ping: 'SELECT 1 AS ok',
  eventExists: 'SELECT 1 AS found FROM events WHERE id = ?',
  insertRun: `INSERT INTO runs (id, event_id, pipeline, trigger_index, status, pipeline_digest, spec, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  insertDecision: `INSERT INTO trigger_decisions
      (event_id, pipeline, trigger_index, matched, reason, pipeline_digest, run_id, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  listDecisions: `SELECT * FROM trigger_decisions WHERE event_id = ? ORDER BY pipeline, trigger_index`,
  getRun: `SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`,
} as const;

type StatementName = keyof typeof STATEMENTS;

export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const { path } = options;
  const durability = options.durability ?? 'normal';
  const busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
  const deadLetterCap = options.deadLetterCap ?? DEAD_LETTER_CAP;
  const db = openDatabase(path, durability, busyTimeoutMs);
  const checkpointer =
    path === ':memory:'
      ? undefined
      : createCheckpointer(db, path, {
          ...(options.checkpointIdleMs === undefined ? {} : { idleMs: options.checkpointIdleMs }),
        });
  const appendThread =
    path === ':memory:' || options.appendThread === false
      ? undefined
      : createAppendThread({
          path,
          busyTimeoutMs,
          pragmas: [
            `PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`,
            // The checkpoint thread copies the WAL; a commit never does (checkpointer.ts).
            'PRAGMA wal_autocheckpoint = 0',
            ...TUNING,
          ],
          sql: {
            insertEvent: STATEMENTS.insertEvent,
            findByDedupeKey: STATEMENTS.findByDedupeKey,
            insertOutbox: STATEMENTS.insertOutbox,
            markPublished: STATEMENTS.markPublished,
          },
          dedupeKeyParam: DEDUPE_KEY_PARAM,
          receivedAtParam: RECEIVED_AT_PARAM,
          idleMs: options.appendThreadIdleMs,
        });
  let closed = false;
  let statements: Record<StatementName, StatementSync> | undefined;
  const listStatements = new Map<string, StatementSync>();

  /** Runs `fn` synchronously, mapping every failure to a JunctionError. */
  function run<T>(operation: string, fn: () => T): Promise<T> {
    if (closed) return Promise.reject(closedError());
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(mapError(error, operation));
    }
  }

  /**
   * Runs `fn` inside BEGIN IMMEDIATE … COMMIT; any failure rolls the whole call back.
   *
   * BEGIN never waits inside SQLite: while another connection holds the write lock (the checkpoint
   * thread's RESTART, another process), SQLite's busy handler would put the whole event loop to
   * sleep in steps of 1, 2, 5, 10 ms… So the write waits on a timer instead, trying again every
   * millisecond for up to `busyTimeoutMs`, and later writes queue behind it in call order.
   */
  function write<T>(operation: string, fn: () => T): Promise<T> {
    if (closed) return Promise.reject(closedError());
    if (lockWaiters.length === 0 && elsewhere === 0) {
      try {
        const attempt = tryWrite(fn);
        if (attempt !== BUSY) return Promise.resolve(attempt);
      } catch (error) {
        return Promise.reject(mapError(error, operation));
      }
    }
    return new Promise<T>((resolve, reject) => {
      lockWaiters.push({ operation, fn, resolve, reject, deadline: performance.now() + busyTimeoutMs });
      if (lockWaiters.length === 1 && elsewhere === 0) scheduleLockRetry();
    });
  }

  /**
   * A write that runs on the append thread: `start` posts it and settles when it has committed or
   * rolled back. It takes its turn in the same queue as the writes on the event loop, and none of
   * those starts while it runs, so the two connections never wait for each other's lock. Writes on
   * the thread that follow each other in the queue are handed over together: the thread commits
   * them in order while the event loop goes on.
   */
  function writeElsewhere<T>(operation: string, start: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(closedError());
    return new Promise<T>((resolve, reject) => {
      lockWaiters.push({ operation, elsewhere: start, resolve, reject });
      if (lockWaiters.length === 1) retryLockWaiters();
    });
  }

  /**
   * A write of `rows` rows that runs on the append thread when there is one, else `here` on the
   * event loop. If the thread fails while the write waits for its turn, `here` runs in that turn
   * instead. A write of fewer than `THREAD_MIN_ROWS` rows while the thread has nothing in flight
   * runs here too: a lone event commits sooner without the hand-over, and this connection keeps
   * its page cache for the writes that follow it (the run and its job), which it drops after every
   * commit of the other connection.
   */
  function writeOnThread<T>(
    operation: string,
    rows: number,
    onThread: (thread: AppendThread) => Promise<T>,
    here: () => T,
  ): Promise<T> {
    const thread = appendThread;
    if (thread?.available() !== true || (rows < THREAD_MIN_ROWS && elsewhere === 0)) {
      return write(operation, here);
    }
    return writeElsewhere(operation, async () => {
      if (thread.available()) {
        const result = await onThread(thread);
        checkpointer?.wrote();
        return result;
      }
      const attempt = tryWrite(here);
      if (attempt !== BUSY) return attempt;
      throw new JunctionError(
        'STORE_UNAVAILABLE',
        `sqlite store is busy during ${operation}: another connection holds the write lock; try again`,
      );
    });
  }

  /** A write of the event loop's own (`fn`, given up at `deadline`) or one for the append thread. */
  type LockWaiter = {
    readonly operation: string;
    readonly resolve: (value: never) => void;
    readonly reject: (error: unknown) => void;
  } & (
    { readonly fn: () => unknown; readonly deadline: number } | { readonly elsewhere: () => Promise<unknown> }
  );
  /**
   * Writes waiting for their turn, in call order: behind a write on the append thread, or because
   * another connection held the write lock.
   */
  const lockWaiters: LockWaiter[] = [];
  let lockWaitersDone: (() => void) | undefined;
  /** Writes on the append thread in flight. */
  let elsewhere = 0;

  function scheduleLockRetry(): void {
    setTimeout(retryLockWaiters, LOCK_RETRY_MS);
  }

  function retryLockWaiters(): void {
    while (lockWaiters.length > 0) {
      const waiter = lockWaiters[0]!;
      if ('elsewhere' in waiter) {
        lockWaiters.shift();
        elsewhere += 1;
        const settle = (): void => {
          elsewhere -= 1;
          if (elsewhere === 0) retryLockWaiters();
        };
        waiter.elsewhere().then(
          (value) => {
            waiter.resolve(value as never);
            settle();
          },
          (error: unknown) => {
            waiter.reject(mapError(error, waiter.operation));
            settle();
          },
        );
        continue;
      }
      if (elsewhere > 0) return;
      try {
        const attempt = tryWrite(waiter.fn);
        if (attempt === BUSY) {
          if (performance.now() < waiter.deadline) {
            scheduleLockRetry();
            return;
          }
          lockWaiters.shift();
          waiter.reject(
            new JunctionError(
              'STORE_UNAVAILABLE',
              `sqlite store is busy during ${waiter.operation}: another connection held the write lock for over ${String(busyTimeoutMs)} ms`,
            ),
          );
          continue;
        }
        lockWaiters.shift();
        waiter.resolve(attempt as never);
      } catch (error) {
        lockWaiters.shift();
        waiter.reject(mapError(error, waiter.operation));
      }
    }
    if (lockWaiters.length === 0 && elsewhere === 0) lockWaitersDone?.();
  }

  /** One attempt: BUSY when another connection holds the write lock, else `fn`'s result. */
  function tryWrite<T>(fn: () => T): T | typeof BUSY {
    if (!begin()) return BUSY;
    let result: T;
    try {
      if (checkpointer !== undefined) changesSeen ??= totalChanges();
      result = fn();
      db.exec('COMMIT');
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      // A rolled-back statement still counts in total_changes(): start over from the next write.
      changesSeen = undefined;
      throw error;
    }
    noteCommitted();
    return result;
  }

  const restoreBusyTimeout = `PRAGMA busy_timeout = ${String(busyTimeoutMs)}`;
  /**
   * BEGIN IMMEDIATE without SQLite's busy handler; false when another connection writes. (A
   * `busy_timeout` PRAGMA takes effect when it is compiled, so a prepared one cannot be reused.)
   */
  function begin(): boolean {
    db.exec('PRAGMA busy_timeout = 0');
    try {
      db.exec('BEGIN IMMEDIATE');
      return true;
    } catch (error) {
      if (primaryCode(error) === SQLITE_BUSY) return false;
      throw error;
    } finally {
      db.exec(restoreBusyTimeout);
    }
  }

  // Rows changed by this connection since it opened (total_changes()), as of the last commit. A
  // write that changed none (a claim that found no job) leaves nothing in the WAL and must not
  // start or keep the checkpoint thread. Read once per commit; the first write reads it before too.
  let totalChangesStatement: StatementSync | undefined;
  let changesSeen: number | undefined;
  function totalChanges(): number {
    totalChangesStatement ??= db.prepare('SELECT total_changes() AS n');
    return Number(totalChangesStatement.get()?.['n'] ?? 0);
  }

  /** After a commit: wakes the checkpoint thread if rows changed. Never fails the committed write. */
  function noteCommitted(): void {
    if (checkpointer === undefined) return;
    let now: number | undefined;
    try {
      now = totalChanges();
    } catch {
      // Unknown: assume it changed, so the WAL is checkpointed.
    }
    if (now !== undefined && now === changesSeen) return;
    changesSeen = now;
    checkpointer.wrote();
  }

  /** Inserts `appendEvents`' rows on this connection; runs inside a write transaction. */
  function insertRows(events: readonly NewEvent[], rows: SQLInputValue[][], topic: string): AppendResult[] {
    const insertEvent = stmt('insertEvent');
    const insertOutbox = stmt('insertOutbox');
    const findByDedupeKey = stmt('findByDedupeKey');
    return rows.map((params, i) => {
      const inserted = insertEvent.run(...params);
      if (inserted.changes === 0) {
        const existing = findByDedupeKey.get(params[DEDUPE_KEY_PARAM]!);
        return appendResult(events[i]!, params, topic, text(existing, 'id'));
      }
      const outbox = insertOutbox.run(params[0]!, topic, params[RECEIVED_AT_PARAM]!);
      const seqs = [Number(inserted.lastInsertRowid), Number(outbox.lastInsertRowid)] as const;
      return appendResult(events[i]!, params, topic, seqs);
    });
  }

  function stmt(name: StatementName): StatementSync {
    statements ??= prepareAll(db);
    return statements[name];
  }

  function listStatement(filter: EventFilter, hasCursor: boolean, order: 'asc' | 'desc'): StatementSync {
    const clauses: string[] = [];
    if (filter.type !== undefined) clauses.push('e.type = ?');
    if (filter.source !== undefined) clauses.push('e.source = ?');
    if (filter.receiver !== undefined) clauses.push('e.receiver = ?');
    if (filter.since !== undefined) clauses.push('e.received_at >= ?');
    if (filter.until !== undefined) clauses.push('e.received_at < ?');
    if (filter.afterSeq !== undefined) clauses.push('e.seq > ?');
    if (hasCursor) clauses.push(order === 'desc' ? 'e.seq < ?' : 'e.seq > ?');
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    return cached(
      `SELECT ${EVENT_COLUMNS} FROM events e ${where} ORDER BY e.seq ${order.toUpperCase()} LIMIT ?`,
    );
  }

  function cached(sql: string): StatementSync {
    let statement = listStatements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      listStatements.set(sql, statement);
    }
    return statement;
  }

  function pragma(name: string): SQLOutputValue {
    const row = db.prepare(`PRAGMA ${name}`).get();
    return row === undefined ? null : (Object.values(row)[0] ?? null);
  }

  return {
    kind: 'sqlite',
    path,
    ...runStateMethods({ run, write, cached }),
    ...linkMethods({ run, cached, toStoredEvent, eventColumns: EVENT_COLUMNS }),
    ...deploymentMethods({ run, write, cached }),
    ...deadLetterMethods({ run, write, cached }, deadLetterCap),

    settings: () =>
      run('settings', () => ({
        journalMode: String(pragma('journal_mode')),
        synchronous: Number(pragma('synchronous')),
        foreignKeys: Number(pragma('foreign_keys')) === 1,
        busyTimeoutMs: Number(pragma('busy_timeout')),
      })),

    isCheckpointing: () => checkpointer?.isRunning() ?? false,

    isAppendThreadRunning: () => appendThread?.isRunning() ?? false,

    appendsOffEventLoop: () => appendThread?.available() ?? false,

    migrate: () =>
      run('migrate', () => {
        applyMigrations(db);
      }),

    schemaVersion: () => run('schemaVersion', () => currentVersion(db)),

    ping: () =>
      run('ping', () => {
        stmt('ping').get();
      }),

    close() {
      if (!closed) {
        closed = true;
        // Writes accepted before close() still run (each waits at most busyTimeoutMs for the lock).
        const drained =
          lockWaiters.length === 0 && elsewhere === 0
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                lockWaitersDone = resolve;
              });
        // Closing the last connection checkpoints the WAL into the database file.
        return drained
          .then(() => appendThread?.close())
          .then(() => checkpointer?.close())
          .then(() => db.close());
      }
      return Promise.resolve();
    },

    appendEvents(events, topic) {
      if (events.length === 0) return run('appendEvents', () => []);
      let rows: SQLInputValue[][];
      try {
        const receivedAt = nowIso();
        rows = events.map((entry) =>
          eventParams(uuidv7(), entry.dedupeKey ?? dedupeKeyOf(entry.event), receivedAt, entry),
        );
      } catch (error) {
        return Promise.reject(mapError(error, 'appendEvents'));
      }
      return writeOnThread(
        'appendEvents',
        rows.length,
        async (thread) => {
          const outcomes = await thread.append(rows, topic);
          return outcomes.map((outcome, i) => appendResult(events[i]!, rows[i]!, topic, outcome));
        },
        () => insertRows(events, rows, topic),
      );
    },

    getEvent: (id) =>
      run('getEvent', () => {
        const row = stmt('getEvent').get(id);
        return row === undefined ? undefined : toStoredEvent(row);
      }),

    listEvents: (filter, page) =>
      run('listEvents', () => {
        const limit = checkLimit(page.limit);
        const cursor = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
        const order = resolveOrder(page.order, cursor);
        const params: SQLInputValue[] = [];
        if (filter.type !== undefined) params.push(filter.type);
        if (filter.source !== undefined) params.push(filter.source);
        if (filter.receiver !== undefined) params.push(filter.receiver);
        if (filter.since !== undefined) params.push(normalizeTime(filter.since, 'since'));
        if (filter.until !== undefined) params.push(normalizeTime(filter.until, 'until'));
        if (filter.afterSeq !== undefined) params.push(filter.afterSeq);
        if (cursor !== undefined) params.push(cursor.seq);
        params.push(limit + 1);
        const rows = listStatement(filter, cursor !== undefined, order).all(...params);
        const items = rows.slice(0, limit).map(toStoredEvent);
        const last = items.at(-1);
        const next =
          rows.length > limit && last !== undefined ? encodeCursor({ seq: last.seq, order }) : null;
        return { items, next } satisfies Page<StoredEvent>;
      }),

    pendingOutbox: (limit) =>
      run('pendingOutbox', () =>
        stmt('pendingOutbox')
          .all(checkLimit(limit))
          .map((row): OutboxEntry => ({
            seq: integer(row, 'outbox_seq'),
            eventId: text(row, 'event_id'),
            topic: text(row, 'topic'),
            attempts: integer(row, 'attempts'),
            event: toStoredEvent(row),
            body: text(row, 'body'),
          })),
      ),

    markOutboxPublished(seqs) {
      if (seqs.length === 0) return run('markOutboxPublished', () => undefined);
      const at = nowIso();
      const ranges = consecutiveRuns(seqs);
      const here = (): void => {
        const update = stmt('markPublished');
        for (const [first, last] of ranges) update.run(at, first, last);
      };
      return writeOnThread(
        'markOutboxPublished',
        seqs.length,
        (thread) => thread.markPublished(at, ranges),
        here,
      );
    },

    markOutboxFailed: (seq, error) =>
      write('markOutboxFailed', () => {
        stmt('markFailed').run(error.slice(0, MAX_ERROR_LENGTH), seq);
      }),

    markOutboxDeadLettered: (seq, error, letter) =>
      write('markOutboxDeadLettered', () => {
        const id = insertDeadLetter(cached, deadLetterCap, letter);
        const changes = stmt('markOutboxDeadLettered').run(error.slice(0, MAX_ERROR_LENGTH), id, seq).changes;
        if (changes === 0) {
          throw new JunctionError(
            'API_BAD_REQUEST',
            `outbox entry ${String(seq)} is not pending; it was published or dead-lettered already`,
          );
        }
        return id;
      }),

    requeueOutbox: (deadLetterId) =>
      write('requeueOutbox', () => {
        const changes = stmt('requeueOutbox').run(deadLetterId).changes;
        if (changes > 0) {
          cached('UPDATE dead_letters SET replayed_at = ? WHERE id = ?').run(nowIso(), deadLetterId);
        }
        return changes > 0;
      }),

    outboxStats: () =>
      run('outboxStats', (): OutboxStats => {
        const row = stmt('outboxStats').get();
        const pending = integer(row, 'pending');
        const oldest = row?.['oldest'];
        if (pending === 0 || typeof oldest !== 'string') return { pending: 0, oldestAgeSeconds: 0 };
        const age = (Date.now() - Date.parse(oldest)) / 1000;
        return { pending, oldestAgeSeconds: Math.max(0, age) };
      }),

    createToken: (record) =>
      write('createToken', () => {
        try {
          stmt('createToken').run(
            record.id,
            record.name,
            JSON.stringify(record.scopes),
            record.hash,
            record.createdAt,
          );
        } catch (error) {
          if (primaryCode(error) === SQLITE_CONSTRAINT) {
            throw new JunctionError('INTERNAL', `token '${record.id}' or its hash already exists`, {
              cause: error,
            });
          }
          throw error;
        }
      }),

    findTokenByHash: (hash) =>
      run('findTokenByHash', () => {
        const row = stmt('findToken').get(hash);
        return row === undefined ? undefined : toToken(row);
      }),

    listTokens: () => run('listTokens', () => stmt('listTokens').all().map(toToken)),

    revokeToken: (id) =>
      write('revokeToken', () => {
        return stmt('revokeToken').run(nowIso(), id).changes > 0;
      }),

    touchToken: (id, at) =>
      write('touchToken', () => {
        stmt('touchToken').run(at, id);
      }),

    hasTokens: () => run('hasTokens', () => integer(stmt('hasTokens').get(), 'found') === 1),

    recordRouting: (eventId, decisions, runs) =>
      write('recordRouting', () => {
        if (stmt('eventExists').get(eventId) === undefined) {
          throw new JunctionError('EVENT_NOT_FOUND', `no event with id '${eventId.slice(0, 80)}'`);
        }
        const at = nowIso();
        const createdRuns: string[] = [];
        const insertRun = stmt('insertRun');
        for (const r of runs) {
          const changes = insertRun.run(
            r.id,
            eventId,
            r.pipeline,
            r.triggerIndex,
            r.status,
            r.pipelineDigest,
            r.spec,
            at,
          ).changes;
          if (changes > 0) createdRuns.push(r.id);
        }
        const insertDecision = stmt('insertDecision');
        for (const d of decisions) {
          insertDecision.run(
            eventId,
            d.pipeline,
            d.triggerIndex,
            d.matched ? 1 : 0,
            d.reason,
            d.pipelineDigest,
            d.runId,
            at,
          );
        }
        return { createdRuns };
      }),

    getCheckpoint: (name) =>
      run('getCheckpoint', () => {
        const row = cached('SELECT value FROM checkpoints WHERE name = ?').get(name);
        return row === undefined ? undefined : String(row['value']);
      }),

    setCheckpoint: (name, value) =>
      write('setCheckpoint', () => {
        cached(
          'INSERT INTO checkpoints (name, value, updated_at) VALUES (?, ?, ?) ' +
            'ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        ).run(name, value, nowIso());
      }),

    getScheduleSlot: (key) =>
      run('getScheduleSlot', () => {
        const row = cached(
          'SELECT last_slot FROM schedule_slots WHERE pipeline = ? AND trigger_index = ? AND cron = ?',
        ).get(key.pipeline, key.triggerIndex, key.cron);
        return row === undefined ? undefined : text(row, 'last_slot');
      }),

    recordScheduleSlot: (key, slot) =>
      write('recordScheduleSlot', () => {
        // Normalized to UTC with milliseconds, the times compare as strings.
        const at = normalizeTime(slot, 'slot');
        cached(
          'INSERT INTO schedule_slots (pipeline, trigger_index, cron, last_slot, updated_at) VALUES (?, ?, ?, ?, ?) ' +
            'ON CONFLICT (pipeline, trigger_index, cron) DO UPDATE SET last_slot = excluded.last_slot, ' +
            'updated_at = excluded.updated_at WHERE excluded.last_slot > schedule_slots.last_slot',
        ).run(key.pipeline, key.triggerIndex, key.cron, at, nowIso());
      }),

    listDecisions: (eventId) =>
      run('listDecisions', () => stmt('listDecisions').all(eventId).map(toDecision)),

    getRun: (id) =>
      run('getRun', () => {
        const row = stmt('getRun').get(id);
        return row === undefined ? undefined : toRun(row);
      }),

    listRuns: (filter, page) =>
      run('listRuns', () => {
        const limit = checkLimit(page.limit);
        const cursor = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
        const order = resolveOrder(page.order, cursor);
        const clauses: string[] = [];
        const params: SQLInputValue[] = [];
        const add = (column: string, value: string | undefined): void => {
          if (value === undefined) return;
          clauses.push(`${column} = ?`);
          params.push(value);
        };
        add('pipeline', filter.pipeline);
        add('status', filter.status);
        add('event_id', filter.eventId);
        if (cursor !== undefined) {
          clauses.push(order === 'desc' ? 'rowid < ?' : 'rowid > ?');
          params.push(cursor.seq);
        }
        params.push(limit + 1);
        const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
        const sql = `SELECT ${RUN_COLUMNS} FROM runs ${where} ORDER BY rowid ${order.toUpperCase()} LIMIT ?`;
        const rows = cached(sql).all(...params);
        const items = rows.slice(0, limit).map(toRun);
        const lastRow = rows.length > limit ? rows[limit - 1] : undefined;
        const next = lastRow === undefined ? null : encodeCursor({ seq: integer(lastRow, 'seq'), order });
        return { items, next } satisfies Page<RunRecord>;
      }),
  };
}

function openDatabase(path: string, durability: StoreDurability, busyTimeoutMs: number): DatabaseSync {
  const inMemory = path === ':memory:';
  let db: DatabaseSync;
  try {
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
  } catch (error) {
    throw new JunctionError('STORE_UNAVAILABLE', `cannot open sqlite store '${path}': ${messageOf(error)}`, {
      cause: error,
    });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${String(Math.max(0, Math.trunc(busyTimeoutMs)))}`);
    // Takes effect only for a new, empty database; an existing file keeps its page size.
    db.exec(`PRAGMA page_size = ${String(PAGE_SIZE)}`);
    const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.['journal_mode'];
    if (!inMemory && mode !== 'wal') {
      throw new JunctionError(
        'CONFIG_INVALID',
        `sqlite store '${path}' cannot use WAL journal mode (got '${String(mode)}'); put it on a local filesystem`,
      );
    }
    db.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec('PRAGMA foreign_keys = ON');
    for (const pragma of TUNING) db.exec(pragma);
    return db;
  } catch (error) {
    db.close();
    throw mapError(error, 'open');
  }
}

function prepareAll(db: DatabaseSync): Record<StatementName, StatementSync> {
  const entries = Object.entries(STATEMENTS).map(([name, sql]) => [name, db.prepare(sql)] as const);
  return Object.fromEntries(entries) as Record<StatementName, StatementSync>;
}

/** Where `eventParams` puts the dedupe key, the received time and the body (the CloudEvent as JSON). */
const DEDUPE_KEY_PARAM = 1;
const RECEIVED_AT_PARAM = 7;
const BODY_PARAM = 10;

/** The result of one row of `appendEvents`, from its params and what the insert gave. */
function appendResult(
  entry: NewEvent,
  params: readonly SQLInputValue[],
  topic: string,
  outcome: AppendOutcome,
): AppendResult {
  const id = params[0] as string;
  if (typeof outcome === 'string') return { id: outcome, duplicate: true };
  const event: StoredEvent = {
    id,
    seq: outcome[0],
    dedupeKey: params[DEDUPE_KEY_PARAM] as string,
    receiver: entry.receiver,
    receivedAt: params[RECEIVED_AT_PARAM] as string,
    event: entry.event,
  };
  const body = params[BODY_PARAM] as string;
  return { id, duplicate: false, outbox: { seq: outcome[1], eventId: id, topic, attempts: 0, event, body } };
}

/**
 * The seqs as [first, last] runs of consecutive numbers, in the order given; a run only ever
 * covers seqs that are in the list, so one range update marks exactly those entries.
 */
export function consecutiveRuns(seqs: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const seq of seqs) {
    const last = runs.at(-1);
    if (last !== undefined && seq === last[1] + 1) last[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}

function eventParams(id: string, dedupeKey: string, receivedAt: string, entry: NewEvent): SQLInputValue[] {
  const { event } = entry;
  return [
    id,
    dedupeKey,
    entry.receiver,
    event.type,
    event.source,
    event.subject ?? null,
    event.time ?? null,
    receivedAt,
    stringOrNull(event['causationid']),
    stringOrNull(event['correlationid']),
    eventJson(event, entry.dataJson),
    entry.replayOf ?? null,
  ];
}

function toStoredEvent(row: Row): StoredEvent {
  return {
    id: text(row, 'id'),
    seq: integer(row, 'seq'),
    dedupeKey: text(row, 'dedupe_key'),
    receiver: text(row, 'receiver'),
    receivedAt: text(row, 'received_at'),
    event: JSON.parse(text(row, 'body')) as CloudEvent,
  };
}

function toToken(row: Row): ApiTokenRecord {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    scopes: JSON.parse(text(row, 'scopes')) as TokenScope[],
    hash: text(row, 'hash'),
    createdAt: text(row, 'created_at'),
    lastUsedAt: optionalText(row, 'last_used_at'),
    revokedAt: optionalText(row, 'revoked_at'),
  };
}

function toDecision(row: Row): DecisionRecord {
  return {
    eventId: text(row, 'event_id'),
    pipeline: text(row, 'pipeline'),
    triggerIndex: integer(row, 'trigger_index'),
    matched: integer(row, 'matched') === 1,
    reason: optionalText(row, 'reason') ?? '',
    pipelineDigest: optionalText(row, 'pipeline_digest'),
    runId: optionalText(row, 'run_id'),
    decidedAt: text(row, 'created_at'),
  };
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function closedError(): JunctionError {
  // Not retryable: the store will not come back; the caller is shutting down.
  return new JunctionError('STORE_UNAVAILABLE', 'sqlite store is closed', { retryable: false });
}

function primaryCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { errcode?: unknown }).errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

function mapError(error: unknown, operation: string): JunctionError {
  if (isJunctionError(error)) return error;
  const code = primaryCode(error);
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
    return new JunctionError(
      'STORE_UNAVAILABLE',
      `sqlite store is busy during ${operation}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
  if (code === SQLITE_FULL || code === SQLITE_IOERR || code === SQLITE_CANTOPEN) {
    return new JunctionError(
      'STORE_UNAVAILABLE',
      `sqlite store cannot write during ${operation}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
  return new JunctionError('INTERNAL', `sqlite store ${operation} failed: ${messageOf(error)}`, {
    cause: error,
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
