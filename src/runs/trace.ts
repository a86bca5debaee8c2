/**
 * The causal chain of an event or a run as a tree: event → the runs it started → the events those
 * runs produced → the runs those started …, what `junction trace` prints and
 * `GET /api/v1/trace/:id` serves.
 *
 * The links, each answered by an index of the store:
 * - an event's children are the runs it started (re-runs excluded);
 * - a run's children are its re-runs (marked by `rerunOf`), the rollback runs its `rollback`
 *   steps started, and the events it produced, as `producedByRun` recognises them
 *   (docs/events.md, "Events produced by a run");
 * - going up, an event produced by a run has that run as parent, any other event the stored event
 *   its `causationid` names; a re-run has the run it repeats, any other run its event.
 *
 * What callers may assume:
 * - `traceFrom` first walks up from the id to the root of the chain, then builds the tree down
 *   from the root, so tracing any member of a chain shows the whole chain; the node asked for has
 *   `focus: true`, and every node on the path from the root to it is kept even when the tree is cut.
 * - Children are ordered by the time they were stored (events) or created (runs).
 * - The tree holds at most `maxNodes` nodes (1000) and `maxDepth` levels below the root (50);
 *   `truncated` is true when something was left out, including an upward walk cut at `maxDepth`.
 *   A node is never visited twice, so hostile links (an event naming itself) cannot loop.
 * - An id that is neither a stored event nor a run gives `undefined`.
 */
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import type { LinkedRun, RunDetail, Store } from '../store/index.ts';

export const TRACE_MAX_NODES = 1000;
export const TRACE_MAX_DEPTH = 50;

const RUN_SOURCE_PREFIX = '/junction/runs/';
const JUNCTION_SOURCE_PREFIX = '/junction/';
const RUN_ID_PREFIX = 'run_';

export interface TraceEventNode {
  readonly kind: 'event';
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string | null;
  /** The event's own `time`, or when it was stored when it has none. */
  readonly time: string;
  readonly receivedAt: string;
  /** A few words on what the event says (repository and branch, alert name…); '' when none. */
  readonly summary: string;
  readonly focus?: true;
  readonly children: TraceNode[];
}

export interface TraceRunNode {
  readonly kind: 'run';
  readonly id: string;
  readonly pipeline: string;
  readonly status: string;
  readonly reason: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** The run this one re-runs; a re-run is a child of that run. */
  readonly rerunOf: string | null;
  readonly focus?: true;
  readonly children: TraceNode[];
}

export type TraceNode = TraceEventNode | TraceRunNode;

export interface Trace {
  readonly root: TraceNode;
  /** The id asked for. */
  readonly focus: string;
  /** How many nodes the tree holds. */
  readonly nodes: number;
  readonly truncated: boolean;
}

export interface TraceOptions {
  readonly maxNodes?: number;
  readonly maxDepth?: number;
}

/** The source of the events a run's `emit` steps publish. */
export function runSource(runId: string): string {
  return `${RUN_SOURCE_PREFIX}${runId}`;
}

/**
 * The run that produced `event`, by the convention of docs/events.md: its source is
 * `/junction/runs/<run id>` (what `emit` publishes), or its source is another `/junction/…` path
 * and its subject is the run id (`pipeline.*` events about the run). Undefined for any other event.
 */
export function producedByRun(event: Pick<CloudEvent, 'source' | 'subject'>): string | undefined {
  const { source, subject } = event;
  if (source.startsWith(RUN_SOURCE_PREFIX)) {
    const runId = source.slice(RUN_SOURCE_PREFIX.length);
    return runId !== '' && !runId.includes('/') ? runId : undefined;
  }
  if (
    source.startsWith(JUNCTION_SOURCE_PREFIX) &&
    typeof subject === 'string' &&
    subject.startsWith(RUN_ID_PREFIX) &&
    subject.length > RUN_ID_PREFIX.length
  ) {
    return subject;
  }
  return undefined;
}

type Member =
  { readonly kind: 'event'; readonly event: StoredEvent } | { readonly kind: 'run'; readonly run: LinkedRun };

function memberId(member: Member): string {
  return member.kind === 'event' ? member.event.id : member.run.id;
}

function memberTime(member: Member): string {
  return member.kind === 'event' ? member.event.receivedAt : member.run.createdAt;
}

