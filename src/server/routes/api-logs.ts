/**
 * `GET /api/v1/runs/:id/logs`: a run's log lines in write order (read scope).
 *
 * Query parameters: `after` (a line id: only lines after it), `job` (a job row id), `step` (a step
 * row id), `limit` (1–5000, default 1000) and `follow`.
 * - Without `follow`: `{ items: LogLine[], next }`, where `next` is the id of the last line given
 *   (pass it as `after` to continue) or null when no line was given. A page also stops once its
 *   text passes 4 MiB, so one answer stays bounded whatever the lines hold.
 * - With `follow=true`: `application/x-ndjson`, one line object per line, written as the lines
 *   are stored (the store is read every 200 ms from the last id sent). When the run has ended and
 *   every line is sent, a last object `{"end":true,"status":"<run status>"}` ends the answer. If
 *   the server shuts down first, the last object also has `"reason"`, and its `status` is the
 *   run's current, not yet final, one; a store failure ends it with `"error": { code, message }`.
 *   Lines are read a page at a time and the next page waits until the client has taken the last
 *   (backpressure), so a slow reader never makes the server buffer a log. A client that hangs up
 *   stops the stream.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { JunctionError, errorMessage, isJunctionError } from '../../errors/index.ts';
import type { LogFilter, LogLine } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';
import { hasEnded, runNotFound } from './api-runs.ts';
import { single, type Query } from './query.ts';

export const MAX_LOG_LIMIT = 5000;
const DEFAULT_LOG_LIMIT = 1000;
/** Text of one non-streamed page, at most (a page holds at least one line). */
const PAGE_TEXT_BYTES = 4 * 1024 * 1024;
/** Lines read from the store at a time while following. */
const FOLLOW_PAGE = 500;
const POLL_MS = 200;

export interface LogQuery {
  readonly afterId: number;
  readonly limit: number;
  readonly jobId?: string;
  readonly stepId?: string;
  readonly follow: boolean;
}

function bad(message: string): JunctionError {
  return new JunctionError('API_BAD_REQUEST', message);
}

function integer(query: Query, name: string, fallback: number, min: number, max: number): number {
  const text = single(query, name);
  if (text === undefined) return fallback;
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw bad(
      `query parameter '${name}' must be an integer from ${min} to ${max}, got '${text.slice(0, 20)}'`,
    );
  }
  return value;
}

export function parseLogQuery(query: Query): LogQuery {
  const afterId = integer(query, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = integer(query, 'limit', DEFAULT_LOG_LIMIT, 1, MAX_LOG_LIMIT);
  const jobId = single(query, 'job');
  const stepId = single(query, 'step');
  const followText = single(query, 'follow') ?? 'false';
  if (!['true', 'false', '1', '0'].includes(followText)) {
    throw bad(`query parameter 'follow' must be true or false, got '${followText.slice(0, 20)}'`);
  }
  return {
    afterId,
    limit,
    follow: followText === 'true' || followText === '1',
    ...(jobId === undefined ? {} : { jobId }),
    ...(stepId === undefined ? {} : { stepId }),
  };
}

/** Cuts a page once its text passes the byte budget, keeping at least one line. */
export function boundPage(lines: readonly LogLine[], budget = PAGE_TEXT_BYTES): LogLine[] {
  const kept: LogLine[] = [];
  let bytes = 0;
  for (const line of lines) {
    bytes += Buffer.byteLength(line.text);
    if (kept.length > 0 && bytes > budget) break;
    kept.push(line);
  }
  return kept;
}

/** Writes a chunk; resolves when the client can take more (drained) or has gone. */
function send(raw: ServerResponse, chunk: string): Promise<void> {
  if (raw.destroyed) return Promise.resolve();
  if (raw.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
}

async function follow(
  context: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  runId: string,
  query: LogQuery,
): Promise<void> {
  const { store, logger, state } = context;
  const raw = reply.raw;
  const gone = new AbortController();
  raw.on('close', () => gone.abort());
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'application/x-ndjson; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-request-id': String(request.id),
    // A stream is long; the connection is not reused after it.
    connection: 'close',
  });
  const filter: LogFilter = {
    runId,
    ...(query.jobId === undefined ? {} : { jobId: query.jobId }),
    ...(query.stepId === undefined ? {} : { stepId: query.stepId }),
  };
  let afterId = query.afterId;
  let status = 'unknown';
  let end: Record<string, unknown>;
  try {
    for (;;) {
      const run = await store.getRun(runId);
      status = run?.status ?? 'unknown';
      const ended = run === undefined || hasEnded(run.status);
      // Lines are stored before their job ends, so once the run has ended one more read gets all.
      for (;;) {
        const lines = await store.readLogs({ ...filter, afterId }, FOLLOW_PAGE);
        for (const line of lines) {
          if (gone.signal.aborted) return;
          await send(raw, `${JSON.stringify(line)}\n`);
          afterId = line.id;
        }
        if (lines.length < FOLLOW_PAGE) break;
      }
      if (ended) {
        end = { end: true, status };
        break;
      }
      if (state.draining) {
        end = { end: true, status, reason: 'the server is shutting down' };
        break;
      }
      try {
        await sleep(POLL_MS, undefined, { signal: gone.signal });
      } catch {
        // The client hung up while the stream waited.
        return;
      }
    }
  } catch (error) {
    const code = isJunctionError(error) ? error.code : 'INTERNAL';
    logger.warn({ runId, code, err: errorMessage(error) }, 'api: following a log failed');
    end = {
      end: true,
      status,
      error: {
        code,
        message: isJunctionError(error) ? error.message : 'internal error; the server log has the details',
      },
    };
  } finally {
    if (gone.signal.aborted) raw.destroy();
  }
  if (!raw.destroyed) raw.end(`${JSON.stringify(end)}\n`);
}

export function registerApiLogRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer } = context;

  fastify.get('/api/v1/runs/:id/logs', async (request, reply) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const query = parseLogQuery(request.query as Query);
    const run = await store.getRun(id);
    if (run === undefined) throw runNotFound(id);
    if (query.follow) {
      await follow(context, request, reply, run.id, query);
      return reply;
    }
    const lines = boundPage(
      await store.readLogs(
        {
          runId: run.id,
          afterId: query.afterId,
          ...(query.jobId === undefined ? {} : { jobId: query.jobId }),
          ...(query.stepId === undefined ? {} : { stepId: query.stepId }),
        },
        query.limit,
      ),
    );
    return { items: lines, next: lines.at(-1)?.id ?? null };
  });
}
