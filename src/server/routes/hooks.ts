/**
 * `POST /hooks/:name`: a configured source's webhook receiver. The source authenticates the raw
 * body its provider's way (no Junction API token is asked for), maps it to CloudEvents, and intake
 * stores them; the answer mirrors `POST /events`: 202 `{ id, duplicate: false }` once stored,
 * 200 `{ id, duplicate: true }` for a redelivery, `{ ids, duplicates }` when a delivery maps to
 * several events, and 200 `{ ids: [], note }` for a delivery that carries no event (a ping).
 * A source with a `rateLimit` refuses deliveries beyond it with 429 and `Retry-After` before it
 * authenticates or reads them. Rejections are counted per source and code
 * (`junction_intake_rejected_total`). A delivery that authenticated but could not be mapped or
 * validated is kept as an `intake` dead letter (../dead-letter-capture.ts); the answer stays the
 * same.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { JunctionError, isJunctionError } from '../../errors/index.ts';
import {
  eventGridValidationCode,
  type HookRequest,
  type Source,
  type SourceResult,
} from '../../sources/index.ts';
import type { RouteContext } from '../context.ts';
import { keepIntakeRefusal } from '../dead-letter-capture.ts';
import { TokenBucket, type RateLimit } from '../rate-limit.ts';

export function registerHookRoutes(
  fastify: FastifyInstance,
  context: RouteContext & {
    readonly sources: ReadonlyMap<string, Source>;
    readonly bodyLimits: ReadonlyMap<string, number>;
    readonly rateLimits: ReadonlyMap<string, RateLimit>;
  },
): void {
  const { intake, sources, metrics, bodyLimits } = context;
  const buckets = new Map<string, TokenBucket>();
  for (const [name, limit] of context.rateLimits) {
    if (sources.has(name)) buckets.set(name, new TokenBucket(limit));
  }
  const serverLimit = context.settings.bodyLimitBytes;
  const limitOf = (name: string): number => bodyLimits.get(name) ?? serverLimit;
  // The framework's own limit is the largest of any source; each source's is enforced while reading.
  const routeLimit = Math.max(serverLimit, ...bodyLimits.values());

  // The CloudEvents webhook handshake (abuse protection): a sender asks with OPTIONS and
  // WebHook-Request-Origin whether it may deliver; deliveries are still authenticated by the source.
  fastify.options<{ Params: { name: string } }>('/hooks/:name', async (request, reply) => {
    if (!sources.has(request.params.name)) {
      throw new JunctionError(
        'SOURCE_NOT_FOUND',
        `no source named '${request.params.name.slice(0, 100)}' in sources: of junction.yaml`,
      );
    }
    const origin = request.headers['webhook-request-origin'];
    if (typeof origin === 'string' && /^[\x21-\x7e]{1,255}$/.test(origin)) {
      void reply.header('webhook-allowed-origin', origin);
      // Requests per minute, or '*' for no limit (CloudEvents HTTP webhook spec).
      const limit = buckets.get(request.params.name)?.limit;
      const perMinute = limit === undefined ? '*' : String(Math.max(1, Math.floor(limit.perSecond * 60)));
      void reply.header('webhook-allowed-rate', perMinute);
    }
    void reply.header('allow', 'POST, OPTIONS');
    return reply.code(200).send();
  });

  const tooLarge = (name: string): JunctionError =>
    new JunctionError(
      'EVENT_TOO_LARGE',
      `the delivery is larger than the limit of ${limitOf(name)} bytes of source '${name}' (sources[].bodyLimit)`,
    );

  // Runs before authentication and before the body is read, so a flood costs a counter each.
  const onRequest = (
    request: FastifyRequest<{ Params: { name: string } }>,
    _reply: unknown,
    done: (error?: Error) => void,
  ): void => {
    const name = request.params.name;
    const bucket = buckets.get(name);
    const decision = bucket?.take();
    if (bucket === undefined || decision === undefined || decision.allowed) {
      done();
      return;
    }
    metrics.intake.rejected(name, 'SOURCE_RATE_LIMITED');
    const { limit } = bucket;
    done(
      new JunctionError(
        'SOURCE_RATE_LIMITED',
        `source '${name}' takes ${limit.perSecond} delivery a second with a burst of ${limit.burst} (sources[].rateLimit); retry after ${decision.retryAfterSeconds} s`,
        { details: { retryAfterSeconds: decision.retryAfterSeconds } },
      ),
    );
  };

  const preParsing = (
    request: FastifyRequest<{ Params: { name: string } }>,
    _reply: unknown,
    payload: Readable,
    done: (error?: Error | null, payload?: Readable) => void,
  ): void => {
    const name = request.params.name;
    if (!sources.has(name)) {
      done(null, payload);
      return;
    }
    const limit = limitOf(name);
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      metrics.intake.rejected(name, 'EVENT_TOO_LARGE');
      done(tooLarge(name));
      return;
    }
    // A chunked body declares no length: count while reading and stop at the limit.
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, next: TransformCallback) {
        seen += chunk.length;
        if (seen > limit) {
          metrics.intake.rejected(name, 'EVENT_TOO_LARGE');
          next(tooLarge(name));
          return;
        }
        next(null, chunk);
      },
    });
    payload.on('error', (error: Error) => counter.destroy(error));
    done(null, payload.pipe(counter));
  };

  fastify.post<{ Params: { name: string } }>(
    '/hooks/:name',
    { bodyLimit: routeLimit, onRequest, preParsing },
    async (request, reply) => {
      const source = sources.get(request.params.name);
      if (source === undefined) {
        throw new JunctionError(
          'SOURCE_NOT_FOUND',
          `no source named '${request.params.name.slice(0, 100)}' in sources: of junction.yaml`,
        );
      }
      if (context.state.draining) {
        throw new JunctionError('INTAKE_SHUTTING_DOWN', 'the server is shutting down; retry shortly');
      }
      const hook = hookRequest(request);
      let result: SourceResult;
      try {
        source.authenticate(hook);
        if (source.verify !== undefined) await source.verify(hook);
      } catch (error) {
        metrics.intake.rejected(source.name, isJunctionError(error) ? error.code : 'INTERNAL');
        throw error;
      }
      // Authenticated from here on: a payload refused now is kept as a dead letter.
      const keep = (error: unknown): Promise<void> =>
        keepIntakeRefusal(context.store, context.logger, {
          receiver: source.name,
          body: hook.body,
          headers: request.headers,
          error,
        });
      try {
        result = source.map(hook);
      } catch (error) {
        metrics.intake.rejected(source.name, isJunctionError(error) ? error.code : 'INTERNAL');
        await keep(error);
        throw error;
      }
      if (result.events.length === 0) {
        // Azure Event Grid proves the endpoint by expecting its validation code echoed back.
        const code = source.type === 'eventgrid' ? eventGridValidationCode(hook.body) : undefined;
        if (code !== undefined) return reply.code(200).send({ validationResponse: code });
        return reply.code(200).send({ ids: [], note: result.note ?? 'the delivery carries no event' });
      }
      const results = await intake
        .submit(
          source.name,
          result.events.map((m) => m.event),
          { dedupeKeys: result.events.map((m) => m.dedupeKey) },
        )
        .catch(async (error: unknown) => {
          await keep(error);
          throw error;
        });
      if (results.length > 1) {
        const duplicates = results.filter((r) => r.duplicate).length;
        return reply
          .code(duplicates === results.length ? 200 : 202)
          .send({ ids: results.map((r) => r.id), duplicates });
      }
      const stored = results[0];
      if (stored === undefined) throw new JunctionError('INTERNAL', 'intake returned no result');
      if (!stored.duplicate) void reply.header('location', `/api/v1/events/${stored.id}`);
      return reply.code(stored.duplicate ? 200 : 202).send({ id: stored.id, duplicate: stored.duplicate });
    },
  );
}

/** The request as a source sees it: lower-case single-valued headers (a repeated one is dropped). */
function hookRequest(request: FastifyRequest): HookRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    headers[key.toLowerCase()] = typeof value === 'string' ? value : undefined;
  }
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  return { headers, body, receivedAt: new Date() };
}
