import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EnvironmentConfig } from '../config/index.ts';
import { isJunctionError } from '../errors/index.ts';
import { createSqliteStore, type Store } from '../store/index.ts';
import { approvalState, decideApproval } from './approvals.ts';
import { deploymentIdOf } from './deployments.ts';

const environments: EnvironmentConfig[] = [
  {
    name: 'production',
    protection: { approvals: 2, approvers: ['alice', 'bob', 'carol'], timeoutMs: 3_600_000 },
    freeze: [],
  },
  { name: 'staging', protection: { approvals: 1, timeoutMs: 3_600_000 }, freeze: [] },
  { name: 'dev', freeze: [] },
];

function rejectsWith(code: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isJunctionError(error), String(error));
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

describe('deciding approvals', { timeout: 10_000 }, () => {
  let store: Store;

  beforeEach(async () => {
    store = createSqliteStore({ path: ':memory:' });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
  });

  /** A run with a job `build` (no deployment) and a job `deploy` deploying to `environment`. */
  async function seed(
    environment: string,
    jobStatus = 'waiting',
    deploymentStatus = 'waiting',
  ): Promise<string> {
    const [appended] = await store.appendEvents(
      [
        {
          event: { specversion: '1.0', id: randomUUID(), source: '/test', type: 'demo.deploy' },
          receiver: 'events',
        },
      ],
      'events',
    );
    const runId = `run-${randomUUID()}`;
    await store.recordRouting(
      appended!.id,
      [],
      [
        {
          id: runId,
          pipeline: 'deploy',
          triggerIndex: 0,
          status: 'running',
          pipelineDigest: null,
          spec: null,
        },
      ],
    );
    await store.createJobs([
      {
        id: `${runId}.build`,
        runId,
        name: 'build',
        matrixKey: '',
        matrix: null,
        status: 'succeeded',
        needs: [],
      },
      {
        id: `${runId}.deploy`,
        runId,
        name: 'deploy',
        matrixKey: '',
        matrix: null,
        status: jobStatus,
        needs: ['build'],
      },
    ]);
    await store.createDeployment({
      id: deploymentIdOf(`${runId}.deploy`),
      environment,
      service: 'api',
      version: '1.0.0',
      runId,
      jobId: `${runId}.deploy`,
      eventId: appended!.id,
      pipeline: 'deploy',
      jobName: 'deploy',
      status: deploymentStatus,
    });
    return runId;
  }

  const decide = (
    runId: string,
    tokenName: string | undefined,
    decision: 'approved' | 'rejected' = 'approved',
    comment?: string,
  ) =>
    decideApproval(store, environments, {
      runId,
      job: 'deploy',
      decision,
      tokenName,
      ...(comment === undefined ? {} : { comment }),
    });

  test('records approvals until enough, with their authors, and reports the state', async () => {
    const runId = await seed('production');
    const first = await decide(runId, 'alice', 'approved', '  looks good  ');
    assert.equal(first.state, 'waiting');
    assert.equal(first.required, 2);
    assert.deepEqual(first.approvedBy, ['alice']);
    assert.equal(first.asked, "tokens with the 'approve' scope (alice, bob, carol)");
    const second = await decide(runId, 'bob');
    assert.equal(second.state, 'approved');
    assert.deepEqual(second.approvedBy, ['alice', 'bob']);
    assert.deepEqual(
      second.decisions.map((d) => [d.decision, d.author, d.comment]),
      [
        ['approved', 'alice', 'looks good'],
        ['approved', 'bob', null],
      ],
    );
    // Enough approvals: a third approval is refused, a rejection is still possible.
    await assert.rejects(
      decide(runId, 'carol'),
      rejectsWith('APPROVAL_NOT_WAITING', /already has the 2 approvals/),
    );
    const rejected = await decide(runId, 'carol', 'rejected', 'wrong version');
    assert.equal(rejected.state, 'rejected');
    await assert.rejects(
      decide(runId, 'carol', 'rejected'),
      rejectsWith('APPROVAL_NOT_WAITING', /already rejected/),
    );
    assert.deepEqual(await approvalState(store, environments, runId, 'deploy'), rejected);
  });

  test('the same author cannot decide twice, not even with two requests at once', async () => {
    const runId = await seed('production');
    const results = await Promise.allSettled([decide(runId, 'alice'), decide(runId, 'alice', 'rejected')]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected'],
    );
    const second = results[1];
    assert.ok(second?.status === 'rejected');
    rejectsWith('APPROVAL_DUPLICATE', /'alice' already approved/)(second.reason);
    assert.equal((await store.listApprovals(runId)).length, 1);
  });

  test('only listed approvers may decide; without a list any token, or local without tokens', async () => {
    const runId = await seed('production');
    await assert.rejects(
      decide(runId, 'mallory'),
      rejectsWith('API_FORBIDDEN', /token 'mallory' may not decide deployments to 'production'/),
    );
    await assert.rejects(decide(runId, undefined), rejectsWith('API_FORBIDDEN', /a request without a token/));
    await assert.rejects(decide(runId, 'junction (timeout)'), rejectsWith('API_FORBIDDEN'));
    assert.deepEqual(await store.listApprovals(runId), []);

    const staging = await seed('staging');
    const local = await decide(staging, undefined);
    assert.equal(local.state, 'approved');
    assert.deepEqual(local.approvedBy, ['local']);
  });

  test('refuses what does not wait for approval, saying why', async () => {
    await assert.rejects(decide('run-nope', 'alice'), rejectsWith('RUN_NOT_FOUND'));
    const runId = await seed('production');
    await assert.rejects(
      decideApproval(store, environments, { runId, job: 'dploy', decision: 'approved', tokenName: 'alice' }),
      rejectsWith('APPROVAL_NOT_WAITING', /has no job "dploy" \(its jobs: build, deploy\)/),
    );
    await assert.rejects(
      decideApproval(store, environments, { runId, job: 'build', decision: 'approved', tokenName: 'alice' }),
      rejectsWith('APPROVAL_NOT_WAITING', /has no deployment/),
    );
    await assert.rejects(
      decide(await seed('dev'), 'alice'),
      rejectsWith('APPROVAL_NOT_WAITING', /asks for no approvals/),
    );
    await assert.rejects(
      decide(await seed('unlisted'), 'alice'),
      rejectsWith('APPROVAL_NOT_WAITING', /asks for no approvals/),
    );
    await assert.rejects(
      decide(await seed('production', 'running', 'running'), 'alice'),
      rejectsWith('APPROVAL_NOT_WAITING', /the job is running, its deployment running/),
    );
    await assert.rejects(
      decide(await seed('production', 'failed', 'refused'), 'alice'),
      rejectsWith('APPROVAL_NOT_WAITING', /the job is failed/),
    );
    const hostile = `deploy\u0000${'x'.repeat(5000)}`;
    await assert.rejects(
      decideApproval(store, environments, { runId, job: hostile, decision: 'approved', tokenName: 'alice' }),
      (error) => {
        rejectsWith('APPROVAL_NOT_WAITING')(error);
        assert.ok((error as Error).message.length < 400, 'the message quotes a long name shortened');
        return true;
      },
    );
  });

  test('an overlong comment is cut, not stored whole', async () => {
    const runId = await seed('staging');
    const state = await decide(runId, 'alice', 'approved', 'y'.repeat(5000));
    assert.equal(state.decisions[0]!.comment!.length, 1000);
  });
});
