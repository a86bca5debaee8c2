/**
 * Triggers: the pure matching of one event against one trigger of a pipeline, with GitHub's filter
 * semantics and a decision in words, and an index by event type. Nothing here does I/O; the router
 * (in `runs`) records the verdicts as decisions.
 */
export { compileGitHubGlob, globMatches, globProblems, inPatternList, lastMatch } from './github-glob.ts';
export type { GitHubGlob } from './github-glob.ts';
export {
  checkFilterSpec,
  formatList,
  matchPaths,
  matchRefs,
  MATCHED,
  UNKNOWN_FILES_NOTE,
} from './filters.ts';
export type { EventRef, FilterProblem, PathFilter, RefFilter, Verdict } from './filters.ts';
export {
  checkTriggerSpec,
  eventChangedFiles,
  eventRef,
  isTypePattern,
  matchEventType,
  matchTrigger,
  TRIGGER_CLAUSES,
  typePatternProblems,
} from './trigger.ts';
export type { MatchOptions, TriggerClause, TriggerSpec, TriggerVerdict } from './trigger.ts';
export { createTriggerIndex } from './index-by-type.ts';
export type { TriggerIndex, TriggerIndexEntry } from './index-by-type.ts';
export { decideEvent, runIdFor } from './decide.ts';
export type { Decision } from './decide.ts';
export {
  checkTriggerIf,
  compilePipelines,
  evaluateTriggerIf,
  NO_PIPELINES,
  pipelineDigest,
  scheduledTriggers,
  toTriggerSpec,
  TRIGGER_IF_VARIABLES,
} from './routable.ts';
export type {
  CompiledPipelines,
  RoutablePipeline,
  RoutablePipelines,
  RoutableTrigger,
  ScheduledTrigger,
} from './routable.ts';
