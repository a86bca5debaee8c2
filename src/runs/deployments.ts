/**
 * Deployments: a job that declares `environment: { name, service, version, url? }` records one.
 * The scheduler holds such a job (`waiting`) behind the deployment gate and releases it to the
 * workers only when the gate opens; when the job ends the deployment ends with it and a
 * `deployment.*` event is published.
 *
 * The gate, in order (the first that holds decides):
 * 1. The target must be well formed: environment and service names of letters, digits, `.`, `_`
 *    and `-` (at most 63, starting with a letter or digit), a version of 1–128 printable characters.
 * 2. The outdated-version guard: unless the deployment is a rollback, a run started by an event
 *    older (in the event log's order) than the one behind the version already deployed is refused.
 * 3. The environment's policy (approvals, freeze windows), when one is configured.
 * 4. One deployment per (environment, service) at a time, in the order they were recorded.
 *
 * What callers may assume:
 * - The deployment id is derived from the job row id, so examining a run twice records one
 *   deployment; a decision already recorded (refused, ended) is returned again, not re-taken.
 * - Events are `deployment.started`, `.succeeded`, `.failed`, `.cancelled`, `.refused` and, for a
 *   rollback that succeeded, `.rolled_back` as well. Their source is `/junction/runs/<run id>` (the
 *   run that deployed), their subject `<environment>/<service>`, their id `<deployment id>.<kind>`,
 *   and they carry the chain (`causationid`, `correlationid`) of the run's triggering event.
 */
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import type { DeploymentRecord, JobRecord, RunDetail, Store } from '../store/index.ts';
import { chainOf } from './result-events.ts';
import { runSource } from './trace.ts';

export interface DeploymentTarget {
  readonly name: string;
  readonly service: string;
  readonly version: string;
  readonly url?: string;
}

/** What the gate decided for a deployment. */
export type GateVerdict =
  | { readonly kind: 'start' }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * An environment's own rules (approvals, freeze windows), consulted after the outdated-version
 * guard and before the (environment, service) slot is taken. `check` is called at every
 * examination of a waiting deployment (at least once a second by the scheduler's sweep), so a
 * freeze window that ends or an approval timeout is noticed without a further event.
 */
export interface EnvironmentPolicy {
  check(deployment: DeploymentRecord, run: RunDetail, now: Date): Promise<GateVerdict>;
}

export type DeploymentEventKind =
  'started' | 'succeeded' | 'failed' | 'cancelled' | 'refused' | 'rolled_back';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// Printable, no control characters, no leading or trailing blank.
const VERSION = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,126}[^\s\p{Cc}])?$/u;

/** The id of the deployment a job row records. */
export function deploymentIdOf(jobRowId: string): string {
  return `dep_${jobRowId}`;
}

/** Why a rendered target cannot be deployed, or undefined when it can. */
export function targetProblem(target: DeploymentTarget): string | undefined {
  const shown = (value: string): string => JSON.stringify(value.slice(0, 80));
  if (!NAME.test(target.name)) {
    return `environment name ${shown(target.name)} is not usable: letters, digits, '.', '_' and '-', at most 63, starting with a letter or digit`;
  }
  if (!NAME.test(target.service)) {
    return `service name ${shown(target.service)} is not usable: letters, digits, '.', '_' and '-', at most 63, starting with a letter or digit`;
  }
  if (!VERSION.test(target.version)) {
    return `version ${shown(target.version)} is not usable: 1 to 128 printable characters without control characters or surrounding blanks`;
  }
  if (target.url !== undefined && target.url !== '' && !/^https?:\/\/\S+$/.test(target.url)) {
    return `url ${shown(target.url)} is not an http(s) URL`;
  }
  return undefined;
}

const ACTIVE = new Set(['waiting', 'running']);

export interface GateInput {
  readonly run: RunDetail;
  readonly row: JobRecord;
  readonly target: DeploymentTarget;
  readonly policy?: EnvironmentPolicy;
  readonly now: Date;
}

export interface GateOutcome {
  readonly verdict: GateVerdict;
  readonly deployment: DeploymentRecord;
  /** True when this examination took the decision (publish its event once). */
  readonly decidedNow: boolean;
}