function linked(run: RunDetail): LinkedRun {
  return {
    id: run.id,
    eventId: run.eventId,
    pipeline: run.pipeline,
    triggerIndex: run.triggerIndex,
    status: run.status,
    pipelineDigest: run.pipelineDigest,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    reason: run.reason,
    rerunOf: run.rerunOf,
  };
}

async function findMember(store: Store, id: string): Promise<Member | undefined> {
  if (id.startsWith(RUN_ID_PREFIX)) {
    const run = await store.getRunDetail(id);
    if (run !== undefined) return { kind: 'run', run: linked(run) };
  }
  const event = await store.getEvent(id);
  if (event !== undefined) return { kind: 'event', event };
  if (!id.startsWith(RUN_ID_PREFIX)) {
    const run = await store.getRunDetail(id);
    if (run !== undefined) return { kind: 'run', run: linked(run) };
  }
  return undefined;
}

async function parentOf(store: Store, member: Member): Promise<Member | undefined> {
  if (member.kind === 'run') {
    const { run } = member;
    if (run.rerunOf !== null) {
      const original = await store.getRunDetail(run.rerunOf);
      if (original !== undefined) return { kind: 'run', run: linked(original) };
    }
    const event = await store.getEvent(run.eventId);
    return event === undefined ? undefined : { kind: 'event', event };
  }
  const runId = producedByRun(member.event.event);
  if (runId !== undefined) {
    const run = await store.getRunDetail(runId);
    if (run !== undefined) return { kind: 'run', run: linked(run) };
  }
  const cause = member.event.event['causationid'];
  if (typeof cause === 'string' && cause !== '') {
    const event = await store.getEvent(cause);
    if (event !== undefined) return { kind: 'event', event };
  }
  return undefined;
}

/** Up to `limit` children of `member`, in time order. */
async function childrenOf(store: Store, member: Member, limit: number): Promise<Member[]> {
  if (member.kind === 'event') {
    const runs = await store.listRunsOfEvent(member.event.id, limit);
    return runs.map((run) => ({ kind: 'run', run }));
  }
  const { id } = member.run;
  const [reruns, events, rollbacks] = await Promise.all([
    store.listRerunsOf(id, limit),
    store.listEventsLinkedTo({ source: runSource(id), subject: id }, limit),
    store.listDeployments({ requestedByRun: id, isRollback: true, order: 'asc' }, limit),
  ]);
  // Rollbacks a `rollback` step of this run started: their runs re-run another run, but belong
  // here too, so the trace of an alert reaches the rollback it caused.
  const requested: Member[] = [];
  for (const deployment of rollbacks) {
    const run = await store.getRunDetail(deployment.runId);
    if (run !== undefined) requested.push({ kind: 'run', run: linked(run) });
  }
  const children: Member[] = [
    ...reruns.map((run): Member => ({ kind: 'run', run })),
    ...requested,
    ...events
      .filter((stored) => producedByRun(stored.event) === id)
      .map((event): Member => ({ kind: 'event', event })),
  ];
  children.sort((a, b) => (memberTime(a) < memberTime(b) ? -1 : memberTime(a) > memberTime(b) ? 1 : 0));
  return children.slice(0, limit);
}

function toNode(member: Member, focus: boolean): TraceNode {
  const mark = focus ? { focus: true as const } : {};
  if (member.kind === 'run') {
    const { run } = member;
    return {
      kind: 'run',
      id: run.id,
      pipeline: run.pipeline,
      status: run.status,
      reason: run.reason,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      rerunOf: run.rerunOf,
      ...mark,
      children: [],
    };
  }
  const { event: stored } = member;
  const { event } = stored;
  return {
    kind: 'event',
    id: stored.id,
    type: event.type,
    source: event.source,
    subject: typeof event.subject === 'string' ? event.subject : null,
    time: typeof event.time === 'string' ? event.time : stored.receivedAt,
    receivedAt: stored.receivedAt,
    summary: summarize(event),
    ...mark,
    children: [],
  };
}

/**
 * The whole causal chain `id` belongs to, as a tree from its root, or undefined when `id` is
 * neither a stored event nor a run.
 */
