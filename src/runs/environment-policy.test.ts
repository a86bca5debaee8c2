import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EnvironmentConfig, FreezeWindowConfig } from '../config/index.ts';
import { createSqliteStore, type DeploymentRecord, type RunDetail, type Store } from '../store/index.ts';
import { deploymentIdOf } from './deployments.ts';
import {
  TIMEOUT_AUTHOR,
  compileFreezeWindow,
  createEnvironmentPolicy,
  freezeStateAt,
} from './environment-policy.ts';

const weekend: FreezeWindowConfig = {
  from: '0 18 * * 5',
  to: '0 8 * * 1',
  timezone: 'Europe/Berlin',
  mode: 'wait',
};

function stateAt(
  window: FreezeWindowConfig,
  iso: string,
): { inForce: boolean; since?: string; until?: string } {
  const state = freezeStateAt(compileFreezeWindow(window), new Date(iso));
  return {
    inForce: state.inForce,
    ...(state.since === undefined ? {} : { since: state.since.toISOString() }),
    ...(state.until === undefined ? {} : { until: state.until.toISOString() }),
  };
}

describe('freeze windows', { timeout: 10_000 }, () => {
  test('Friday 18:00 to Monday 08:00 in Europe/Berlin, in winter (UTC+1)', () => {
    // 2026-11-27 is a Friday.
    assert.deepEqual(stateAt(weekend, '2026-11-27T16:59:59.999Z'), { inForce: false });
    assert.deepEqual(stateAt(weekend, '2026-11-27T17:00:00.000Z'), {
      inForce: true,
      since: '2026-11-27T17:00:00.000Z',
      until: '2026-11-30T07:00:00.000Z',
    });
    assert.equal(stateAt(weekend, '2026-11-28T12:00:00.000Z').inForce, true);
    assert.equal(stateAt(weekend, '2026-11-30T06:59:59.999Z').inForce, true);
    assert.deepEqual(stateAt(weekend, '2026-11-30T07:00:00.000Z'), { inForce: false });
    assert.deepEqual(stateAt(weekend, '2026-12-02T10:00:00.000Z'), { inForce: false });
  });

  test('the weekend daylight saving time ends (2026-10-25): starts in CEST, ends in CET', () => {
    assert.equal(stateAt(weekend, '2026-10-23T15:59:59.000Z').inForce, false);
    assert.deepEqual(stateAt(weekend, '2026-10-25T12:00:00.000Z'), {
      inForce: true,
      since: '2026-10-23T16:00:00.000Z',
      until: '2026-10-26T07:00:00.000Z',
    });
    assert.equal(stateAt(weekend, '2026-10-26T06:59:59.000Z').inForce, true);
    assert.equal(stateAt(weekend, '2026-10-26T07:00:00.000Z').inForce, false);
  });

  test('the weekend daylight saving time starts (2026-03-29): starts in CET, ends in CEST', () => {
    assert.equal(stateAt(weekend, '2026-03-27T16:59:59.000Z').inForce, false);
    assert.deepEqual(stateAt(weekend, '2026-03-29T01:30:00.000Z'), {
      inForce: true,
      since: '2026-03-27T17:00:00.000Z',
      until: '2026-03-30T06:00:00.000Z',
    });
    assert.equal(stateAt(weekend, '2026-03-30T05:59:59.000Z').inForce, true);
    assert.equal(stateAt(weekend, '2026-03-30T06:00:00.000Z').inForce, false);
  });

  test('an edge in the hour skipped by daylight saving time fires at the end of the gap', () => {
    // 02:30 does not exist in Berlin on 2026-03-29: croner fires at 03:00 CEST (01:00Z).
    const night: FreezeWindowConfig = {
      from: '30 2 * * 0',
      to: '0 4 * * 0',
      timezone: 'Europe/Berlin',
      mode: 'wait',
    };
    assert.equal(stateAt(night, '2026-03-29T00:59:00.000Z').inForce, false);
    assert.equal(stateAt(night, '2026-03-29T01:30:00.000Z').inForce, true);
    assert.equal(stateAt(night, '2026-03-29T02:00:00.000Z').inForce, false);
  });

  test('the time zone matters: the same window in UTC is an hour later in winter', () => {
    const utc = { ...weekend, timezone: 'UTC' };
    assert.equal(stateAt(utc, '2026-11-27T17:30:00.000Z').inForce, false);
    assert.equal(stateAt(utc, '2026-11-27T18:00:00.000Z').inForce, true);
  });

  test('edges at the same instant cancel out; a window that never started is not in force', () => {
    const same = { ...weekend, from: '0 12 * * *', to: '0 12 * * *' };
    assert.equal(stateAt(same, '2026-11-27T13:00:00.000Z').inForce, false);
    const leap = { ...weekend, from: '0 0 29 2 *', to: '0 0 1 3 *', timezone: 'UTC' };
    assert.equal(stateAt(leap, '2028-02-29T12:00:00.000Z').inForce, true);
    assert.equal(stateAt(leap, '2028-03-01T00:00:00.000Z').inForce, false);
  });
});

