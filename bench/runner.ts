/**
 * The runner benchmark: how fast the pipeline engine turns an accepted event into a running step,
 * what it adds per step, and whether matching stays fast with many pipelines loaded. Each figure
 * is printed next to a baseline measured in the same run, with the ratio and the target.
 *
 * 1. Start latency: N sequential events (default 500, after a warm-up) through Junction started
 *    in this process as `junction serve` would (the built `startApp` from dist/: SQLite in a temp
 *    dir, the embedded bus, the default workers, log level info written to a file). The time runs from the moment the
 *    sender receives the 202 to the moment the step's first command runs. Baseline: a bare
 *    `child_process.spawn('/bin/sh', ['-c', <the same script>])` from this process.
 * 2. Steps: one job of 100 `run: "true"` steps, from the 202 to the run's end, against 100 spawns
 *    of `/bin/sh -e -c true` in a bare loop in this process awaiting each one. Median of `--repeat`.
 * 3. Matching: `decideEvent` (the router's decision, not the HTTP stack) over a set compiled by
 *    `compilePipelines` from 10,000 parsed pipelines with distinct event types, one of which
 *    matches `git.push`, against the same with 10 pipelines.
 *
 * How the start of a step is seen: the step's script is `echo "m $JUNCTION_EVENT_ID" > <fifo>`;
 * `echo` is a builtin of /bin/sh, so the line is written by the step's own process, as its first
 * command, without starting another process. A probe process (this module run with a flag) holds
 * the FIFO open and stamps each line with `process.hrtime.bigint()` as it arrives. The same
 * process sends the events over HTTP and stamps each 202. `process.hrtime` reads CLOCK_MONOTONIC,
 * one clock for every process of the machine, with nanosecond resolution; unlike `date +%s%N` in
 * the step it starts no second process, and unlike a wall clock it cannot step. The probe is a
 * process of its own so that Junction's event loop never delays its stamps and its memory does
 * not make the Junction process slower to fork. The stamp includes the shell's start-up (exec,
 * loading, parsing the script) and the probe's wake-up, both in the baseline too.
 *
 * Where the time goes: while it measures, the benchmark wraps a few methods of the running app's
 * store and bus and `child_process.spawn` (each wrapper reads the clock and stores one number), so
 * each event's path is stamped at every hand-over: intake commit, relay publish, routing recorded,
 * run started, `pipeline.started` stored, job row created, job claimed, step row saved, spawn.
 * The workers start steps through their step launcher (src/workers/executors/launcher.ts), a
 * small helper process that does the fork off Junction's thread; its diagnostics channel stamps
 * the request as "spawn() called" and the helper's answer that the shell runs as "spawn() returned".
 * `--cpu-prof` also profiles this thread during part 1 and lists where its CPU time went.
 *
 * What callers may assume: `run` never throws for a part that fails; the failure is in that part's
 * `error` and makes the outcome `failed`. A missed target is reported, not a failure. The
 * benchmark removes its temp dir and restores every wrapped method before it returns.
 */
import { execFile, execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  constants,
} from 'node:fs';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, request } from 'node:http';
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { Socket } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as AppModule from '../src/app.ts';
import type { App } from '../src/app.ts';
import type * as ConfigModule from '../src/config/index.ts';
import type * as ObservabilityModule from '../src/observability/index.ts';
import type { CloudEvent } from '../src/events/index.ts';
import { parsePipeline, type LoadedPipeline } from '../src/pipelines/index.ts';
import { checkPipelineExpression } from '../src/runs/index.ts';
import type { JobRecord, NewEvent, NewJob, NewRun, RunPatch, StepRecord } from '../src/store/index.ts';
import { compilePipelines, decideEvent, type RoutablePipelines } from '../src/triggers/index.ts';
import { BENCH_EXIT, BenchError, errorText } from './lib/bench-error.ts';
import type { BenchContext, BenchOutcome, Benchmark } from './lib/benchmark.ts';
import type { BenchOptions } from './lib/args.ts';
import { formatInt, formatMs, formatRatio, formatTable, indent, MISSING } from './lib/format.ts';
import { readMachineBusySeconds, readOwnCpuSeconds, readReapedChildrenCpuSeconds } from './lib/proc.ts';
import { BUSY_LOAD_PER_CPU, NOISY_OTHER_CPU_PERCENT } from './intake.ts';

export const TARGETS = {
  /** Event accepted → first step process started. */
  startP50Ms: 5,
  startP99Ms: 25,
  /** Wall time of the steps job ÷ the bare loop's, at most. */
  maxStepsRatio: 1.5,
  /** events/s with 10,000 pipelines ÷ events/s with 10, at least. */
  minMatchingRatio: 0.8,
} as const;

/** Sizes of one run of the benchmark. */
export interface RunnerSettings {
  readonly quick: boolean;
  /** Counted sequential events of part 1 (each side). */
  readonly events: number;
  /** Events before those, not counted (JIT, caches, first workspace). */
  readonly warmupEvents: number;
  /** Counted runs of each side of part 2. */
  readonly repeat: number;
  /** Runs of each side of part 2 before those, not counted. */
  readonly warmupRounds: number;
  /** Steps in the job of part 2, and spawns in its bare loop. */
  readonly steps: number;
  /** The large and the small set of part 3. */
  readonly pipelines: number;
  readonly smallPipelines: number;
  /** Timed rounds per set in part 3, and the length of each. */
  readonly matchRounds: number;
  readonly matchRoundMs: number;
  /** Longest wait for one event's step or run. */
  readonly eventTimeoutMs: number;
}

export const FULL_SETTINGS: RunnerSettings = Object.freeze({
  quick: false,
  events: 500,
  warmupEvents: 10,
  repeat: 3,
  warmupRounds: 1,
  steps: 100,
  pipelines: 10_000,
  smallPipelines: 10,
  matchRounds: 7,
  matchRoundMs: 300,
  eventTimeoutMs: 30_000,
});

export const QUICK_SETTINGS: RunnerSettings = Object.freeze({
  quick: true,
  events: 20,
  warmupEvents: 2,
  repeat: 1,
  warmupRounds: 0,
  steps: 10,
  pipelines: 500,
  smallPipelines: 10,
  matchRounds: 3,
  matchRoundMs: 40,
  eventTimeoutMs: 30_000,
});

/** Bounds on the options, so a typo cannot start a run that lasts for days. */
export const MAX_EVENTS = 100_000;
export const MAX_REPEAT = 100;

