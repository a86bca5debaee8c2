/**
 * The rules of configured environments (`environments:` in junction.yaml), as the deployment
 * gate's `EnvironmentPolicy` (deployments.ts): approvals and freeze windows.
 *
 * A freeze window is a pair of cron expressions read in one time zone. At a moment `now`, the
 * window is *in force* when the latest `from` slot at or before `now` is later than the latest `to`
 * slot at or before `now` (a freeze started and has not ended since). A `from` that never fired
 * before `now` means not in force; slots at the same instant cancel out (not in force). The window
 * ends at the next `to` slot after `now`. Daylight-saving nights follow croner (Vixie cron): a
 * slot in the skipped hour fires at the end of the gap, a slot in the repeated hour fires once.
 *
 * Order of the checks, the first that holds decides:
 * 1. A rejection recorded for the deployment's job refuses it (`rejected by <author>: <comment>`).
 * 2. A freeze window in force in `refuse` mode refuses it: asking people to approve a deployment
 *    that would be refused anyway helps nobody.
 * 3. Not enough approvals: it waits, saying who is asked; once it has waited longer than the
 *    protection's `timeout` (counted from when the deployment was recorded), a rejection by
 *    `junction (timeout)` is recorded and it is refused.
 * 4. A freeze window in force in `wait` mode: it waits until the window ends. Approving during a
 *    freeze is possible; the deployment starts when the freeze ends.
 * Environments not configured pass.
 *
 * Only approvals by allowed approvers count: with `approvers` configured, only those token names
 * (so the anonymous `local` author of a server without tokens never counts there).
 */
import { Cron } from 'croner';
import type { EnvironmentConfig, EnvironmentProtection, FreezeWindowConfig } from '../config/index.ts';
import type { ApprovalRecord, DeploymentRecord, RunDetail, Store } from '../store/index.ts';
import type { EnvironmentPolicy, GateVerdict } from './deployments.ts';

/** The author of the rejection recorded when nobody decided in time. */
export const TIMEOUT_AUTHOR = 'junction (timeout)';

/** The author of decisions taken without a token, on a loopback server that has none. */
export const LOCAL_AUTHOR = 'local';

export interface FreezeState {
  readonly inForce: boolean;
  /** When in force: the `from` slot that started it. */
  readonly since?: Date;
  /** When in force: the next `to` slot, when the window ends (absent if `to` never fires again). */
  readonly until?: Date;
}

export interface CompiledFreezeWindow {
  readonly window: FreezeWindowConfig;
  readonly from: Cron;
  readonly to: Cron;
}

export function compileFreezeWindow(window: FreezeWindowConfig): CompiledFreezeWindow {
  const options = { mode: '5-or-6-parts', timezone: window.timezone } as const;
  return { window, from: new Cron(window.from, options), to: new Cron(window.to, options) };
}

/** The latest slot of `cron` at or before `now`. */
function latestSlot(cron: Cron, now: Date): Date | undefined {
  // croner includes a slot earlier in the reference's second; + 1 ms includes a slot at `now`.
  return cron.previousRuns(1, new Date(now.getTime() + 1))[0];
}

/** Whether `window` is in force at `now`, and since and until when. */
export function freezeStateAt(window: CompiledFreezeWindow, now: Date): FreezeState {
  const from = latestSlot(window.from, now);
  if (from === undefined) return { inForce: false };
  const to = latestSlot(window.to, now);
  if (to !== undefined && to.getTime() >= from.getTime()) return { inForce: false };
  const until = window.to.nextRun(now) ?? undefined;
  return { inForce: true, since: from, ...(until === undefined ? {} : { until }) };
}

/** `freeze window ('0 18 * * 5' to '0 8 * * 1', Europe/Berlin)`. */
export function describeFreezeWindow(window: FreezeWindowConfig): string {
  return `freeze window ('${window.from}' to '${window.to}', ${window.timezone})`;
}

/** Who is asked to approve: `any token with the 'approve' scope`, or the named tokens. */
export function describeApprovers(protection: EnvironmentProtection): string {
  return protection.approvers === undefined
    ? "any token with the 'approve' scope"
    : `tokens with the 'approve' scope (${protection.approvers.join(', ')})`;
}

