/**
 * The soak benchmark: sustained intake at a fixed rate with pipelines running, for `--duration`
 * (default 10s; quote runs of 60s or more) at `--rate` events per second (default 200). It
 * reports what was accepted, stored, started and finished, the intake latency, and the server's
 * resident memory sampled every second, which must level off (a plateau) rather than keep growing.
 *
 * The server is the built `junction serve` (dist/, as `npm start` runs it) in a temp dir: SQLite,
 * the embedded bus, the default workers, log level warn, and one pipeline on `soak.tick` whose
 * trigger has `if: event.data.work == true`; one event in `RUN_EVERY` carries `work: true`, so
 * that share of events starts a run of one short step. The benchmark process posts structured
 * CloudEvents (unique ids) in an open loop from its own timer: a request goes out when the
 * schedule says so, whatever the earlier ones are doing, up to `MAX_IN_FLIGHT` at once (beyond
 * that a tick is counted as `late` and not sent). Baseline: the same loop at the same rate against
 * bench/bare-server.ts (a node:http server that stores nothing), for `min(duration, 15s)`, so the
 * latency ratio says what Junction adds.
 *
 * After the load, the benchmark waits (up to 60 s) until every stored event that carries
 * `work: true` has a finished run, stops the server with
 * SIGTERM and counts events and runs in its SQLite file: fewer stored events than acknowledged is
 * a failure, as in the intake benchmark.
 *
 * What callers may assume: `run` never throws for a part that fails; the failure is in the
 * report's `error` and makes the outcome `failed`. A missed target is reported, not a failure.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { BENCH_EXIT, BenchError, errorText } from './lib/bench-error.ts';
import type { BenchContext, BenchOutcome, Benchmark } from './lib/benchmark.ts';
import type { BenchOptions } from './lib/args.ts';
import { formatInt, formatMB, formatMs, formatRatio, formatTable, indent, MISSING } from './lib/format.ts';
import { freePort, startServer, type ServerProcess } from './lib/server-process.ts';
import { findDatabase } from './intake.ts';

export const DEFAULT_RATE = 200;
/** Bounds on `--rate`: above this the loop, not the server, is what gets measured. */
export const MAX_RATE = 5000;
/** One event in this many starts a run. */
export const RUN_EVERY = 10;
/** Requests outstanding at once; a tick beyond this is `late`. */
export const MAX_IN_FLIGHT = 256;
export const REQUEST_TIMEOUT_MS = 5000;
export const BASELINE_MAX_SECONDS = 15;
export const DRAIN_TIMEOUT_MS = 60_000;

export const TARGETS = {
  /**
   * The highest RSS of the second half of the run over that of the first half, at most: memory
   * levels off. (A peak, not a slope: RSS moves in steps and drops when V8 or SQLite give memory
   * back, and a straight line through a saw-tooth says little.)
   */
  maxPeakGrowth: 0.1,
  /** Intake p99 at the soak rate. */
  maxP99Ms: 20,
  /** Share of the scheduled events that were answered 2xx. */
  minAcceptedShare: 0.99,
} as const;

export interface SoakSettings {
  readonly durationSeconds: number;
  readonly rate: number;
  readonly baselineSeconds: number;
  readonly runEvery: number;
}

export function soakSettings(options: BenchOptions): SoakSettings {
  const rate = options.rate ?? DEFAULT_RATE;
  if (rate > MAX_RATE) {
    throw new BenchError(
      `--rate must be at most ${MAX_RATE} events/s for soak, got ${rate}`,
      BENCH_EXIT.usage,
    );
  }
  return {
    durationSeconds: options.durationSeconds,
    rate,
    baselineSeconds: Math.min(options.durationSeconds, BASELINE_MAX_SECONDS),
    runEvery: RUN_EVERY,
  };
}

export interface LatencySummary {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentiles; undefined for no samples. */
export function summarize(samples: readonly number[]): LatencySummary | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1]! };
}

export interface RssSample {
  /** Seconds since the load started. */
  readonly atSeconds: number;
  readonly rssBytes: number;
}

/**
 * Least-squares slope of RSS over the second half of the samples, in MB (10^6) per minute;
 * undefined with fewer than 4 samples in that half.
 */