export function runnerSettings(options: Pick<BenchOptions, 'events' | 'repeat' | 'quick'>): RunnerSettings {
  const base = options.quick === true ? QUICK_SETTINGS : FULL_SETTINGS;
  if (options.events !== undefined && options.events > MAX_EVENTS) {
    throw new BenchError(`--events takes at most ${MAX_EVENTS}, got ${options.events}`, BENCH_EXIT.usage);
  }
  if (options.repeat !== undefined && options.repeat > MAX_REPEAT) {
    throw new BenchError(`--repeat takes at most ${MAX_REPEAT}, got ${options.repeat}`, BENCH_EXIT.usage);
  }
  return {
    ...base,
    events: options.events ?? base.events,
    repeat: options.repeat ?? base.repeat,
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics (pure).

export interface Summary {
  readonly n: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Nearest-rank percentile of `values` (any order); undefined for no finite values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** The middle value (the mean of the two middle ones for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  return {
    n: finite.length,
    p50Ms: percentile(finite, 50)!,
    p90Ms: percentile(finite, 90)!,
    p99Ms: percentile(finite, 99)!,
    minMs: Math.min(...finite),
    maxMs: Math.max(...finite),
    meanMs: finite.reduce((a, b) => a + b, 0) / finite.length,
  };
}

export function ratio(value: number | undefined, base: number | undefined): number | undefined {
  return value === undefined || base === undefined || base === 0 ? undefined : value / base;
}

// ---------------------------------------------------------------------------------------------
// Pipelines (pure).

export const START_EVENT_TYPE = 'bench.start';
export const STEPS_EVENT_TYPE = 'bench.steps';
export const MATCH_EVENT_TYPE = 'git.push';
export const MATCHING_PIPELINE = 'push-main';

/**
 * The step script of part 1 (and its baseline): one line on the FIFO, written by the shell itself.
 * The path is put in single quotes; a path that cannot be quoted that way is refused.
 */
export function markScript(fifoPath: string): string {
  if (/['\n\r\0]/.test(fifoPath)) {
    throw new BenchError(`the FIFO path cannot be quoted for the shell: ${JSON.stringify(fifoPath)}`);
  }
  return `echo "m $JUNCTION_EVENT_ID" > '${fifoPath}'`;
}

export function startPipelineYaml(fifoPath: string): string {
  return [
    'name: bench-start',
    'on:',
    `  - event: ${START_EVENT_TYPE}`,
    'jobs:',
    '  start:',
    '    steps:',
    '      - run: |',
    `          ${markScript(fifoPath)}`,
    '',
  ].join('\n');
}

export function stepsPipelineYaml(steps: number): string {
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`steps must be ≥ 1, got ${steps}`);
  return [
    'name: bench-steps',
    'on:',
    `  - event: ${STEPS_EVENT_TYPE}`,
    'jobs:',
    '  steps:',
    '    steps:',
    ...Array.from({ length: steps }, () => '      - run: "true"'),
    '',
  ].join('\n');
}

/** How the non-matching pipelines of part 3 name their event type. */
export type TypeStyle = 'exact' | 'leading-wildcard';

/**
 * `count` pipeline files for part 3: `count - 1` listening for types no event here has
 * (`type.<n>`, or `*.t<n>` for the leading-wildcard variant the index cannot narrow), and one,
 * `push-main`, listening for `git.push` on branch main.
 */
export function matchingPipelineFiles(
  count: number,
  style: TypeStyle = 'exact',
): { readonly file: string; readonly text: string }[] {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be ≥ 1, got ${count}`);
  const files: { file: string; text: string }[] = [];
  for (let n = 0; n < count - 1; n += 1) {
    const type = style === 'exact' ? `type.${n}` : `'*.t${n}'`;
    files.push({
      file: `pipelines/p-${n}.yaml`,
      text: `name: p-${n}\non:\n  - event: ${type}\njobs:\n  build:\n    steps:\n      - run: "true"\n`,
    });
  }
  files.push({
    file: `pipelines/${MATCHING_PIPELINE}.yaml`,
    text: [
      `name: ${MATCHING_PIPELINE}`,
      'on:',
      `  - event: ${MATCH_EVENT_TYPE}`,
      '    branches: [main]',
      'jobs:',
      '  build:',
      '    steps:',
      '      - run: "true"',
      '',
    ].join('\n'),
  });
  return files;
}

/** Parses pipeline files as the app loads them; throws on the first file with problems. */
export function parsePipelineFiles(files: readonly { file: string; text: string }[]): LoadedPipeline[] {
  return files.map(({ file, text }) => {
    const parsed = parsePipeline(text, file, { checkExpression: checkPipelineExpression });
    if (parsed.pipeline === undefined) {
      const first = parsed.problems[0];
      throw new BenchError(
        `generated pipeline '${file}' does not parse: ${first?.message ?? 'unknown problem'}`,
      );
    }
    return { spec: parsed.pipeline, file };
  });
}

export function matchEvent(): CloudEvent {
  return {
    specversion: '1.0',
    id: 'bench-match-1',
    source: 'https://github.com/acme/app',
    type: MATCH_EVENT_TYPE,
    datacontenttype: 'application/json',
    data: { repository: 'acme/app', ref: 'refs/heads/main', after: '0123456789abcdef' },
  };
}

// ---------------------------------------------------------------------------------------------
// Where the time goes (pure).

/** The hand-overs stamped for each event of part 1, in the order they happen. */
export const STAGES = [
  { key: 'commitEnd', label: 'intake commit done' },
  { key: 'accepted', label: '202 received by the sender' },
  { key: 'published', label: 'relay published to the bus' },
  { key: 'routed', label: 'router recorded decision + run' },
  { key: 'runRunning', label: 'scheduler set the run running' },
  { key: 'startedEvent', label: 'pipeline.started stored via intake' },
  { key: 'jobRow', label: 'scheduler created the job row' },
  { key: 'claimed', label: 'worker claimed the job' },
  { key: 'stepRow', label: 'first step row saved (running)' },
  { key: 'spawnCall', label: 'spawn() called' },
  { key: 'spawnReturn', label: 'spawn() returned' },
  { key: 'mark', label: 'step ran its first command' },
] as const;

export type StageKey = (typeof STAGES)[number]['key'];

/** One event's stamps in ms, on any common origin. */
export type StageTimes = Partial<Record<StageKey, number>>;

export interface StageRow {
  readonly key: StageKey;
  readonly label: string;
  /** Events that had this stamp. */
  readonly n: number;
  /** Median time since the first stage (intake commit). */
  readonly atMs: number | undefined;
  /**
   * Time from the closest earlier stage stamped for the same event: median and p99. Negative when
   * two hand-overs overlap (the relay may publish before the 202 reaches the sender).
   */
  readonly deltaP50Ms: number | undefined;
  readonly deltaP99Ms: number | undefined;
}

export function stageBreakdown(events: readonly StageTimes[]): StageRow[] {
  const first = STAGES[0].key;
  return STAGES.map((stage, i) => {
    const at: number[] = [];
    const deltas: number[] = [];
    for (const times of events) {
      const t = times[stage.key];
      if (t === undefined) continue;
      const origin = times[first];
      if (origin !== undefined) at.push(t - origin);
      // From the closest earlier stage this event has a stamp for.
      for (let j = i - 1; j >= 0; j -= 1) {
        const before = times[STAGES[j]!.key];
        if (before === undefined) continue;
        deltas.push(t - before);
        break;
      }
    }
    return {
      key: stage.key,
      label: stage.label,
      n: events.filter((times) => times[stage.key] !== undefined).length,
      atMs: median(at),
      deltaP50Ms: median(deltas),
      deltaP99Ms: percentile(deltas, 99),
    };
  });
}

/** Gaps between consecutive times (ms); the per-step cycle of a sequence of spawns. */
export function gaps(times: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i += 1) out.push(times[i]! - times[i - 1]!);
  return out;
}

/** The moments of one step, in the order they happen. */
export const STEP_STAMPS = ['rowRunning', 'spawnCall', 'spawnReturn', 'exit', 'close', 'rowDone'] as const;
export type StepStampKey = (typeof STEP_STAMPS)[number];
/** One step's stamps in ms on any common origin; a bare spawn has no rows. */
export type StepTimes = Partial<Record<StepStampKey, number>>;

/** The parts of one step's cycle: from one stamp to the next, or from the previous step's end. */
export const STEP_SEGMENTS = [
  { from: 'previous', to: 'rowRunning', label: 'previous step recorded → step row saved (running)' },
  { from: 'rowRunning', to: 'spawnCall', label: 'step row saved → spawn() called' },
  { from: 'spawnCall', to: 'spawnReturn', label: 'spawn() call: fork + exec, blocking the thread' },
  { from: 'spawnReturn', to: 'exit', label: 'spawn() returned → process exited' },
  { from: 'exit', to: 'close', label: 'exited → its pipes closed' },
  { from: 'close', to: 'rowDone', label: 'pipes closed → step recorded (output, logs, row)' },
  { from: 'previous', to: 'spawnCall', label: 'previous step done → spawn() called' },
] as const;

export interface StepSegment {
  readonly label: string;
  /** Median over the steps that have both stamps; undefined when none has. */
  readonly medianMs: number | undefined;
}

/**
 * The median of each part of a step's cycle over runs of sequential steps. `previous` is the end
 * of the step before in the same run: its recorded row (`rowDone`), or for a bare spawn its
 * closed pipes; the first step of a run has none.
 */
export function stepSegments(runs: readonly (readonly StepTimes[])[]): StepSegment[] {
  return STEP_SEGMENTS.map((segment) => {
    const values: number[] = [];
    for (const steps of runs) {
      steps.forEach((step, i) => {
        const before = steps[i - 1];
        const from = segment.from === 'previous' ? (before?.rowDone ?? before?.close) : step[segment.from];
        const to = step[segment.to];
        if (from !== undefined && to !== undefined) values.push(to - from);
      });
    }
    return { label: segment.label, medianMs: median(values) };
  });
}

// ---------------------------------------------------------------------------------------------
// CPU profiles (pure).

export interface ProfileEntry {
  readonly functionName: string;
  /** `file:line`; empty for native code and V8's own entries such as `(garbage collector)`. */
  readonly location: string;
  /**
   * The innermost caller in Junction's sources (`src/`), else in another project file, such as
   * `write sqlite-store.ts:153`; empty when the function is itself in a project file.
   */
  readonly calledFrom: string;
  readonly selfMs: number;
  /** Share of the sampled time the thread was not idle. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly top: readonly ProfileEntry[];
}

type ProfileNode = Profiler.ProfileNode;

function frameLocation(node: ProfileNode): string {
  const { url, lineNumber } = node.callFrame;
  return url === '' ? '' : `${basename(url)}:${lineNumber + 1}`;
}

/**
 * The functions with the most self time in a V8 CPU profile, grouped by name, location and the
 * innermost project frame that called them, so native time (a SQLite statement, a fork) is
 * attributed to the Junction code that caused it.
 */
export function summarizeProfile(profile: Profiler.Profile, limit = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const callerCache = new Map<number, string>();
  /** The innermost frame in Junction's sources, else in any project file (the benchmark's own). */
  const projectCaller = (node: ProfileNode): string => {
    const cached = callerCache.get(node.id);
    if (cached !== undefined) return cached;
    let source: ProfileNode | undefined;
    let project: ProfileNode | undefined;
    // Bounded by the depth of the tree: each step goes one parent up.
    for (let at: ProfileNode | undefined = node, depth = 0; at !== undefined && depth < 10_000; depth += 1) {
      const { url } = at.callFrame;
      if (url.startsWith('file:')) {
        project ??= at;
        if (url.includes('/src/')) {
          source = at;
          break;
        }
      }
      at = parentOf.get(at.id);
    }
    const found = source ?? project;
    const text =
      found === undefined ? '' : `${found.callFrame.functionName || '(anonymous)'} ${frameLocation(found)}`;
    callerCache.set(node.id, text);
    return text;
  };
  const selfUs = new Map<
    string,
    { functionName: string; location: string; calledFrom: string; us: number }
  >();
  let idleUs = 0;
  let busyUs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i += 1) {
    const node = byId.get(samples[i]!);
    // The delta before the next sample is the time spent in this one.
    const us = Math.max(0, deltas[i + 1] ?? 0);
    if (node === undefined) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const location = frameLocation(node);
    const own = node.callFrame.url.startsWith('file:') && node.callFrame.url.includes('/src/');
    const calledFrom = own ? '' : projectCaller(node);
    const key = `${name}\n${location}\n${calledFrom}`;
    const entry = selfUs.get(key) ?? { functionName: name, location, calledFrom, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
  }
  const top = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({
      functionName: e.functionName,
      location: e.location,
      calledFrom: e.calledFrom,
      selfMs: e.us / 1000,
      share: busyUs === 0 ? 0 : e.us / busyUs,
    }));
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, top };
}

// ---------------------------------------------------------------------------------------------
// FIFO lines (pure).

/** Longest unfinished line kept between reads; longer garbage is dropped. */
export const MAX_MARK_LINE = 512;

/**
 * Splits what arrived on the FIFO into the ids of complete `m <id>` lines, keeping the unfinished
 * rest for the next read. Lines of any other shape are ignored.
 */
export function splitMarks(partial: string, chunk: string): { ids: string[]; rest: string } {
  const lines = (partial + chunk).split('\n');
  let rest = lines.pop() ?? '';
  if (rest.length > MAX_MARK_LINE) rest = '';
  const ids: string[] = [];
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('m ')) continue;
    const id = line.slice(2).trim();
    if (id !== '' && id.length <= MAX_MARK_LINE) ids.push(id);
  }
  return { ids, rest };
}

// ---------------------------------------------------------------------------------------------
// The probe process: sends events and watches the FIFO.

/** The argument that makes this module run as the probe process. */
const PROBE_ARG = '--junction-runner-bench-probe';

type ToProbe =
  | { readonly kind: 'post'; readonly seq: number; readonly url: string; readonly body: string }
  | { readonly kind: 'close' };

/** Times cross the IPC channel as decimal strings of `process.hrtime.bigint()` (JSON has no bigint). */
type FromProbe =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'posted';
      readonly seq: number;
      readonly status: number;
      readonly text: string;
      readonly sentNs: string;
      readonly acceptedNs: string;
    }
  | { readonly kind: 'post-failed'; readonly seq: number; readonly message: string }
  | { readonly kind: 'mark'; readonly id: string; readonly atNs: string }
  | { readonly kind: 'error'; readonly message: string };

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Runs in the probe process; talks to the benchmark over the IPC channel. */
function runProbe(fifo: string): void {
  const send = (message: FromProbe): void => {
    process.send?.(message);
  };
  // Read and write: the FIFO never sees its last writer go, so it never reads end-of-file.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const reader = new Socket({ fd, readable: true, writable: false });
  let rest = '';
  reader.on('data', (chunk: Buffer) => {
    const atNs = String(process.hrtime.bigint());
    const split = splitMarks(rest, chunk.toString('utf8'));
    rest = split.rest;
    for (const id of split.ids) send({ kind: 'mark', id, atNs });
  });
  reader.on('error', (error) =>
    send({ kind: 'error', message: `reading the FIFO failed: ${error.message}` }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  function post(seq: number, url: string, body: string): void {
    const sentNs = String(process.hrtime.bigint());
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/cloudevents+json',
          'content-length': String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        const acceptedNs = String(process.hrtime.bigint());
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () =>
          send({
            kind: 'posted',
            seq,
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES),
            sentNs,
            acceptedNs,
          }),
        );
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (error) => send({ kind: 'post-failed', seq, message: error.message }));
    req.end(body);
  }

  const stop = (): void => {
    reader.destroy();
    agent.destroy();
    process.disconnect?.();
  };
  process.on('message', (message: ToProbe) => {
    if (message.kind === 'close') stop();
    else post(message.seq, message.url, message.body);
  });
  // The benchmark went away: nothing left to measure for.
  process.on('disconnect', () => {
    reader.destroy();
    agent.destroy();
  });
  send({ kind: 'ready' });
}

if (process.argv[2] === PROBE_ARG && process.argv[3] !== undefined && process.send !== undefined) {
  runProbe(process.argv[3]);
}

interface Posted {
  readonly status: number;
  readonly text: string;
  readonly sentNs: bigint;
  readonly acceptedNs: bigint;
}

interface Probe {
  post(url: string, body: string): Promise<Posted>;
  /** Resolves with the time the line `m <id>` arrived. */
  mark(id: string, timeoutMs: number): Promise<bigint>;
  close(): Promise<void>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchError(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts the probe as a child process of the same Node binary. A process of its own, not a thread:
 * its memory stays out of the process Junction forks its steps from (fork time grows with the
 * parent's memory), and Junction's event loop never delays its stamps. `process.hrtime` reads
 * CLOCK_MONOTONIC, one clock for every process of the machine.
 */
async function startProbe(fifo: string): Promise<Probe> {
  const child = fork(fileURLToPath(import.meta.url), [PROBE_ARG, fifo], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [],
  });
  const posts = new Map<number, { resolve: (p: Posted) => void; reject: (e: Error) => void }>();
  const marks = new Map<string, bigint>();
  const markWaiters = new Map<string, (at: bigint) => void>();
  let failure: Error | undefined;
  let seq = 0;
  let ready: () => void = () => undefined;
  let failed: (error: Error) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const fail = (error: Error): void => {
    failure ??= error;
    failed(error);
    for (const pending of posts.values()) pending.reject(error);
    posts.clear();
  };
  child.on('message', (message: FromProbe) => {
    switch (message.kind) {
      case 'ready':
        ready();
        break;
      case 'posted':
        posts.get(message.seq)?.resolve({
          status: message.status,
          text: message.text,
          sentNs: BigInt(message.sentNs),
          acceptedNs: BigInt(message.acceptedNs),
        });
        posts.delete(message.seq);
        break;
      case 'post-failed':
        posts.get(message.seq)?.reject(new BenchError(`POST /events failed: ${message.message}`));
        posts.delete(message.seq);
        break;
      case 'mark': {
        const waiter = markWaiters.get(message.id);
        if (waiter === undefined) {
          // Bounded: marks are taken as they come; a stray one is forgotten past this size.
          if (marks.size < 10_000) marks.set(message.id, BigInt(message.atNs));
        } else {
          markWaiters.delete(message.id);
          waiter(BigInt(message.atNs));
        }
        break;
      }
      case 'error':
        fail(new BenchError(`probe process: ${message.message}`));
        break;
    }
  });
  child.on('error', (error) => fail(error));
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
    fail(new BenchError(`probe process exited (code ${code ?? 'none'}, signal ${signal ?? 'none'})`));
  child.on('exit', onExit);
  try {
    await withTimeout(started, 15_000, 'the probe process to start');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    post(url, body) {
      if (failure !== undefined) return Promise.reject(failure);
      seq += 1;
      const id = seq;
      const answered = new Promise<Posted>((resolve, reject) => posts.set(id, { resolve, reject }));
      child.send({ kind: 'post', seq: id, url, body } satisfies ToProbe);
      return withTimeout(answered, 35_000, 'the answer to POST /events');
    },
    mark(id, timeoutMs) {
      const seen = marks.get(id);
      if (seen !== undefined) {
        marks.delete(id);
        return Promise.resolve(seen);
      }
      if (failure !== undefined) return Promise.reject(failure);
      const arrived = new Promise<bigint>((resolve) => markWaiters.set(id, resolve));
      return withTimeout(arrived, timeoutMs, `the step of event '${id}' to start`).finally(() =>
        markWaiters.delete(id),
      );
    },
    async close() {
      child.off('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.connected) child.send({ kind: 'close' } satisfies ToProbe);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Stamps inside the running app.

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);

interface Timeline {
  commitEnd?: bigint;
  published?: bigint;
  routed?: bigint;
  runRunning?: bigint;
  startedEvent?: bigint;
  jobRow?: bigint;
  claimed?: bigint;
  /** One entry per step started, in order. */
  readonly steps: Partial<Record<StepStampKey, bigint>>[];
  /** Processes spawned for the event's steps. */
  spawns: number;
  runFinished?: bigint;
  runStatus?: string;
}

interface EngineProbes {
  /** Resolves with the time the event's run reached a terminal status. */
  finished(eventId: string, timeoutMs: number): Promise<{ at: bigint; status: string }>;
  /** The event's stamps; forgets them. */
  take(eventId: string): Timeline | undefined;
  restore(): void;
}

const MAX_TIMELINES = 10_000;
/** Most steps stamped per event. */
const MAX_STEP_STAMPS = 10_000;

type SpawnFunction = typeof spawn;

function spawnEnvOf(args: readonly unknown[]): Record<string, unknown> | undefined {
  const options = Array.isArray(args[1]) ? args[2] : args[1];
  if (typeof options !== 'object' || options === null) return undefined;
  const env = (options as { env?: unknown }).env;
  return typeof env === 'object' && env !== null ? (env as Record<string, unknown>) : undefined;
}

/**
 * Wraps store, bus and spawn methods of a started app to stamp each bench event's hand-overs.
 * Only events whose type starts with `bench.` get a timeline.
 */
function probeEngine(app: App): EngineProbes {
  const now = (): bigint => process.hrtime.bigint();
  const timelines = new Map<string, Timeline>();
  const runToEvent = new Map<string, string>();
  const jobToEvent = new Map<string, string>();
  const waiters = new Map<string, (done: { at: bigint; status: string }) => void>();
  const restores: (() => void)[] = [];
  const byRun = (runId: string): Timeline | undefined => {
    const eventId = runToEvent.get(runId);
    return eventId === undefined ? undefined : timelines.get(eventId);
  };

  const store = app.store;
  const appendEvents = store.appendEvents.bind(store);
  store.appendEvents = async (events: readonly NewEvent[], topic: string) => {
    const results = await appendEvents(events, topic);
    const at = now();
    results.forEach((result, i) => {
      const event = events[i]?.event;
      if (event === undefined || result.duplicate) return;
      if (event.type.startsWith('bench.') && timelines.size < MAX_TIMELINES) {
        timelines.set(result.id, { commitEnd: at, steps: [], spawns: 0 });
      } else if (event.type === 'pipeline.started' && typeof event.subject === 'string') {
        const timeline = byRun(event.subject);
        if (timeline !== undefined) timeline.startedEvent ??= at;
      }
    });
    return results;
  };
  restores.push(() => (store.appendEvents = appendEvents));

  const bus = app.bus;
  const publish = bus.publish.bind(bus);
  bus.publish = (topic, message) => {
    const timeline = timelines.get(message.id);
    if (timeline !== undefined) timeline.published ??= now();
    return publish(topic, message);
  };
  restores.push(() => (bus.publish = publish));

  const recordRouting = store.recordRouting.bind(store);
  store.recordRouting = async (eventId, decisions, runs: readonly NewRun[]) => {
    const result = await recordRouting(eventId, decisions, runs);
    const timeline = timelines.get(eventId);
    if (timeline !== undefined) {
      timeline.routed ??= now();
      for (const run of runs) runToEvent.set(run.id, eventId);
    }
    return result;
  };
  restores.push(() => (store.recordRouting = recordRouting));

  const updateRun = store.updateRun.bind(store);
  store.updateRun = async (id: string, patch: RunPatch, expect?: readonly string[]) => {
    const changed = await updateRun(id, patch, expect);
    const timeline = byRun(id);
    if (changed && timeline !== undefined && patch.status !== undefined) {
      if (patch.status === 'running') timeline.runRunning ??= now();
      if (TERMINAL.has(patch.status) && timeline.runFinished === undefined) {
        timeline.runFinished = now();
        timeline.runStatus = patch.status;
        const eventId = runToEvent.get(id)!;
        waiters.get(eventId)?.({ at: timeline.runFinished, status: patch.status });
        waiters.delete(eventId);
      }
    }
    return changed;
  };
  restores.push(() => (store.updateRun = updateRun));

  const createJobs = store.createJobs.bind(store);
  store.createJobs = async (jobs: readonly NewJob[]) => {
    const created = await createJobs(jobs);
    const first = jobs[0];
    const timeline = first === undefined ? undefined : byRun(first.runId);
    if (timeline !== undefined) timeline.jobRow ??= now();
    return created;
  };
  restores.push(() => (store.createJobs = createJobs));

  const claimJob = store.claimJob.bind(store);
  store.claimJob = async (owner: string, leaseMs: number, at?: Date) => {
    const job: JobRecord | undefined = await claimJob(owner, leaseMs, at);
    if (job !== undefined) {
      const timeline = byRun(job.runId);
      if (timeline !== undefined) {
        timeline.claimed ??= now();
        jobToEvent.set(job.id, runToEvent.get(job.runId)!);
      }
    }
    return job;
  };
  restores.push(() => (store.claimJob = claimJob));

  const saveStep = store.saveStep.bind(store);
  store.saveStep = async (step: StepRecord) => {
    await saveStep(step);
    const eventId = jobToEvent.get(step.jobId);
    const timeline = eventId === undefined ? undefined : timelines.get(eventId);
    if (timeline === undefined || timeline.steps.length >= MAX_STEP_STAMPS) return;
    if (step.status === 'running') timeline.steps.push({ rowRunning: now() });
    else {
      const current = timeline.steps.at(-1);
      if (current !== undefined) current.rowDone ??= now();
    }
  };
  restores.push(() => (store.saveStep = saveStep));

  // The shell executor imports `spawn` by name: replace the export and sync the ESM binding.
  const childProcess = createRequire(import.meta.url)('node:child_process') as { spawn: SpawnFunction };
  const originalSpawn = childProcess.spawn;
  function stampedSpawn(this: unknown, ...args: unknown[]): ChildProcess {
    const eventId = spawnEnvOf(args)?.['JUNCTION_EVENT_ID'];
    const timeline = typeof eventId === 'string' ? timelines.get(eventId) : undefined;
    const current = timeline?.steps.at(-1);
    const called = now();
    const child = Reflect.apply(originalSpawn, this, args) as ChildProcess;
    if (timeline !== undefined) {
      timeline.spawns += 1;
      if (current !== undefined && current.spawnCall === undefined) {
        current.spawnCall = called;
        current.spawnReturn = now();
        // Listeners only read the clock; the executor's own listeners see the same events.
        child.once('exit', () => (current.exit = now()));
        child.once('close', () => (current.close = now()));
      }
    }
    return child;
  }
  childProcess.spawn = stampedSpawn as SpawnFunction;
  syncBuiltinESMExports();
  restores.push(() => {
    childProcess.spawn = originalSpawn;
    syncBuiltinESMExports();
  });

  // Steps started by the step launcher's helper process: the same stamps, from its channel.
  const launches = new Map<number, Partial<Record<StepStampKey, bigint>>>();
  const onLaunch = (message: unknown): void => {
    const at = now();
    const { event, id, env } = message as { event: string; id: number; env?: Record<string, unknown> };
    if (event === 'spawn') {
      const eventId = env?.['JUNCTION_EVENT_ID'];
      const timeline = typeof eventId === 'string' ? timelines.get(eventId) : undefined;
      if (timeline === undefined) return;
      timeline.spawns += 1;
      const current = timeline.steps.at(-1);
      if (current !== undefined && current.spawnCall === undefined) {
        current.spawnCall = at;
        launches.set(id, current);
      }
      return;
    }
    const current = launches.get(id);
    if (current === undefined) return;
    if (event === 'started') current.spawnReturn = at;
    else if (event === 'exit') current.exit = at;
    else if (event === 'close') {
      current.close = at;
      launches.delete(id);
    }
  };
  subscribe('junction:step-launcher', onLaunch);
  restores.push(() => unsubscribe('junction:step-launcher', onLaunch));

  return {
    finished(eventId, timeoutMs) {
      const timeline = timelines.get(eventId);
      if (timeline?.runFinished !== undefined) {
        return Promise.resolve({ at: timeline.runFinished, status: timeline.runStatus ?? 'unknown' });
      }
      const done = new Promise<{ at: bigint; status: string }>((resolve) => waiters.set(eventId, resolve));
      return withTimeout(done, timeoutMs, `the run of event '${eventId}' to end`).finally(() =>
        waiters.delete(eventId),
      );
    },
    take(eventId) {
      const timeline = timelines.get(eventId);
      timelines.delete(eventId);
      for (const [runId, owner] of runToEvent) if (owner === eventId) runToEvent.delete(runId);
      for (const [jobId, owner] of jobToEvent) if (owner === eventId) jobToEvent.delete(jobId);
      return timeline;
    },
    restore() {
      for (const undo of restores.reverse()) undo();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The app under test.

interface Harness {
  readonly app: App;
  readonly dir: string;
  readonly fifo: string;
  readonly probe: Probe;
  readonly engine: EngineProbes;
  close(): Promise<void>;
}

const PIPELINE_FILES = (fifo: string, steps: number): Record<string, string> => ({
  'bench-start.yaml': startPipelineYaml(fifo),
  'bench-steps.yaml': stepsPipelineYaml(steps),
});

/**
 * The engine as `npm start` and the installed `junction` run it: the built JavaScript under dist/
 * (`npm run bench` builds it first). From there the step launcher runs its built `.js` too, as it
 * does for users, instead of loading Node's TypeScript stripper into the helper.
 */
async function builtEngine(): Promise<{
  startApp: typeof AppModule.startApp;
  loadConfig: typeof ConfigModule.loadConfig;
  createLogger: typeof ObservabilityModule.createLogger;
}> {
  const dist = new URL('../dist/', import.meta.url);
  try {
    const app = (await import(new URL('app.js', dist).href)) as typeof AppModule;
    const config = (await import(new URL('config/index.js', dist).href)) as typeof ConfigModule;
    const observability = (await import(
      new URL('observability/index.js', dist).href
    )) as typeof ObservabilityModule;
    return {
      startApp: app.startApp,
      loadConfig: config.loadConfig,
      createLogger: observability.createLogger,
    };
  } catch (error) {
    throw new BenchError(
      `cannot load the built engine under dist/ (run \`npm run build\` first): ${errorText(error)}`,
    );
  }
}

async function startHarness(settings: RunnerSettings): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-bench-runner-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`[runner] cleanup failed: ${errorText(error)}\n`);
      }
    }
  };
  try {
    const fifo = join(dir, 'marks.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const pipelinesDir = join(dir, 'pipelines');
    mkdirSync(pipelinesDir);
    for (const [name, text] of Object.entries(PIPELINE_FILES(fifo, settings.steps))) {
      writeFileSync(join(pipelinesDir, name), text);
    }
    // The probe process starts while Junction does; both take a moment to load.
    const probeStarting = startProbe(fifo);
    cleanups.push(async () => {
      const started = await probeStarting.catch(() => undefined);
      await started?.close();
    });
    const { startApp, loadConfig, createLogger } = await builtEngine();
    const { config } = await loadConfig({
      cwd: dir,
      env: {},
      overrides: { server: { host: '127.0.0.1', port: 0, allowAnonymousEmit: true } },
    });
    const logFile = createWriteStream(join(dir, 'junction.log'));
    cleanups.push(() => new Promise<void>((resolve) => logFile.end(resolve)));
    const app = await startApp(config, {
      logger: createLogger({ level: config.log.level, format: 'json', destination: logFile }),
    });
    cleanups.push(() => app.stop());
    const loaded = [...app.pipelines().pipelines.keys()];
    if (!loaded.includes('bench-start') || !loaded.includes('bench-steps')) {
      throw new BenchError(`the benchmark's pipelines did not load (loaded: ${loaded.join(', ') || 'none'})`);
    }
    const probe = await probeStarting;
    const engine = probeEngine(app);
    cleanups.push(() => engine.restore());
    return { app, dir, fifo, probe, engine, close };
  } catch (error) {
    await close();
    throw error;
  }
}

