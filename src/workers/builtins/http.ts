/**
 * The `http` built-in action: sends one HTTP request with Junction's outbound delivery contract
 * (retries on network errors, timeouts and 404, 408, 409, 429 and 5xx, exponential backoff with
 * jitter, `Retry-After` honoured) and keeps a dead letter when it finally fails.
 *
 * What callers may assume:
 * - The request goes out through the `deliver` function given (the composition root hands in
 *   src/notifiers/delivery.ts; workers do not import notifiers). Without one the step fails.
 * - Inputs are checked before anything is sent; a bad one fails with `STEP_INPUT_INVALID` naming
 *   the `with` key. `url` must be http(s) without credentials in it (they belong in `headers`).
 * - Event data reaches the request only where a template puts it. In `body` a mapping or list is
 *   encoded as JSON, so values stay data; in `url` a value can steer the request, which is the
 *   pipeline author's choice to make.
 * - Every try is logged through `say` as `[junction] METHOD URL → status …`; `mask` is applied to
 *   the answer body kept in the outputs, to the history's errors and to everything in the dead
 *   letter. The dead letter keeps the header names, never their values.
 * - A final failure resolves as `failed` with a reason naming the status or error and the number
 *   of tries; only an abort (cancel, shutdown, timeout) rejects.
 */
import { errorMessage, JunctionError } from '../../errors/index.ts';
import { parseDuration, type InputValue } from '../../pipelines/index.ts';
import { HTTP_STEP_METHODS, MAX_HTTP_STEP_ATTEMPTS } from '../../pipelines/schema.ts';
import type { DeliveryAttempt, NewDeadLetter } from '../../store/index.ts';

export type HttpMethod = (typeof HTTP_STEP_METHODS)[number];

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export type HttpDeliveryResult =
  | {
      readonly outcome: 'delivered';
      readonly status: number;
      readonly attempts: readonly DeliveryAttempt[];
      readonly body?: string;
    }
  | {
      readonly outcome: 'refused' | 'exhausted' | 'aborted';
      readonly status: number | null;
      readonly error: string;
      readonly attempts: readonly DeliveryAttempt[];
    };

/** Sends a request with retries: src/notifiers/delivery.ts `deliver` with its default policy. */
export type HttpDeliver = (
  request: HttpRequest,
  policy: { readonly maxAttempts: number; readonly timeoutMs: number },
  options: {
    readonly signal: AbortSignal;
    readonly mask: (text: string) => string;
    readonly accept: (status: number) => boolean;
    readonly keepBodyBytes: number;
    readonly onAttempt: (attempt: DeliveryAttempt, number: number, nextWaitMs: number | undefined) => void;
  },
) => Promise<HttpDeliveryResult>;

/** Bytes of the answer's body kept in the `body` output. */
export const HTTP_STEP_BODY_OUTPUT_BYTES = 64 * 1024;
/** Largest request body a step may send. */
export const HTTP_STEP_MAX_REQUEST_BYTES = 1024 * 1024;
export const HTTP_STEP_DEFAULT_TIMEOUT_MS = 10_000;
export const HTTP_STEP_DEFAULT_ATTEMPTS = 5;

export interface HttpStepParams {
  /** The step's `with`, templates rendered. */
  readonly inputs: Readonly<Record<string, InputValue>>;
  readonly deliver: HttpDeliver | undefined;
  readonly signal: AbortSignal;
  readonly mask: (text: string) => string;
  /** Writes a system log line of the step. */
  readonly say: (text: string) => void;
  readonly addDeadLetter: (letter: NewDeadLetter) => Promise<string>;
  /** The stored event that started the run, for the dead letter. */
  readonly eventId: string;
}

export interface HttpStepResult {
  readonly status: 'succeeded' | 'failed';
  readonly reason: string | null;
  readonly outputs: Record<string, string>;
}

function invalid(message: string): JunctionError {
  return new JunctionError('STEP_INPUT_INVALID', message);
}

