/**
 * Outbound HTTP with retries, for what Junction itself sends to other systems (commit statuses).
 *
 * What callers may assume:
 * - A request is tried at most `maxAttempts` times. It is tried again after a network error, a
 *   timeout, or an answer of 404, 408, 409, 429 or 5xx (`isRetryableStatus`); any other answer
 *   below 200 or from 300 up ends it at once as refused; 2xx ends it as delivered.
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
  readonly method: 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
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
  | { readonly outcome: 'delivered'; readonly status: number; readonly attempts: readonly DeliveryAttempt[] }
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

async function readExcerpt(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text.replace(/\s+/g, ' ').trim().slice(0, MAX_EXCERPT);
  } catch {
    return '';
  }
}

/** Sends `request`, retrying by `policy`; see the module comment for the guarantees. */
export async function deliver(
  request: OutboundRequest,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const mask = options.mask ?? ((text: string) => text);
  const random = options.random ?? Math.random;
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
        body: request.body,
        signal: combined,
        redirect: 'manual',
      });
      const excerpt = await readExcerpt(response);
      const durationMs = Date.now() - started;
      lastStatus = response.status;
      if (response.status >= 200 && response.status < 300) {
        attempts.push({ at, status: response.status, error: null, durationMs });
        return { outcome: 'delivered', status: response.status, attempts };
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
        break;
      }
      lastStatus = null;
      lastError = mask(describeFetchError(error, timeout.aborted));
      attempts.push({ at, status: null, error: lastError, durationMs: Date.now() - started });
      retryable = true;
    }
    if (!retryable) return { outcome: 'refused', status: lastStatus, error: lastError, attempts };
    if (attempt === maxAttempts) break;
    const wait =
      retryAfter === undefined
        ? backoffMs(attempt, policy, random)
        : Math.min(retryAfter, policy.maxRetryAfterMs);
    await sleep(wait, signal);
  }
  if (isAborted()) {
    return { outcome: 'aborted', status: lastStatus, error: 'stopped before delivery', attempts };
  }
  return { outcome: 'exhausted', status: lastStatus, error: lastError, attempts };
}
