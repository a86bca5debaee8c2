/**
 * The checks of a pipeline file that JSON Schema cannot express, run on the plain value even when
 * it has schema problems (each check skips what has the wrong shape, which the schema reports):
 * `needs` that name unknown jobs (with the nearest job as suggestion), a job needing itself,
 * cycles named in order, `finally` jobs needing ordinary jobs, job ids used twice, steps with both
 * or neither of `run` and `uses`, duplicate step ids, secrets the pipeline does not declare,
 * include and ignore filters together, `schedule` triggers (a cron croner accepts and that fires,
 * a known time zone, no event filters beside it), matrix size, duration bounds, and the expressions an
 * injected checker finds wrong. Pure.
 */
import { Cron } from 'croner';
import { suggestKey, type PathSegment } from '../yaml/index.ts';
import { parseDuration } from './duration.ts';
import { findCycles } from './graph.ts';
import { matrixOverflow } from './matrix.ts';
import {
  MAX_CRON_LENGTH,
  MAX_MATRIX_COMBINATIONS,
  MAX_TIMEZONE_LENGTH,
  PIPELINE_DEFAULTS,
  SCHEDULE_KEYS,
} from './schema.ts';
import type { ExpressionChecker, ExpressionScope, MatrixSpec, MatrixValue } from './types.ts';
import type { Finding } from './validate-schema.ts';

type Tree = Readonly<Record<string, unknown>>;

const isTree = (value: unknown): value is Tree =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const treeAt = (value: unknown, key: string): Tree | undefined => {
  const child = isTree(value) ? value[key] : undefined;
  return isTree(child) ? child : undefined;
};
const listAt = (value: unknown, key: string): readonly unknown[] | undefined => {
  const child = isTree(value) ? value[key] : undefined;
  return Array.isArray(child) ? child : undefined;
};

const FILTER_PAIRS = [
  ['branches', 'branches-ignore'],
  ['tags', 'tags-ignore'],
  ['paths', 'paths-ignore'],
] as const;

interface JobEntry {
  readonly id: string;
  readonly job: Tree;
  readonly segments: readonly PathSegment[];
  readonly isFinally: boolean;
}

function jobEntries(pipeline: Tree, section: 'jobs' | 'finally'): JobEntry[] {
  return Object.entries(treeAt(pipeline, section) ?? {}).flatMap(([id, job]) =>
    isTree(job) ? [{ id, job, segments: [section, id], isFinally: section === 'finally' }] : [],
  );
}

/** `needs` as written: the list of names with the path of each. */
function needsOf(entry: JobEntry): { name: string; segments: PathSegment[] }[] {
  const needs = entry.job['needs'];
  if (typeof needs === 'string') return [{ name: needs, segments: [...entry.segments, 'needs'] }];
  if (!Array.isArray(needs)) return [];
  return needs.flatMap((name: unknown, i) =>
    typeof name === 'string' ? [{ name, segments: [...entry.segments, 'needs', i] }] : [],
  );
}

function checkJobGraph(ordinary: JobEntry[], final: JobEntry[]): Finding[] {
  const findings: Finding[] = [];
  const ordinaryIds = new Set(ordinary.map((e) => e.id));
  for (const entry of final) {
    if (ordinaryIds.has(entry.id)) {
      findings.push({
        segments: entry.segments,
        atKey: true,
        message: `job id '${entry.id}' is used under both 'jobs' and 'finally'; job ids must be unique`,
      });
    }
  }
  const needsMap = new Map<string, string[]>();
  for (const group of [ordinary, final]) {
    const ids = group.map((e) => e.id);
    for (const entry of group) {
      const valid: string[] = [];
      for (const { name, segments } of needsOf(entry)) {
        if (name === entry.id) {
          findings.push({ segments, message: `job '${entry.id}' needs itself` });
        } else if (entry.isFinally && ordinaryIds.has(name)) {
          findings.push({
            segments,
            message: `finally job '${entry.id}' cannot need job '${name}': finally jobs start after every job; 'needs' may name only other finally jobs`,
          });
        } else if (!ids.includes(name)) {
          const suggestion = suggestKey(
            name,
            ids.filter((id) => id !== entry.id),
          );
          const kind = entry.isFinally ? 'finally job' : 'job';
          findings.push({
            segments,
            message: `${kind} '${entry.id}' needs unknown ${kind} '${name}'`,
            ...(suggestion === undefined ? {} : { suggestion }),
          });
        } else valid.push(name);
      }
      needsMap.set(entry.id, valid);
    }
    for (const cycle of findCycles(ids, needsMap)) {
      const first = group.find((e) => e.id === cycle[0])!;
      findings.push({
        segments: [...first.segments, 'needs'],
        message: `jobs need each other in a cycle: ${cycle.join(' → ')}`,
      });
    }
  }
  return findings;
}

