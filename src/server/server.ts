/**
 * The HTTP face of Junction: CloudEvents intake at `POST /events`, the REST API under `/api/v1`,
 * health at `/healthz` and `/readyz`, Prometheus metrics at `/metrics`. Built on fastify; every
 * body is read raw (as bytes), so receivers can check signatures and the CloudEvents binding can
 * decide what the bytes mean. All errors answer `{ "error": { code, message, requestId } }`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Bus } from '../bus/index.ts';
import type { Store } from '../store/index.ts';
import type { Intake } from '../intake/index.ts';
import type { Source } from '../sources/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import type { ApprovalRequest, ApprovalState } from '../runs/index.ts';
import type { RollbackRequest, RollbackResult } from '../runs/index.ts';
import { JunctionError, errorMessage } from '../errors/index.ts';
import { createAuthorizer, isLoopbackAddress } from './auth.ts';
import { clientErrorResponse, frameworkError, sendError, toJunctionError } from './errors.ts';
import { lazyRequestLogger } from './request-logger.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerApiEventRoutes } from './routes/api-events.ts';
import { registerApiDecisionRoutes } from './routes/api-decisions.ts';
import { registerApiRunRoutes } from './routes/api-runs.ts';
import { registerApiLogRoutes } from './routes/api-logs.ts';
import { registerApiTraceRoutes } from './routes/api-trace.ts';
import { registerApiApprovalRoutes } from './routes/api-approvals.ts';
import { registerApiDeploymentRoutes } from './routes/api-deployments.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerHookRoutes } from './routes/hooks.ts';
import type { RateLimit } from './rate-limit.ts';
import { registerApiDeadLetterRoutes } from './routes/api-dead-letters.ts';
import { registerApiReplayRoutes } from './routes/api-replay.ts';
import type { StoredEvent } from '../events/index.ts';
import type { RoutablePipelines } from '../triggers/index.ts';

/** Body types given a parser of their own (see createServer); any other type is read the same way. */
const NAMED_BODY_TYPES = [
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
];

export interface ServerSettings {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly bodyLimitBytes: number;
  readonly maxJsonDepth: number;
  readonly maxBatchEvents: number;
  readonly allowAnonymousEmit: boolean;
  readonly requestTimeoutMs: number;
}

/** Acting on runs for the API (cancel, re-run, release a concurrency group). */
export interface RunControl {
  /** Requests cancellation; false when the run does not exist or has ended. */
  cancel(runId: string, reason?: string): Promise<boolean>;
  /** Creates and starts a re-run (see runs/rerun.ts). */
  rerun(
    runId: string,
    options: { readonly failedOnly: boolean },
  ): Promise<{ runId: string; reused: string[] }>;
  /** Releases a concurrency group; resolves to the run that held it, if any. */
  releaseGroup(name: string): Promise<string | undefined>;
  /** Starts a rollback (runs/rollback.ts) and the run that performs it. */
  rollback(request: RollbackRequest): Promise<RollbackResult>;
  /** Records an approval decision on a job's deployment and examines the run (runs/approvals.ts). */
  approve(request: ApprovalRequest): Promise<ApprovalState>;
  /** Where a job's deployment stands with its approvals. */
  approval(runId: string, job: string): Promise<ApprovalState>;
}

/** Routing for replays: dry runs decide against the pipelines loaded now; dead letters re-route. */
export interface ReplayControl {
  /** The pipelines events are routed against right now. */
  pipelines(): RoutablePipelines;
  /** Routes one stored event now; resolves to the runs it created. */
  route(stored: StoredEvent): Promise<string[]>;
}

export interface ServerDeps {
  readonly settings: ServerSettings;
  readonly store: Store;
  readonly bus: Bus;
  readonly intake: Intake;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Without it, the routes that act on runs are not served. */
  readonly runs?: RunControl;
  /** The configured sources by name, served at `POST /hooks/<name>`; none when absent. */
  readonly sources?: ReadonlyMap<string, Source>;
  /** Body limit per source name; `settings.bodyLimitBytes` for a source not listed. */
  readonly hookBodyLimits?: ReadonlyMap<string, number>;
  /** Rate limit per source name (`sources[].rateLimit`); a source not listed has none. */
  readonly hookRateLimits?: ReadonlyMap<string, RateLimit>;
  /** Without it, dry runs and the replay of routing dead letters are not available. */
  readonly replay?: ReplayControl;
}

