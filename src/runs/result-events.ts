/**
 * The events Junction publishes about its own runs, so pipelines chain: `pipeline.started`,
 * `pipeline.succeeded`, `pipeline.failed`, `pipeline.cancelled` (docs/events.md lists their data).
 *
 * What callers may assume:
 * - The CloudEvent id is derived from the run id and the kind (`<run id>.succeeded`), and the
 *   source is fixed per pipeline, so publishing the same result twice (a restart between storing
 *   the run's end and publishing it) stores one event: intake dedupes on source + id.
 * - `causationid` is the stored id of the event that started the run; `correlationid` is the
 *   root of the chain: the triggering event's own `correlationid`, or its stored id when it has
 *   none. A chain of pipelines therefore shares one correlation id.
 * - `data` carries the pipeline, run id, status, the triggering event's id and type, the reason
 *   for a failure, the run's declared outputs, and, when the triggering event had them, its
 *   `repository`, `branch`, `tag` and commit (`after`), so a downstream trigger can filter on them.
 */
import type { CloudEvent, StoredEvent } from '../events/index.ts';

export type RunEventKind = 'started' | 'succeeded' | 'failed' | 'cancelled';

export interface RunEventInput {
  readonly runId: string;
  readonly pipeline: string;
  readonly status: string;
  readonly trigger: StoredEvent;
  readonly reason?: string | null;
  readonly outputs?: Readonly<Record<string, string>> | null;
  readonly startedAt?: string | null;
  readonly finishedAt?: string | null;
  readonly rerunOf?: string | null;
}

/** The source of every event about a pipeline's runs. */
export function pipelineSource(pipeline: string): string {
  return `/junction/pipelines/${pipeline}`;
}

/** `causationid` and `correlationid` for an event caused by `trigger`. */
export function chainOf(trigger: StoredEvent): { causationid: string; correlationid: string } {
  const root = trigger.event['correlationid'];
  return {
    causationid: trigger.id,
    correlationid: typeof root === 'string' && root !== '' ? root : trigger.id,
  };
}

const CARRIED = ['repository', 'branch', 'tag', 'ref', 'after'] as const;

/** The triggering event's git context, when its data has one, for downstream filters. */
function carried(trigger: StoredEvent): Record<string, unknown> {
  const data = trigger.event.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return {};
  const fields: Record<string, unknown> = {};
  for (const key of CARRIED) {
    const value = (data as Record<string, unknown>)[key];
    if (typeof value === 'string') fields[key] = value;
    else if (key === 'repository' && typeof value === 'object' && value !== null) {
      const name =
        (value as Record<string, unknown>)['full_name'] ?? (value as Record<string, unknown>)['name'];
      if (typeof name === 'string') fields[key] = name;
    }
  }
  return fields;
}

export function runEvent(kind: RunEventKind, input: RunEventInput): CloudEvent {
  const durationMs =
    input.startedAt && input.finishedAt
      ? Date.parse(input.finishedAt) - Date.parse(input.startedAt)
      : undefined;
  return {
    specversion: '1.0',
    id: `${input.runId}.${kind}`,
    source: pipelineSource(input.pipeline),
    type: `pipeline.${kind}`,
    subject: input.runId,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    ...chainOf(input.trigger),
    data: {
      pipeline: input.pipeline,
      runId: input.runId,
      status: input.status,
      eventId: input.trigger.id,
      eventType: input.trigger.event.type,
      ...carried(input.trigger),
      ...(input.reason ? { reason: input.reason } : {}),
      ...(kind === 'started' ? {} : { outputs: input.outputs ?? {} }),
      ...(input.startedAt ? { startedAt: input.startedAt } : {}),
      ...(input.finishedAt ? { finishedAt: input.finishedAt } : {}),
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(input.rerunOf ? { rerunOf: input.rerunOf } : {}),
    },
  };
}