let eventCounter = 0;

function benchEventBody(type: string): string {
  eventCounter += 1;
  return JSON.stringify({
    specversion: '1.0',
    id: `runner-${process.pid}-${Date.now()}-${eventCounter}`,
    source: 'bench/runner',
    type,
    datacontenttype: 'application/json',
    data: { n: eventCounter },
  });
}

/** Sends one event; returns its stored id, when it was sent and when the 202 arrived. */
async function postEvent(
  harness: Harness,
  type: string,
): Promise<{ id: string; sentNs: bigint; acceptedNs: bigint }> {
  const posted = await harness.probe.post(`${harness.app.url}/events`, benchEventBody(type));
  if (posted.status !== 202) {
    throw new BenchError(`POST /events answered ${posted.status}: ${posted.text.slice(0, 300)}`);
  }
  let id: unknown;
  try {
    id = (JSON.parse(posted.text) as { id?: unknown } | null)?.id;
  } catch (error) {
    throw new BenchError(
      `POST /events answered 202 with a body that is not JSON: ${posted.text.slice(0, 300)}`,
      BENCH_EXIT.failed,
      { cause: error },
    );
  }
  if (typeof id !== 'string')
    throw new BenchError(`POST /events answered 202 without an id: ${posted.text.slice(0, 300)}`);
  return { id, sentNs: posted.sentNs, acceptedNs: posted.acceptedNs };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits until the app has nothing left to do for the last run: the next event starts clean. */
async function settle(app: App): Promise<void> {
  for (let i = 0; i < 2000; i += 1) {
    await app.scheduler.idle();
    const active = app.workers?.active() ?? 0;
    const { pending } = await app.store.outboxStats();
    if (active === 0 && pending === 0) {
      await tick();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new BenchError('the app did not go quiet within a few seconds of a run ending');
}

const toMs = (ns: bigint): number => Number(ns) / 1e6;

/** The environment of a bare spawn: what a step inherits from Junction, no more. */
function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'USER']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function waitClose(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve());
  });
}

