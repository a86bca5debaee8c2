/**
 * The WAL checkpointer of the embedded store: copies committed WAL pages into the database file
 * off the event loop, and only while the store writes.
 *
 * Why: with SQLite's automatic checkpoints, the commit that crosses the threshold copies the WAL
 * into the database file on the event loop, and every request waiting behind it waits for all of
 * it. So the store's connection never checkpoints (`wal_autocheckpoint = 0`); a worker thread with
 * its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs` instead, which never
 * blocks writers or readers. Once every frame is copied, the next writer restarts the WAL from its
 * beginning, so the file stays bounded.
 *
 * A PASSIVE checkpoint never finishes under a steady stream of commits: by the time it has copied
 * what it saw, the store has appended more, so no writer ever finds the WAL fully copied and
 * starts it over. The WAL then grows for as long as the stream lasts (300 MB in 7 s of the intake
 * benchmark) until a pause lets a commit start it over and truncate it to `journal_size_limit`.
 * So once the WAL holds more than `restartFrames` frames, the thread runs one RESTART checkpoint:
 * it waits for the commit in progress, holds new ones back while it copies the last frames
 * (8–32 ms measured, as PASSIVE ones have copied the rest), and the next commit starts the WAL
 * over. It waits at most 50 ms for the commit in progress and for readers. A reader that stays on
 * the WAL (a backup, a replication tool such as Litestream) makes it give up, and the next RESTART
 * comes 10 s later, so such a reader costs commits at most 50 ms every 10 s.
 *
 * A worker thread is a JavaScript engine of its own and costs about 12 MB of resident memory, so
 * it runs only while there is something to copy: the first committed write starts it, and after
 * `idleMs` without a write it checkpoints once more and exits. A Junction that receives nothing
 * holds no thread; the next write starts one again (about half a millisecond on the event loop).
 *
 * What callers may assume:
 * - `wrote()` is cheap (a counter) unless it starts the thread.
 * - If a thread cannot start or fails, the connection goes back to SQLite's automatic checkpoints
 *   (every 1000 pages), so the WAL stays bounded whatever happens; it is never retried.
 * - `close()` waits for every thread's last checkpoint (at most 2 s each, then ends it) and then
 *   refuses to start another.
 */
import { Worker } from 'node:worker_threads';
import type { DatabaseSync } from 'node:sqlite';
import { stopWorker } from './stop-worker.ts';

/** Plain JavaScript evaluated in the worker, so that it loads nothing but `node:sqlite`. */
const CHECKPOINTER_SOURCE = `
const { DatabaseSync } = require('node:sqlite');
const { parentPort, workerData } = require('node:worker_threads');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA busy_timeout = 1000');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
let restartAfter = 0;
const tick = () => {
  try {
    // log: frames in the WAL. Past the limit, copy the rest and have the next commit start over.
    if (Number(checkpoint.get().log) <= workerData.restartFrames || Date.now() < restartAfter) return;
    // RESTART holds new commits back while it waits, so it waits briefly.
    db.exec('PRAGMA busy_timeout = ' + workerData.restartWaitMs);
    let busy = 1;
    try {
      busy = Number(restart.get().busy);
    } finally {
      db.exec('PRAGMA busy_timeout = 1000');
    }
    // A reader that stays on the WAL (a backup, a replication tool) keeps it from starting over;
    // commits are not held back at every tick for it.
    if (busy !== 0) restartAfter = Date.now() + workerData.restartBackoffMs;
  } catch {
    // Busy or failed: retried at the next tick.
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  tick();
  db.close();
  parentPort.close();
});
`;

/** 32 MiB of WAL at the store's 8 KiB pages. */
const DEFAULT_RESTART_FRAMES = 4096;
/** How long a RESTART checkpoint waits for the commit in progress and for readers. */
const RESTART_WAIT_MS = 50;
/** After a RESTART that readers kept from finishing, how long until the next try. */
const RESTART_BACKOFF_MS = 10_000;
/** SQLite's own default interval, for when no thread can checkpoint. */
const AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointerOptions {
  /** How often the thread checkpoints; default 100 ms. */
  readonly intervalMs?: number;
  /** WAL frames past which a checkpoint makes the next commit start the WAL over; default 4096. */
  readonly restartFrames?: number;
  /** After a RESTART checkpoint that readers kept from finishing, no other for this long; 10 s. */
  readonly restartBackoffMs?: number;
  /** How long without a write before the thread stops; default 30 s. */
  readonly idleMs?: number;
}

export interface Checkpointer {
  /** Called after each committed write. */
  wrote(): void;
  /** Whether a checkpoint thread runs now (diagnostics and tests). */
  isRunning(): boolean;
  close(): Promise<void>;
}

export function createCheckpointer(
  db: DatabaseSync,
  path: string,
  options: CheckpointerOptions = {},
): Checkpointer {
  const intervalMs = options.intervalMs ?? 100;
  const idleMs = options.idleMs ?? 30_000;
  const restartFrames = options.restartFrames ?? DEFAULT_RESTART_FRAMES;
  db.exec('PRAGMA wal_autocheckpoint = 0');
  let current: Worker | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let writes = 0;
  let writesAtLastLook = 0;
  let isFallback = false;
  let isClosed = false;
  /** Threads told to stop whose last checkpoint may still run. */
  const stopping = new Set<Promise<void>>();

  function fallBack(): void {
    if (isFallback) return;
    isFallback = true;
    stopIdleTimer();
    current = undefined;
    if (!isClosed && db.isOpen) db.exec(`PRAGMA wal_autocheckpoint = ${String(AUTOCHECKPOINT_PAGES)}`);
  }

  function stopIdleTimer(): void {
    clearInterval(idleTimer);
    idleTimer = undefined;
  }

  function start(): void {
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINTER_SOURCE, {
        eval: true,
        workerData: {
          path,
          intervalMs,
          restartFrames,
          restartWaitMs: RESTART_WAIT_MS,
          restartBackoffMs: options.restartBackoffMs ?? RESTART_BACKOFF_MS,
        },
        // A checkpointer needs next to no JavaScript heap.
        resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
      });
    } catch {
      fallBack();
      return;
    }
    // Never keep an idle process alive for it; close() refs it while it waits.
    worker.unref();
    worker.on('error', () => {
      if (worker === current) fallBack();
    });
    current = worker;
    writesAtLastLook = writes;
    idleTimer = setInterval(() => {
      if (writes !== writesAtLastLook) {
        writesAtLastLook = writes;
        return;
      }
      stopIdleTimer();
      stop(worker);
      current = undefined;
    }, idleMs);
    idleTimer.unref();
  }

  function stop(worker: Worker): void {
    const done = stopWorker(worker);
    stopping.add(done);
    void done.finally(() => stopping.delete(done));
  }

  return {
    wrote() {
      writes += 1;
      if (current === undefined && !isFallback && !isClosed) start();
    },
    isRunning: () => current !== undefined,
    async close() {
      isClosed = true;
      stopIdleTimer();
      if (current !== undefined) stop(current);
      current = undefined;
      await Promise.all([...stopping]);
    },
  };
}