export function rssSlopeMBPerMin(samples: readonly RssSample[]): number | undefined {
  const half = samples.slice(Math.floor(samples.length / 2));
  if (half.length < 4) return undefined;
  const n = half.length;
  const mx = half.reduce((s, p) => s + p.atSeconds, 0) / n;
  const my = half.reduce((s, p) => s + p.rssBytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of half) {
    num += (p.atSeconds - mx) * (p.rssBytes - my);
    den += (p.atSeconds - mx) ** 2;
  }
  return den === 0 ? undefined : ((num / den) * 60) / 1e6;
}

export interface PeakGrowth {
  readonly firstHalfPeakBytes: number;
  readonly secondHalfPeakBytes: number;
  /** second ÷ first − 1. */
  readonly growth: number;
}

/** Peaks of RSS in the first and second half of the samples; undefined with fewer than 8. */
export function rssPeakGrowth(samples: readonly RssSample[]): PeakGrowth | undefined {
  if (samples.length < 8) return undefined;
  const middle = Math.floor(samples.length / 2);
  const peak = (list: readonly RssSample[]): number => Math.max(...list.map((p) => p.rssBytes));
  const first = peak(samples.slice(0, middle));
  const second = peak(samples.slice(middle));
  return { firstHalfPeakBytes: first, secondHalfPeakBytes: second, growth: second / first - 1 };
}

export interface LoadResult {
  /** Ticks of the schedule: events that should have been sent. */
  readonly scheduled: number;
  readonly sent: number;
  /** Answered 2xx. */
  readonly accepted: number;
  /** Answered, but not 2xx. */
  readonly rejected: number;
  /** No answer: refused, reset or timed out. */
  readonly errors: number;
  /** Ticks not sent because `MAX_IN_FLIGHT` requests were outstanding. */
  readonly late: number;
  /** Accepted events that carry `work: true`. */
  readonly acceptedWork: number;
  readonly latency?: LatencySummary;
  readonly rss: readonly RssSample[];
}

/** Posts at `rate` for `seconds` from this process's own timer, sampling RSS every second. */
async function postAtRate(
  baseUrl: string,
  rate: number,
  seconds: number,
  tag: string,
  server: ServerProcess,
  say: (line: string) => void,
): Promise<LoadResult> {
  const { hostname, port } = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const latencies: number[] = [];
  const rss: RssSample[] = [];
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let accepted = 0;
  let acceptedWork = 0;
  let rejected = 0;
  let errors = 0;
  let late = 0;
  let scheduled = 0;
  const total = Math.round(rate * seconds);

  const post = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const work = n % RUN_EVERY === 0;
      const body = JSON.stringify({
        specversion: '1.0',
        id: `${tag}-${n}`,
        source: 'bench/soak',
        type: 'soak.tick',
        datacontenttype: 'application/json',
        data: { n, work },
      });
      const began = performance.now();
      const req = request(
        {
          host: hostname,
          port,
          path: '/events',
          method: 'POST',
          agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            'content-type': 'application/cloudevents+json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - began);
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              accepted += 1;
              if (work) acceptedWork += 1;
            } else rejected += 1;
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(body);
    });

  const started = performance.now();
  const sampleRss = (): void => {
    const memory = server.memory();
    if (memory !== undefined)
      rss.push({ atSeconds: (performance.now() - started) / 1000, rssBytes: memory.rssBytes });
  };
  sampleRss();
  const sampler = setInterval(() => {
    sampleRss();
    const at = Math.round((performance.now() - started) / 1000);
    if (at > 0 && at % 10 === 0) say(`${at}s: accepted ${accepted}, RSS ${formatMB(rss.at(-1)?.rssBytes)}`);
  }, 1000);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (scheduled < due) {
        scheduled += 1;
        if (inFlight.size >= MAX_IN_FLIGHT) {
          late += 1;
          continue;
        }
        sent += 1;
        const pending = post(scheduled).finally(() => inFlight.delete(pending));
        inFlight.add(pending);
      }
      if (scheduled >= total) resolve();
      else setTimeout(tick, Math.max(1, Math.min(20, 1000 / rate)));
    };
    tick();
  });
  await Promise.allSettled([...inFlight]);
  clearInterval(sampler);
  sampleRss();
  agent.destroy();
  const latency = summarize(latencies);
  return {
    scheduled,
    sent,
    accepted,
    rejected,
    errors,
    late,
    acceptedWork,
    ...(latency === undefined ? {} : { latency }),
    rss,
  };
}