// ---------------------------------------------------------------------------------------------
// Part 1: start latency.

export interface StartResult {
  readonly events: number;
  readonly warmupEvents: number;
  readonly junction?: Summary;
  readonly baseline?: Summary;
  /** How long the bare `spawn()` call itself blocked this thread (fork and exec of the child). */
  readonly baselineSpawnCall?: Summary;
  readonly ratioP50?: number;
  readonly ratioP99?: number;
  readonly stages: readonly StageRow[];
  /** CPU time of this thread (Junction's event loop) per counted event. */
  readonly mainThreadCpuMsPerEvent?: number;
  /** Time from sending the event to its 202, for reference. */
  readonly acceptLatency?: Summary;
  readonly rssBytes?: number;
  readonly profile?: { readonly path: string; readonly summary: ProfileSummary };
  readonly error?: string;
}

async function measureBareStart(
  harness: Harness,
  count: number,
): Promise<{ start: number[]; call: number[] }> {
  const script = markScript(harness.fifo);
  const start: number[] = [];
  const call: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `bare-${process.pid}-${i}`;
    const before = process.hrtime.bigint();
    const child = spawn('/bin/sh', ['-c', script], { env: bareEnv({ JUNCTION_EVENT_ID: id }) });
    const after = process.hrtime.bigint();
    const closed = waitClose(child);
    const at = await harness.probe.mark(id, 30_000);
    await closed;
    start.push(toMs(at - before));
    call.push(toMs(after - before));
  }
  return { start, call };
}

