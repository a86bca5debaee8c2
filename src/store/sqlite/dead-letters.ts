/**
 * Dead letters in the SQLite store (the contract is in ../store.ts): what could not be taken in,
 * routed or delivered, kept for inspection and replay.
 *
 * What callers may assume beyond the contract: ids are UUIDv7, so ordering by id is creation
 * order; headers and the attempt history are stored as JSON text, the payload as a BLOB. At most
 * `cap` dead letters of each kind are kept: adding one beyond deletes the oldest of its kind in
 * the same transaction.
 */
import type { SQLInputValue } from 'node:sqlite';
import { uuidv7 } from '../../events/index.ts';
import { JunctionError } from '../../errors/index.ts';
import { checkLimit, nowIso } from '../paging.ts';
import {
  DEAD_LETTER_CAP,
  type DeadLetterKind,
  type DeadLetterRecord,
  type DeliveryAttempt,
  type NewDeadLetter,
  type Store,
} from '../store.ts';
import { integer, optionalText, text, type Row } from './rows.ts';
import type { StoreContext } from './run-state.ts';

type DeadLetterMethods = Pick<
  Store,
  'addDeadLetter' | 'listDeadLetters' | 'getDeadLetter' | 'deleteDeadLetter' | 'markDeadLetterReplayed'
>;

const KINDS: readonly DeadLetterKind[] = ['intake', 'routing', 'delivery', 'outbox'];

/** The longest reason kept; a longer one is cut. */
const MAX_REASON_LENGTH = 2_000;

function toDeadLetter(row: Row): DeadLetterRecord {
  const payload = row['payload'];
  const headers = optionalText(row, 'headers');
  const history = optionalText(row, 'attempt_log');
  return {
    id: text(row, 'id'),
    kind: text(row, 'kind') as DeadLetterKind,
    code: text(row, 'code'),
    reason: text(row, 'reason'),
    attempts: integer(row, 'attempts'),
    payload: payload instanceof Uint8Array ? payload : null,
    contentType: optionalText(row, 'content_type'),
    headers: headers === null ? null : (JSON.parse(headers) as Record<string, string>),
    receiver: optionalText(row, 'receiver'),
    destination: optionalText(row, 'destination'),
    eventId: optionalText(row, 'event_id'),
    history: history === null ? [] : (JSON.parse(history) as DeliveryAttempt[]),
    createdAt: text(row, 'created_at'),
    replayedAt: optionalText(row, 'replayed_at'),
    replayEventId: optionalText(row, 'replay_event_id'),
  };
}

/**
 * Adds a dead letter inside the caller's transaction and resolves to its id; keeps at most `cap`
 * of its kind. For writes that must store a dead letter together with other changes.
 */
export function insertDeadLetter(cached: StoreContext['cached'], cap: number, letter: NewDeadLetter): string {
  if (!KINDS.includes(letter.kind)) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `dead letter kind '${String(letter.kind).slice(0, 40)}' is not one of ${KINDS.join(', ')}`,
    );
  }
  if (!Number.isSafeInteger(letter.attempts) || letter.attempts < 0) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `dead letter attempts '${String(letter.attempts)}' must be a whole number from 0`,
    );
  }
  const id = uuidv7();
  const payload =
    letter.payload === undefined || letter.payload === null
      ? null
      : typeof letter.payload === 'string'
        ? Buffer.from(letter.payload, 'utf8')
        : letter.payload;
  cached(
    `INSERT INTO dead_letters
         (id, kind, reason, code, attempts, payload, content_type, headers, receiver, destination, event_id, attempt_log, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    letter.kind,
    letter.reason.slice(0, MAX_REASON_LENGTH),
    letter.code,
    letter.attempts,
    payload,
    letter.contentType ?? null,
    letter.headers === undefined || letter.headers === null ? null : JSON.stringify(letter.headers),
    letter.receiver ?? null,
    letter.destination ?? null,
    letter.eventId ?? null,
    letter.history === undefined ? null : JSON.stringify(letter.history),
    nowIso(),
  );
  // Keep at most `cap` of this kind: drop the oldest beyond it.
  const count = integer(
    cached('SELECT count(*) AS n FROM dead_letters WHERE kind = ?').get(letter.kind),
    'n',
  );
  if (count > cap) {
    cached(
      `DELETE FROM dead_letters WHERE id IN
           (SELECT id FROM dead_letters WHERE kind = ? ORDER BY created_at, id LIMIT ?)`,
    ).run(letter.kind, count - cap);
  }
  return id;
}

export function deadLetterMethods(
  ctx: Pick<StoreContext, 'run' | 'write' | 'cached'>,
  cap: number = DEAD_LETTER_CAP,
): DeadLetterMethods {
  const { run, write, cached } = ctx;
  if (!Number.isSafeInteger(cap) || cap < 1) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `dead letter cap '${String(cap)}' must be a whole number from 1`,
    );
  }
  return {
    addDeadLetter: (letter) =>
      write('addDeadLetter', () => {
        return insertDeadLetter(cached, cap, letter);
      }),

    listDeadLetters: (filter, limit) =>
      run('listDeadLetters', () => {
        const clauses: string[] = [];
        const params: SQLInputValue[] = [];
        if (filter.kind !== undefined) {
          clauses.push('kind = ?');
          params.push(filter.kind);
        }
        if (filter.eventId !== undefined) {
          clauses.push('event_id = ?');
          params.push(filter.eventId);
        }
        if (filter.receiver !== undefined) {
          clauses.push('receiver = ?');
          params.push(filter.receiver);
        }
        if (filter.afterId !== undefined) {
          clauses.push('id > ?');
          params.push(filter.afterId);
        }
        params.push(checkLimit(limit));
        const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
        return cached(`SELECT * FROM dead_letters ${where} ORDER BY id LIMIT ?`)
          .all(...params)
          .map(toDeadLetter);
      }),

    getDeadLetter: (id) =>
      run('getDeadLetter', () => {
        const row = cached('SELECT * FROM dead_letters WHERE id = ?').get(id);
        return row === undefined ? undefined : toDeadLetter(row);
      }),

    deleteDeadLetter: (id) =>
      write('deleteDeadLetter', () => cached('DELETE FROM dead_letters WHERE id = ?').run(id).changes > 0),

    markDeadLetterReplayed: (id, replayEventId) =>
      write(
        'markDeadLetterReplayed',
        () =>
          cached('UPDATE dead_letters SET replayed_at = ?, replay_event_id = ? WHERE id = ?').run(
            nowIso(),
            replayEventId,
            id,
          ).changes > 0,
      ),
  };
}