/** Whether a decision by `author` counts for `protection`. */
export function isAllowedApprover(protection: EnvironmentProtection, author: string): boolean {
  return protection.approvers === undefined
    ? author !== TIMEOUT_AUTHOR
    : protection.approvers.includes(author);
}

/** The decisions about one deployment: distinct allowed approvers, and the first rejection. */
export function tallyApprovals(
  protection: EnvironmentProtection,
  records: readonly ApprovalRecord[],
  jobId: string,
): { approvedBy: string[]; rejection: ApprovalRecord | undefined } {
  const mine = records.filter((r) => r.jobId === jobId);
  const rejection = mine.find((r) => r.decision === 'rejected');
  const approvedBy = [
    ...new Set(
      mine
        .filter((r) => r.decision === 'approved' && isAllowedApprover(protection, r.author))
        .map((r) => r.author),
    ),
  ];
  return { approvedBy, rejection };
}

export function rejectionReason(rejection: ApprovalRecord): string {
  return rejection.comment === null || rejection.comment === ''
    ? `rejected by ${rejection.author}`
    : `rejected by ${rejection.author}: ${rejection.comment}`;
}

/** `24h`, `90m`, `45s`, `1500ms`: the largest unit that divides evenly. */
export function shortDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

interface CompiledEnvironment {
  readonly config: EnvironmentConfig;
  readonly freeze: readonly CompiledFreezeWindow[];
}

/** The policy of the configured environments; `settings` come from `config.environments`. */
export function createEnvironmentPolicy(
  settings: readonly EnvironmentConfig[],
  store: Store,
): EnvironmentPolicy {
  const environments = new Map<string, CompiledEnvironment>(
    settings.map((config) => [config.name, { config, freeze: config.freeze.map(compileFreezeWindow) }]),
  );

  return {
    async check(deployment: DeploymentRecord, run: RunDetail, now: Date): Promise<GateVerdict> {
      const environment = environments.get(deployment.environment);
      if (environment === undefined) return { kind: 'start' };
      const protection = environment.config.protection;
      const inForce = environment.freeze
        .map((compiled) => ({ compiled, state: freezeStateAt(compiled, now) }))
        .filter((w) => w.state.inForce);
      const until = (state: FreezeState): string =>
        state.until === undefined ? 'further notice' : state.until.toISOString();

      if (protection !== undefined) {
        const records = await store.listApprovals(run.id);
        const { rejection } = tallyApprovals(protection, records, deployment.jobId);
        if (rejection !== undefined) return { kind: 'refuse', reason: rejectionReason(rejection) };
      }
      const refusing = inForce.find((w) => w.compiled.window.mode === 'refuse');
      if (refusing !== undefined) {
        return {
          kind: 'refuse',
          reason: `refused: ${describeFreezeWindow(refusing.compiled.window)} is in force until ${until(refusing.state)}; deploy again after it ends`,
        };
      }
      if (protection !== undefined) {
        const records = await store.listApprovals(run.id);
        const { approvedBy } = tallyApprovals(protection, records, deployment.jobId);
        if (approvedBy.length < protection.approvals) {
          const waited = now.getTime() - Date.parse(deployment.createdAt);
          if (waited >= protection.timeoutMs) {
            const comment = `not approved within ${shortDuration(protection.timeoutMs)} (${approvedBy.length} of ${protection.approvals} approvals)`;
            await store.addApproval({
              runId: run.id,
              jobId: deployment.jobId,
              decision: 'rejected',
              author: TIMEOUT_AUTHOR,
              comment,
              at: now.toISOString(),
            });
            return { kind: 'refuse', reason: `rejected by ${TIMEOUT_AUTHOR}: ${comment}` };
          }
          return {
            kind: 'wait',
            reason: `waiting for approval: ${approvedBy.length} of ${protection.approvals} from ${describeApprovers(protection)}; approve with: junction approve ${run.id} ${deployment.jobName}`,
          };
        }
      }
      const waiting = inForce[0];
      if (waiting !== undefined) {
        return {
          kind: 'wait',
          reason: `${describeFreezeWindow(waiting.compiled.window)} until ${until(waiting.state)}`,
        };
      }
      return { kind: 'start' };
    },
  };
}
