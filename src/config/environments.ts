/**
 * Checks of `environments:` that JSON Schema cannot express: unique names, freeze windows whose
 * cron expressions croner reads and that fire, IANA time zones this Node knows, and an approver
 * list long enough for the number of approvals asked. Pure; each problem carries its key path.
 */
import { Cron } from 'croner';
import { suggestKey, type PathSegment } from '../yaml/index.ts';

export interface EnvironmentProblem {
  readonly segments: readonly PathSegment[];
  readonly message: string;
}

const CRON_FORMS =
  "write 5 fields (minute hour day month weekday), 6 with seconds first, or a nickname such as '@weekly'";

/** Why `cron` cannot mark a freeze window's edge, or undefined. */
export function freezeCronProblem(cron: string, timezone: string): string | undefined {
  const quoted = JSON.stringify(cron.length > 60 ? `${cron.slice(0, 57)}...` : cron);
  let next: Date | null;
  try {
    next = new Cron(cron, { mode: '5-or-6-parts', timezone }).nextRun(new Date(0));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const fields = cron.trim() === '' ? 0 : cron.trim().split(/\s+/).length;
    const reason =
      message.includes("'5-or-6-parts'") || message.includes('invalid configuration format')
        ? `it has ${fields} field${fields === 1 ? '' : 's'}`
        : (message
            .replace(/^CronPattern:\s*/, '')
            .split('. ')[0]
            ?.replace(/\.$/, '')
            .replace(/^./, (c) => c.toLowerCase()) ?? 'croner refused it');
    return `invalid cron ${quoted}: ${reason}; ${CRON_FORMS}`;
  }
  return next === null ? `cron ${quoted} never fires; check the day and month fields` : undefined;
}

/** Why `timezone` is not a time zone this Node knows (with the nearest one), or undefined. */
export function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    const suggestion = suggestKey(timezone, [...Intl.supportedValuesOf('timeZone'), 'UTC']);
    const hint = suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`;
    return `unknown time zone ${JSON.stringify(timezone.slice(0, 80))}${hint}; use an IANA name such as 'Europe/Berlin' or 'UTC'`;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Every problem of `environments` beyond its schema; values of the wrong type are left to it. */
export function environmentProblems(value: unknown): EnvironmentProblem[] {
  const environments = isRecord(value) ? value['environments'] : undefined;
  if (!Array.isArray(environments)) return [];
  const problems: EnvironmentProblem[] = [];
  const firstIndex = new Map<string, number>();
  environments.forEach((entry: unknown, index) => {
    if (!isRecord(entry)) return;
    const name = entry['name'];
    if (typeof name === 'string') {
      const first = firstIndex.get(name);
      if (first === undefined) firstIndex.set(name, index);
      else
        problems.push({
          segments: ['environments', index, 'name'],
          message: `duplicate environment name '${name}' (already used by environments[${first}])`,
        });
    }
    const protection = entry['protection'];
    if (isRecord(protection)) {
      const approvals = typeof protection['approvals'] === 'number' ? protection['approvals'] : 1;
      const approvers = protection['approvers'];
      if (Array.isArray(approvers) && approvers.length > 0 && approvers.length < approvals) {
        problems.push({
          segments: ['environments', index, 'protection', 'approvers'],
          message: `names ${approvers.length} approver${approvers.length === 1 ? '' : 's'} but 'approvals' asks for ${approvals}; no deployment could ever be approved; name more tokens or ask for fewer approvals`,
        });
      }
    }
    const freeze = entry['freeze'];
    if (!Array.isArray(freeze)) return;
    freeze.forEach((window: unknown, at) => {
      if (!isRecord(window)) return;
      const path = ['environments', index, 'freeze', at];
      let timezone = 'UTC';
      if (typeof window['timezone'] === 'string') {
        const problem = timezoneProblem(window['timezone']);
        if (problem !== undefined) {
          problems.push({ segments: [...path, 'timezone'], message: problem });
          return;
        }
        timezone = window['timezone'];
      }
      for (const edge of ['from', 'to'] as const) {
        const cron = window[edge];
        if (typeof cron !== 'string' || cron === '') continue;
        const problem = freezeCronProblem(cron, timezone);
        if (problem !== undefined) problems.push({ segments: [...path, edge], message: problem });
      }
    });
  });
  return problems;
}
