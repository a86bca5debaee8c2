/**
 * Dead letters over the API: what could not be taken in, routed or delivered.
 *
 * - `GET /api/v1/dead-letters?kind=&receiver=&limit=&cursor=` (read): oldest first, without the
 *   payload (its size instead); `next` is the cursor of the next page or null.
 * - `GET /api/v1/dead-letters/:id` (read): one dead letter with its payload as base64, and as
 *   text when it is UTF-8 (`payloadText`, cut at 64 KiB).
 * - `POST /api/v1/dead-letters/:id/replay` (operate): takes it in again. An `intake` dead letter
 *   goes through the same path as when it arrived, without the authentication it passed then:
 *   the CloudEvents binding for receiver `events`, the source's mapping otherwise, then intake
 *   (schema checks included). Each resulting event carries the extension `deadletter: <id>`. A
 *   `routing` dead letter routes its stored event again with the pipelines loaded now. On success
 *   the dead letter is marked replayed and kept; on failure it stays as it was and the answer is
 *   the error the replay met. An `outbox` dead letter makes its outbox entry pending again with
 *   its attempts reset (202, `requeued` names the event); the relay publishes it at its next round.
 *   It can be replayed once: afterwards, or when its event was deleted, the answer is 409
 *   `DEAD_LETTER_NOT_REPLAYABLE`. `delivery` dead letters are not replayed here.
 * - `DELETE /api/v1/dead-letters/:id` (operate): drops it; 204.
 *
 * An unknown id is 404 `DEAD_LETTER_NOT_FOUND`.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import { parseHttpEvents, type CloudEvent } from '../../events/index.ts';
import type { DeadLetterFilter, DeadLetterKind, DeadLetterRecord } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';
import { MAX_LIMIT, single, type Query } from './query.ts';

const KINDS: readonly DeadLetterKind[] = ['intake', 'routing', 'delivery', 'outbox'];
/** The longest `payloadText` answered; the base64 payload is always whole. */
const MAX_TEXT_PREVIEW = 65_536;

export interface DeadLetterItem {
  readonly id: string;
  readonly kind: DeadLetterKind;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly receiver: string | null;
  readonly destination: string | null;
  readonly eventId: string | null;
  readonly contentType: string | null;
  readonly payloadBytes: number;
  readonly createdAt: string;
  readonly replayedAt: string | null;
  readonly replayEventId: string | null;
}

export function toDeadLetterItem(letter: DeadLetterRecord): DeadLetterItem {
  return {
    id: letter.id,
    kind: letter.kind,
    code: letter.code,
    reason: letter.reason,
    attempts: letter.attempts,
    receiver: letter.receiver,
    destination: letter.destination,
    eventId: letter.eventId,
    contentType: letter.contentType,
    payloadBytes: letter.payload?.length ?? 0,
    createdAt: letter.createdAt,
    replayedAt: letter.replayedAt,
    replayEventId: letter.replayEventId,
  };
}

function toDeadLetterDetail(letter: DeadLetterRecord): Record<string, unknown> {
  const payload = letter.payload === null ? null : Buffer.from(letter.payload);
  let text: string | null = null;
  if (payload !== null) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
      if (text.length > MAX_TEXT_PREVIEW) text = `${text.slice(0, MAX_TEXT_PREVIEW)}…`;
    } catch {
      text = null;
    }
  }
  return {
    ...toDeadLetterItem(letter),
    headers: letter.headers,
    history: letter.history,
    payloadBase64: payload === null ? null : payload.toString('base64'),
    payloadText: text,
  };
}

export function deadLetterNotFound(id: string): JunctionError {
  return new JunctionError('DEAD_LETTER_NOT_FOUND', `no dead letter with id '${id.slice(0, 80)}'`);
}

/** The list query: `kind`, `receiver`, `limit` (1–1000, default 100), `cursor`. */
export function parseDeadLetterQuery(query: Query): { filter: DeadLetterFilter; limit: number } {
  const kind = single(query, 'kind');
  if (kind !== undefined && !KINDS.includes(kind as DeadLetterKind)) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter 'kind' must be one of ${KINDS.join(', ')}, got '${kind.slice(0, 40)}'`,
    );
  }
  const limitText = single(query, 'limit');
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter 'limit' must be an integer from 1 to ${MAX_LIMIT}, got '${String(limitText).slice(0, 20)}'`,
    );
  }
  const receiver = single(query, 'receiver');
  const cursor = single(query, 'cursor');
  return {
    filter: {
      ...(kind === undefined ? {} : { kind: kind as DeadLetterKind }),
      ...(receiver === undefined ? {} : { receiver }),
      ...(cursor === undefined ? {} : { afterId: decodeDeadLetterCursor(cursor) }),
    },
    limit,
  };
}

function encodeDeadLetterCursor(id: string): string {
  return Buffer.from(JSON.stringify({ a: id }), 'utf8').toString('base64url');
}