export interface StoreCounts {
  readonly stored: number;
  /** Stored events that carry `work: true`: each should have a run. */
  readonly storedWork: number;
  readonly runsCreated: number;
  readonly runsFinished: number;
  readonly runsSucceeded: number;
}

export function countSoak(databasePath: string): StoreCounts {
  const db = new DatabaseSync(databasePath, { readOnly: true });
  try {
    const n = (sql: string): number => Number(db.prepare(sql).get()?.['n'] ?? 0);
    return {
      stored: n(`SELECT count(*) AS n FROM events WHERE type = 'soak.tick'`),
      storedWork: n(
        `SELECT count(*) AS n FROM events WHERE type = 'soak.tick' AND json_extract(body, '$.data.work') = 1`,
      ),
      runsCreated: n(`SELECT count(*) AS n FROM runs WHERE pipeline = 'soak'`),
      runsFinished: n(
        `SELECT count(*) AS n FROM runs WHERE pipeline = 'soak' AND status NOT IN ('queued', 'waiting', 'running')`,
      ),
      runsSucceeded: n(`SELECT count(*) AS n FROM runs WHERE pipeline = 'soak' AND status = 'succeeded'`),
    };
  } finally {
    db.close();
  }
}

export interface SoakCheck {
  readonly name: string;
  readonly pass: boolean;
  readonly actual: string;
}

export interface SoakReport {
  readonly benchmark: 'soak';
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryBytes: number;
    readonly node: string;
    readonly loadBefore: number;
  };
  readonly settings: SoakSettings;
  readonly junction?: LoadResult;
  readonly baseline?: LoadResult;
  readonly counts?: StoreCounts;
  /** Milliseconds from the end of the load until every run had finished (or the wait gave up). */
  readonly drainMs?: number;
  readonly rssSlopeMBPerMin?: number;
  readonly checks: readonly SoakCheck[];
  readonly failed: boolean;
  readonly error?: string;
}

export function evaluateSoak(
  settings: SoakSettings,
  junction: LoadResult | undefined,
  baseline: LoadResult | undefined,
  slope: number | undefined,
  counts?: StoreCounts,
): SoakCheck[] {
  const p99 = junction?.latency?.p99Ms;
  const share =
    junction === undefined || junction.scheduled === 0 ? undefined : junction.accepted / junction.scheduled;
  const first = junction?.rss[0]?.rssBytes;
  const last = junction?.rss.at(-1)?.rssBytes;
  const peaks = junction === undefined ? undefined : rssPeakGrowth(junction.rss);
  return [
    {
      name: `RSS plateau: peak of the second half ≤ peak of the first half + ${TARGETS.maxPeakGrowth * 100}%`,
      pass: peaks !== undefined && peaks.growth <= TARGETS.maxPeakGrowth,
      actual:
        peaks === undefined
          ? 'no result (too few samples: run longer)'
          : `${peaks.growth >= 0 ? '+' : ''}${(peaks.growth * 100).toFixed(1)}% (${formatMB(peaks.firstHalfPeakBytes)} → ${formatMB(peaks.secondHalfPeakBytes)}; ` +
            `RSS ${formatMB(first)} at start, ${formatMB(last)} at end; slope over the second half ${slope === undefined ? MISSING : `${slope.toFixed(1)} MB/min`})`,
    },
    {
      name: `intake p99 ≤ ${TARGETS.maxP99Ms} ms at ${formatInt(settings.rate)} events/s`,
      pass: p99 !== undefined && p99 <= TARGETS.maxP99Ms,
      actual:
        p99 === undefined
          ? 'no result'
          : `${formatMs(p99)} ms (bare ${formatMs(baseline?.latency?.p99Ms)} ms, ${formatRatio(
              baseline?.latency === undefined ? undefined : p99 / baseline.latency.p99Ms,
            )})`,
    },
    {
      name: `accepted ≥ ${TARGETS.minAcceptedShare * 100}% of scheduled`,
      pass: share !== undefined && share >= TARGETS.minAcceptedShare,
      actual:
        share === undefined
          ? 'no result'
          : `${(share * 100).toFixed(2)}% (${formatInt(junction?.accepted)} of ${formatInt(junction?.scheduled)})`,
    },
    {
      name: 'every stored event that asks for a run has a finished run',
      pass:
        counts !== undefined &&
        counts.runsFinished === counts.storedWork &&
        counts.runsCreated === counts.storedWork,
      actual:
        counts === undefined
          ? 'no result'
          : `${formatInt(counts.runsFinished)} finished, ${formatInt(counts.runsCreated)} created, ${formatInt(counts.storedWork)} expected`,
    },
  ];
}

