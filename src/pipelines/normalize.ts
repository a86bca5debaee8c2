/**
 * Turns a pipeline file's plain value, once it has no problems, into the `PipelineSpec` callers
 * use: camelCase keys, short forms expanded, durations in milliseconds, defaults filled, deeply
 * frozen. Pure; assumes the value passed `validateAgainstSchema` and `checkPipeline`.
 */
import { parseDuration } from './duration.ts';
import { PIPELINE_DEFAULTS, SCHEDULE_EVENT_TYPE, SCHEDULE_SOURCE } from './schema.ts';
import type {
  BuiltinAction,
  ConcurrencyMode,
  InputValue,
  JobSpec,
  MatrixValue,
  MissedPolicy,
  PipelineSpec,
  RetrySpec,
  StepSpec,
  StrategySpec,
  TriggerSpec,
  WorkerLostPolicy,
} from './types.ts';

// The value is schema-valid, so fields are read with light casts.
type Raw = Readonly<Record<string, unknown>>;

const ms = (text: unknown): number => parseDuration(String(text))!;
const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
const str = (value: unknown): string | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
const list = (value: unknown): readonly string[] | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? [value] : (value as string[]);
const stringMap = (value: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries((value ?? {}) as Raw).map(([k, v]) => [k, String(v as string | number | boolean)]),
  );

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The `subject` of a schedule trigger's ticks: `<pipeline>/<trigger index>`. */
export const scheduleSubject = (pipeline: string, index: number): string => `${pipeline}/${index}`;

function trigger(raw: Raw, index: number, pipeline: string): TriggerSpec {
  if (typeof raw['schedule'] === 'string') {
    // A schedule matches only its own ticks: one type, one source, one subject per trigger.
    return {
      index,
      event: SCHEDULE_EVENT_TYPE,
      source: SCHEDULE_SOURCE,
      subject: scheduleSubject(pipeline, index),
      schedule: {
        cron: raw['schedule'],
        timezone: str(raw['timezone']) ?? PIPELINE_DEFAULTS.timezone,
        missed: (raw['missed'] ?? PIPELINE_DEFAULTS.missed) as MissedPolicy,
      },
      ...optional('if', str(raw['if'])),
    };
  }
  return {
    index,
    event: String(raw['event']),
    ...optional('source', str(raw['source'])),
    ...optional('subject', str(raw['subject'])),
    ...optional('branches', list(raw['branches'])),
    ...optional('branchesIgnore', list(raw['branches-ignore'])),
    ...optional('tags', list(raw['tags'])),
    ...optional('tagsIgnore', list(raw['tags-ignore'])),
    ...optional('paths', list(raw['paths'])),
    ...optional('pathsIgnore', list(raw['paths-ignore'])),
    ...optional('if', str(raw['if'])),
  };
}

function retry(raw: unknown): RetrySpec {
  const spec = (typeof raw === 'number' ? { max: raw } : (raw ?? { max: 0 })) as Raw;
  const backoffMs = ms(spec['backoff'] ?? PIPELINE_DEFAULTS.retryBackoff);
  const maxBackoffMs = Math.max(backoffMs, ms(spec['max-backoff'] ?? PIPELINE_DEFAULTS.retryMaxBackoff));
  return {
    max: spec['max'] as number,
    backoffMs,
    maxBackoffMs,
    ...optional('onExitCodes', spec['on-exit-codes'] as number[] | undefined),
  };
}

function step(raw: Raw, index: number): StepSpec {
  const common = {
    index,
    ...optional('id', str(raw['id'])),
    ...optional('name', str(raw['name'])),
    env: stringMap(raw['env']),
    ...optional('if', str(raw['if'])),
    ...optional('timeoutMs', raw['timeout'] === undefined ? undefined : ms(raw['timeout'])),
    retry: retry(raw['retry']),
    continueOnError: raw['continue-on-error'] === true,
    ...optional('workingDirectory', str(raw['working-directory'])),
    secrets: (raw['secrets'] ?? []) as string[],
    onWorkerLost: (raw['on-worker-lost'] ?? PIPELINE_DEFAULTS.onWorkerLost) as WorkerLostPolicy,
  };
  if (typeof raw['run'] === 'string') return { ...common, run: raw['run'] };
  return {
    ...common,
    uses: raw['uses'] as BuiltinAction,
    with: (raw['with'] ?? {}) as Record<string, InputValue>,
  };
}

function strategy(raw: unknown): StrategySpec | undefined {
  if (raw === undefined) return undefined;
  const spec = raw as Raw;
  const matrix = spec['matrix'] as Raw;
  const axes = Object.fromEntries(
    Object.entries(matrix).filter(([k]) => k !== 'include' && k !== 'exclude'),
  ) as Record<string, MatrixValue[]>;
  return {
    matrix: {
      axes,
      include: (matrix['include'] ?? []) as Record<string, MatrixValue>[],
      exclude: (matrix['exclude'] ?? []) as Record<string, MatrixValue>[],
    },
    ...optional('maxParallel', spec['max-parallel'] as number | undefined),
    failFast: (spec['fail-fast'] ?? PIPELINE_DEFAULTS.failFast) as boolean,
  };
}

function job(id: string, raw: Raw, isFinally: boolean): JobSpec {
  const environment = raw['environment'] as Raw | undefined;
  return {
    id,
    ...optional('name', str(raw['name'])),
    isFinally,
    needs: list(raw['needs']) ?? [],
    ...optional('if', str(raw['if'])),
    env: stringMap(raw['env']),
    timeoutMs: ms(raw['timeout'] ?? PIPELINE_DEFAULTS.jobTimeout),
    ...optional('workingDirectory', str(raw['working-directory'])),
    steps: (raw['steps'] as Raw[]).map(step),
    outputs: stringMap(raw['outputs']),
    ...optional('strategy', strategy(raw['strategy'])),
    ...optional(
      'environment',
      environment === undefined
        ? undefined
        : {
            name: String(environment['name']),
            service: String(environment['service']),
            version: String(environment['version']),
            ...optional('url', str(environment['url'])),
          },
    ),
  };
}

const jobs = (raw: unknown, isFinally: boolean): Record<string, JobSpec> =>
  Object.fromEntries(Object.entries((raw ?? {}) as Raw).map(([id, j]) => [id, job(id, j as Raw, isFinally)]));

/** The frozen spec of a valid pipeline value. */
export function normalizePipeline(raw: Raw): PipelineSpec {
  const concurrency = raw['concurrency'];
  const group = (typeof concurrency === 'string' ? { group: concurrency } : concurrency) as Raw | undefined;
  return deepFreeze({
    name: String(raw['name']),
    ...optional('description', str(raw['description'])),
    on: ((raw['on'] ?? []) as Raw[]).map((entry, index) => trigger(entry, index, String(raw['name']))),
    env: stringMap(raw['env']),
    ...optional(
      'concurrency',
      group === undefined
        ? undefined
        : {
            group: String(group['group']),
            mode: (group['mode'] ?? PIPELINE_DEFAULTS.concurrencyMode) as ConcurrencyMode,
            ...optional('maxWaitMs', group['max-wait'] === undefined ? undefined : ms(group['max-wait'])),
          },
    ),
    secrets: (raw['secrets'] ?? []) as string[],
    jobs: jobs(raw['jobs'], false),
    finally: jobs(raw['finally'], true),
    outputs: stringMap(raw['outputs']),
  });
}
