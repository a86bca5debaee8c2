/**
 * Runs and concurrency groups over REST:
 * - `GET /api/v1/runs` (filters `pipeline`, `status`, `event`; `limit`, `cursor`, `order`): runs,
 *   newest first by default, as `{ items, next }`.
 * - `GET /api/v1/runs/:id`: one run with its outputs, concurrency group, cancel flag, the run it
 *   re-runs, and its `jobs` and `steps` records. The stored pipeline spec is never included.
 * - `POST /api/v1/runs/:id/cancel`: 202 `{ id, cancelled: true }`; an ended run is 409
 *   `RUN_ALREADY_FINISHED`.
 * - `POST /api/v1/runs/:id/rerun` with `{ "failed": true|false }`: 201 `{ id, rerunOf, reused }`;
 *   a run not ended yet is 409 `RUN_NOT_FINISHED`.
 * - `GET /api/v1/concurrency`: groups with their holder and waiting runs, as `{ items, next }`.
 * - `POST /api/v1/concurrency/{group}/release` (the name URL-encoded): `{ released: runId|null }`.
 * Reads need the `read` scope, actions `operate`. An unknown run is 404 `RUN_NOT_FOUND`. The
 * actions are served only when the server was given a run control (`ServerDeps.runs`).
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import { isStatus, isTerminal } from '../../runs/index.ts';
import type { JobRecord, RunDetail, RunFilter, StepRecord } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';
import { parsePageQuery, single, type PageQuery, type Query } from './query.ts';

/** Longest concurrency group name accepted in a path. */
const MAX_GROUP_NAME = 1024;

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

export interface RunDetailItem {
  readonly id: string;
  readonly eventId: string;
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly status: string;
  readonly pipelineDigest: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly reason: string | null;
  readonly outputs: Readonly<Record<string, string>> | null;
  readonly rerunOf: string | null;
  readonly concurrencyGroup: string | null;
  readonly cancelRequested: boolean;
  readonly jobs: readonly JobRecord[];
  readonly steps: readonly StepRecord[];
}

/** The API's view of a run: named fields only, so the stored spec never leaks. */
export function toRunDetailItem(
  run: RunDetail,
  jobs: readonly JobRecord[],
  steps: readonly StepRecord[],
): RunDetailItem {
  return {
    id: run.id,
    eventId: run.eventId,
    pipeline: run.pipeline,
    triggerIndex: run.triggerIndex,
    status: run.status,
    pipelineDigest: run.pipelineDigest,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    reason: run.reason,
    outputs: run.outputs,
    rerunOf: run.rerunOf,
    concurrencyGroup: run.concurrencyGroup,
    cancelRequested: run.cancelRequested,
    jobs,
    steps,
  };
}

/** Whether a run's status is an ended one (an unknown status counts as ended). */
export function hasEnded(status: string): boolean {
  return !isStatus(status) || isTerminal(status);
}

export function runNotFound(id: string): JunctionError {
  return new JunctionError('RUN_NOT_FOUND', `no run with id '${id.slice(0, 80)}'`);
}

/** The body of a re-run request: empty, or a JSON object with an optional boolean `failed`. */
export function parseRerunBody(body: unknown): { failedOnly: boolean } {
  if (body === undefined || body === null) return { failedOnly: false };
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (text.trim() === '') return { failedOnly: false };
  const expected = 'the body must be a JSON object like {"failed": true}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; it is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new JunctionError('API_BAD_REQUEST', expected);
  }
  const unknown = Object.keys(parsed).filter((key) => key !== 'failed');
  if (unknown.length > 0) {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; unknown field '${unknown[0]!.slice(0, 40)}'`);
  }
  const failed = (parsed as { failed?: unknown }).failed;
  if (failed !== undefined && typeof failed !== 'boolean') {
    throw new JunctionError('API_BAD_REQUEST', `${expected}; 'failed' must be true or false`);
  }
  return { failedOnly: failed === true };
}

export function registerApiRunRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer, runs } = context;

  fastify.get('/api/v1/runs', async (request) => {
    await authorizer.authorize(request, 'read');
    const { filter, page } = parseRunQuery(request.query as Query);
    const list = await store.listRuns(filter, page);
    return { items: list.items, next: list.next };
  });

  fastify.get('/api/v1/runs/:id', async (request) => {
    await authorizer.authorize(request, 'read');
    const { id } = request.params as { id: string };
    const run = await store.getRunDetail(id);
    if (run === undefined) throw runNotFound(id);
    const [jobs, steps] = await Promise.all([store.listJobs(run.id), store.listSteps(run.id)]);
    return toRunDetailItem(run, jobs, steps);
  });

  fastify.get('/api/v1/concurrency', async (request) => {
    await authorizer.authorize(request, 'read');
    return { items: await store.listConcurrencyGroups(), next: null };
  });

  if (runs === undefined) return;

  fastify.post('/api/v1/runs/:id/cancel', async (request, reply) => {
    const token = await authorizer.authorize(request, 'operate');
    const { id } = request.params as { id: string };
    const run = await store.getRun(id);
    if (run === undefined) throw runNotFound(id);
    const reason =
      token === undefined
        ? 'cancelled by request'
        : `cancelled by request (token '${token.name.slice(0, 64)}')`;
    if (!hasEnded(run.status) && (await runs.cancel(run.id, reason))) {
      return reply.code(202).send({ id: run.id, cancelled: true });
    }
    const ended = (await store.getRun(run.id)) ?? run;
    throw new JunctionError(
      'RUN_ALREADY_FINISHED',
      `run '${run.id}' already ended with status '${ended.status}'`,
    );
  });

  fastify.post('/api/v1/runs/:id/rerun', async (request, reply) => {
    await authorizer.authorize(request, 'operate');
    const { id } = request.params as { id: string };
    const { failedOnly } = parseRerunBody(request.body);
    const result = await runs.rerun(id, { failedOnly });
    return reply.code(201).send({ id: result.runId, rerunOf: id, reused: result.reused });
  });

  // A wildcard, not a `:group` parameter: group names may be longer than a parameter may be, and
  // hold `/` (sent as %2F, or even as is: only the last `/release` is taken off).
  fastify.post('/api/v1/concurrency/*', async (request) => {
    await authorizer.authorize(request, 'operate');
    const tail = (request.params as { '*': string })['*'];
    if (!tail.endsWith('/release')) {
      throw new JunctionError(
        'API_NOT_FOUND',
        `no route for POST '${request.url.split('?')[0]?.slice(0, 200) ?? ''}'`,
      );
    }
    const group = tail.slice(0, -'/release'.length);
    if (group === '' || group.length > MAX_GROUP_NAME) {
      throw new JunctionError(
        'API_BAD_REQUEST',
        `a concurrency group name must be 1 to ${MAX_GROUP_NAME} characters, got ${group.length}`,
      );
    }
    return { released: (await runs.releaseGroup(group)) ?? null };
  });
}