function soakConfig(port: number): string {
  return [
    '# Written by bench/soak.ts for one benchmark run.',
    'dataDir: ./.junction',
    `server: { host: 127.0.0.1, port: ${port}, allowAnonymousEmit: true }`,
    'log: { level: warn }',
    '',
  ].join('\n');
}

export const SOAK_PIPELINE = `name: soak
on:
  - event: soak.tick
    if: event.data.work == true
jobs:
  step:
    steps:
      - run: echo "tick $JUNCTION_EVENT_ID"
`;

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('JUNCTION_')));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSoak(context: BenchContext): Promise<SoakReport> {
  const settings = soakSettings(context.options);
  const say = (line: string): void => context.progress(`[soak] ${line}`);
  const loadBefore = loadavg()[0] ?? 0;
  const cpuList = cpus();
  const base = {
    benchmark: 'soak' as const,
    date: new Date().toISOString(),
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      memoryBytes: totalmem(),
      node: process.version,
      loadBefore,
    },
    settings,
  };
  const dir = mkdtempSync(join(tmpdir(), 'junction-bench-soak-'));
  let server: ServerProcess | undefined;
  let baseline: LoadResult | undefined;
  let junction: LoadResult | undefined;
  let counts: StoreCounts | undefined;
  let drainMs: number | undefined;
  try {
    const barePort = await freePort();
    say(`bare server: ${settings.baselineSeconds}s at ${settings.rate} events/s`);
    server = await startServer({
      label: 'bare node http',
      args: [join(context.repoRoot, 'bench', 'bare-server.ts'), '--port', String(barePort)],
      cwd: dir,
      env: cleanEnv(),
      baseUrl: `http://127.0.0.1:${barePort}`,
      readyPath: '/readyz',
    });
    baseline = await postAtRate(server.baseUrl, settings.rate, settings.baselineSeconds, 'bare', server, say);
    await server.stop();
    server = undefined;

    const port = await freePort();
    writeFileSync(join(dir, 'junction.yaml'), soakConfig(port));
    mkdirSync(join(dir, 'pipelines'));
    writeFileSync(join(dir, 'pipelines', 'soak.yaml'), SOAK_PIPELINE);
    say(`junction: ${settings.durationSeconds}s at ${settings.rate} events/s`);
    server = await startServer({
      label: 'junction',
      args: [
        join(context.repoRoot, 'dist', 'cli', 'main.js'),
        '--config',
        join(dir, 'junction.yaml'),
        'serve',
      ],
      cwd: dir,
      env: cleanEnv(),
      baseUrl: `http://127.0.0.1:${port}`,
      readyPath: '/readyz',
    });
    junction = await postAtRate(server.baseUrl, settings.rate, settings.durationSeconds, 'soak', server, say);

    const database = findDatabase(join(dir, '.junction'));
    if (database === undefined) throw new BenchError(`no SQLite file under '${join(dir, '.junction')}'`);
    say('waiting for the runs to finish');
    const drainStart = Date.now();
    for (;;) {
      const now = countSoak(database);
      if (now.runsFinished >= now.storedWork || Date.now() - drainStart > DRAIN_TIMEOUT_MS) break;
      await sleep(200);
    }
    drainMs = Date.now() - drainStart;
    const stopping = server;
    server = undefined;
    const exit = await stopping.stop();
    counts = countSoak(database);
    const slope = rssSlopeMBPerMin(junction.rss);
    const problems: string[] = [];
    if (counts.stored < junction.accepted) {
      problems.push(
        `lost acknowledged events: ${junction.accepted} answered 2xx but only ${counts.stored} stored`,
      );
    }
    if (exit.killed || exit.code !== 0) {
      problems.push(
        `junction did not exit 0 after SIGTERM (code ${exit.code ?? 'none'}, killed ${exit.killed})`,
      );
    }
    return {
      ...base,
      junction,
      baseline,
      counts,
      drainMs,
      ...(slope === undefined ? {} : { rssSlopeMBPerMin: slope }),
      checks: evaluateSoak(settings, junction, baseline, slope, counts),
      failed: problems.length > 0,
      ...(problems.length === 0 ? {} : { error: problems.join('; ') }),
    };
  } catch (error) {
    say(`failed: ${errorText(error)}`);
    return {
      ...base,
      ...(junction === undefined ? {} : { junction }),
      ...(baseline === undefined ? {} : { baseline }),
      checks: evaluateSoak(settings, junction, baseline, undefined),
      failed: true,
      error: errorText(error),
    };
  } finally {
    if (server !== undefined) await server.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

function loadRow(label: string, r: LoadResult | undefined): string[] {
  return [
    label,
    formatInt(r?.scheduled),
    formatInt(r?.accepted),
    formatInt(r === undefined ? undefined : r.rejected + r.errors),
    formatInt(r?.late),
    formatMs(r?.latency?.p50Ms),
    formatMs(r?.latency?.p99Ms),
    formatMs(r?.latency?.maxMs),
  ];
}

export function formatSoakReport(report: SoakReport): string {
  const { machine, settings, junction, counts } = report;
  const rss = junction?.rss ?? [];
  const max = rss.length === 0 ? undefined : Math.max(...rss.map((s) => s.rssBytes));
  const every = Math.max(1, Math.ceil(rss.length / 12));
  const curve = rss
    .filter((_, i) => i % every === 0 || i === rss.length - 1)
    .map((s) => `${Math.round(s.atSeconds)}s ${(s.rssBytes / 1e6).toFixed(0)}`)
    .join(', ');
  return [
    `soak benchmark, ${report.date}`,
    `machine: ${machine.cpus} cpus (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${machine.node}, load average ${machine.loadBefore.toFixed(2)} before the run`,
    `load: ${formatInt(settings.rate)} events/s for ${settings.durationSeconds}s (bare server ${settings.baselineSeconds}s), one event in ${settings.runEvery} starts a run of one step`,
    '',
    indent(
      formatTable(
        ['target', 'scheduled', 'accepted', 'failed', 'late', 'p50 ms', 'p99 ms', 'max ms'],
        [loadRow('junction', junction), loadRow('bare node http', report.baseline)],
      ),
    ),
    '',
    `  stored ${formatInt(counts?.stored)} · runs created ${formatInt(counts?.runsCreated)} (expected ${formatInt(counts?.storedWork)}) · ` +
      `runs finished ${formatInt(counts?.runsFinished)} (succeeded ${formatInt(counts?.runsSucceeded)}) · drain after the load ${report.drainMs === undefined ? MISSING : `${formatInt(report.drainMs)} ms`}`,
    `  RSS: start ${formatMB(rss[0]?.rssBytes)} · max ${formatMB(max)} · end ${formatMB(rss.at(-1)?.rssBytes)} · slope over the second half ${report.rssSlopeMBPerMin === undefined ? MISSING : `${report.rssSlopeMBPerMin.toFixed(2)} MB/min`}`,
    `  RSS over time (s MB): ${curve === '' ? MISSING : curve}`,
    '',
    'targets:',
    indent(report.checks.map((c) => `${c.pass ? 'PASS' : 'MISS'}  ${c.name}: ${c.actual}`).join('\n')),
    ...(report.error === undefined ? [] : ['', `error: ${report.error}`]),
    '',
  ].join('\n');
}

export const soakBenchmark: Benchmark = {
  name: 'soak',
  description: 'sustained intake at a fixed --rate with pipelines running: counts, p99, RSS plateau',
  needsWrk: false,
  async run(context): Promise<BenchOutcome> {
    const report = await runSoak(context);
    return { text: formatSoakReport(report), json: report, failed: report.failed };
  },
};