export interface JunctionServer {
  readonly fastify: FastifyInstance;
  /** Starts listening; resolves to the base URL (with the real port when 0 was asked). */
  listen(): Promise<string>;
  /** Marks the server not ready (readyz answers 503) ahead of closing. */
  drain(): void;
  /** Stops accepting connections and waits for requests in flight. */
  close(): Promise<void>;
}

export function createServer(deps: ServerDeps): JunctionServer {
  const { settings, logger } = deps;
  const https = settings.tls === undefined ? null : readTls(settings.tls);
  const fastify = Fastify({
    loggerInstance: logger,
    // Per-request logs would cost more than intake itself; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: settings.bodyLimitBytes,
    requestTimeout: settings.requestTimeoutMs,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    // Refusals made before a route runs still answer with Junction's error body.
    frameworkErrors: (error, request, reply) => {
      void sendError(request, reply, frameworkError(error));
    },
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.end(clientErrorResponse(error, randomUUID()));
      else socket.destroy(error);
    },
    ...(https === null ? {} : { https }),
  }) as unknown as FastifyInstance;

  // Every body arrives as bytes; routes decide what they mean. The common types are named as well
  // as the catch-all: fastify caches the parser it found for a named type, but looks the catch-all
  // up again, parsing the Content-Type header, on every request.
  fastify.removeAllContentTypeParsers();
  const asBytes = (
    _request: unknown,
    body: Buffer | string,
    done: (error: null, body: Buffer | string) => void,
  ): void => done(null, body);
  for (const type of NAMED_BODY_TYPES) fastify.addContentTypeParser(type, { parseAs: 'buffer' }, asBytes);
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, asBytes);

  const state = { draining: false };
  const authorizer = createAuthorizer({
    store: deps.store,
    logger,
    loopbackBound: isLoopbackAddress(settings.host),
    allowAnonymousEmit: settings.allowAnonymousEmit,
  });

  // A callback hook, not an async one: no promise per request.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });
  fastify.setErrorHandler((error, request, reply) => {
    const junctionError = toJunctionError(error, settings.bodyLimitBytes);
    if (request.routeOptions.url === '/events') deps.metrics.intake.rejected('events', junctionError.code);
    return sendError(request, reply, junctionError);
  });
  fastify.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new JunctionError(
        'API_NOT_FOUND',
        `no route for ${request.method} '${request.url.split('?')[0] ?? ''}'`,
      ),
    ),
  );

  const context = { ...deps, authorizer, state };
  registerEventRoutes(fastify, context);
  registerApiEventRoutes(fastify, context);
  registerApiDecisionRoutes(fastify, context);
  registerApiRunRoutes(fastify, context);
  registerApiLogRoutes(fastify, context);
  registerApiTraceRoutes(fastify, context);
  registerApiApprovalRoutes(fastify, context);
  registerApiDeploymentRoutes(fastify, context);
  registerHealthRoutes(fastify, context);
  registerApiDeadLetterRoutes(fastify, context);
  registerApiReplayRoutes(fastify, context);
  registerHookRoutes(fastify, {
    ...context,
    sources: deps.sources ?? new Map<string, Source>(),
    bodyLimits: deps.hookBodyLimits ?? new Map<string, number>(),
    rateLimits: deps.hookRateLimits ?? new Map<string, RateLimit>(),
  });

  return {
    fastify,
    async listen() {
      try {
        await fastify.listen({ host: settings.host, port: settings.port });
      } catch (error) {
        throw new JunctionError(
          'CONFIG_INVALID',
          `cannot listen on ${settings.host}:${settings.port}: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
      const address = fastify.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : settings.port;
      const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
      return `${https === null ? 'http' : 'https'}://${host}:${port}`;
    },
    drain() {
      state.draining = true;
    },
    async close() {
      state.draining = true;
      await fastify.close();
    },
  };
}

function readTls(tls: { readonly cert: string; readonly key: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
  } catch (error) {
    throw new JunctionError(
      'CONFIG_TLS_INVALID',
      `cannot read the TLS certificate or key: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}
