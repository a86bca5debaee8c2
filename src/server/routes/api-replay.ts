/**
 * Replaying stored events: re-injecting them as new deliveries that the router routes like any
 * other, or, with `dryRun`, asking which pipelines would run for them now and why.
 *
 * - `POST /api/v1/events/:id/replay` with an optional body `{ "dryRun": true }`.
 * - `POST /api/v1/replay` with `{ type?, source?, since?, until?, limit?, dryRun? }`: the stored
 *   events of that type and/or source received in [since, until), oldest first, at most `limit`
 *   (1–1000, default 100). `type` or `source` is required. Events that are themselves replays
 *   (they carry `replayof`) are left out, so replaying a window twice does not replay copies.
 *
 * A replay is a copy of the stored CloudEvent with a new `id` and the extension
 * `replayof: <stored id>`, stored through intake (schemas are checked again) with `replay_of`
 * set, under the original receiver. Answers 202 `{ dryRun: false, items: [{ eventId, type,
 * replayId }] }`; an event that intake refuses is answered in its item as `error: { code,
 * message }` and the others are still replayed.
 *
 * With `dryRun` nothing is stored: each item carries `decisions`, what the pipelines loaded now
 * would decide (the router's own `decideEvent`), and the answer is 200. Operate scope either way.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError, isJunctionError } from '../../errors/index.ts';
import { uuidv7, type CloudEvent, type StoredEvent } from '../../events/index.ts';
import type { EventFilter } from '../../store/index.ts';
import { decideEvent } from '../../triggers/index.ts';
import type { RouteContext } from '../context.ts';
import { MAX_LIMIT } from './query.ts';

export interface ReplayRequest {
  readonly type?: string;
  readonly source?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly dryRun: boolean;
}

export interface ReplayItem {
  readonly eventId: string;
  readonly type: string;
  readonly source: string;
  readonly replayId?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly decisions?: readonly {
    readonly pipeline: string;
    readonly triggerIndex: number;
    readonly matched: boolean;
    readonly reason: string;
  }[];
}

const BULK_FIELDS = ['type', 'source', 'since', 'until', 'limit', 'dryRun'];

function jsonObject(body: unknown, expected: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; it is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new JunctionError('API_BAD_REQUEST', expected);
  }
  return parsed as Record<string, unknown>;
}

function refuseUnknown(body: Record<string, unknown>, allowed: readonly string[], expected: string): void {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; unknown field '${unknown[0]!.slice(0, 40)}'`);
  }
}

function dryRunOf(body: Record<string, unknown>, expected: string): boolean {
  const value = body['dryRun'];
  if (value !== undefined && typeof value !== 'boolean') {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; 'dryRun' must be true or false`);
  }
  return value === true;
}

/** The body of a single replay: empty, or `{ "dryRun": true|false }`. */
export function parseSingleReplayBody(body: unknown): { dryRun: boolean } {
  const expected = 'the body must be empty or a JSON object like {"dryRun": true}';
  const parsed = jsonObject(body, expected);
  refuseUnknown(parsed, ['dryRun'], expected);
  return { dryRun: dryRunOf(parsed, expected) };
}

function time(body: Record<string, unknown>, name: string, expected: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  const millis = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(millis)) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `${expected}; '${name}' must be an ISO 8601 time like 2026-05-01T12:00:00Z, got ${JSON.stringify(value).slice(0, 64)}`,
    );
  }
  return new Date(millis).toISOString();
}