async function startProfiler(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return session;
}

async function stopProfiler(
  session: Session,
  dir: string,
): Promise<{ path: string; summary: ProfileSummary }> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const path = join(dir, `runner-start-${process.pid}.cpuprofile`);
  writeFileSync(path, JSON.stringify(profile));
  return { path, summary: summarizeProfile(profile) };
}

async function measureStart(
  context: BenchContext,
  harness: Harness,
  settings: RunnerSettings,
): Promise<StartResult> {
  const say = (line: string): void => context.progress(`[runner] start latency: ${line}`);
  const { warmupEvents, events } = settings;
  say(`baseline: ${warmupEvents} + ${events} bare spawns`);
  await measureBareStart(harness, warmupEvents);
  const bare = await measureBareStart(harness, events);

  say(`junction: ${warmupEvents} warm-up + ${events} sequential events`);
  const latencies: number[] = [];
  const accept: number[] = [];
  const stages: StageTimes[] = [];
  let cpuBefore: NodeJS.CpuUsage | undefined;
  let profiler: Session | undefined;
  const total = warmupEvents + events;
  for (let i = 0; i < total; i += 1) {
    if (i === warmupEvents) {
      if (context.options.cpuProf) profiler = await startProfiler();
      cpuBefore = process.threadCpuUsage();
    }
    const posted = await postEvent(harness, START_EVENT_TYPE);
    const { id } = posted;
    const markNs = await harness.probe.mark(id, settings.eventTimeoutMs);
    const done = await harness.engine.finished(id, settings.eventTimeoutMs);
    if (done.status !== 'succeeded') throw new BenchError(`the run of event '${id}' ended ${done.status}`);
    await settle(harness.app);
    const timeline = harness.engine.take(id);
    if (i < warmupEvents) continue;
    latencies.push(toMs(markNs - posted.acceptedNs));
    accept.push(toMs(posted.acceptedNs - posted.sentNs));
    if (timeline?.commitEnd !== undefined) {
      const origin = timeline.commitEnd;
      const rel = (ns: bigint | undefined): number | undefined =>
        ns === undefined ? undefined : toMs(ns - origin);
      const times: StageTimes = {};
      const set = (key: StageKey, value: number | undefined): void => {
        if (value !== undefined) times[key] = value;
      };
      set('commitEnd', 0);
      set('accepted', rel(posted.acceptedNs));
      set('published', rel(timeline.published));
      set('routed', rel(timeline.routed));
      set('runRunning', rel(timeline.runRunning));
      set('startedEvent', rel(timeline.startedEvent));
      set('jobRow', rel(timeline.jobRow));
      set('claimed', rel(timeline.claimed));
      const first = timeline.steps[0];
      set('stepRow', rel(first?.rowRunning));
      set('spawnCall', rel(first?.spawnCall));
      set('spawnReturn', rel(first?.spawnReturn));
      set('mark', rel(markNs));
      stages.push(times);
    }
    if ((i - warmupEvents + 1) % 100 === 0) say(`${i - warmupEvents + 1}/${events}`);
  }
  const cpu = cpuBefore === undefined ? undefined : process.threadCpuUsage(cpuBefore);
  const profile = profiler === undefined ? undefined : await stopProfiler(profiler, tmpdir());
  const junction = summarize(latencies);
  const baseline = summarize(bare.start);
  const baselineSpawnCall = summarize(bare.call);
  const acceptLatency = summarize(accept);
  const ratioP50 = ratio(junction?.p50Ms, baseline?.p50Ms);
  const ratioP99 = ratio(junction?.p99Ms, baseline?.p99Ms);
  return {
    events,
    warmupEvents,
    ...(junction === undefined ? {} : { junction }),
    ...(baseline === undefined ? {} : { baseline }),
    ...(baselineSpawnCall === undefined ? {} : { baselineSpawnCall }),
    ...(ratioP50 === undefined ? {} : { ratioP50 }),
    ...(ratioP99 === undefined ? {} : { ratioP99 }),
    stages: stageBreakdown(stages),
    ...(cpu === undefined ? {} : { mainThreadCpuMsPerEvent: (cpu.user + cpu.system) / 1000 / events }),
    ...(acceptLatency === undefined ? {} : { acceptLatency }),
    rssBytes: process.memoryUsage().rss,
    ...(profile === undefined ? {} : { profile }),
  };
}