function checkSteps(entry: JobEntry, declaredSecrets: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  const ids = new Map<string, number>();
  (listAt(entry.job, 'steps') ?? []).forEach((step, index) => {
    if (!isTree(step)) return;
    const segments = [...entry.segments, 'steps', index];
    const hasRun = 'run' in step;
    const hasUses = 'uses' in step;
    if (hasRun && hasUses) {
      findings.push({
        segments: [...segments, 'uses'],
        atKey: true,
        message: "a step has either 'run' or 'uses', not both; split it into two steps",
      });
    } else if (!hasRun && !hasUses) {
      findings.push({ segments, message: "a step needs 'run' (a command) or 'uses' (a built-in action)" });
    }
    const id = step['id'];
    if (typeof id === 'string') {
      const first = ids.get(id);
      if (first === undefined) ids.set(id, index);
      else
        findings.push({
          segments: [...segments, 'id'],
          message: `step id '${id}' is already used by steps[${first}] of job '${entry.id}'`,
        });
    }
    const secrets = listAt(step, 'secrets') ?? [];
    secrets.forEach((name, i) => {
      if (typeof name !== 'string' || declaredSecrets.has(name)) return;
      const suggestion = suggestKey(name, [...declaredSecrets]);
      findings.push({
        segments: [...segments, 'secrets', i],
        message: `secret '${name}' is not in the pipeline's 'secrets'; name it there first`,
        ...(suggestion === undefined ? {} : { suggestion }),
      });
    });
  });
  return findings;
}

function matrixOf(value: Tree): MatrixSpec | undefined {
  const axes: Record<string, MatrixValue[]> = {};
  for (const [key, values] of Object.entries(value)) {
    if (key === 'include' || key === 'exclude') continue;
    if (!Array.isArray(values)) return undefined;
    axes[key] = values as MatrixValue[];
  }
  const rows = (key: string): Record<string, MatrixValue>[] | undefined => {
    const list = value[key] ?? [];
    return Array.isArray(list) && list.every(isTree) ? (list as Record<string, MatrixValue>[]) : undefined;
  };
  const include = rows('include');
  const exclude = rows('exclude');
  return include && exclude ? { axes, include, exclude } : undefined;
}

function checkMatrix(entry: JobEntry, cap: number): Finding[] {
  const value = treeAt(treeAt(entry.job, 'strategy'), 'matrix');
  if (!value) return [];
  const matrix = matrixOf(value);
  if (!matrix) return [];
  const segments = [...entry.segments, 'strategy', 'matrix'];
  const findings: Finding[] = [];
  const axisNames = Object.keys(matrix.axes);
  matrix.exclude.forEach((row, i) => {
    for (const key of Object.keys(row)) {
      if (axisNames.includes(key)) continue;
      const suggestion = suggestKey(key, axisNames);
      findings.push({
        segments: [...segments, 'exclude', i, key],
        atKey: true,
        message: `exclude names '${key}', which is not a matrix axis`,
        ...(suggestion === undefined ? {} : { suggestion }),
      });
    }
  });
  const overflow = matrixOverflow(matrix, cap);
  if (overflow) {
    const count = overflow.exact ? `${overflow.count}` : `more than ${overflow.count}`;
    findings.push({
      segments,
      message: `the matrix expands to ${count} combinations; at most ${cap} are allowed`,
    });
  }
  return findings;
}

const CRON_FORMS =
  "write 5 fields (minute hour day month weekday), 6 with seconds first, or a nickname such as '@daily'";

