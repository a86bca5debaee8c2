/**
 * The compiled pipeline of a run. A run keeps the pipeline spec it was created with (as JSON), so
 * a pipeline file changed while the run is going does not change the run; this module turns that
 * JSON back into a compiled pipeline once per pipeline version and keeps the most recently used
 * versions (by digest) in a bounded cache shared by the scheduler and the workers.
 *
 * Throws `PIPELINE_INVALID` when the run has no spec or it no longer compiles (a run created by
 * an older Junction with a pipeline this one refuses): the caller fails the run with the message.
 */
import { createHash } from 'node:crypto';
import { JunctionError } from '../errors/index.ts';
import type { PipelineSpec } from '../pipelines/index.ts';
import { compilePipeline, type CompiledPipeline } from './expressions.ts';

const MAX_CACHED = 256;
const cache = new Map<string, CompiledPipeline>();

export interface RunSpecSource {
  readonly id: string;
  readonly pipelineDigest: string | null;
  readonly spec: string | null;
}

export function compiledRunSpec(run: RunSpecSource): CompiledPipeline {
  if (run.spec === null) {
    throw new JunctionError('PIPELINE_INVALID', `run '${run.id}' has no pipeline spec recorded`);
  }
  const key = run.pipelineDigest ?? createHash('sha256').update(run.spec).digest('hex');
  const hit = cache.get(key);
  if (hit !== undefined) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  let spec: PipelineSpec;
  try {
    spec = JSON.parse(run.spec) as PipelineSpec;
  } catch (error) {
    throw new JunctionError('PIPELINE_INVALID', `run '${run.id}' has an unreadable pipeline spec`, {
      cause: error,
    });
  }
  const compiled = compilePipeline(spec);
  cache.set(key, compiled);
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return compiled;
}