// ---------------------------------------------------------------------------------------------
// Part 2: steps.

export interface StepsResult {
  readonly steps: number;
  readonly repeat: number;
  /** Wall time of each counted run, ms: the 202 to the run's end. */
  readonly junctionMs: readonly number[];
  /** Wall time of each counted bare loop, ms. */
  readonly bareMs: readonly number[];
  readonly junctionMedianMs?: number;
  readonly bareMedianMs?: number;
  readonly ratio?: number;
  /** (junction − bare) ÷ steps, from the medians. */
  readonly overheadPerStepMs?: number;
  /** Median time from one spawn() call to the next: one step's full cycle. */
  readonly junctionCycleMs?: number;
  readonly bareCycleMs?: number;
  /** Median of each part of one step's cycle, both sides. */
  readonly segments?: readonly {
    readonly label: string;
    readonly junctionMs: number | undefined;
    readonly bareMs: number | undefined;
  }[];
  /** The same bare loop in a fresh Node process (small heap), for reference. */
  readonly freshNodeBareMs?: number;
  readonly error?: string;
}

async function bareLoop(count: number): Promise<{ wallMs: number; steps: StepTimes[] }> {
  const steps: StepTimes[] = [];
  const start = process.hrtime.bigint();
  const since = (): number => toMs(process.hrtime.bigint() - start);
  for (let i = 0; i < count; i += 1) {
    const step: StepTimes = { spawnCall: since() };
    const child = spawn('/bin/sh', ['-e', '-c', 'true'], {
      env: bareEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    step.spawnReturn = since();
    child.once('exit', () => (step.exit = since()));
    await waitClose(child);
    step.close = since();
    steps.push(step);
    if (child.exitCode !== 0) throw new BenchError(`/bin/sh -e -c true exited with ${child.exitCode}`);
  }
  return { wallMs: since(), steps };
}

function stepTimesMs(steps: readonly Partial<Record<StepStampKey, bigint>>[]): StepTimes[] {
  return steps.map((step) => {
    const times: StepTimes = {};
    for (const key of STEP_STAMPS) {
      const at = step[key];
      if (at !== undefined) times[key] = toMs(at);
    }
    return times;
  });
}

const spawnCallsOf = (steps: readonly StepTimes[]): number[] =>
  steps.flatMap((step) => (step.spawnCall === undefined ? [] : [step.spawnCall]));

/** The bare loop as a script for a fresh `node -e`; prints the wall time in ms. */
const FRESH_LOOP = `
const { spawn } = require('node:child_process');
const steps = Number(process.argv[1]);
(async () => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < steps; i += 1) {
    const child = spawn('/bin/sh', ['-e', '-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise((resolve, reject) => { child.once('error', reject); child.once('close', resolve); });
  }
  process.stdout.write(String(Number(process.hrtime.bigint() - start) / 1e6));
})();
`;

function freshNodeLoop(steps: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', FRESH_LOOP, String(steps)],
      { timeout: 120_000, maxBuffer: 64 * 1024 },
      (error, stdout) => {
        if (error !== null) {
          reject(
            new BenchError(`the fresh node loop failed: ${error.message}`, BENCH_EXIT.failed, {
              cause: error,
            }),
          );
          return;
        }
        const ms = Number(stdout.trim());
        if (Number.isFinite(ms)) resolve(ms);
        else reject(new BenchError(`the fresh node loop printed '${stdout.slice(0, 100)}'`));
      },
    );
  });
}

async function measureSteps(
  context: BenchContext,
  harness: Harness,
  settings: RunnerSettings,
): Promise<StepsResult> {
  const say = (line: string): void => context.progress(`[runner] steps: ${line}`);
  const junctionMs: number[] = [];
  const bareMs: number[] = [];
  const junctionRuns: StepTimes[][] = [];
  const bareRuns: StepTimes[][] = [];
  const fresh: number[] = [];
  // Warm-up rounds of each side, then the counted ones; the sides take turns.
  const rounds = settings.warmupRounds + settings.repeat;
  for (let round = 0; round < rounds; round += 1) {
    const counted = round >= settings.warmupRounds;
    say(counted ? `round ${round - settings.warmupRounds + 1}/${settings.repeat}` : 'warm-up');
    const bare = await bareLoop(settings.steps);
    const { id, acceptedNs } = await postEvent(harness, STEPS_EVENT_TYPE);
    const done = await harness.engine.finished(id, settings.eventTimeoutMs + settings.steps * 1000);
    if (done.status !== 'succeeded')
      throw new BenchError(`the steps run of event '${id}' ended ${done.status}`);
    await settle(harness.app);
    const timeline = harness.engine.take(id);
    if (timeline === undefined || timeline.spawns !== settings.steps) {
      throw new BenchError(
        `the steps run spawned ${timeline?.spawns ?? 0} processes; expected ${settings.steps}`,
      );
    }
    if (!counted) continue;
    bareMs.push(bare.wallMs);
    bareRuns.push(bare.steps);
    junctionMs.push(toMs(done.at - acceptedNs));
    junctionRuns.push(stepTimesMs(timeline.steps));
    fresh.push(await freshNodeLoop(settings.steps));
  }
  const junctionSegments = stepSegments(junctionRuns);
  const bareSegments = stepSegments(bareRuns);
  const segments = junctionSegments.map((segment, i) => ({
    label: segment.label,
    junctionMs: segment.medianMs,
    bareMs: bareSegments[i]?.medianMs,
  }));
  const junctionMedianMs = median(junctionMs);
  const bareMedianMs = median(bareMs);
  const stepsRatio = ratio(junctionMedianMs, bareMedianMs);
  const junctionCycleMs = median(junctionRuns.flatMap((steps) => gaps(spawnCallsOf(steps))));
  const bareCycleMs = median(bareRuns.flatMap((steps) => gaps(spawnCallsOf(steps))));
  const freshNodeBareMs = median(fresh);
  return {
    steps: settings.steps,
    repeat: settings.repeat,
    junctionMs,
    bareMs,
    ...(junctionMedianMs === undefined ? {} : { junctionMedianMs }),
    ...(bareMedianMs === undefined ? {} : { bareMedianMs }),
    ...(stepsRatio === undefined ? {} : { ratio: stepsRatio }),
    ...(junctionMedianMs === undefined || bareMedianMs === undefined
      ? {}
      : { overheadPerStepMs: (junctionMedianMs - bareMedianMs) / settings.steps }),
    ...(junctionCycleMs === undefined ? {} : { junctionCycleMs }),
    ...(bareCycleMs === undefined ? {} : { bareCycleMs }),
    ...(freshNodeBareMs === undefined ? {} : { freshNodeBareMs }),
    segments,
  };
}

// ---------------------------------------------------------------------------------------------
// Part 3: matching.

export interface MatchingSet {
  readonly label: string;
  readonly pipelines: number;
  readonly style: TypeStyle;
  readonly parseMs: number;
  readonly compileMs: number;
  readonly rounds: readonly number[];
  /** Median events/s over the rounds. */
  readonly eventsPerSec?: number;
}