function text(body: Record<string, unknown>, name: string, expected: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > 1024) {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; '${name}' must be a non-empty string`);
  }
  return value;
}

/** The body of a bulk replay; every problem is `API_BAD_REQUEST`. */
export function parseBulkReplayBody(body: unknown): ReplayRequest {
  const expected =
    'the body must be a JSON object like {"type": "git.push", "since": "2026-05-01T00:00:00Z", "dryRun": true}';
  const parsed = jsonObject(body, expected);
  refuseUnknown(parsed, BULK_FIELDS, expected);
  const type = text(parsed, 'type', expected);
  const source = text(parsed, 'source', expected);
  if (type === undefined && source === undefined) {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; give 'type' or 'source' (or both)`);
  }
  const since = time(parsed, 'since', expected);
  const until = time(parsed, 'until', expected);
  if (since !== undefined && until !== undefined && since >= until) {
    throw new JunctionError('API_BAD_REQUEST', `'since' (${since}) must be before 'until' (${until})`);
  }
  const limitValue = parsed['limit'] ?? 100;
  if (
    typeof limitValue !== 'number' ||
    !Number.isInteger(limitValue) ||
    limitValue < 1 ||
    limitValue > MAX_LIMIT
  ) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `'limit' must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limitValue).slice(0, 20)}`,
    );
  }
  return {
    ...(type === undefined ? {} : { type }),
    ...(source === undefined ? {} : { source }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    limit: limitValue,
    dryRun: dryRunOf(parsed, expected),
  };
}

/** The copy a replay stores: a new id and the `replayof` link; everything else as stored. */
export function replayCopy(stored: StoredEvent): CloudEvent {
  return { ...stored.event, id: uuidv7(), replayof: stored.id };
}

export function registerApiReplayRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer, intake } = context;

  /** Replays (or dry-runs) one event; with `answerErrors`, a refusal goes into the item. */
  async function replayOne(stored: StoredEvent, dryRun: boolean, answerErrors: boolean): Promise<ReplayItem> {
    const base = { eventId: stored.id, type: stored.event.type, source: stored.event.source };
    if (dryRun) {
      const replay = context.replay;
      if (replay === undefined) {
        throw new JunctionError('API_NOT_FOUND', 'this server does not route events; a dry run needs it');
      }
      const decisions = decideEvent(stored, replay.pipelines()).map((d) => ({
        pipeline: d.pipeline,
        triggerIndex: d.triggerIndex,
        matched: d.matched,
        reason: d.reason,
      }));
      return { ...base, decisions };
    }
    const copy = replayCopy(stored);
    try {
      const [result] = await intake.submit(stored.receiver, [copy], {
        dedupeKeys: [`replay:${copy.id}`],
        replayOf: [stored.id],
      });
      return { ...base, replayId: result!.id };
    } catch (error) {
      if (!answerErrors || !isJunctionError(error) || error.retryable) throw error;
      return { ...base, error: { code: error.code, message: error.message } };
    }
  }

  fastify.post('/api/v1/events/:id/replay', async (request, reply) => {
    await authorizer.authorize(request, 'operate');
    const { id } = request.params as { id: string };
    const { dryRun } = parseSingleReplayBody(request.body);
    const stored = await store.getEvent(id);
    if (stored === undefined)
      throw new JunctionError('EVENT_NOT_FOUND', `no event with id '${id.slice(0, 80)}'`);
    const item = await replayOne(stored, dryRun, false);
    return reply.code(dryRun ? 200 : 202).send({ dryRun, items: [item] });
  });

  fastify.post('/api/v1/replay', async (request, reply) => {
    await authorizer.authorize(request, 'operate');
    const replay = parseBulkReplayBody(request.body);
    const filter: EventFilter = {
      ...(replay.type === undefined ? {} : { type: replay.type }),
      ...(replay.source === undefined ? {} : { source: replay.source }),
      ...(replay.since === undefined ? {} : { since: replay.since }),
      ...(replay.until === undefined ? {} : { until: replay.until }),
    };
    const chosen: StoredEvent[] = [];
    let cursor: string | undefined;
    // Pages of the log in order until `limit` originals are found (replays are skipped).
    while (chosen.length < replay.limit) {
      const page = await store.listEvents(filter, {
        limit: MAX_LIMIT,
        order: 'asc',
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const stored of page.items) {
        if (stored.event['replayof'] !== undefined) continue;
        chosen.push(stored);
        if (chosen.length >= replay.limit) break;
      }
      if (page.next === null) break;
      cursor = page.next;
    }
    // All at once: intake writes them together (group commit), results keep the log's order.
    const items = await Promise.all(chosen.map((stored) => replayOne(stored, replay.dryRun, true)));
    return reply.code(replay.dryRun || items.length === 0 ? 200 : 202).send({ dryRun: replay.dryRun, items });
  });
}