export async function traceFrom(
  store: Store,
  id: string,
  options: TraceOptions = {},
): Promise<Trace | undefined> {
  const maxNodes = Math.max(1, options.maxNodes ?? TRACE_MAX_NODES);
  const maxDepth = Math.max(0, options.maxDepth ?? TRACE_MAX_DEPTH);
  const start = await findMember(store, id);
  if (start === undefined) return undefined;

  // Up: the path from the focus to the root, focus first.
  const path: Member[] = [start];
  const onPath = new Set([memberId(start)]);
  let truncated = false;
  for (;;) {
    const parent = await parentOf(store, path.at(-1)!);
    if (parent === undefined || onPath.has(memberId(parent))) break;
    if (path.length > maxDepth) {
      truncated = true;
      break;
    }
    path.push(parent);
    onPath.add(memberId(parent));
  }
  path.reverse();

  // Down: breadth first, so a cut tree keeps the levels nearest the root.
  const focusId = memberId(start);
  const root = toNode(path[0]!, path.length === 1);
  const visited = new Set([memberId(path[0]!)]);
  let queue: { member: Member; node: TraceNode; depth: number }[] = [
    { member: path[0]!, node: root, depth: 0 },
  ];
  while (queue.length > 0) {
    const next: typeof queue = [];
    for (const { member, node, depth } of queue) {
      const pathChild = path[depth + 1];
      const onFocusPath = pathChild !== undefined && memberId(path[depth]!) === memberId(member);
      if (depth >= maxDepth) {
        if ((await childrenOf(store, member, 1)).length > 0) truncated = true;
        continue;
      }
      const room = maxNodes - visited.size;
      // Full, and already known to be cut: nothing below can be added or change the answer.
      if (room <= 0 && truncated && !onFocusPath) continue;
      const children = await childrenOf(store, member, Math.max(room, 0) + 1);
      if (onFocusPath && !children.some((child) => memberId(child) === memberId(pathChild))) {
        // Beyond the fetched page, or linked in a way only the upward walk sees: keep it anyway.
        children.push(pathChild);
      }
      for (const child of children) {
        const childId = memberId(child);
        if (visited.has(childId)) continue;
        const keep = onFocusPath && childId === memberId(pathChild);
        if (visited.size >= maxNodes && !keep) {
          truncated = true;
          continue;
        }
        visited.add(childId);
        const childNode = toNode(child, childId === focusId);
        node.children.push(childNode);
        next.push({ member: child, node: childNode, depth: depth + 1 });
      }
    }
    queue = next;
  }
  return { root, focus: focusId, nodes: visited.size, truncated };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function repositoryName(value: unknown): string | undefined {
  const object = record(value);
  if (object === undefined) return str(value);
  return str(object['full_name']) ?? str(object['name']);
}

const SUMMARY_WIDTH = 120;

/**
 * A few words on what an event says, by type: git (repository, branch or tag, short commit),
 * pull requests (repository and number), images (repository:tag), alerts (name and status),
 * `pipeline.*` (pipeline and status), `deployment.*` (service, environment, version). '' otherwise.
 */
export function summarize(event: Pick<CloudEvent, 'type' | 'data'>): string {
  const data = record(event.data);
  if (data === undefined) return '';
  const parts: (string | undefined)[] = [];
  const type = event.type;
  if (type === 'git.pull_request') {
    const number = data['number'];
    parts.push(repositoryName(data['repository']));
    parts.push(typeof number === 'number' ? `#${String(number)}` : undefined, str(data['action']));
  } else if (type.startsWith('git.')) {
    parts.push(repositoryName(data['repository']), str(data['branch']) ?? str(data['tag']));
    parts.push(str(data['after'])?.slice(0, 7));
  } else if (type.startsWith('image.')) {
    const repository = str(data['repository']);
    const tag = str(data['tag']);
    parts.push(
      repository === undefined ? undefined : tag === undefined ? repository : `${repository}:${tag}`,
    );
  } else if (type.startsWith('alert.')) {
    parts.push(str(data['alertname']), str(data['status']));
  } else if (type.startsWith('pipeline.')) {
    parts.push(str(data['pipeline']), str(data['status']));
  } else if (type.startsWith('deployment.')) {
    parts.push(str(data['service']), str(data['environment']), str(data['version']));
  }
  const text = parts.filter((part) => part !== undefined).join(' ');
  return text.length > SUMMARY_WIDTH ? `${text.slice(0, SUMMARY_WIDTH - 1)}…` : text;
}
