/**
 * `GET /api/v1/runs` (filters `pipeline`, `status`, `event`; `limit`, `cursor`, `order`) and
 * `GET /api/v1/runs/:id`. Runs are created by routing with status `queued`; lists answer
 * `{ items, next }`, newest first by default. Read scope; an unknown run is 404 `RUN_NOT_FOUND`.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import type { RunFilter } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';

const MAX_LIMIT = 1000;

type Query = Record<string, string | string[] | undefined>;

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value))
    throw new JunctionError('API_BAD_REQUEST', `query parameter '${name}' was given more than once`);
  return value === '' ? undefined : value;
}

export function parseRunQuery(query: Query): {
  filter: RunFilter;
  limit: number;
  order: 'asc' | 'desc';
  cursor?: string;
} {
  const limitText = single(query, 'limit');
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter 'limit' must be an integer from 1 to ${MAX_LIMIT}, got '${String(limitText).slice(0, 20)}'`,
    );
  }
  const order = single(query, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter 'order' must be 'asc' or 'desc', got '${order.slice(0, 20)}'`,
    );
  }
  const pipeline = single(query, 'pipeline');
  const status = single(query, 'status');
  const eventId = single(query, 'event');
  const cursor = single(query, 'cursor');
  return {
    filter: {
      ...(pipeline === undefined ? {} : { pipeline }),
      ...(status === undefined ? {} : { status }),
      ...(eventId === undefined ? {} : { eventId }),
    },
    limit,
    order,
    ...(cursor === undefined ? {} : { cursor }),
  };
}

export function registerApiRunRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer } = context;

  fastify.get('/api/v1/runs', async (request) => {
    await authorizer.authorize(request, 'read');
    const { filter, limit, order, cursor } = parseRunQuery(request.query as Query);
    const page = await store.listRuns(filter, { limit, order, ...(cursor === undefined ? {} : { cursor }) });
    return { items: page.items, next: page.next };
  });

  fastify.get('/api/v1/runs/:id', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const run = await store.getRun(id);
    if (run === undefined) throw new JunctionError('RUN_NOT_FOUND', `no run with id '${id.slice(0, 80)}'`);
    return run;
  });
}
