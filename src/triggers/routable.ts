/**
 * Turning loaded pipelines into what the router matches events against: each trigger of each
 * pipeline in the trigger module's shape, its `if` compiled once (CEL over `event`), and one index
 * by event type over all of them. Pure; build a new set whenever the pipelines change.
 *
 * Callers may assume: a pipeline whose triggers have problems (an `if` that does not compile, an
 * invalid filter pattern) is left out of the set and each problem is returned with the pipeline's
 * file and the trigger's path (`on[1].if`), so one broken file never stops the others routing.
 * `checkTriggerIf` is the `checkExpression` option for `parsePipeline`/`loadPipelineDir`, so CEL
 * errors in `on[].if` are reported at load with file:line:col.
 */
import { createHash } from 'node:crypto';
import { compileExpression, evaluateCondition, type CompiledExpression } from '../expr/index.ts';
import { errorMessage } from '../errors/index.ts';
import type {
  ExpressionChecker,
  LoadedPipeline,
  MissedPolicy,
  PipelineProblem,
  PipelineSpec,
  TriggerSpec as PipelineTriggerSpec,
} from '../pipelines/index.ts';
import { createTriggerIndex, type TriggerIndex } from './index-by-type.ts';
import { checkTriggerSpec, type TriggerSpec } from './trigger.ts';

/** The names a trigger's `if` may use. */
export const TRIGGER_IF_VARIABLES: readonly string[] = ['event'];

export interface RoutableTrigger {
  /** `pipeline#index`, unique in a set. */
  readonly key: string;
  readonly pipeline: string;
  /** Position in the pipeline's `on` list. */
  readonly triggerIndex: number;
  readonly trigger: TriggerSpec;
  /** The compiled `if`, when the trigger has one. */
  readonly condition?: CompiledExpression;
}

export interface RoutablePipeline {
  readonly name: string;
  readonly file: string;
  readonly spec: PipelineSpec;
  /** sha256 hex of the spec as JSON: which version of the pipeline decided. */
  readonly digest: string;
}

/** Everything the router needs; immutable. */
export interface RoutablePipelines {
  readonly pipelines: ReadonlyMap<string, RoutablePipeline>;
  readonly index: TriggerIndex<RoutableTrigger>;
}

export interface CompiledPipelines {
  readonly routable: RoutablePipelines;
  /** Problems of the pipelines left out, in input order. */
  readonly problems: readonly PipelineProblem[];
}

/** A set with no pipelines: every event gets no decision. */
export const NO_PIPELINES: RoutablePipelines = Object.freeze({
  pipelines: new Map<string, RoutablePipeline>(),
  index: createTriggerIndex<RoutableTrigger>([]),
});

/** `checkExpression` for pipeline loading: compiles trigger `if`s; other scopes are checked later. */
export const checkTriggerIf: ExpressionChecker = (source, scope) => {
  if (scope !== 'trigger-if') return undefined;
  try {
    compileExpression(source, { variables: TRIGGER_IF_VARIABLES });
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
};

/** A pipeline file's trigger in the trigger module's shape (kebab-case filter keys). */
export function toTriggerSpec(trigger: PipelineTriggerSpec): TriggerSpec {
  const spec: Record<string, unknown> = { event: trigger.event };
  const copy: [keyof PipelineTriggerSpec, string][] = [
    ['source', 'source'],
    ['subject', 'subject'],
    ['branches', 'branches'],
    ['branchesIgnore', 'branches-ignore'],
    ['tags', 'tags'],
    ['tagsIgnore', 'tags-ignore'],
    ['paths', 'paths'],
    ['pathsIgnore', 'paths-ignore'],
    ['if', 'if'],
  ];
  for (const [from, to] of copy) if (trigger[from] !== undefined) spec[to] = trigger[from];
  return spec as unknown as TriggerSpec;
}

export function pipelineDigest(spec: PipelineSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

function compileTriggers(loaded: LoadedPipeline): {
  triggers: RoutableTrigger[];
  problems: PipelineProblem[];
} {
  const { spec, file } = loaded;
  const triggers: RoutableTrigger[] = [];
  const problems: PipelineProblem[] = [];
  for (const onEntry of spec.on) {
    const triggerIndex = onEntry.index;
    const trigger = toTriggerSpec(onEntry);
    const at = (path: string): string => `on[${triggerIndex}]${path === '' ? '' : `.${path}`}`;
    for (const problem of checkTriggerSpec(trigger)) {
      problems.push({ file, path: at(problem.path), message: problem.message });
    }
    let condition: CompiledExpression | undefined;
    if (trigger.if !== undefined && trigger.if.trim() !== '') {
      try {
        condition = compileExpression(trigger.if, { variables: TRIGGER_IF_VARIABLES });
      } catch (error) {
        problems.push({ file, path: at('if'), message: errorMessage(error) });
      }
    }
    triggers.push({
      key: `${spec.name}#${triggerIndex}`,
      pipeline: spec.name,
      triggerIndex,
      trigger,
      ...(condition === undefined ? {} : { condition }),
    });
  }
  return { triggers, problems };
}

/** Compiles loaded pipelines (in the order given) into a routable set. */
export function compilePipelines(loaded: Iterable<LoadedPipeline>): CompiledPipelines {
  const pipelines = new Map<string, RoutablePipeline>();
  const entries: RoutableTrigger[] = [];
  const problems: PipelineProblem[] = [];
  for (const item of loaded) {
    const compiled = compileTriggers(item);
    if (compiled.problems.length > 0) {
      problems.push(...compiled.problems);
      continue;
    }
    const { spec, file } = item;
    pipelines.set(spec.name, { name: spec.name, file, spec, digest: pipelineDigest(spec) });
    entries.push(...compiled.triggers);
  }
  return { routable: { pipelines, index: createTriggerIndex(entries) }, problems };
}

/** A `schedule` trigger of a loaded pipeline, with the attributes its ticks must carry to match it. */
export interface ScheduledTrigger {
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly cron: string;
  readonly timezone: string;
  readonly missed: MissedPolicy;
  /** The tick's CloudEvents source and subject: the trigger matches only these. */
  readonly source: string;
  readonly subject: string;
}

/** Every `schedule` trigger of the routable pipelines, in pipeline then trigger order. */
export function scheduledTriggers(routable: RoutablePipelines): ScheduledTrigger[] {
  const found: ScheduledTrigger[] = [];
  for (const pipeline of routable.pipelines.values()) {
    for (const trigger of pipeline.spec.on) {
      const { schedule, source, subject } = trigger;
      if (schedule === undefined || source === undefined || subject === undefined) continue;
      found.push({
        pipeline: pipeline.name,
        triggerIndex: trigger.index,
        cron: schedule.cron,
        timezone: schedule.timezone,
        missed: schedule.missed,
        source,
        subject,
      });
    }
  }
  return found;
}

/** Evaluates a compiled `if` against an event: `{ event }` is the expression's only variable. */
export function evaluateTriggerIf(condition: CompiledExpression, event: unknown): boolean {
  return evaluateCondition(condition, { event });
}
