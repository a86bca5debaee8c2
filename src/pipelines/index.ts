/**
 * Pipeline files: the format's types, parsing and validation of one file (every problem with
 * file:line:col and a suggestion), loading and watching a folder, the job graph, matrix
 * expansion, and the JSON Schema editors use. Other folders import only from here.
 */
export { parsePipeline, MAX_PIPELINE_FILE_BYTES } from './parse-pipeline.ts';
export type { ParsePipelineOptions, ParsePipelineResult } from './parse-pipeline.ts';
export { loadPipelineDir, watchPipelineDir } from './load-pipeline-dir.ts';
export type {
  LoadedPipeline,
  PipelineDirResult,
  PipelineDirWatcher,
  WatchPipelineDirOptions,
} from './load-pipeline-dir.ts';
export { formatProblems, pipelineInvalidError } from './format-problems.ts';
export { jobGraph, planOrder } from './graph.ts';
export type { JobGraph } from './graph.ts';
export { pipelineFlow, pipelineFlowGraph, renderMermaid, RUN_END_EVENTS } from './mermaid.ts';
export type { FlowEdge, FlowEdgeKind, FlowNode, FlowNodeKind, PipelineFlow } from './mermaid.ts';
export { combinationKey, combinationName, expandMatrix, matrixOverflow } from './matrix.ts';
export type { MatrixCombination, MatrixOverflow } from './matrix.ts';
export { parseDuration } from './duration.ts';
export {
  pipelineJsonSchema,
  PIPELINE_DEFAULTS,
  PIPELINE_NAME_PATTERN,
  BUILTIN_ACTIONS,
  MAX_MATRIX_COMBINATIONS,
  MAX_DURATION_MS,
  MISSED_POLICIES,
  SCHEDULE_EVENT_TYPE,
  SCHEDULE_SOURCE,
} from './schema.ts';
export { scheduleSubject } from './normalize.ts';
export { cronProblem, timezoneProblem } from './check-pipeline.ts';
export type {
  PipelineSpec,
  PipelineProblem,
  PipelineProblem as Problem,
  TriggerSpec,
  ScheduleSpec,
  MissedPolicy,
  ConcurrencySpec,
  ConcurrencyMode,
  JobSpec,
  StepSpec,
  RunStepSpec,
  UsesStepSpec,
  RetrySpec,
  StrategySpec,
  MatrixSpec,
  MatrixValue,
  EnvironmentSpec,
  BuiltinAction,
  InputValue,
  WorkerLostPolicy,
  ExpressionChecker,
  ExpressionScope,
} from './types.ts';
