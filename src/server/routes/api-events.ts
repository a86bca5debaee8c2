/**
 * `GET /api/v1/events` (filters type, source, receiver, since, until; `limit`, `cursor`, `order`)
 * and `GET /api/v1/events/:id`. Lists answer `{ items, next }`; `next` is the cursor of the next
 * page or null.
 */
import type { FastifyInstance } from 'fastify';
import type { StoredEvent } from '../../events/index.ts';
import type { EventFilter } from '../../store/index.ts';
import { JunctionError } from '../../errors/index.ts';
import type { RouteContext } from '../context.ts';
import { parsePageQuery, single, type PageQuery, type Query } from './query.ts';

export interface EventItem {
  readonly id: string;
  readonly seq: number;
  readonly receiver: string;
  readonly receivedAt: string;
  readonly event: unknown;
}

export function toEventItem(stored: StoredEvent): EventItem {
  return {
    id: stored.id,
    seq: stored.seq,
    receiver: stored.receiver,
    receivedAt: stored.receivedAt,
    event: stored.event,
  };
}

function timestamp(query: Query, name: string): string | undefined {
  const value = single(query, name);
  if (value === undefined) return undefined;
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter '${name}' must be an ISO 8601 time, got '${value.slice(0, 64)}'`,
    );
  }
  return new Date(parsed).toISOString();
}

export function parseEventQuery(query: Query): { filter: EventFilter; page: PageQuery } {
  const page = parsePageQuery(query);
  const filter: Record<string, string> = {};
  for (const name of ['type', 'source', 'receiver'] as const) {
    const value = single(query, name);
    if (value !== undefined) filter[name] = value;
  }
  const since = timestamp(query, 'since');
  const until = timestamp(query, 'until');
  if (since !== undefined) filter['since'] = since;
  if (until !== undefined) filter['until'] = until;
  return { filter, page };
}

export function registerApiEventRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer } = context;

  fastify.get('/api/v1/events', async (request) => {
    await authorizer.authorize(request, 'read');
    const { filter, page } = parseEventQuery(request.query as Query);
    const events = await store.listEvents(filter, page);
    return { items: events.items.map(toEventItem), next: events.next };
  });

  fastify.get('/api/v1/events/:id', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const stored = await store.getEvent(id);
    if (stored === undefined)
      throw new JunctionError('EVENT_NOT_FOUND', `no event with id '${id.slice(0, 80)}'`);
    return toEventItem(stored);
  });
}
