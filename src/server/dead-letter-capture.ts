/**
 * Keeping refused deliveries as dead letters: a request that was authenticated (a source's
 * signature or token, an API token, or anonymous emit where allowed) but whose payload could not
 * be mapped or validated is stored with its raw body and its headers, credentials removed, so it
 * can be inspected and replayed. The answer to the sender does not change.
 *
 * What callers may assume:
 * - Only client errors that are about the payload are kept (400, 415, 422); refusals of identity
 *   (401, 403), size (413), unknown routes (404) and overload (503) never are, so nobody can fill
 *   the store without credentials and a sender retrying an overloaded server is not recorded.
 * - Failing to store a dead letter is logged with its code and never replaces the original error.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { errorMessage, isJunctionError } from '../errors/index.ts';
import type { Logger } from '../observability/index.ts';
import type { Store } from '../store/index.ts';

/** The statuses of payload refusals worth keeping. */
const KEPT_STATUSES = new Set([400, 415, 422]);

/** Header names that carry credentials and are never stored. */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-gitlab-token',
  'x-api-key',
]);
const CREDENTIAL_PATTERN = /signature|token|secret|password|passwd|api-?key|auth/i;

/** Whether a refusal of an authenticated request should keep the payload as a dead letter. */
export function isDeadLetterWorthy(error: unknown): boolean {
  return isJunctionError(error) && KEPT_STATUSES.has(error.httpStatus);
}

/** Single-valued request headers without any that could carry a credential. */
export function headersWithoutCredentials(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    const name = key.toLowerCase();
    if (typeof value !== 'string') continue;
    if (CREDENTIAL_HEADERS.has(name) || CREDENTIAL_PATTERN.test(name)) continue;
    kept[name] = value;
  }
  return kept;
}

export interface IntakeRefusal {
  /** `events` for POST /events, or the source's name. */
  readonly receiver: string;
  readonly body: Buffer;
  readonly headers: IncomingHttpHeaders;
  readonly error: unknown;
}

/** Stores an authenticated, refused delivery as an `intake` dead letter when it is worth keeping. */
export async function keepIntakeRefusal(store: Store, logger: Logger, refusal: IntakeRefusal): Promise<void> {
  const { error } = refusal;
  if (!isJunctionError(error) || !isDeadLetterWorthy(error)) return;
  const headers = headersWithoutCredentials(refusal.headers);
  try {
    await store.addDeadLetter({
      kind: 'intake',
      code: error.code,
      reason: error.message,
      attempts: 1,
      payload: refusal.body,
      contentType: headers['content-type'] ?? null,
      headers,
      receiver: refusal.receiver,
    });
  } catch (storeError) {
    logger.warn(
      { code: isJunctionError(storeError) ? storeError.code : 'INTERNAL', err: errorMessage(storeError) },
      `intake: cannot keep the refused delivery to '${refusal.receiver}' as a dead letter`,
    );
  }
}
