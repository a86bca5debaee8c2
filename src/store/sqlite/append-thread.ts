/**
 * The append thread of the embedded store: writes intake's events and their outbox entries on a
 * connection of its own, on a worker thread, so that the event loop goes on parsing and answering
 * requests while SQLite inserts the rows and commits.
 *
 * Why: on the event loop, an intake commit of 2 KB events spends most of its time inside SQLite
 * (the row, its indexes, the outbox entry), and every request waits behind it. The store's other
 * writes are small and stay on the event loop.
 *
 * What callers may assume:
 * - While it has batches in flight, no other write of the store runs (the store's write queue,
 *   sqlite-store.ts), so the two connections never wait for each other. Only the checkpoint
 *   thread or another process can hold the lock; then this thread tries again every millisecond,
 *   up to the store's busy timeout, while the event loop goes on.
 * - A batch is one transaction: every row is committed or none is, and a failure rejects with
 *   the SQLite error's message and `errcode`, for the store to map as its own.
 * - It starts with the first batch (the first one waits for it: some 10–30 ms) and stops after
 *   `idleMs` without one, so an idle Junction holds no thread (a thread costs about 12 MB).
 * - If the thread cannot start or dies, the batch in flight is rejected and `available()` turns
 *   false for good: the store then writes on the event loop as before.
 */
import type { SQLInputValue } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { stopWorker } from './stop-worker.ts';

/** Plain JavaScript evaluated in the worker, so that it loads nothing but `node:sqlite`. */
const APPEND_THREAD_SOURCE = `
const { DatabaseSync } = require('node:sqlite');
const { parentPort, workerData } = require('node:worker_threads');
const { sql, dedupeKeyParam, receivedAtParam } = workerData;
const SQLITE_BUSY = 5;
const db = new DatabaseSync(workerData.path, { enableForeignKeyConstraints: true });
for (const pragma of workerData.pragmas) db.exec(pragma);
const insertEvent = db.prepare(sql.insertEvent);
const findByDedupeKey = db.prepare(sql.findByDedupeKey);
const insertOutbox = db.prepare(sql.insertOutbox);
const markPublished = db.prepare(sql.markPublished);
// BEGIN without SQLite's busy handler, which sleeps in steps of up to 100 ms and so oversleeps a
// checkpoint's short hold on the lock: try again every millisecond until the busy timeout.
const pause = new Int32Array(new SharedArrayBuffer(4));
const begin = () => {
  const deadline = Date.now() + workerData.busyTimeoutMs;
  db.exec('PRAGMA busy_timeout = 0');
  try {
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if ((error.errcode & 0xff) !== SQLITE_BUSY || Date.now() >= deadline) throw error;
        Atomics.wait(pause, 0, 0, 1);
      }
    }
  } finally {
    db.exec('PRAGMA busy_timeout = ' + workerData.busyTimeoutMs);
  }
};
const inTransaction = (fn) => {
  begin();
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
};
// [seq, outbox seq] for a new event, the stored id for a duplicate.
const append = ({ rows, topic }) =>
  rows.map((params) => {
    const inserted = insertEvent.run(...params);
    if (inserted.changes === 0) return String(findByDedupeKey.get(params[dedupeKeyParam]).id);
    const outbox = insertOutbox.run(params[0], topic, params[receivedAtParam]);
    return [Number(inserted.lastInsertRowid), Number(outbox.lastInsertRowid)];
  });
const mark = ({ at, ranges }) => {
  for (const [first, last] of ranges) markPublished.run(at, first, last);
  return [];
};
parentPort.on('message', (message) => {
  if (message === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ outcomes: inTransaction(() => (message.ranges ? mark(message) : append(message))) });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    parentPort.postMessage({ error: { message: failure.message, errcode: failure.errcode } });
  }
});
`;

/** Per row: `[seq, outboxSeq]` for a stored event, or the stored id of the event it duplicates. */
export type AppendOutcome = readonly [seq: number, outboxSeq: number] | string;

export interface AppendThreadOptions {
  readonly path: string;
  /** PRAGMAs run on the thread's connection when it opens (synchronous, tuning). */
  readonly pragmas: readonly string[];
  /** How long a batch waits for another connection's write lock (the checkpoint thread, another process). */
  readonly busyTimeoutMs: number;
  /** The store's statements that the thread runs. */
  readonly sql: {
    readonly insertEvent: string;
    readonly findByDedupeKey: string;
    readonly insertOutbox: string;
    readonly markPublished: string;
  };
  /** Where a row's params hold the dedupe key and the received time (the outbox's created_at). */
  readonly dedupeKeyParam: number;
  readonly receivedAtParam: number;
  /** How long without a batch before the thread stops; default 30 s. */
  readonly idleMs?: number | undefined;
}

