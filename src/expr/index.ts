/**
 * Expressions: CEL conditions, `${{ }}` templates, and the rewrite that passes `${{ }}` values to
 * shell scripts as environment variables. Pure (no I/O); compile once at load, evaluate per event.
 * Errors are `JunctionError`s: EXPR_INVALID and EXPR_UNKNOWN_VARIABLE when compiling,
 * EXPR_EVAL_FAILED when evaluating.
 */
export {
  compileExpression,
  evaluateCondition,
  celTypeName,
  quoteExpression,
  MAX_EXPRESSION_LENGTH,
  MAX_EXPRESSION_DEPTH,
  MAX_CONTEXT_DEPTH,
} from './cel.ts';
export type { CompiledExpression, CompileOptions, EvaluateOptions, StatusValues } from './cel.ts';
export { parseTemplate, compileTemplate, renderExpression } from './template.ts';
export type { TemplatePart, CompiledTemplate } from './template.ts';
export { prepareRunScript, renderRunScriptEnv, RUN_ENV_PREFIX } from './shell.ts';
export type { PreparedRunScript, RunScriptVariable } from './shell.ts';
export { nearestName } from './nearest.ts';
