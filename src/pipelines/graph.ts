/**
 * The job graph of a pipeline: each job's needs and dependents, a topological order, and cycle
 * finding. Pure functions over job ids; `findCycles` works on any needs map, so the loader uses it
 * before a spec exists. Callers of `jobGraph` may assume the spec passed validation (no unknown
 * needs, no cycles), so the order holds every job exactly once.
 */
import type { PipelineSpec } from './types.ts';

export interface JobGraph {
  /** Job id → the jobs it needs, in file order. `finally` jobs are included. */
  readonly needs: ReadonlyMap<string, readonly string[]>;
  /** Job id → the jobs that need it. */
  readonly dependents: ReadonlyMap<string, readonly string[]>;
  /** Every ordinary job, each after the jobs it needs; ties keep file order. */
  readonly order: readonly string[];
  /** The `finally` jobs in the same kind of order; they start after every job in `order`. */
  readonly finallyOrder: readonly string[];
  /** Jobs with no needs, which can start at once. */
  readonly roots: readonly string[];
}

/**
 * Every cycle among `ids` following `needs` (unknown ids and self-needs ignored), each once, as
 * the path that closes it: `['build', 'test', 'build']`. A cycle starts at its first job in `ids`
 * order; cycles are listed in the order their first job appears.
 */
export function findCycles(
  ids: readonly string[],
  needs: ReadonlyMap<string, readonly string[]>,
): string[][] {
  const index = new Map(ids.map((id, i) => [id, i]));
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'open');
    stack.push(id);
    for (const next of needs.get(id) ?? []) {
      if (next === id || !index.has(next)) continue;
      const nextState = state.get(next);
      if (nextState === 'open') {
        const loop = stack.slice(stack.indexOf(next));
        const start = loop.reduce((best, j, k) => (index.get(j)! < index.get(loop[best]!)! ? k : best), 0);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        const key = [...rotated].sort().join('\u0000');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...rotated, rotated[0]!]);
        }
      } else if (nextState === undefined) {
        visit(next);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of ids) if (!state.has(id)) visit(id);
  return cycles.sort((a, b) => index.get(a[0]!)! - index.get(b[0]!)!);
}

/** `ids` ordered so each comes after the ids it needs among them; ties keep the given order. */
export function topologicalOrder(
  ids: readonly string[],
  needs: ReadonlyMap<string, readonly string[]>,
): string[] {
  const members = new Set(ids);
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < ids.length) {
    const next = ids.find(
      (id) => !done.has(id) && (needs.get(id) ?? []).every((n) => done.has(n) || !members.has(n)),
    );
    if (next === undefined) break; // a cycle: validation reports it; nothing more can be ordered
    done.add(next);
    order.push(next);
  }
  return order;
}

/** The job graph of a valid spec. */
export function jobGraph(spec: PipelineSpec): JobGraph {
  const all = [...Object.values(spec.jobs), ...Object.values(spec.finally)];
  const needs = new Map(all.map((job) => [job.id, job.needs]));
  const dependents = new Map<string, string[]>(all.map((job) => [job.id, []]));
  for (const job of all) for (const need of job.needs) dependents.get(need)?.push(job.id);
  const jobIds = Object.keys(spec.jobs);
  return {
    needs,
    dependents,
    order: topologicalOrder(jobIds, needs),
    finallyOrder: topologicalOrder(Object.keys(spec.finally), needs),
    roots: jobIds.filter((id) => (needs.get(id) ?? []).length === 0),
  };
}

/** Every job id (ordinary, then `finally`) in an order that respects `needs`. */
export function planOrder(spec: PipelineSpec): string[] {
  const graph = jobGraph(spec);
  return [...graph.order, ...graph.finallyOrder];
}