function decodeDeadLetterCursor(cursor: string): string {
  const invalid = new JunctionError(
    'API_CURSOR_INVALID',
    `cursor '${cursor.slice(0, 64)}' was not issued by this server`,
  );
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    const after = (value as { a?: unknown } | null)?.a;
    if (typeof after === 'string' && after.length <= 64 && Object.keys(value as object).length === 1) {
      return after;
    }
  } catch {
    // falls through to the refusal below
  }
  throw invalid;
}

export function registerApiDeadLetterRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer, intake, settings } = context;
  const limits = { maxJsonDepth: settings.maxJsonDepth, maxBatchEvents: settings.maxBatchEvents };

  fastify.get('/api/v1/dead-letters', async (request) => {
    await authorizer.authorize(request, 'read');
    const { filter, limit } = parseDeadLetterQuery(request.query as Query);
    const letters = await store.listDeadLetters(filter, limit + 1);
    const items = letters.slice(0, limit);
    const last = items.at(-1);
    const next = letters.length > limit && last !== undefined ? encodeDeadLetterCursor(last.id) : null;
    return { items: items.map(toDeadLetterItem), next };
  });

  fastify.get('/api/v1/dead-letters/:id', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const letter = await store.getDeadLetter(id);
    if (letter === undefined) throw deadLetterNotFound(id);
    return toDeadLetterDetail(letter);
  });

  fastify.delete('/api/v1/dead-letters/:id', async (request, reply) => {
    await authorizer.authorize(request, 'operate');
    const { id } = request.params as { id: string };
    if (!(await store.deleteDeadLetter(id))) throw deadLetterNotFound(id);
    return reply.code(204).send();
  });

  /** Takes an `intake` dead letter in again; resolves to the stored ids. */
  async function replayIntake(letter: DeadLetterRecord): Promise<{ ids: string[]; duplicates: number }> {
    const headers: Record<string, string> = { ...letter.headers };
    const body = Buffer.from(letter.payload ?? new Uint8Array());
    const receiver = letter.receiver ?? 'events';
    const mark = (event: CloudEvent): CloudEvent => ({ ...event, deadletter: letter.id });
    let results;
    if (receiver === 'events') {
      const parsed = parseHttpEvents({ headers, body, limits });
      results = await intake.submit('events', parsed.events.map(mark));
    } else {
      const source = context.sources?.get(receiver);
      if (source === undefined) {
        throw new JunctionError(
          'SOURCE_NOT_FOUND',
          `dead letter '${letter.id}' came from source '${receiver.slice(0, 100)}', which is no longer in sources: of junction.yaml`,
        );
      }
      // Authenticated when it arrived; the credentials were not kept, so only the mapping runs.
      const receivedAt = new Date(letter.createdAt);
      const result = source.map({ headers, body, receivedAt });
      results = await intake.submit(
        source.name,
        result.events.map((m) => mark(m.event)),
        { dedupeKeys: result.events.map((m) => m.dedupeKey) },
      );
    }
    return { ids: results.map((r) => r.id), duplicates: results.filter((r) => r.duplicate).length };
  }

  fastify.post('/api/v1/dead-letters/:id/replay', async (request, reply) => {
    await authorizer.authorize(request, 'operate');
    const { id } = request.params as { id: string };
    const letter = await store.getDeadLetter(id);
    if (letter === undefined) throw deadLetterNotFound(id);
    switch (letter.kind) {
      case 'intake': {
        const { ids, duplicates } = await replayIntake(letter);
        await store.markDeadLetterReplayed(letter.id, ids[0] ?? null);
        return reply
          .code(ids.length > duplicates ? 202 : 200)
          .send({ id: letter.id, ids, duplicates, runs: [] });
      }
      case 'routing': {
        const replay = context.replay;
        if (replay === undefined) {
          throw new JunctionError('DEAD_LETTER_NOT_REPLAYABLE', 'this server does not route events');
        }
        const eventId = letter.eventId ?? '';
        const stored = await store.getEvent(eventId);
        if (stored === undefined) {
          throw new JunctionError(
            'EVENT_NOT_FOUND',
            `dead letter '${letter.id}' names event '${eventId.slice(0, 80)}', which is not stored`,
          );
        }
        const runs = await replay.route(stored);
        await store.markDeadLetterReplayed(letter.id, null);
        return reply.code(200).send({ id: letter.id, ids: [], duplicates: 0, runs });
      }
      case 'outbox': {
        if (!(await store.requeueOutbox(letter.id))) {
          throw new JunctionError(
            'DEAD_LETTER_NOT_REPLAYABLE',
            `dead letter '${letter.id}' holds no outbox entry: it was replayed already or its event was deleted; replay the event with POST /api/v1/events/:id/replay`,
          );
        }
        return reply
          .code(202)
          .send({ id: letter.id, ids: [], duplicates: 0, runs: [], requeued: letter.eventId });
      }
      case 'delivery':
        throw new JunctionError(
          'DEAD_LETTER_NOT_REPLAYABLE',
          `dead letter '${letter.id}' is an outbound delivery; re-run the run that sent it, or drop the dead letter`,
        );
    }
  });
}
