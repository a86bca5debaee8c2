/**
 * Outbound HTTP with retries, for what Junction itself sends to other systems (commit statuses,
 * and `http` steps through a function the composition root hands the job runner).
 *
 * What callers may assume:
 * - A request is tried at most `maxAttempts` times. It is tried again after a network error, a
 *   timeout, or an answer of 404, 408, 409, 429 or 5xx (`isRetryableStatus`); any other answer
 *   below 200 or from 300 up ends it at once as refused; 2xx (or what `accept` accepts) ends it
 *   as delivered. Only the start of an answer's body is read.
 * - The wait before a retry is the answer's `Retry-After` (seconds or an HTTP date), capped at
 *   `maxRetryAfterMs`, when it has one; otherwise exponential backoff with full jitter: a random
 *   time from 0 to min(`maxDelayMs`, `baseDelayMs` × 2^(attempt − 1)).
 * - Every try is recorded (start time, status or null, a short error, duration). Errors and
 *   answer excerpts pass through `mask` before they are recorded, and never hold request headers,
 *   so a token sent in a header does not reach the history.
 * - `signal` aborts the try in flight and any wait; the result is then `aborted`, and the caller
 *   should hand the work back rather than give up on it.
 * - Nothing here throws for a failed delivery: the result says what happened.
 */
import type { DeliveryAttempt } from '../store/index.ts';

export interface OutboundRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Absent for a request without a body (a GET). */
  readonly body?: string;
}

export interface RetryPolicy {
  /** Tries in all, including the first. Default 5. */
  readonly maxAttempts: number;
  /** Default 500 ms. */
  readonly baseDelayMs: number;
  /** Longest backoff between tries. Default 30 s. */
  readonly maxDelayMs: number;
  /** Longest wait a `Retry-After` can ask for. Default 5 min. */
  readonly maxRetryAfterMs: number;
  /** Per try, until the answer's head and body are read. Default 10 s. */
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 5 * 60_000,
  timeoutMs: 10_000,
});

export type DeliveryResult =
  | {
      readonly outcome: 'delivered';
      readonly status: number;
      readonly attempts: readonly DeliveryAttempt[];
      /** With `keepBodyBytes`: the start of the answer's body, as text. */
      readonly body?: string;
    }
  | {
      /** `refused`: an answer not worth repeating; `exhausted`: retries ran out; `aborted`: stopped. */
      readonly outcome: 'refused' | 'exhausted' | 'aborted';
      readonly status: number | null;
      readonly error: string;
      readonly attempts: readonly DeliveryAttempt[];
    };

export interface DeliverOptions {
  readonly signal?: AbortSignal;
  /** Applied to every error and answer excerpt recorded. */
  readonly mask?: (text: string) => string;
  /** For tests: a number in [0, 1). */
  readonly random?: () => number;
  /** Which answers count as delivered. Default: any 2xx. Others are retried or refused as above. */
  readonly accept?: (status: number) => boolean;
  /** Keep this many bytes of the delivered answer's body in the result. Default 0. */
  readonly keepBodyBytes?: number;
  /**
   * Called after every try with what was recorded, its number (1-based), and the wait before the
   * next try (undefined when none follows).
   */
  readonly onAttempt?: (attempt: DeliveryAttempt, number: number, nextWaitMs: number | undefined) => void;
}

/** Longest excerpt of an answer kept in an attempt's error. */
const MAX_EXCERPT = 200;

export function isRetryableStatus(status: number): boolean {
  return status === 404 || status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * Milliseconds a `Retry-After` value asks to wait (delta seconds or an HTTP date), or undefined
 * when it is absent or unreadable. A date in the past means 0.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Full-jitter backoff before try `attempt + 1`, after `attempt` (1-based) failed. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A short, header-free description of a failed fetch. */
function describeFetchError(error: unknown, timedOut: boolean): string {
  if (timedOut) return 'no answer within the timeout';
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return `network error ${cause.code}`;
  if (typeof cause?.message === 'string') return `network error: ${cause.message.slice(0, MAX_EXCERPT)}`;
  return `network error: ${error instanceof Error ? error.message.slice(0, MAX_EXCERPT) : 'unknown'}`;
}

/** The first `limit` bytes of an answer's body as text; the rest is not read. */
async function readStart(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const read = (await reader.read()) as { done: boolean; value?: Uint8Array };
      if (read.done || read.value === undefined) break;
      chunks.push(read.value);
      size += read.value.byteLength;
    }
  } catch {
    // A body cut short keeps what arrived.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks);
  return new TextDecoder().decode(bytes.subarray(0, Math.min(limit, bytes.byteLength)));
}

function excerptOf(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, MAX_EXCERPT);
}

/**
 * Sends `request`, retrying by `policy` (what it leaves out is `DEFAULT_RETRY_POLICY`'s); see the
 * module comment for the guarantees.
 */
export async function deliver(
  request: OutboundRequest,
  partialPolicy: Partial<RetryPolicy> = {},
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...partialPolicy };
  const mask = options.mask ?? ((text: string) => text);
  const random = options.random ?? Math.random;
  const accept = options.accept ?? ((status: number) => status >= 200 && status < 300);
  const keep = Math.max(0, Math.floor(options.keepBodyBytes ?? 0));
  const report = (number: number, nextWaitMs: number | undefined): void =>
    options.onAttempt?.(attempts[attempts.length - 1]!, number, nextWaitMs);
  const { signal } = options;
  const isAborted = (): boolean => signal?.aborted === true;
  const attempts: DeliveryAttempt[] = [];
  let lastStatus: number | null = null;
  let lastError = '';
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    if (isAborted()) break;
    const started = Date.now();
    const at = new Date(started).toISOString();
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    let retryAfter: number | undefined;
    let retryable: boolean;
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: combined,
        redirect: 'manual',
      });
      const text = await readStart(response, Math.max(keep, MAX_EXCERPT * 4));
      const excerpt = excerptOf(text);
      const durationMs = Date.now() - started;
      lastStatus = response.status;
      if (accept(response.status)) {
        attempts.push({ at, status: response.status, error: null, durationMs });
        report(attempt, undefined);
        return {
          outcome: 'delivered',
          status: response.status,
          attempts,
          ...(keep === 0 ? {} : { body: text.slice(0, keep) }),
        };
      }
      lastError = mask(
        `answered ${String(response.status)}${excerpt === '' ? '' : `: ${excerpt}`}`.slice(
          0,
          MAX_EXCERPT + 20,
        ),
      );
      attempts.push({ at, status: response.status, error: lastError, durationMs });
      retryable = isRetryableStatus(response.status);
      retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    } catch (error) {
      if (isAborted()) {
        attempts.push({ at, status: null, error: 'stopped', durationMs: Date.now() - started });
        report(attempt, undefined);
        break;
      }
      lastStatus = null;
      lastError = mask(describeFetchError(error, timeout.aborted));
      attempts.push({ at, status: null, error: lastError, durationMs: Date.now() - started });
      retryable = true;
    }
    if (!retryable || attempt === maxAttempts) report(attempt, undefined);
    if (!retryable) return { outcome: 'refused', status: lastStatus, error: lastError, attempts };
    if (attempt === maxAttempts) break;
    const wait =
      retryAfter === undefined
        ? backoffMs(attempt, policy, random)
        : Math.min(retryAfter, policy.maxRetryAfterMs);
    report(attempt, wait);
    await sleep(wait, signal);
  }
  if (isAborted()) {
    return { outcome: 'aborted', status: lastStatus, error: 'stopped before delivery', attempts };
  }
  return { outcome: 'exhausted', status: lastStatus, error: lastError, attempts };
}
