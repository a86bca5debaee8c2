/**
 * `GET /api/v1/trace/:id`: the causal chain an event or a run belongs to, as a tree from the
 * chain's root (see src/runs/trace.ts): `{ focus, nodes, truncated, root }`, where each node is an
 * event (`kind: "event"`) or a run (`kind: "run"`) with its `children`, and the node asked for has
 * `focus: true`. Read scope. An id that is neither a stored event nor a run is 404:
 * `RUN_NOT_FOUND` for an id shaped like a run id (`run_…`), `EVENT_NOT_FOUND` otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import { traceFrom } from '../../runs/index.ts';
import type { RouteContext } from '../context.ts';

/** Longer ids are never stored ones (events are UUIDs, runs `run_` and 26 characters). */
const MAX_ID_LENGTH = 200;

function notFound(id: string): JunctionError {
  const shown = id.slice(0, 80);
  return id.startsWith('run_')
    ? new JunctionError('RUN_NOT_FOUND', `no run with id '${shown}'; list runs with 'junction runs'`)
    : new JunctionError(
        'EVENT_NOT_FOUND',
        `no event or run with id '${shown}'; pass an event id (from 'junction events') or a run id (run_…)`,
      );
}

export function registerApiTraceRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer } = context;

  fastify.get('/api/v1/trace/:id', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const trace = id.length > MAX_ID_LENGTH ? undefined : await traceFrom(store, id);
    if (trace === undefined) throw notFound(id);
    return trace;
  });
}
