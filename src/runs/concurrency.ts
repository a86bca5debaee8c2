/**
 * Concurrency groups as a pure decision. A group (one resolved `concurrency.group` key) holds at
 * most one running run and a list of waiting runs kept in event order (the `seq` of the event that
 * caused each run). The caller stores the group's state, applies each decision, and calls
 * `release` when the running run ends (or an operator force-releases the group).
 *
 * Modes:
 * - `queue` (default): one at a time in event order. A new run starts when the group is empty,
 *   else waits, placed among the waiting runs by its seq.
 * - `cancel-previous`: the newest run wins. A new run cancels the running one and drops every
 *   waiting one; it starts at once if nothing ran, else waits until the cancelled run has ended.
 * - `skip-if-running`: a new run is skipped while any run is running or waiting.
 * - `latest`: the running run finishes; only the newest waiting run is kept, older waiting ones
 *   are dropped.
 *
 * Events that arrive out of order (a run whose seq is lower than one already in the group):
 * - `queue`: nothing that started is stopped; the late run waits and is placed before the
 *   waiting runs with a higher seq, so the waiting list stays in event order.
 * - `cancel-previous` and `latest`: the late run is stale; it is skipped and changes nothing
 *   (a newer run already holds or awaits the group).
 * - `skip-if-running`: skipped, as any run that finds the group busy.
 *
 * Admitting a run that is already in the group changes nothing and repeats its place (`start`
 * when it is the running one, `wait` when it waits), so redelivered decisions are idempotent.
 * Pure: no I/O, no timers; maximum wait is the caller's (it calls `withdraw`).
 */

export const CONCURRENCY_MODES = ['queue', 'cancel-previous', 'skip-if-running', 'latest'] as const;
export type ConcurrencyMode = (typeof CONCURRENCY_MODES)[number];

export interface GroupRun {
  readonly id: string;
  /** Sequence number of the run's event in the event log. */
  readonly seq: number;
}

export interface GroupState {
  readonly running?: GroupRun;
  /** In event order (ascending seq). */
  readonly waiting: readonly GroupRun[];
}

export interface Admission {
  readonly action: 'start' | 'wait' | 'skip';
  /** Running runs to cancel. */
  readonly cancel: string[];
  /** Waiting runs removed from the group (the caller cancels them). */
  readonly drop: string[];
  /** The group after this decision. A cancelled run still holds the group until `release`. */
  readonly state: GroupState;
  /** Why a run was skipped, in words. */
  readonly reason?: string;
}

export const EMPTY_GROUP: GroupState = { waiting: [] };

export function isConcurrencyMode(value: unknown): value is ConcurrencyMode {
  return typeof value === 'string' && (CONCURRENCY_MODES as readonly string[]).includes(value);
}

function insertBySeq(waiting: readonly GroupRun[], run: GroupRun): GroupRun[] {
  const at = waiting.findIndex((other) => other.seq > run.seq);
  return at === -1 ? [...waiting, run] : [...waiting.slice(0, at), run, ...waiting.slice(at)];
}

function state(running: GroupRun | undefined, waiting: readonly GroupRun[]): GroupState {
  return running === undefined ? { waiting } : { running, waiting };
}

function skip(group: GroupState, reason: string): Admission {
  return { action: 'skip', cancel: [], drop: [], state: group, reason };
}

/** Decides what happens to `run` when it asks to enter a group. */
export function admit(mode: ConcurrencyMode, group: GroupState, run: GroupRun): Admission {
  if (group.running?.id === run.id) return { action: 'start', cancel: [], drop: [], state: group };
  if (group.waiting.some((other) => other.id === run.id)) {
    return { action: 'wait', cancel: [], drop: [], state: group };
  }
  const busy = group.running !== undefined || group.waiting.length > 0;
  if (!busy) return { action: 'start', cancel: [], drop: [], state: state(run, []) };
  const newest = Math.max(group.running?.seq ?? -Infinity, ...group.waiting.map((other) => other.seq));

  switch (mode) {
    case 'queue':
      return {
        action: 'wait',
        cancel: [],
        drop: [],
        state: state(group.running, insertBySeq(group.waiting, run)),
      };
    case 'skip-if-running':
      return skip(group, `group is busy with run '${group.running?.id ?? group.waiting[0]!.id}'`);
    case 'cancel-previous':
    case 'latest': {
      if (run.seq < newest) return skip(group, `a newer event (seq ${newest}) already holds the group`);
      const drop = group.waiting.map((other) => other.id);
      const cancel = mode === 'cancel-previous' && group.running ? [group.running.id] : [];
      if (group.running === undefined) return { action: 'start', cancel, drop, state: state(run, []) };
      return { action: 'wait', cancel, drop, state: state(group.running, [run]) };
    }
  }
}

/**
 * The running run has ended (or was force-released): the first waiting run, in event order,
 * starts. `next` is undefined when nobody waits; the group is then empty.
 */
export function release(group: GroupState): {
  readonly next: string | undefined;
  readonly state: GroupState;
} {
  const [next, ...rest] = group.waiting;
  if (next === undefined) return { next: undefined, state: EMPTY_GROUP };
  return { next: next.id, state: state(next, rest) };
}

/**
 * Removes a run from the group wherever it is: a waiting run that gave up (maximum wait, user
 * cancel) leaves the list; the running run leaves and the next one starts (as `release`).
 */
export function withdraw(
  group: GroupState,
  runId: string,
): { readonly next: string | undefined; readonly state: GroupState } {
  if (group.running?.id === runId) return release(group);
  return {
    next: undefined,
    state: state(
      group.running,
      group.waiting.filter((other) => other.id !== runId),
    ),
  };
}
