/**
 * Rendering pipeline problems for people, one line each:
 * `pipelines/ci.yaml:12:9 jobs.deploy.needs[0]: job 'deploy' needs unknown job 'buld' (did you mean 'build'?)`,
 * and the error a command throws when pipeline files have problems. Pure.
 */
import { JunctionError } from '../errors/index.ts';
import { formatProblem } from '../yaml/index.ts';
import type { PipelineProblem } from './types.ts';

/** One line per problem, in the order given. */
export function formatProblems(problems: readonly PipelineProblem[]): string {
  return problems.map(formatProblem).join('\n');
}

/** A `PIPELINE_INVALID` error carrying `problems` in `details.problems`. */
export function pipelineInvalidError(problems: readonly PipelineProblem[]): JunctionError {
  const files = new Set(problems.map((p) => p.file ?? ''));
  const count = problems.length;
  return new JunctionError(
    'PIPELINE_INVALID',
    `${count} problem${count === 1 ? '' : 's'} in ${files.size} pipeline file${files.size === 1 ? '' : 's'}`,
    { details: { problems } },
  );
}