export interface MatchingResult {
  readonly small?: MatchingSet;
  readonly large?: MatchingSet;
  /** Large events/s ÷ small events/s. */
  readonly ratio?: number;
  /** The large set with leading-wildcard types, which the type index cannot narrow (not a target). */
  readonly wildcard?: MatchingSet;
  readonly error?: string;
}

/** Calls `decideEvent` for `roundMs` and returns calls per second; checks every decision. */
export function decideRate(event: CloudEvent, routable: RoutablePipelines, roundMs: number): number {
  const batch = 64;
  let calls = 0;
  let matched = 0;
  const start = performance.now();
  let elapsed = 0;
  // Bounded by time, and by a call count no machine reaches in a round.
  while (elapsed < roundMs && calls < 1e9) {
    for (let i = 0; i < batch; i += 1) {
      const decisions = decideEvent(event, routable);
      if (decisions.length === 1 && decisions[0]!.matched) matched += 1;
    }
    calls += batch;
    elapsed = performance.now() - start;
  }
  if (matched !== calls) {
    throw new BenchError(`decideEvent matched ${matched} of ${calls} calls; expected exactly one match each`);
  }
  return calls / (elapsed / 1000);
}

function buildSet(
  label: string,
  count: number,
  style: TypeStyle,
): { set: MatchingSet; routable: RoutablePipelines } {
  const files = matchingPipelineFiles(count, style);
  const parseStart = performance.now();
  const loaded = parsePipelineFiles(files);
  const parseMs = performance.now() - parseStart;
  const compileStart = performance.now();
  const compiled = compilePipelines(loaded);
  const compileMs = performance.now() - compileStart;
  if (compiled.problems.length > 0 || compiled.routable.pipelines.size !== count) {
    throw new BenchError(
      `compilePipelines kept ${compiled.routable.pipelines.size} of ${count} pipelines: ${compiled.problems[0]?.message ?? ''}`,
    );
  }
  return {
    set: { label, pipelines: count, style, parseMs, compileMs, rounds: [] },
    routable: compiled.routable,
  };
}

async function measureMatching(context: BenchContext, settings: RunnerSettings): Promise<MatchingResult> {
  const say = (line: string): void => context.progress(`[runner] matching: ${line}`);
  const event = matchEvent();
  say(`parsing and compiling ${formatInt(settings.pipelines)} pipelines`);
  const small = buildSet('small', settings.smallPipelines, 'exact');
  const large = buildSet('large', settings.pipelines, 'exact');
  const wildcard = buildSet('leading wildcards', settings.pipelines, 'leading-wildcard');
  const sets = [small, large, wildcard];
  const rounds = new Map(sets.map((s) => [s, [] as number[]]));
  for (const s of sets) decideRate(event, s.routable, settings.matchRoundMs / 2);
  say(`${settings.matchRounds} rounds of ${settings.matchRoundMs} ms per set`);
  for (let round = 0; round < settings.matchRounds; round += 1) {
    for (const s of sets) {
      rounds.get(s)!.push(decideRate(event, s.routable, settings.matchRoundMs));
      await tick();
    }
  }
  const finish = (s: (typeof sets)[number]): MatchingSet => {
    const list = rounds.get(s)!;
    const eventsPerSec = median(list);
    return { ...s.set, rounds: list, ...(eventsPerSec === undefined ? {} : { eventsPerSec }) };
  };
  const smallSet = finish(small);
  const largeSet = finish(large);
  const matchRatio = ratio(largeSet.eventsPerSec, smallSet.eventsPerSec);
  return {
    small: smallSet,
    large: largeSet,
    ...(matchRatio === undefined ? {} : { ratio: matchRatio }),
    wildcard: finish(wildcard),
  };
}

// ---------------------------------------------------------------------------------------------
// Report.

export interface TargetCheck {
  readonly name: string;
  readonly pass: boolean;
  readonly actual: string;
}

export interface RunnerReport {
  readonly benchmark: 'runner';
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryBytes: number;
    readonly node: string;
    readonly kernel: string;
    /** 1-minute load average just before the run. */
    readonly loadBefore: number;
    /** CPU of other processes during the run, % of one core. */
    readonly otherCpuPercent?: number;
  };
  readonly settings: RunnerSettings;
  readonly start: StartResult;
  readonly steps: StepsResult;
  readonly matching: MatchingResult;
  readonly checks: readonly TargetCheck[];
  readonly failed: boolean;
  readonly warning?: string;
}

export function evaluateTargets(
  start: StartResult,
  steps: StepsResult,
  matching: MatchingResult,
): TargetCheck[] {
  const p50 = start.junction?.p50Ms;
  const p99 = start.junction?.p99Ms;
  const bare = start.baseline;
  const withBare = (value: number | undefined, base: number | undefined): string =>
    value === undefined ? 'no result' : `${formatMs(value)} ms (bare spawn ${formatMs(base)} ms)`;
  return [
    {
      name: `start latency p50 ≤ ${TARGETS.startP50Ms} ms`,
      pass: p50 !== undefined && p50 <= TARGETS.startP50Ms,
      actual: withBare(p50, bare?.p50Ms),
    },
    {
      name: `start latency p99 ≤ ${TARGETS.startP99Ms} ms`,
      pass: p99 !== undefined && p99 <= TARGETS.startP99Ms,
      actual: withBare(p99, bare?.p99Ms),
    },
    {
      name: `${steps.steps} steps ≤ ${TARGETS.maxStepsRatio}× bare spawns`,
      pass: steps.ratio !== undefined && steps.ratio <= TARGETS.maxStepsRatio,
      actual:
        steps.ratio === undefined
          ? 'no result'
          : `${formatRatio(steps.ratio)} (${formatMs(steps.junctionMedianMs)} vs ${formatMs(steps.bareMedianMs)} ms)`,
    },
    {
      name: `matching with ${formatInt(matching.large?.pipelines)} pipelines ≥ ${TARGETS.minMatchingRatio}× with ${formatInt(matching.small?.pipelines)}`,
      pass: matching.ratio !== undefined && matching.ratio >= TARGETS.minMatchingRatio,
      actual:
        matching.ratio === undefined
          ? 'no result'
          : `${formatRatio(matching.ratio)} (${formatInt(matching.large?.eventsPerSec)} vs ${formatInt(matching.small?.eventsPerSec)} events/s)`,
    },
  ];
}

function summaryRow(label: string, s: Summary | undefined): string[] {
  return [
    label,
    formatMs(s?.p50Ms),
    formatMs(s?.p90Ms),
    formatMs(s?.p99Ms),
    formatMs(s?.maxMs),
    formatMs(s?.meanMs),
  ];
}

const signedMs = (value: number | undefined): string =>
  value === undefined ? MISSING : `${value < 0 ? '−' : '+'}${formatMs(Math.abs(value))}`;

