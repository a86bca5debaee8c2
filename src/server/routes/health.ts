/**
 * `/healthz` answers 200 while the process serves HTTP. `/readyz` answers 200 when the store and
 * the bus answer and the server is not shutting down, else 503 with what failed, so a load
 * balancer stops sending work. `/metrics` is Prometheus text and needs the `read` scope unless the
 * API is in local open mode.
 */
import type { FastifyInstance } from 'fastify';
import { errorMessage, isJunctionError } from '../../errors/index.ts';
import type { RouteContext } from '../context.ts';

export function registerHealthRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, bus, metrics, authorizer } = context;

  fastify.get('/healthz', () => Promise.resolve({ status: 'ok' }));

  fastify.get('/readyz', async (_request, reply) => {
    const check = async (ping: () => Promise<void>): Promise<string> => {
      try {
        await ping();
        return 'ok';
      } catch (error) {
        return isJunctionError(error) ? `${error.code}: ${error.message}` : errorMessage(error);
      }
    };
    const [storeStatus, busStatus] = await Promise.all([check(() => store.ping()), check(() => bus.ping())]);
    const ready = !context.state.draining && storeStatus === 'ok' && busStatus === 'ok';
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : context.state.draining ? 'shutting-down' : 'not-ready',
      store: { kind: store.kind, status: storeStatus },
      bus: { kind: bus.kind, status: busStatus },
    });
  });

  fastify.get('/metrics', async (request, reply) => {
    await authorizer.authorize(request, 'read');
    return reply.header('content-type', metrics.contentType).send(await metrics.render());
  });
}
