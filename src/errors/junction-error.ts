/**
 * The one error type Junction raises on purpose. Every instance carries a stable `code` from the
 * catalogue in `codes.ts` (documented in docs/errors.md), whether retrying can help, and the HTTP
 * status it maps to when it reaches a client. Messages are short, lowercase, quote the offending
 * value and never contain a secret or a whole payload.
 */
import { ERROR_CODES, type ErrorCode } from './codes.ts';

export interface JunctionErrorOptions {
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Overrides the catalogue's default. */
  readonly retryable?: boolean;
  /** Overrides the catalogue's default. */
  readonly httpStatus?: number;
}

export class JunctionError extends Error {
  override readonly name = 'JunctionError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly httpStatus: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: JunctionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = ERROR_CODES[code];
    this.code = code;
    this.retryable = options.retryable ?? entry.retryable;
    this.httpStatus = options.httpStatus ?? entry.httpStatus;
    this.details = options.details;
  }
}

export function isJunctionError(value: unknown, code?: ErrorCode): value is JunctionError {
  return value instanceof JunctionError && (code === undefined || value.code === code);
}

/** The message of any thrown value, for logs; never the stack. */
export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