export interface AppendThread {
  /** False once the thread could not start or died: write on the event loop instead. */
  available(): boolean;
  /**
   * Inserts the rows (the store's `insertEvent` params) in one transaction. Batches are committed
   * and settled in the order they were handed over; the next may be handed over before the last
   * has settled.
   */
  append(rows: readonly (readonly SQLInputValue[])[], topic: string): Promise<AppendOutcome[]>;
  /**
   * Marks outbox entries published (the store's `markPublished` for each `[first, last]` range),
   * in one transaction, in turn with the batches.
   */
  markPublished(at: string, ranges: readonly (readonly [number, number])[]): Promise<void>;
  /** Whether a thread runs now (diagnostics and tests). */
  isRunning(): boolean;
  /** Stops the thread after the batches in flight; later batches are refused. */
  close(): Promise<void>;
}

interface InFlight {
  readonly resolve: (outcomes: AppendOutcome[]) => void;
  readonly reject: (error: unknown) => void;
}

type Reply =
  { readonly outcomes: AppendOutcome[] } | { readonly error: { message: string; errcode?: number } };

export function createAppendThread(options: AppendThreadOptions): AppendThread {
  const idleMs = options.idleMs ?? 30_000;
  let current: Worker | undefined;
  /** Batches posted and not answered yet, in the order the thread commits them. */
  const inFlight: InFlight[] = [];
  let lastSettled: Promise<void> = Promise.resolve();
  let idleTimer: NodeJS.Timeout | undefined;
  let batches = 0;
  let batchesAtLastLook = 0;
  let failed = false;
  let closed = false;
  const stopping = new Set<Promise<void>>();

  function fail(error: unknown): void {
    failed = true;
    stopIdleTimer();
    const worker = current;
    current = undefined;
    if (worker !== undefined) void worker.terminate().catch(() => undefined);
    for (const waiting of inFlight.splice(0)) waiting.reject(error);
  }

  function start(): Worker {
    const worker = new Worker(APPEND_THREAD_SOURCE, {
      eval: true,
      workerData: {
        path: options.path,
        pragmas: options.pragmas,
        busyTimeoutMs: options.busyTimeoutMs,
        sql: options.sql,
        dedupeKeyParam: options.dedupeKeyParam,
        receivedAtParam: options.receivedAtParam,
      },
      // No heap limit: a batch may hold a thousand events of up to 1 MiB each.
    });
    // Never keep an idle process alive for it; a batch in flight refs it.
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiting = inFlight.shift();
      if (inFlight.length === 0) worker.unref();
      if (waiting === undefined) return;
      if ('outcomes' in reply) waiting.resolve(reply.outcomes);
      else waiting.reject(Object.assign(new Error(reply.error.message), { errcode: reply.error.errcode }));
    });
    worker.on('error', (error) => {
      if (worker === current) fail(error);
    });
    worker.on('exit', (code) => {
      if (worker === current) fail(new Error(`the store's append thread exited (code ${String(code)})`));
    });
    batchesAtLastLook = batches;
    idleTimer = setInterval(() => {
      if (batches !== batchesAtLastLook || inFlight.length > 0) {
        batchesAtLastLook = batches;
        return;
      }
      stopIdleTimer();
      if (current !== undefined) stop(current);
      current = undefined;
    }, idleMs);
    idleTimer.unref();
    return worker;
  }

  function stopIdleTimer(): void {
    clearInterval(idleTimer);
    idleTimer = undefined;
  }

  function stop(worker: Worker): void {
    const done = stopWorker(worker);
    stopping.add(done);
    void done.finally(() => stopping.delete(done));
  }

  function post(message: object): Promise<AppendOutcome[]> {
    if (failed || closed) return Promise.reject(new Error("the store's append thread is not available"));
    batches += 1;
    const posted = new Promise<AppendOutcome[]>((resolve, reject) => {
      try {
        current ??= start();
        current.ref();
        current.postMessage(message);
        inFlight.push({ resolve, reject });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        fail(error);
      }
    });
    // Batches settle in the order they were posted, so the last one settling means all have.
    lastSettled = posted.then(
      () => undefined,
      () => undefined,
    );
    return posted;
  }

  return {
    available: () => !failed && !closed,
    append: (rows, topic) => post({ rows, topic }),
    markPublished: async (at, ranges) => {
      await post({ at, ranges });
    },
    isRunning: () => current !== undefined,
    async close() {
      closed = true;
      stopIdleTimer();
      await lastSettled;
      if (current !== undefined) stop(current);
      current = undefined;
      await Promise.all([...stopping]);
    },
  };
}
