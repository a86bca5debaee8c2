/**
 * A job's log: masks every line with the job's secrets, then writes lines to the store in small
 * batches (every `flushEveryMs`, or sooner when `maxBatch` lines are waiting), so a step printing
 * thousands of lines costs a few transactions, not thousands.
 *
 * What callers may assume: lines are stored in the order `write` was called; a line never
 * reaches the store (or `onLine`) unmasked; `flush()` resolves once everything written before it
 * is stored; a failing store write is retried at the next flush and, after `maxPending` lines are
 * waiting, the oldest are dropped with one marker line saying how many (a log never grows memory
 * without bound). `close()` flushes and stops the timer.
 */
import type { Logger } from '../observability/index.ts';
import type { LogStream, NewLogLine, Store } from '../store/index.ts';
import { errorMessage } from '../errors/index.ts';

export interface Masker {
  mask(text: string): string;
}

export interface LogWriterOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly runId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly masker: Masker;
  /** Called with each masked line as it is written (live progress). */
  readonly onLine?: (line: NewLogLine) => void;
  readonly flushEveryMs?: number;
  readonly maxBatch?: number;
  readonly maxPending?: number;
}

export interface LogWriter {
  write(stepId: string | null, stream: LogStream, text: string, ts?: string): void;
  /** A line of Junction's own (step started, retrying, timed out), stream `system`. */
  system(stepId: string | null, text: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createLogWriter(options: LogWriterOptions): LogWriter {
  const { store, logger, runId, jobId, attempt, masker } = options;
  const flushEveryMs = options.flushEveryMs ?? 50;
  const maxBatch = options.maxBatch ?? 500;
  const maxPending = options.maxPending ?? 50_000;
  let pending: NewLogLine[] = [];
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  async function writeBatch(): Promise<void> {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    try {
      await store.appendLogs(runId, jobId, batch);
    } catch (error) {
      logger.warn({ runId, jobId, err: errorMessage(error) }, 'worker: storing log lines failed; retrying');
      pending = [...batch, ...pending];
      if (pending.length > maxPending) {
        const excess = pending.length - maxPending;
        dropped += excess;
        pending = pending.slice(excess);
      }
    }
  }

  function schedule(): void {
    if (pending.length >= maxBatch) {
      void flush();
      return;
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      void flush();
    }, flushEveryMs);
  }

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      if (dropped > 0) {
        const count = dropped;
        dropped = 0;
        pending.unshift({
          stepId: null,
          attempt,
          stream: 'system',
          ts: new Date().toISOString(),
          text: `[junction] ${count} log lines were dropped because the store could not keep up`,
        });
      }
      await writeBatch();
    });
    return writing;
  }

  function write(
    stepId: string | null,
    stream: LogStream,
    text: string,
    ts = new Date().toISOString(),
  ): void {
    const line: NewLogLine = { stepId, attempt, stream, ts, text: masker.mask(text) };
    pending.push(line);
    options.onLine?.(line);
    schedule();
  }

  return {
    write,
    system: (stepId, text) => write(stepId, 'system', text),
    flush,
    async close() {
      await flush();
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