/** Records the job's deployment if new, and decides whether it may start now. */
export async function gateDeployment(store: Store, input: GateInput): Promise<GateOutcome> {
  const { run, row, target, now } = input;
  const deployment = await store.createDeployment({
    id: deploymentIdOf(row.id),
    environment: target.name,
    service: target.service,
    version: target.version,
    url: target.url === undefined || target.url === '' ? null : target.url,
    runId: run.id,
    jobId: row.id,
    eventId: run.eventId,
    pipeline: run.pipeline,
    jobName: row.name,
    status: 'waiting',
    createdAt: now.toISOString(),
  });
  if (deployment.status === 'running') return { verdict: { kind: 'start' }, deployment, decidedNow: false };
  if (!ACTIVE.has(deployment.status)) {
    return {
      verdict: { kind: 'refuse', reason: deployment.reason ?? `the deployment ended ${deployment.status}` },
      deployment,
      decidedNow: false,
    };
  }
  const refuse = async (reason: string): Promise<GateOutcome> => {
    const changed = await store.updateDeployment(
      deployment.id,
      { status: 'refused', reason, finishedAt: now.toISOString() },
      ['waiting'],
    );
    const after = (await store.getDeployment(deployment.id)) ?? deployment;
    return { verdict: { kind: 'refuse', reason }, deployment: after, decidedNow: changed };
  };

  if (!deployment.isRollback) {
    const current = await store.currentDeployment(deployment.environment, deployment.service);
    if (current !== undefined && current.id !== deployment.id && current.eventSeq > deployment.eventSeq) {
      return refuse(
        `outdated: ${deployment.service} ${current.version} is deployed to ${deployment.environment} from a newer event (run ${current.runId}); ` +
          `version ${deployment.version} comes from an older one. To go back to it on purpose, run: junction rollback ${deployment.environment} ${deployment.service} --to ${deployment.version}`,
      );
    }
  }
  if (input.policy !== undefined) {
    const verdict = await input.policy.check(deployment, run, now);
    if (verdict.kind === 'refuse') return refuse(verdict.reason);
    if (verdict.kind === 'wait') return { verdict, deployment, decidedNow: false };
  }
  const slot = await store.startDeployment(deployment.id, now.toISOString());
  if (slot.started) {
    const after = (await store.getDeployment(deployment.id)) ?? deployment;
    return { verdict: { kind: 'start' }, deployment: after, decidedNow: true };
  }
  const ahead = slot.behind === undefined ? undefined : await store.getDeployment(slot.behind);
  const reason =
    ahead === undefined
      ? `waiting for another deployment of ${deployment.service} to ${deployment.environment}`
      : `waiting for deployment ${ahead.id} (${ahead.service} ${ahead.version}, run ${ahead.runId}, ${ahead.status}) to ${deployment.environment} to end`;
  return { verdict: { kind: 'wait', reason }, deployment, decidedNow: false };
}

/**
 * Ends the deployment of a job that ended. Returns the ended deployment when this call ended it
 * (publish its events and wake the deployments waiting behind it), undefined otherwise.
 */
export async function endDeployment(
  store: Store,
  row: JobRecord,
  now: Date,
): Promise<DeploymentRecord | undefined> {
  const deployment = await store.getDeployment(deploymentIdOf(row.id));
  if (deployment === undefined || !ACTIVE.has(deployment.status)) return undefined;
  const status =
    row.status === 'succeeded'
      ? 'succeeded'
      : row.status === 'cancelled' || row.status === 'skipped'
        ? 'cancelled'
        : 'failed';
  const reason = status === 'succeeded' ? null : (row.reason ?? `the job ended ${row.status}`);
  const changed = await store.updateDeployment(
    deployment.id,
    { status, reason, finishedAt: now.toISOString() },
    ['waiting', 'running'],
  );
  return changed ? store.getDeployment(deployment.id) : undefined;
}

/** A `deployment.*` event about `deployment`, linked to the run's triggering event. */
export function deploymentEvent(
  kind: DeploymentEventKind,
  deployment: DeploymentRecord,
  trigger: StoredEvent,
  extra: { readonly previousVersion?: string | null } = {},
): CloudEvent {
  return {
    specversion: '1.0',
    id: `${deployment.id}.${kind}`,
    source: runSource(deployment.runId),
    type: `deployment.${kind}`,
    subject: `${deployment.environment}/${deployment.service}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    ...chainOf(trigger),
    data: {
      deploymentId: deployment.id,
      environment: deployment.environment,
      service: deployment.service,
      version: deployment.version,
      status: deployment.status,
      pipeline: deployment.pipeline,
      runId: deployment.runId,
      job: deployment.jobName,
      isRollback: deployment.isRollback,
      ...(deployment.url === null ? {} : { url: deployment.url }),
      ...(deployment.reason === null ? {} : { reason: deployment.reason }),
      ...(deployment.rollbackOf === null ? {} : { rollbackOf: deployment.rollbackOf }),
      ...(deployment.cause === null ? {} : { cause: deployment.cause }),
      ...(deployment.actor === null ? {} : { actor: deployment.actor }),
      ...(extra.previousVersion === undefined || extra.previousVersion === null
        ? {}
        : { previousVersion: extra.previousVersion }),
    },
  };
}