/** Why `cron` is not a usable schedule, or undefined. Croner's message, rephrased. */
export function cronProblem(cron: string): string | undefined {
  const quoted = cron.length > 60 ? `${cron.slice(0, 57)}...` : cron;
  let next: Date | null;
  try {
    // Counted from a fixed instant so the check is pure; 7 fields (years) are refused.
    next = new Cron(cron, { mode: '5-or-6-parts', timezone: 'UTC' }).nextRun(new Date(0));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const fields = cron.trim() === '' ? 0 : cron.trim().split(/\s+/).length;
    // Croner's own wording of a wrong field count quotes the whole pattern: say it shortly.
    const reason =
      message.includes("'5-or-6-parts'") || message.includes('invalid configuration format')
        ? `it has ${fields} field${fields === 1 ? '' : 's'}`
        : (message
            .replace(/^CronPattern:\s*/, '')
            .split('. ')[0]
            ?.replace(/\.$/, '')
            .replace(/^./, (c) => c.toLowerCase()) ?? 'croner refused it');
    return `invalid cron '${quoted}': ${reason}; ${CRON_FORMS}`;
  }
  return next === null ? `cron '${quoted}' never fires; check the day and month fields` : undefined;
}

/** Why `timezone` is not an IANA time zone this Node knows, with the nearest one, or undefined. */
export function timezoneProblem(timezone: string): { message: string; suggestion?: string } | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    const suggestion = suggestKey(timezone, [...Intl.supportedValuesOf('timeZone'), 'UTC']);
    return {
      message: `unknown time zone '${timezone}'; write an IANA name such as 'Europe/Berlin' or '${PIPELINE_DEFAULTS.timezone}'`,
      ...(suggestion === undefined ? {} : { suggestion }),
    };
  }
}

function checkSchedule(trigger: Tree, index: number): Finding[] {
  const findings: Finding[] = [];
  const at = (key: string): PathSegment[] => ['on', index, key];
  if (!('schedule' in trigger)) {
    if (!('event' in trigger)) {
      findings.push({
        segments: ['on', index],
        message: "a trigger needs 'event' (an event type) or 'schedule' (a cron expression)",
      });
    }
    for (const key of ['timezone', 'missed']) {
      if (key in trigger)
        findings.push({
          segments: at(key),
          atKey: true,
          message: `'${key}' belongs to schedule triggers; add 'schedule' or remove '${key}'`,
        });
    }
    return findings;
  }
  for (const key of Object.keys(trigger)) {
    if (key === 'schedule' || (SCHEDULE_KEYS as readonly string[]).includes(key)) continue;
    findings.push({
      segments: at(key),
      atKey: true,
      message:
        key === 'event'
          ? "a trigger has either 'event' or 'schedule', not both; split it into two triggers"
          : `'${key}' cannot be used with 'schedule'; a schedule trigger takes only 'timezone', 'missed' and 'if'`,
    });
  }
  const cron = trigger['schedule'];
  if (typeof cron === 'string' && cron.trim() !== '' && cron.length <= MAX_CRON_LENGTH) {
    const problem = cronProblem(cron);
    if (problem !== undefined) findings.push({ segments: at('schedule'), message: problem });
  }
  const timezone = trigger['timezone'];
  if (typeof timezone === 'string' && timezone !== '' && timezone.length <= MAX_TIMEZONE_LENGTH) {
    const problem = timezoneProblem(timezone);
    if (problem !== undefined) findings.push({ segments: at('timezone'), ...problem });
  }
  return findings;
}

function checkTriggers(pipeline: Tree): Finding[] {
  const findings: Finding[] = [];
  (listAt(pipeline, 'on') ?? []).forEach((trigger, index) => {
    if (!isTree(trigger)) return;
    findings.push(...checkSchedule(trigger, index));
    for (const [include, ignore] of FILTER_PAIRS) {
      if (include in trigger && ignore in trigger) {
        findings.push({
          segments: ['on', index, ignore],
          atKey: true,
          message: `'${include}' and '${ignore}' cannot be used together; use '${include}' with '!'-prefixed patterns to exclude`,
        });
      }
    }
  });
  return findings;
}

/** Durations that match the pattern but lie beyond 24h (or are zero). */
function checkDurations(value: unknown, segments: PathSegment[], findings: Finding[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkDurations(item, [...segments, i], findings));
    return;
  }
  if (!isTree(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const isDurationKey = ['timeout', 'backoff', 'max-backoff', 'max-wait'].includes(key);
    if (isDurationKey && typeof child === 'string' && /^\d+(ms|s|m|h)$/.test(child)) {
      if (parseDuration(child) === undefined)
        findings.push({
          segments: [...segments, key],
          message: `must be a duration from 1ms to 24h, got '${child}'`,
        });
    } else if (key !== 'with' && key !== 'env') checkDurations(child, [...segments, key], findings);
  }
}

