/**
 * Deployments and rollbacks over REST (docs/api.md, docs/deployments.md):
 * - `GET /api/v1/deployments` (scope `read`; filters `environment`, `service`, `limit` 1–1000,
 *   default 100): deployments newest first as `{ items }`, each with its target, status, reason,
 *   run, and for a rollback the deployment it replaces (`rollbackOf`, `rollbackOfVersion`), its
 *   cause and actor.
 * - `POST /api/v1/rollbacks` (scope `operate`) with `{ "environment", "service", "to"? }`: starts
 *   a rollback (runs/rollback.ts) and answers 202 `{ runId, deploymentId, environment, service,
 *   from, to }` (`from`/`to`: `{ version, runId, deploymentId }`). The actor is the token's name,
 *   or `local` on an anonymous loopback request; the cause is `manual`. The guards answer with
 *   their codes: nothing to roll back to 409 `ROLLBACK_NO_TARGET`, a version never deployed 404
 *   `ROLLBACK_VERSION_UNKNOWN`, a rollback already under way 409 `ROLLBACK_IN_PROGRESS`.
 * Names are checked before the store is asked: a value with other characters is 400
 * `API_BAD_REQUEST` with what is allowed. The rollback route is served only when the server was
 * given a run control.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import { targetProblem } from '../../runs/index.ts';
import type { DeploymentRecord } from '../../store/index.ts';
import type { RouteContext } from '../context.ts';
import { MAX_LIMIT, single, type Query } from './query.ts';

const EXPECTED =
  'the body must be a JSON object like {"environment": "prod", "service": "api", "to": "1.4.2"}';
const FIELDS = new Set(['environment', 'service', 'to']);
/** The actor of a rollback asked for without a token (open mode on a loopback address). */
const LOCAL_ACTOR = 'local';

export interface DeploymentItem {
  readonly id: string;
  readonly environment: string;
  readonly service: string;
  readonly version: string;
  readonly url: string | null;
  readonly status: string;
  readonly reason: string | null;
  readonly runId: string;
  readonly jobName: string;
  readonly pipeline: string;
  readonly isRollback: boolean;
  readonly rollbackOf: string | null;
  /** The version of the deployment a rollback replaced (what it rolled back from). */
  readonly rollbackOfVersion: string | null;
  readonly cause: string | null;
  readonly actor: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** The API's view of a deployment: named fields only (no store order, job row or event ids). */
export function toDeploymentItem(
  d: DeploymentRecord,
  rollbackOfVersion: string | null = null,
): DeploymentItem {
  return {
    id: d.id,
    environment: d.environment,
    service: d.service,
    version: d.version,
    url: d.url,
    status: d.status,
    reason: d.reason,
    runId: d.runId,
    jobName: d.jobName,
    pipeline: d.pipeline,
    isRollback: d.isRollback,
    rollbackOf: d.rollbackOf,
    rollbackOfVersion,
    cause: d.cause,
    actor: d.actor,
    createdAt: d.createdAt,
    startedAt: d.startedAt,
    finishedAt: d.finishedAt,
  };
}

function badRequest(message: string): JunctionError {
  return new JunctionError('API_BAD_REQUEST', message);
}

/** An environment or service name as the deployment gate accepts them, else a 400. */
function checkName(what: 'environment' | 'service', value: string, where: string): string {
  const problem = targetProblem({
    name: what === 'environment' ? value : 'x',
    service: what === 'service' ? value : 'x',
    version: 'x',
  });
  if (problem !== undefined) throw badRequest(`${where} '${what}': ${problem}`);
  return value;
}

export interface DeploymentQuery {
  readonly environment?: string;
  readonly service?: string;
  readonly limit: number;
}

/** `environment`, `service` (names as deployments use them) and `limit` (1–1000, default 100). */
export function parseDeploymentQuery(query: Query): DeploymentQuery {
  const known = new Set(['environment', 'service', 'limit']);
  const unknown = Object.keys(query).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw badRequest(
      `unknown query parameter '${unknown[0]!.slice(0, 40)}'; this list takes environment, service and limit`,
    );
  }
  const environment = single(query, 'environment');
  const service = single(query, 'service');
  const limitText = single(query, 'limit');
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!/^\d{1,5}$/.test(limitText ?? '100') || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw badRequest(
      `query parameter 'limit' must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(String(limitText).slice(0, 20))}`,
    );
  }
  return {
    ...(environment === undefined
      ? {}
      : { environment: checkName('environment', environment, 'query parameter') }),
    ...(service === undefined ? {} : { service: checkName('service', service, 'query parameter') }),
    limit,
  };
}

export interface RollbackBody {
  readonly environment: string;
  readonly service: string;
  readonly to?: string;
}

/** The body of a rollback request: environment and service names, and an optional version. */
export function parseRollbackBody(body: unknown): RollbackBody {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (text.trim() === '') throw badRequest(`${EXPECTED}; it is empty`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest(`${EXPECTED}; it is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest(EXPECTED);
  const unknown = Object.keys(parsed).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) throw badRequest(`${EXPECTED}; unknown field '${unknown[0]!.slice(0, 40)}'`);
  const { environment, service, to } = parsed as Record<string, unknown>;
  if (typeof environment !== 'string' || typeof service !== 'string') {
    throw badRequest(`${EXPECTED}; 'environment' and 'service' are required strings`);
  }
  checkName('environment', environment, 'field');
  checkName('service', service, 'field');
  if (to === undefined || to === null) return { environment, service };
  if (typeof to !== 'string') throw badRequest("'to' must be a version string");
  const problem = targetProblem({ name: 'x', service: 'x', version: to });
  if (problem !== undefined) throw badRequest(`field 'to': ${problem}`);
  return { environment, service, to };
}

export function registerApiDeploymentRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { store, authorizer, runs } = context;

  fastify.get('/api/v1/deployments', async (request) => {
    await authorizer.authorize(request, 'read');
    const { limit, ...filter } = parseDeploymentQuery(request.query as Query);
    const items = await store.listDeployments(filter, limit);
    // What each rollback replaced, found in the page or, when older, looked up once.
    const versions = new Map(items.map((d) => [d.id, d.version]));
    for (const d of items) {
      if (d.rollbackOf === null || versions.has(d.rollbackOf)) continue;
      const replaced = await store.getDeployment(d.rollbackOf);
      if (replaced !== undefined) versions.set(replaced.id, replaced.version);
    }
    return {
      items: items.map((d) =>
        toDeploymentItem(d, d.rollbackOf === null ? null : (versions.get(d.rollbackOf) ?? null)),
      ),
    };
  });

  if (runs === undefined) return;

  fastify.post('/api/v1/rollbacks', async (request, reply) => {
    const token = await authorizer.authorize(request, 'operate');
    const { environment, service, to } = parseRollbackBody(request.body);
    const result = await runs.rollback({
      environment,
      service,
      ...(to === undefined ? {} : { to }),
      actor: token?.name ?? LOCAL_ACTOR,
      cause: 'manual',
      automatic: false,
    });
    const side = (d: DeploymentRecord) => ({ version: d.version, runId: d.runId, deploymentId: d.id });
    return reply.code(202).send({
      runId: result.runId,
      deploymentId: result.deploymentId,
      environment,
      service,
      from: side(result.from),
      to: side(result.to),
    });
  });
}
