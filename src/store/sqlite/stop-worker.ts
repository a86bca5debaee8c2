/**
 * Stopping the store's worker threads (the checkpoint thread, the append thread): each takes the
 * message `'stop'`, finishes what it holds, closes its connection and exits.
 */
import type { Worker } from 'node:worker_threads';

/** How long a thread gets to finish and exit after `'stop'` before it is ended. */
export const STOP_GRACE_MS = 2000;

/**
 * Tells `worker` to stop and resolves once it has exited, or after `graceMs` when it is ended
 * instead. Never rejects: a thread that cannot be stopped cleanly is ended, and nothing waits on it.
 * The worker is ref'd meanwhile, so the process waits for its last work.
 */
export function stopWorker(worker: Worker, graceMs = STOP_GRACE_MS): Promise<void> {
  worker.ref();
  return (async () => {
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    try {
      worker.postMessage('stop');
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([exited, grace]);
    } finally {
      clearTimeout(timer);
      await worker.terminate().catch(() => undefined);
    }
  })().catch(() => undefined);
}
