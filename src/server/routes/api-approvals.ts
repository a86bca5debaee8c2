/**
 * Approvals of deployments over REST (docs/api.md, docs/deployments.md):
 * - `GET /api/v1/runs/:id/jobs/:job/approval` (scope `read`): where the job's deployment stands:
 *   approvals needed and given, who is asked, every decision with its author.
 * - `POST /api/v1/runs/:id/jobs/:job/approval` (scope `approve`) with
 *   `{ "decision": "approve"|"reject", "comment": "…" }`: records the decision, answers 200 with
 *   the state after it. Not waiting for approval is 409 `APPROVAL_NOT_WAITING`, a second decision
 *   by the same author 409 `APPROVAL_DUPLICATE`, a token not among the environment's approvers 403.
 * `:job` is the job's name. Served only when the server was given a run control.
 */
import type { FastifyInstance } from 'fastify';
import { JunctionError } from '../../errors/index.ts';
import { MAX_APPROVAL_COMMENT, type ApprovalDecision } from '../../runs/index.ts';
import type { RouteContext } from '../context.ts';

const EXPECTED = 'the body must be a JSON object like {"decision": "approve", "comment": "looks good"}';

/** Longest run id or job name accepted in the path. */
const MAX_PATH_PART = 200;

function badRequest(message: string): JunctionError {
  return new JunctionError('API_BAD_REQUEST', message);
}

/** The body of an approval: a decision and an optional comment without control characters. */
export function parseApprovalBody(body: unknown): { decision: ApprovalDecision; comment?: string } {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  if (text.trim() === '') throw badRequest(`${EXPECTED}; it is empty`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest(`${EXPECTED}; it is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest(EXPECTED);
  const unknown = Object.keys(parsed).filter((key) => key !== 'decision' && key !== 'comment');
  if (unknown.length > 0) throw badRequest(`${EXPECTED}; unknown field '${unknown[0]!.slice(0, 40)}'`);
  const { decision, comment } = parsed as { decision?: unknown; comment?: unknown };
  if (decision !== 'approve' && decision !== 'reject') {
    throw badRequest(
      `'decision' must be "approve" or "reject", got ${JSON.stringify(decision)?.slice(0, 40) ?? 'nothing'}`,
    );
  }
  if (comment !== undefined && comment !== null) {
    if (typeof comment !== 'string') throw badRequest("'comment' must be a string");
    if (comment.length > MAX_APPROVAL_COMMENT) {
      throw badRequest(
        `'comment' may hold at most ${MAX_APPROVAL_COMMENT} characters, got ${comment.length}`,
      );
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029]/.test(comment)) {
      throw badRequest("'comment' must not hold control characters (a newline or tab is fine)");
    }
    return { decision: decision === 'approve' ? 'approved' : 'rejected', comment };
  }
  return { decision: decision === 'approve' ? 'approved' : 'rejected' };
}

function pathParts(params: unknown): { runId: string; job: string } {
  const { id, job } = params as { id: string; job: string };
  if (id.length > MAX_PATH_PART || job.length > MAX_PATH_PART) {
    throw badRequest(`a run id and a job name in the path may hold at most ${MAX_PATH_PART} characters`);
  }
  return { runId: id, job };
}

export function registerApiApprovalRoutes(fastify: FastifyInstance, context: RouteContext): void {
  const { authorizer, runs } = context;
  if (runs === undefined) return;

  fastify.get('/api/v1/runs/:id/jobs/:job/approval', async (request) => {
    await authorizer.authorize(request, 'read');
    const { runId, job } = pathParts(request.params);
    return runs.approval(runId, job);
  });

  fastify.post('/api/v1/runs/:id/jobs/:job/approval', async (request) => {
    const token = await authorizer.authorize(request, 'approve');
    const { runId, job } = pathParts(request.params);
    const { decision, comment } = parseApprovalBody(request.body);
    return runs.approve({
      runId,
      job,
      decision,
      tokenName: token?.name,
      ...(comment === undefined ? {} : { comment }),
    });
  });
}
