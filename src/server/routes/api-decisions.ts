/**
 * `GET /api/v1/events/:id/decisions`: why an event did or did not start pipelines. One item per
 * trigger that listens for the event's type (see docs/triggers.md), in pipeline name then trigger
 * order; an event no pipeline listens for, or one not routed yet, has no items. Read scope; an
 * unknown event is `EVENT_NOT_FOUND`.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import type { DecisionRecord } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';

export interface DecisionItem {
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly matched: boolean;
  readonly reason: string;
  readonly runId: string | null;
  readonly decidedAt: string;
}

export function toDecisionItem(record: DecisionRecord): DecisionItem {
  return {
    pipeline: record.pipeline,
    triggerIndex: record.triggerIndex,
    matched: record.matched,
    reason: record.reason,
    runId: record.runId,
    decidedAt: record.decidedAt,
  };
}

export function registerApiDecisionRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer } = context;

  fastify.get('/api/v1/events/:id/decisions', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    if ((await store.getEvent(id)) === undefined)
      throw new JunctionError('EVENT_NOT_FOUND', `no event with id '${id.slice(0, 80)}'`);
    const decisions = await store.listDecisions(id);
    return { items: decisions.map(toDecisionItem), next: null };
  });
}
