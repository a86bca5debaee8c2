/**
 * `GET /api/v1/runs` (filters `pipeline`, `status`, `event`; `limit`, `cursor`, `order`) and
 * `GET /api/v1/runs/:id`. Runs are created by routing with status `queued`; lists answer
 * `{ items, next }`, newest first by default. Read scope; an unknown run is 404 `RUN_NOT_FOUND`.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import type { RunFilter } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';
import { parsePageQuery, single, type PageQuery, type Query } from './query.ts';

export function parseRunQuery(query: Query): { filter: RunFilter; page: PageQuery } {
  const page = parsePageQuery(query);
  const pipeline = single(query, 'pipeline');
  const status = single(query, 'status');
  const eventId = single(query, 'event');
  return {
    filter: {
      ...(pipeline === undefined ? {} : { pipeline }),
      ...(status === undefined ? {} : { status }),
      ...(eventId === undefined ? {} : { eventId }),
    },
    page,
  };
}

export function registerApiRunRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer } = context;

  fastify.get('/api/v1/runs', async (request) => {
    await authorizer.authorize(request, 'read');
    const { filter, page } = parseRunQuery(request.query as Query);
    const runs = await store.listRuns(filter, page);
    return { items: runs.items, next: runs.next };
  });

  fastify.get('/api/v1/runs/:id', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const run = await store.getRun(id);
    if (run === undefined) throw new JunctionError('RUN_NOT_FOUND', `no run with id '${id.slice(0, 80)}'`);
    return run;
  });
}
