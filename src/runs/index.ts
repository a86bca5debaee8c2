export {
  STATUSES,
  canTransition,
  combineStatuses,
  isFailure,
  isStatus,
  isTerminal,
  runStatusFromJobs,
} from './states.ts';
export type { Status, StatusItem, TerminalStatus } from './states.ts';
export {
  STATUS_FUNCTIONS,
  decideCondition,
  effectiveCondition,
  jobStatusContext,
  statusFunctionValues,
  statusFunctionsUsed,
  stepStatusContext,
  usesStatusFunction,
} from './conditions.ts';
export type { ConditionDecision, ConditionEvaluator, StatusContext, StatusFunction } from './conditions.ts';
export { findCycle, nextActions, topologicalOrder } from './dag.ts';
export type { JobDecision, JobGraph, JobNode, NextActions, PlanOptions, RunState } from './dag.ts';
export { combinationKey, combinationName, expandMatrix, planMatrix } from './matrix.ts';
export type {
  Combination,
  MatrixMember,
  MatrixPlan,
  MatrixPlanOptions,
  MatrixStrategy,
  MatrixValue,
} from './matrix.ts';
export {
  CONCURRENCY_MODES,
  EMPTY_GROUP,
  admit,
  isConcurrencyMode,
  release,
  withdraw,
} from './concurrency.ts';
export type { Admission, ConcurrencyMode, GroupRun, GroupState } from './concurrency.ts';
export { createRouter, routingRecords, ROUTER_GROUP } from './router.ts';
export { createScheduler, jobRowId, jobsContext, MAX_OUTPUT_BYTES } from './scheduler.ts';
export type { Scheduler, SchedulerOptions } from './scheduler.ts';
export { chainOf, pipelineSource, runEvent } from './result-events.ts';
export type { RunEventInput, RunEventKind } from './result-events.ts';
export { compiledRunSpec } from './run-spec.ts';
export { newRunId, rerunRun, reusableJobs } from './rerun.ts';
export type { RerunOptions, RerunResult } from './rerun.ts';
export type { Router, RouterOptions } from './router.ts';
export {
  checkPipelineExpression,
  compilePipeline,
  evaluateIf,
  expressionVariables,
  renderInputs,
  renderScriptEnv,
  renderTemplate,
  renderTemplates,
} from './expressions.ts';
export type {
  CompiledInputs,
  CompiledJob,
  CompiledPipeline,
  CompiledStep,
  CompiledTemplates,
  ExpressionContext,
  RunContext,
} from './expressions.ts';
export { TRACE_MAX_DEPTH, TRACE_MAX_NODES, producedByRun, runSource, summarize, traceFrom } from './trace.ts';
export type { Trace, TraceEventNode, TraceNode, TraceOptions, TraceRunNode } from './trace.ts';
export {
  deploymentEvent,
  deploymentIdOf,
  endDeployment,
  gateDeployment,
  targetProblem,
} from './deployments.ts';
export type {
  DeploymentEventKind,
  DeploymentTarget,
  EnvironmentPolicy,
  GateInput,
  GateOutcome,
  GateVerdict,
} from './deployments.ts';
export { requestRollback } from './rollback.ts';
export type { RollbackRequest, RollbackResult } from './rollback.ts';
export {
  LOCAL_AUTHOR,
  TIMEOUT_AUTHOR,
  createEnvironmentPolicy,
  describeFreezeWindow,
  freezeStateAt,
  compileFreezeWindow,
} from './environment-policy.ts';
export type { CompiledFreezeWindow, FreezeState } from './environment-policy.ts';
export { MAX_APPROVAL_COMMENT, approvalState, decideApproval } from './approvals.ts';
export type { ApprovalDecision, ApprovalRequest, ApprovalState } from './approvals.ts';