/** The request a step's `with` describes; throws `STEP_INPUT_INVALID` naming the key to fix. */
export function httpRequestOf(inputs: Readonly<Record<string, InputValue>>): {
  request: HttpRequest;
  timeoutMs: number;
  attempts: number;
  expect: readonly number[] | undefined;
} {
  const rawUrl = inputs['url'];
  if (typeof rawUrl !== 'string' || rawUrl.trim() === '') {
    throw invalid('http needs `with.url`: the http(s) URL to send the request to');
  }
  let url: URL;
  try {
    url = new URL(rawUrl.trim());
  } catch {
    throw invalid(`with.url '${rawUrl.slice(0, 200)}' is not a URL; write it as https://host/path`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`with.url must be an http or https URL, not ${url.protocol.slice(0, 20)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(
      'with.url must not hold credentials; send them in with.headers, e.g. authorization: Bearer ${{ secrets.TOKEN }}',
    );
  }
  const method = inputs['method'] ?? 'POST';
  if (
    typeof method !== 'string' ||
    !(HTTP_STEP_METHODS as readonly string[]).includes(method.toUpperCase())
  ) {
    throw invalid(`with.method must be one of ${HTTP_STEP_METHODS.join(', ')}`);
  }
  const headers: Record<string, string> = {};
  const rawHeaders = inputs['headers'];
  if (rawHeaders !== undefined && rawHeaders !== null) {
    if (typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) {
      throw invalid('with.headers must be a mapping of header names to text');
    }
    for (const [name, value] of Object.entries(rawHeaders as Record<string, InputValue>)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw invalid(`with.headers.${name.slice(0, 100)} must be text`);
      }
      try {
        new Headers([[name, String(value)]]);
      } catch {
        // The value is not quoted: it may hold a secret.
        throw invalid(
          `with.headers.${name.slice(0, 100)} is not a valid header (a name of letters, digits and -, a value without line breaks)`,
        );
      }
      headers[name.toLowerCase()] = String(value);
    }
  }
  let body: string | undefined;
  const rawBody = inputs['body'];
  if (rawBody !== undefined) {
    body = typeof rawBody === 'string' ? rawBody : JSON.stringify(rawBody);
    if (typeof rawBody !== 'string' && headers['content-type'] === undefined) {
      headers['content-type'] = 'application/json';
    }
    if (method.toUpperCase() === 'GET') throw invalid('a GET request cannot have with.body; use POST or PUT');
    const size = Buffer.byteLength(body);
    if (size > HTTP_STEP_MAX_REQUEST_BYTES) {
      throw invalid(`with.body takes ${size} bytes; at most ${HTTP_STEP_MAX_REQUEST_BYTES} are allowed`);
    }
  }
  const rawTimeout = inputs['timeout'];
  let timeoutMs = HTTP_STEP_DEFAULT_TIMEOUT_MS;
  if (rawTimeout !== undefined) {
    const parsed = typeof rawTimeout === 'string' ? parseDuration(rawTimeout) : undefined;
    if (parsed === undefined || parsed <= 0) {
      throw invalid(`with.timeout must be a duration such as 10s or 2m`);
    }
    timeoutMs = parsed;
  }
  const attempts = inputs['attempts'] ?? HTTP_STEP_DEFAULT_ATTEMPTS;
  if (
    typeof attempts !== 'number' ||
    !Number.isInteger(attempts) ||
    attempts < 1 ||
    attempts > MAX_HTTP_STEP_ATTEMPTS
  ) {
    throw invalid(`with.attempts must be a whole number from 1 to ${MAX_HTTP_STEP_ATTEMPTS}`);
  }
  const rawExpect = inputs['expect'];
  let expect: number[] | undefined;
  if (rawExpect !== undefined) {
    if (
      !Array.isArray(rawExpect) ||
      rawExpect.length === 0 ||
      !rawExpect.every((s) => typeof s === 'number' && Number.isInteger(s) && s >= 100 && s <= 599)
    ) {
      throw invalid('with.expect must be a list of status codes from 100 to 599');
    }
    expect = rawExpect as number[];
  }
  url.hash = '';
  return {
    request: {
      method: method.toUpperCase() as HttpMethod,
      url: url.toString(),
      headers,
      ...(body === undefined ? {} : { body }),
    },
    timeoutMs,
    attempts,
    expect,
  };
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** Sends the request a step describes; see the module comment. */
export async function httpStep(params: HttpStepParams): Promise<HttpStepResult> {
  const { request, timeoutMs, attempts, expect } = httpRequestOf(params.inputs);
  if (params.deliver === undefined) {
    throw new JunctionError('INTERNAL', 'http steps are not available in this process');
  }
  const { mask, say } = params;
  const target = `${request.method} ${request.url}`;
  const result = await params.deliver(
    request,
    { maxAttempts: attempts, timeoutMs },
    {
      signal: params.signal,
      mask,
      accept:
        expect === undefined
          ? (status) => status >= 200 && status < 300
          : (status) => expect.includes(status),
      keepBodyBytes: HTTP_STEP_BODY_OUTPUT_BYTES,
      onAttempt: (attempt, number, nextWaitMs) => {
        const answer = attempt.status === null ? (attempt.error ?? 'no answer') : String(attempt.status);
        const next = nextWaitMs === undefined ? '' : `, retrying in ${duration(nextWaitMs)}`;
        say(`[junction] ${target} → ${answer}${next} (attempt ${number}/${attempts})`);
      },
    },
  );
  const tries = String(result.attempts.length);
  if (result.outcome === 'delivered') {
    return {
      status: 'succeeded',
      reason: null,
      outputs: { status: String(result.status), body: mask(result.body ?? ''), attempts: tries },
    };
  }
  if (result.outcome === 'aborted') throw new Error(`${target} was stopped`);
  const what = result.status === null ? result.error : `answered ${result.status}`;
  const reason = mask(
    `${target} ${what} after ${tries} attempt${tries === '1' ? '' : 's'}${result.outcome === 'refused' ? ' (not retried: the answer is final)' : ''}`,
  );
  try {
    const id = await params.addDeadLetter({
      kind: 'delivery',
      code: 'HTTP_STEP_FAILED',
      reason,
      attempts: result.attempts.length,
      payload: request.body === undefined ? null : mask(request.body),
      contentType: request.headers['content-type'] ?? null,
      headers: Object.fromEntries(Object.keys(request.headers).map((name) => [name, '(not kept)'])),
      destination: mask(request.url),
      eventId: params.eventId,
      history: result.attempts,
    });
    say(`[junction] kept as dead letter ${id}`);
  } catch (error) {
    say(`[junction] could not keep a dead letter: ${errorMessage(error)}`);
  }
  return {
    status: 'failed',
    reason,
    outputs: { status: result.status === null ? '' : String(result.status), attempts: tries },
  };
}