function formatStart(start: StartResult): string[] {
  const lines = [
    `1. event accepted → first step process started (${formatInt(start.events)} sequential events after ${start.warmupEvents} warm-up; each run ends before the next event)`,
    "   from the 202 reaching the sender to the step's first command (a shell builtin writing to a FIFO), both",
    '   stamped by one probe process on one monotonic clock; baseline: a bare spawn of /bin/sh -c <the same script> here',
    '',
  ];
  if (start.error !== undefined) return [...lines, `   error: ${start.error}`, ''];
  lines.push(
    indent(
      formatTable(
        ['', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'],
        [
          summaryRow('junction', start.junction),
          summaryRow('bare spawn (baseline)', start.baseline),
          ['ratio', formatRatio(start.ratioP50), '', formatRatio(start.ratioP99), '', ''],
          summaryRow('bare spawn() call alone', start.baselineSpawnCall),
        ],
      ),
      '   ',
    ),
    '',
    '   where the time goes, per event (ms since the intake commit, median; Δ: from the stage above, p50 and p99):',
    indent(
      formatTable(
        ['stage', 'at', 'Δ p50', 'Δ p99'],
        start.stages.map((row) => [
          row.label,
          row.atMs === undefined ? MISSING : formatMs(row.atMs),
          row.key === 'commitEnd' ? '' : signedMs(row.deltaP50Ms),
          row.key === 'commitEnd' ? '' : signedMs(row.deltaP99Ms),
        ]),
      ),
      '   ',
    ),
    `   Junction's thread: ${start.mainThreadCpuMsPerEvent === undefined ? MISSING : formatMs(start.mainThreadCpuMsPerEvent)} ms CPU per event; POST → 202 p50 ${formatMs(start.acceptLatency?.p50Ms)} ms; RSS ${start.rssBytes === undefined ? MISSING : `${(start.rssBytes / 1e6).toFixed(0)} MB`}`,
  );
  if (start.profile !== undefined) {
    const { summary, path } = start.profile;
    lines.push(
      '',
      `   cpu profile of Junction's thread (${formatMs(summary.busyMs)} ms busy, ${formatMs(summary.idleMs)} ms idle): ${path}`,
      "   self ms   share  function  ← its nearest caller in Junction's sources",
      ...summary.top.map(
        (e) =>
          `   ${formatMs(e.selfMs).padStart(7)}  ${`${(e.share * 100).toFixed(1)}%`.padStart(6)}  ` +
          `${e.location === '' ? e.functionName : `${e.functionName} ${e.location}`}` +
          `${e.calledFrom === '' ? '' : `  ← ${e.calledFrom}`}`,
      ),
    );
  }
  lines.push('');
  return lines;
}

function formatSteps(steps: StepsResult): string[] {
  const lines = [
    `2. ${steps.steps} sequential \`run: "true"\` steps in one job vs ${steps.steps} spawns of /bin/sh -e -c true in a bare loop (median of ${steps.repeat})`,
    "   junction: the 202 to the run's end; bare: a loop in this process awaiting each child's exit and closed pipes",
    '',
  ];
  if (steps.error !== undefined) return [...lines, `   error: ${steps.error}`, ''];
  const perStep = (ms: number | undefined): string =>
    ms === undefined ? MISSING : formatMs(ms / steps.steps);
  lines.push(
    indent(
      formatTable(
        ['', 'median ms', 'runs ms', 'per step ms', 'cycle ms'],
        [
          [
            'junction',
            formatMs(steps.junctionMedianMs),
            steps.junctionMs.map((v) => formatMs(v)).join(' '),
            perStep(steps.junctionMedianMs),
            formatMs(steps.junctionCycleMs),
          ],
          [
            'bare loop',
            formatMs(steps.bareMedianMs),
            steps.bareMs.map((v) => formatMs(v)).join(' '),
            perStep(steps.bareMedianMs),
            formatMs(steps.bareCycleMs),
          ],
          [
            'ratio',
            formatRatio(steps.ratio),
            '',
            '',
            formatRatio(ratio(steps.junctionCycleMs, steps.bareCycleMs)),
          ],
          ['bare loop, fresh node', formatMs(steps.freshNodeBareMs), '', perStep(steps.freshNodeBareMs), ''],
        ],
      ),
      '   ',
    ),
    `   Junction adds ${formatMs(steps.overheadPerStepMs)} ms per step; cycle: median time from one spawn() call to the next`,
  );
  if (steps.segments !== undefined && steps.segments.length > 0) {
    lines.push(
      '',
      '   one step, median ms of each part (a part a bare spawn does not have is -):',
      indent(
        formatTable(
          ['part', 'junction', 'bare'],
          steps.segments.map((s) => [s.label, formatMs(s.junctionMs), formatMs(s.bareMs)]),
        ),
        '   ',
      ),
    );
  }
  lines.push('');
  return lines;
}

/** A ratio, with two significant digits when it is below 0.01 (`0.00×` would hide it). */
export function formatSmallRatio(value: number | undefined): string {
  return value !== undefined && value > 0 && value < 0.01 ? `${value.toPrecision(2)}×` : formatRatio(value);
}

function formatMatching(matching: MatchingResult): string[] {
  const lines = [
    `3. matching: decideEvent (the router's decision only, not HTTP, store or bus) for one git.push event`,
    '   over pipelines parsed with parsePipeline and compiled with compilePipelines; one pipeline matches',
    '',
  ];
  if (matching.error !== undefined) return [...lines, `   error: ${matching.error}`, ''];
  const row = (s: MatchingSet | undefined, note: string): string[] => [
    s === undefined ? MISSING : `${formatInt(s.pipelines)} pipelines${note}`,
    formatInt(s?.eventsPerSec),
    formatSmallRatio(ratio(s?.eventsPerSec, matching.small?.eventsPerSec)),
    s === undefined ? MISSING : formatMs(s.parseMs),
    s === undefined ? MISSING : formatMs(s.compileMs),
  ];
  lines.push(
    indent(
      formatTable(
        ['set', 'events/s', 'vs small', 'parse ms', 'compile ms'],
        [
          row(matching.small, ', types type.<n>'),
          row(matching.large, ', types type.<n>'),
          row(matching.wildcard, ", types '*.t<n>' (info)"),
        ],
      ),
      '   ',
    ),
    `   events/s: median of ${matching.large?.rounds.length ?? 0} timed rounds per set; compile ms: compilePipelines alone`,
    '',
  );
  return lines;
}

export function formatRunnerReport(report: RunnerReport): string {
  const { machine, settings } = report;
  return [
    `runner benchmark, ${report.date}${settings.quick ? ' (--quick: reduced sizes, not numbers to quote)' : ''}`,
    `machine: ${machine.cpus} cpus (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${machine.node}, linux ${machine.kernel}, ` +
      `load average ${machine.loadBefore.toFixed(2)} before the run, other processes ${machine.otherCpuPercent === undefined ? MISSING : `${Math.round(machine.otherCpuPercent)}%`} of a core during it`,
    ...(report.warning === undefined ? [] : [report.warning]),
    'junction: startApp in this process (SQLite in a temp dir, embedded bus, default workers, log level info to a file)',
    '',
    ...formatStart(report.start),
    ...formatSteps(report.steps),
    ...formatMatching(report.matching),
    'targets:',
    indent(report.checks.map((c) => `${c.pass ? 'PASS' : 'MISS'}  ${c.name}: ${c.actual}`).join('\n')),
    '',
  ].join('\n');
}

function sharedMachineWarning(
  loadBefore: number,
  cpuCount: number,
  otherCpu: number | undefined,
): string | undefined {
  const loaded = loadBefore > cpuCount * BUSY_LOAD_PER_CPU;
  const noisy = otherCpu !== undefined && otherCpu > NOISY_OTHER_CPU_PERCENT;
  if (!loaded && !noisy) return undefined;
  return (
    `WARNING: the machine was shared (1-minute load ${loadBefore.toFixed(2)} before the run; other processes used ` +
    `${otherCpu === undefined ? 'an unknown share' : `${Math.round(otherCpu)}%`} of a core during it): latencies are inflated; rerun it idle`
  );
}

function otherCpuSample(): { machine: number; own: number; children: number; at: number } | undefined {
  const machine = readMachineBusySeconds();
  const own = readOwnCpuSeconds();
  const children = readReapedChildrenCpuSeconds();
  if (machine === undefined || own === undefined || children === undefined) return undefined;
  return { machine, own, children, at: performance.now() };
}

export async function runRunner(context: BenchContext): Promise<RunnerReport> {
  const settings = runnerSettings(context.options);
  const loadBefore = loadavg()[0] ?? 0;
  const cpuBefore = otherCpuSample();
  let start: StartResult = { events: settings.events, warmupEvents: settings.warmupEvents, stages: [] };
  let steps: StepsResult = { steps: settings.steps, repeat: settings.repeat, junctionMs: [], bareMs: [] };
  let harness: Harness | undefined;
  try {
    context.progress('[runner] starting junction');
    harness = await startHarness(settings);
    try {
      start = await measureStart(context, harness, settings);
    } catch (error) {
      start = { ...start, error: errorText(error) };
    }
    try {
      steps = await measureSteps(context, harness, settings);
    } catch (error) {
      steps = { ...steps, error: errorText(error) };
    }
  } catch (error) {
    start = { ...start, error: errorText(error) };
    steps = { ...steps, error: `not run: ${errorText(error)}` };
  } finally {
    await harness?.close();
  }
  let matching: MatchingResult;
  try {
    matching = await measureMatching(context, settings);
  } catch (error) {
    matching = { error: errorText(error) };
  }
  const cpuAfter = otherCpuSample();
  const otherCpuPercent =
    cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : (Math.max(
          0,
          cpuAfter.machine -
            cpuBefore.machine -
            (cpuAfter.own - cpuBefore.own) -
            (cpuAfter.children - cpuBefore.children),
        ) /
          ((cpuAfter.at - cpuBefore.at) / 1000)) *
        100;
  const cpuList = cpus();
  const warning = sharedMachineWarning(loadBefore, cpuList.length, otherCpuPercent);
  return {
    benchmark: 'runner',
    date: new Date().toISOString(),
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      memoryBytes: totalmem(),
      node: process.version,
      kernel: release(),
      loadBefore,
      ...(otherCpuPercent === undefined ? {} : { otherCpuPercent }),
    },
    settings,
    start,
    steps,
    matching,
    checks: evaluateTargets(start, steps, matching),
    failed: start.error !== undefined || steps.error !== undefined || matching.error !== undefined,
    ...(warning === undefined ? {} : { warning }),
  };
}

export const runnerBenchmark: Benchmark = {
  name: 'runner',
  description: 'event → first step start latency, per-step cost, and matching with 10,000 pipelines',
  needsWrk: false,
  async run(context): Promise<BenchOutcome> {
    const report = await runRunner(context);
    return { text: formatRunnerReport(report), json: report, failed: report.failed };
  },
};
