/**
 * `POST /events`: CloudEvents over HTTP in binary, structured or batched mode. Answers 202 with
 * the stored id once the event is durable, 200 with the first event's id for a duplicate, and
 * for a batch `{ ids, duplicates }` (202 when anything new was stored). A batch is all or nothing.
 * An authorized request whose body is refused (malformed, invalid attributes or data) is kept as
 * an `intake` dead letter with receiver `events`; the answer stays the same.
 */
import type { FastifyInstance } from 'fastify';
import { parseHttpEvents } from '../../events/index.ts';
import { JunctionError } from '../../errors/index.ts';
import type { RouteContext } from '../context.ts';
import { keepIntakeRefusal } from '../dead-letter-capture.ts';

export function registerEventRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { settings, intake, authorizer } = context;
  const limits = { maxJsonDepth: settings.maxJsonDepth, maxBatchEvents: settings.maxBatchEvents };

  fastify.post('/events', async (request, reply) => {
    if (context.state.draining) {
      throw new JunctionError('INTAKE_SHUTTING_DOWN', 'the server is shutting down; retry shortly');
    }
    await authorizer.authorize(request, 'emit');
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const keep = (error: unknown): Promise<void> =>
      keepIntakeRefusal(context.store, context.logger, {
        receiver: 'events',
        body,
        headers: request.headers,
        error,
      });
    let parsed: ReturnType<typeof parseHttpEvents>;
    try {
      parsed = parseHttpEvents({ headers: request.headers, body, limits });
    } catch (error) {
      await keep(error);
      throw error;
    }
    const results = await intake
      .submit('events', parsed.events, parsed.dataJson === undefined ? {} : { dataJson: parsed.dataJson })
      .catch(async (error: unknown) => {
        await keep(error);
        throw error;
      });
    if (parsed.mode === 'batch') {
      const duplicates = results.filter((r) => r.duplicate).length;
      return reply
        .code(duplicates === results.length ? 200 : 202)
        .send({ ids: results.map((r) => r.id), duplicates });
    }
    const result = results[0];
    if (result === undefined) throw new JunctionError('INTERNAL', 'intake returned no result');
    if (!result.duplicate) void reply.header('location', `/api/v1/events/${result.id}`);
    return reply.code(result.duplicate ? 200 : 202).send({ id: result.id, duplicate: result.duplicate });
  });
}
