/**
 * The append thread: the SQLite writes of the intake path (appending events with their outbox
 * entries, marking entries published) run in a worker thread on a connection of their own, so the
 * event loop that serves HTTP never waits for an insert or a commit. The main connection keeps
 * every other read and write.
 *
 * What callers may assume:
 * - `append` resolves once its transaction is committed: the rows are then visible to the main
 *   connection, and as durable as the store's `synchronous` setting makes any commit. A failure
 *   rolls the whole call back and rejects with an `Error` carrying SQLite's `errcode`, as
 *   `node:sqlite` throws it, for the store to map.
 * - Calls are carried out one after the other in the order they were made; each is one
 *   transaction.
 * - `stop` waits for the calls already made, then closes the connection and ends the thread.
 * - If the thread fails (it cannot open the file, or dies), the calls in flight reject with
 *   `STORE_UNAVAILABLE` (retryable: whatever they wrote was rolled back, or was committed and is
 *   then found again as a duplicate), `onFailure` is told, and later calls reject the same way.
 *
 * The thread runs plain JavaScript evaluated from a string, so it loads nothing but `node:sqlite`
 * and `node:worker_threads`; the statements come from the store, so the SQL lives in one place.
 */
import { Worker } from 'node:worker_threads';
import type { SQLInputValue } from 'node:sqlite';
import { JunctionError } from '../../errors/index.ts';

/** What one appended row became: its event seq and outbox seq, or the id of the event it duplicates. */
export type AppendedRow = readonly [eventSeq: number, outboxSeq: number] | string;

export interface AppendThreadOptions {
  readonly path: string;
  /** PRAGMAs and other setup run once on the thread's connection. */
  readonly setup: readonly string[];
  readonly sql: {
    /** Parameters as `eventParams` builds them; `ON CONFLICT (dedupe_key) DO NOTHING`. */
    readonly insertEvent: string;
    /** (event id, topic, created at). */
    readonly insertOutbox: string;
    /** (dedupe key) → `id`. */
    readonly findByDedupeKey: string;
    /** (published at, first seq, last seq). */
    readonly markPublished: string;
  };
  /** Where `eventParams` puts the event id, the dedupe key and the received time. */
  readonly columns: { readonly id: number; readonly dedupeKey: number; readonly receivedAt: number };
  /** Called once if the thread fails or exits before `stop`; every call after that rejects. */
  readonly onFailure?: (error: JunctionError) => void;
}

export interface AppendThread {
  append(rows: readonly (readonly SQLInputValue[])[], topic: string): Promise<AppendedRow[]>;
  markPublished(runs: readonly (readonly [number, number])[], at: string): Promise<void>;
  stop(): Promise<void>;
}

const SOURCE = `
const { DatabaseSync } = require('node:sqlite');
const { parentPort, workerData } = require('node:worker_threads');
const { path, setup, sql, columns } = workerData;
const db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
for (const statement of setup) db.exec(statement);
let prepared;
const statements = () => (prepared ??= {
  insertEvent: db.prepare(sql.insertEvent),
  insertOutbox: db.prepare(sql.insertOutbox),
  findByDedupeKey: db.prepare(sql.findByDedupeKey),
  markPublished: db.prepare(sql.markPublished),
});
function transaction(fn) {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
function append(rows, topic) {
  const s = statements();
  return rows.map((row) => {
    const inserted = s.insertEvent.run(...row);
    if (inserted.changes === 0) return String(s.findByDedupeKey.get(row[columns.dedupeKey]).id);
    const outbox = s.insertOutbox.run(row[columns.id], topic, row[columns.receivedAt]);
    return [Number(inserted.lastInsertRowid), Number(outbox.lastInsertRowid)];
  });
}
function markPublished(runs, at) {
  const s = statements();
  for (const [first, last] of runs) s.markPublished.run(at, first, last);
}
parentPort.on('message', (message) => {
  if (message === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const result =
      message.op === 'append'
        ? transaction(() => append(message.rows, message.topic))
        : transaction(() => markPublished(message.runs, message.at));
    parentPort.postMessage({ n: message.n, result });
  } catch (error) {
    parentPort.postMessage({
      n: message.n,
      error: { message: String(error?.message ?? error), errcode: error?.errcode, code: error?.code },
    });
  }
});
`;

interface Reply {
  readonly n: number;
  readonly result?: unknown;
  readonly error?: { readonly message: string; readonly errcode?: number; readonly code?: string };
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export function startAppendThread(options: AppendThreadOptions): AppendThread {
  const { onFailure, ...data } = options;
  // No heap limit: a batch of large events passes through this thread's heap.
  const worker = new Worker(SOURCE, { eval: true, workerData: data });
  // An idle store never holds the process open; calls in flight do (see `call`).
  worker.unref();
  const pending = new Map<number, Pending>();
  let next = 0;
  let failure: Error | undefined;
  let stopping = false;

  worker.on('message', (reply: Reply) => {
    const waiting = pending.get(reply.n);
    if (waiting === undefined) return;
    pending.delete(reply.n);
    if (pending.size === 0) worker.unref();
    if (reply.error === undefined) waiting.resolve(reply.result);
    else {
      waiting.reject(
        Object.assign(new Error(reply.error.message), {
          errcode: reply.error.errcode,
          code: reply.error.code,
        }),
      );
    }
  });
  const failAll = (reason: string, cause?: unknown): void => {
    if (failure !== undefined) return;
    const error = new JunctionError(
      'STORE_UNAVAILABLE',
      stopping ? 'sqlite store is closed' : `the sqlite append thread stopped: ${reason}`,
      { cause, retryable: !stopping },
    );
    failure = error;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
    if (!stopping) onFailure?.(error);
  };
  worker.on('error', (error: Error) => failAll(error.message, error));
  worker.on('exit', (code) => failAll(`it exited with code ${String(code)}`));

  function call<T>(message: Record<string, unknown>): Promise<T> {
    if (failure !== undefined) return Promise.reject(failure);
    const n = next++;
    return new Promise<T>((resolve, reject) => {
      pending.set(n, { resolve: resolve as (value: unknown) => void, reject });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ ...message, n });
    });
  }

  return {
    append: (rows, topic) => call<AppendedRow[]>({ op: 'append', rows, topic }),
    markPublished: (runs, at) => call<undefined>({ op: 'mark', runs, at }),
    async stop() {
      stopping = true;
      if (failure !== undefined) {
        await worker.terminate();
        return;
      }
      // Calls already posted are carried out and answered before 'stop': the port keeps order.
      worker.ref();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await exited;
    },
  };
}