describe('environment policy', { timeout: 10_000 }, () => {
  let store: Store;

  beforeEach(async () => {
    store = createSqliteStore({ path: ':memory:' });
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
  });

  /** A run with one job `deploy` and its waiting deployment to `environment`, recorded at `createdAt`. */
  async function seed(
    environment: string,
    createdAt: string,
  ): Promise<{ run: RunDetail; deployment: DeploymentRecord }> {
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
          status: 'queued',
          pipelineDigest: null,
          spec: null,
        },
      ],
    );
    const jobId = `${runId}.deploy`;
    await store.createJobs([
      { id: jobId, runId, name: 'deploy', matrixKey: '', matrix: null, status: 'waiting', needs: [] },
    ]);
    const deployment = await store.createDeployment({
      id: deploymentIdOf(jobId),
      environment,
      service: 'api',
      version: '1.0.0',
      runId,
      jobId,
      eventId: appended!.id,
      pipeline: 'deploy',
      jobName: 'deploy',
      status: 'waiting',
      createdAt,
    });
    return { run: (await store.getRunDetail(runId))!, deployment };
  }

  const production = (overrides: Partial<EnvironmentConfig> = {}): EnvironmentConfig => ({
    name: 'production',
    protection: { approvals: 2, approvers: ['alice', 'bob'], timeoutMs: 3_600_000 },
    freeze: [],
    ...overrides,
  });

  const now = new Date('2026-11-25T10:00:00.000Z'); // a Wednesday

  test('an environment that is not configured passes', async () => {
    const { run, deployment } = await seed('staging', now.toISOString());
    const policy = createEnvironmentPolicy([production()], store);
    assert.deepEqual(await policy.check(deployment, run, now), { kind: 'start' });
  });

  test('counts distinct allowed approvers of this job only, and says who is asked', async () => {
    const { run, deployment } = await seed('production', now.toISOString());
    const other = await seed('production', now.toISOString());
    const policy = createEnvironmentPolicy([production()], store);
    const approve = (runId: string, jobId: string, author: string) =>
      store.addApproval({ runId, jobId, decision: 'approved', author });

    assert.deepEqual(await policy.check(deployment, run, now), {
      kind: 'wait',
      reason: `waiting for approval: 0 of 2 from tokens with the 'approve' scope (alice, bob); approve with: junction approve ${run.id} deploy`,
    });
    await approve(run.id, deployment.jobId, 'alice');
    await approve(run.id, deployment.jobId, 'alice'); // the same author twice counts once
    await approve(run.id, deployment.jobId, 'mallory'); // not an allowed approver
    await approve(run.id, deployment.jobId, 'local'); // no token: not in the list
    await approve(other.run.id, other.deployment.jobId, 'bob'); // another run
    const verdict = await policy.check(deployment, run, now);
    assert.equal(verdict.kind, 'wait');
    assert.match(verdict.kind === 'wait' ? verdict.reason : '', /^waiting for approval: 1 of 2 from/);

    await approve(run.id, deployment.jobId, 'bob');
    assert.deepEqual(await policy.check(deployment, run, now), { kind: 'start' });
  });

  test('without an approvers list any author counts, but not the timeout', async () => {
    const { run, deployment } = await seed('production', now.toISOString());
    const policy = createEnvironmentPolicy(
      [production({ protection: { approvals: 1, timeoutMs: 3_600_000 } })],
      store,
    );
    const waiting = await policy.check(deployment, run, now);
    assert.match(
      waiting.kind === 'wait' ? waiting.reason : '',
      /0 of 1 from any token with the 'approve' scope/,
    );
    await store.addApproval({
      runId: run.id,
      jobId: deployment.jobId,
      decision: 'approved',
      author: 'local',
    });
    assert.deepEqual(await policy.check(deployment, run, now), { kind: 'start' });
  });

  test('a rejection refuses, with its author and comment', async () => {
    const { run, deployment } = await seed('production', now.toISOString());
    const policy = createEnvironmentPolicy([production()], store);
    await store.addApproval({
      runId: run.id,
      jobId: deployment.jobId,
      decision: 'approved',
      author: 'alice',
    });
    await store.addApproval({
      runId: run.id,
      jobId: deployment.jobId,
      decision: 'rejected',
      author: 'bob',
      comment: 'not during the sale',
    });
    assert.deepEqual(await policy.check(deployment, run, now), {
      kind: 'refuse',
      reason: 'rejected by bob: not during the sale',
    });
  });

  test('waiting longer than the timeout records a rejection by junction (timeout) and refuses', async () => {
    const createdAt = new Date(now.getTime() - 3_600_000 + 1).toISOString();
    const { run, deployment } = await seed('production', createdAt);
    const policy = createEnvironmentPolicy([production()], store);
    await store.addApproval({
      runId: run.id,
      jobId: deployment.jobId,
      decision: 'approved',
      author: 'alice',
    });
    assert.equal((await policy.check(deployment, run, now)).kind, 'wait');

    const later = new Date(now.getTime() + 1);
    const verdict = await policy.check(deployment, run, later);
    assert.deepEqual(verdict, {
      kind: 'refuse',
      reason: `rejected by ${TIMEOUT_AUTHOR}: not approved within 1h (1 of 2 approvals)`,
    });
    // Asked again, it refuses again and records nothing more.
    assert.deepEqual(await policy.check(deployment, run, later), {
      kind: 'refuse',
      reason: `rejected by ${TIMEOUT_AUTHOR}: not approved within 1h (1 of 2 approvals)`,
    });
    const rejections = (await store.listApprovals(run.id)).filter((a) => a.decision === 'rejected');
    assert.deepEqual(
      rejections.map((a) => [a.author, a.jobId, a.at]),
      [[TIMEOUT_AUTHOR, deployment.jobId, later.toISOString()]],
    );
  });

  test('enough approvals do not time out: a deployment may wait out a freeze after approval', async () => {
    const friday = new Date('2026-11-27T20:00:00.000Z');
    const { run, deployment } = await seed('production', '2026-11-27T10:00:00.000Z');
    const policy = createEnvironmentPolicy(
      [production({ protection: { approvals: 1, timeoutMs: 3_600_000 }, freeze: [weekend] })],
      store,
    );
    // While approvals are missing, the approval is what it waits for.
    const before = await policy.check(deployment, run, new Date('2026-11-27T10:30:00.000Z'));
    assert.match(before.kind === 'wait' ? before.reason : '', /^waiting for approval/);
    await store.addApproval({
      runId: run.id,
      jobId: deployment.jobId,
      decision: 'approved',
      author: 'carol',
    });
    assert.deepEqual(await policy.check(deployment, run, friday), {
      kind: 'wait',
      reason: "freeze window ('0 18 * * 5' to '0 8 * * 1', Europe/Berlin) until 2026-11-30T07:00:00.000Z",
    });
    assert.deepEqual(await policy.check(deployment, run, new Date('2026-11-30T07:00:00.000Z')), {
      kind: 'start',
    });
  });

  test('a freeze window in refuse mode refuses at once, even before approvals', async () => {
    const saturday = new Date('2026-11-28T09:00:00.000Z');
    const { run, deployment } = await seed('production', saturday.toISOString());
    const policy = createEnvironmentPolicy(
      [
        production({
          freeze: [
            { ...weekend, mode: 'wait' },
            { ...weekend, mode: 'refuse' },
          ],
        }),
      ],
      store,
    );
    assert.deepEqual(await policy.check(deployment, run, saturday), {
      kind: 'refuse',
      reason:
        "refused: freeze window ('0 18 * * 5' to '0 8 * * 1', Europe/Berlin) is in force until 2026-11-30T07:00:00.000Z; deploy again after it ends",
    });
    // Outside the window, the approvals decide.
    const verdict = await policy.check(deployment, run, now);
    assert.equal(verdict.kind, 'wait');
  });

  test('freeze windows without protection', async () => {
    const saturday = new Date('2026-11-28T09:00:00.000Z');
    const { run, deployment } = await seed('production', saturday.toISOString());
    const { protection: _none, ...unprotected } = production({ freeze: [weekend] });
    const policy = createEnvironmentPolicy([unprotected], store);
    assert.equal((await policy.check(deployment, run, saturday)).kind, 'wait');
    assert.deepEqual(await policy.check(deployment, run, now), { kind: 'start' });
  });
});