/**
 * Calls `check` on every condition and on every string holding `${{` where templates are allowed,
 * with the scope of where it is. Names (`name`, `description`) are plain text and not checked.
 */
function checkExpressions(pipeline: Tree, check: ExpressionChecker): Finding[] {
  const findings: Finding[] = [];
  const run = (source: unknown, scope: ExpressionScope, segments: readonly PathSegment[]): void => {
    if (typeof source !== 'string') return;
    const message = check(source, scope);
    if (message !== undefined) findings.push({ segments, message });
  };
  const templates = (value: unknown, scope: ExpressionScope, segments: readonly PathSegment[]): void => {
    if (typeof value === 'string') {
      if (value.includes('${{')) run(value, scope, segments);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => templates(item, scope, [...segments, i]));
    } else if (isTree(value)) {
      for (const [key, child] of Object.entries(value)) templates(child, scope, [...segments, key]);
    }
  };
  const fields = (
    tree: Tree,
    segments: readonly PathSegment[],
    scopes: Readonly<Record<string, ExpressionScope>>,
  ): void => {
    for (const [key, scope] of Object.entries(scopes)) templates(tree[key], scope, [...segments, key]);
  };
  (listAt(pipeline, 'on') ?? []).forEach((trigger, i) => {
    if (isTree(trigger)) run(trigger['if'], 'trigger-if', ['on', i, 'if']);
  });
  fields(pipeline, [], { concurrency: 'concurrency', env: 'pipeline-env', outputs: 'pipeline-outputs' });
  for (const entry of [...jobEntries(pipeline, 'jobs'), ...jobEntries(pipeline, 'finally')]) {
    run(entry.job['if'], 'job-if', [...entry.segments, 'if']);
    fields(entry.job, entry.segments, {
      env: 'job-template',
      'working-directory': 'job-template',
      environment: 'job-template',
      outputs: 'job-outputs',
    });
    (listAt(entry.job, 'steps') ?? []).forEach((step, i) => {
      if (!isTree(step)) return;
      const segments = [...entry.segments, 'steps', i];
      run(step['if'], 'step-if', [...segments, 'if']);
      fields(step, segments, {
        run: 'step-run',
        env: 'step-template',
        'working-directory': 'step-template',
        with: 'step-template',
      });
    });
  }
  return findings;
}

export interface CheckOptions {
  readonly checkExpression?: ExpressionChecker | undefined;
  /** Default `MAX_MATRIX_COMBINATIONS` (256). */
  readonly maxMatrixCombinations?: number | undefined;
}

/** Every problem of `pipeline` (a plain value) beyond what the schema reports. */
export function checkPipeline(pipeline: unknown, options: CheckOptions = {}): Finding[] {
  if (!isTree(pipeline)) return [];
  const ordinary = jobEntries(pipeline, 'jobs');
  const final = jobEntries(pipeline, 'finally');
  const secrets = listAt(pipeline, 'secrets');
  const declared = new Set((secrets ?? []).filter((s): s is string => typeof s === 'string'));
  const findings = [...checkTriggers(pipeline), ...checkJobGraph(ordinary, final)];
  for (const entry of [...ordinary, ...final]) {
    findings.push(
      ...checkSteps(entry, declared),
      ...checkMatrix(entry, options.maxMatrixCombinations ?? MAX_MATRIX_COMBINATIONS),
    );
    // One job records one deployment: a matrix would deploy several targets under one record.
    if (treeAt(entry.job, 'environment') !== undefined && treeAt(entry.job, 'strategy') !== undefined) {
      findings.push({
        segments: [...entry.segments, 'environment'],
        atKey: true,
        message:
          'a job with `environment` cannot use `strategy.matrix`: one job records one deployment; deploy each target from a job of its own',
      });
    }
  }
  checkDurations(pipeline, [], findings);
  if (options.checkExpression) findings.push(...checkExpressions(pipeline, options.checkExpression));
  return findings;
}
