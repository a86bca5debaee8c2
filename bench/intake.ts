/**
 * The intake benchmark: how many ~2 KB structured CloudEvents per second `POST /events` stores,
 * at what latency and memory, next to a bare `node:http` server on the same Node binary and the
 * same machine, measured in the same run.
 *
 * Four targets run one after the other, each on a fresh free loopback port: the bare server, the
 * SQLite floor (bench/sqlite-floor-server.ts: parse and store each event durably, nothing else),
 * Junction with `store.durability: normal`, Junction with `store.durability: full` (each storing
 * server on a fresh data dir). Per target: start, wait for /readyz, read idle RSS, a wrk warm-up
 * run, the measured wrk run (CPU time of the server sampled around it), peak RSS, SIGTERM. For the
 * storing servers the stored events are then counted in their SQLite file (opened read-only after
 * the process exited) and compared with the 2xx answers wrk counted: fewer stored than
 * acknowledged is a failure.
 *
 * What callers may assume: `run` never throws for a target that fails; the failure is in that
 * target's `error` and makes the outcome `failed`. Targets missed are reported, not failures.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { BenchError, errorText } from './lib/bench-error.ts';
import type { BenchContext, BenchOutcome, Benchmark } from './lib/benchmark.ts';
import {
  formatInt,
  formatMB,
  formatMs,
  formatPercent,
  formatRatio,
  formatTable,
  indent,
  MISSING,
} from './lib/format.ts';
import { freePort, startServer, type ServerExit, type ServerProcess } from './lib/server-process.ts';
import {
  readMachineBusySeconds,
  readMachineIoWaitSeconds,
  readOwnCpuSeconds,
  readReapedChildrenCpuSeconds,
} from './lib/proc.ts';
import { runWrk, totalSocketErrors, wrkVersion, type WrkResult, type WrkRun } from './lib/wrk.ts';

/** Target size of each request body. */
export const BODY_BYTES = 2048;
/** wrk socket timeout: answers slower than this count as timeout errors. */
export const WRK_TIMEOUT_SECONDS = 5;

export const TARGETS = {
  /** Junction (durability normal) must do at least this share of the bare server's events/s. */
  minRatioVsBare: 0.5,
  maxP99Ms: 20,
  maxIdleRssBytes: 120e6,
} as const;

type Durability = 'normal' | 'full';

interface TargetSpec {
  readonly name: 'bare' | 'sqlite-floor' | 'junction-normal' | 'junction-full';
  readonly label: string;
  /** Junction's `store.durability`; undefined for the two baselines. */
  readonly durability?: Durability;
}

const TARGET_SPECS: readonly TargetSpec[] = [
  { name: 'bare', label: 'bare node http' },
  { name: 'sqlite-floor', label: 'sqlite floor' },
  { name: 'junction-normal', label: 'junction normal', durability: 'normal' },
  { name: 'junction-full', label: 'junction full', durability: 'full' },
];

export interface DurabilityCheck {
  /** Rows in the `events` table after the server exited. */
  readonly stored: number;
  /** 2xx answers wrk counted, warm-up and measured run together. */
  readonly acknowledged: number;
  readonly acknowledgedWarmup: number;
  readonly acknowledgedMeasured: number;
  /** Stored but never acknowledged to wrk: requests cut off when a wrk run ended. */
  readonly extra: number;
  readonly ok: boolean;
}

export interface TargetResult {
  readonly name: TargetSpec['name'];
  readonly label: string;
  /** Which round of the targets this result is from (1-based; `--repeat`). */
  readonly round?: number;
  readonly durability?: Durability;
  readonly error?: string;
  readonly wrkCommand?: string;
  readonly warmup?: WrkResult;
  readonly measured?: WrkResult;
  /** 2xx answers per second of the measured run. */
  readonly eventsPerSec?: number;
  /** This target's events/s divided by the bare server's in the same round. */
  readonly ratioVsBare?: number;
  /** CPU time during the measured run as a share of one core: the server, wrk, everything else. */
  readonly cpuPercent?: CpuShares;
  /**
   * Server CPU microseconds per answered request: what one event costs, and the figure least
   * disturbed by other load on the machine.
   */
  readonly cpuUsPerRequest?: number;
  /** The same for the server's main thread alone: its event loop's CPU per answered request. */
  readonly loopUsPerRequest?: number;
  readonly idleRssBytes?: number;
  readonly peakRssBytes?: number;
  readonly durabilityCheck?: DurabilityCheck;
  readonly exit?: ServerExit;
  readonly profileDir?: string;
}

export interface CpuShares {
  readonly server: number;
  readonly wrk: number;
  /** Processes other than the server, wrk and the harness: noise when it is not near 0. */
  readonly other: number;
  /**
   * Time the cpus sat idle while a process waited for the disk. During a Junction run that
   * process is the server: its SQLite calls block the event loop while they write and sync.
   */
  readonly ioWait: number;
  /** Server CPU seconds used during the measured run. */
  readonly serverSeconds: number;
  /** The server's main thread (its event loop) on a cpu, when /proc gives per-thread figures. */
  readonly loop?: number;
  /** The main thread runnable but waiting for a cpu: the machine had no core free for it. */
  readonly loopWait?: number;
  /** Main-thread CPU seconds used during the measured run. */
  readonly loopSeconds?: number;
}

export interface CpuSample {
  readonly server: number;
  readonly wrk: number;
  readonly own: number;
  readonly machine: number;
  readonly ioWait: number;
  /** The server's main thread: CPU seconds, and seconds runnable but waiting for a cpu. */
  readonly loop?: number;
  readonly loopWait?: number;
}

function sampleCpu(server: ServerProcess): CpuSample | undefined {
  const s = server.cpuSeconds();
  const wrk = readReapedChildrenCpuSeconds();
  const own = readOwnCpuSeconds();
  const machine = readMachineBusySeconds();
  const ioWait = readMachineIoWaitSeconds();
  const loop = server.loopCpuSeconds();
  const loopWait = server.loopWaitSeconds();
  return s === undefined ||
    wrk === undefined ||
    own === undefined ||
    machine === undefined ||
    ioWait === undefined
    ? undefined
    : {
        server: s,
        wrk,
        own,
        machine,
        ioWait,
        ...(loop === undefined ? {} : { loop }),
        ...(loopWait === undefined ? {} : { loopWait }),
      };
}

/** CPU used between two samples as a percentage of one core over `wallSeconds`. */
export function cpuShares(before: CpuSample, after: CpuSample, wallSeconds: number): CpuShares {
  const pct = (seconds: number): number => (Math.max(0, seconds) / wallSeconds) * 100;
  const server = after.server - before.server;
  const wrk = after.wrk - before.wrk;
  const own = after.own - before.own;
  const loop = difference(before.loop, after.loop);
  const loopWait = difference(before.loopWait, after.loopWait);
  return {
    server: pct(server),
    wrk: pct(wrk),
    other: pct(after.machine - before.machine - server - wrk - own),
    ioWait: pct(after.ioWait - before.ioWait),
    serverSeconds: server,
    ...(loop === undefined ? {} : { loop: pct(loop), loopSeconds: loop }),
    ...(loopWait === undefined ? {} : { loopWait: pct(loopWait) }),
  };
}

function difference(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

function cpuFigures(
  shares: CpuShares,
  requests: number,
): Pick<TargetResult, 'cpuPercent' | 'cpuUsPerRequest' | 'loopUsPerRequest'> {
  if (requests === 0) return { cpuPercent: shares };
  const perRequest = (seconds: number): number => (seconds / requests) * 1e6;
  return {
    cpuPercent: shares,
    cpuUsPerRequest: perRequest(shares.serverSeconds),
    ...(shares.loopSeconds === undefined ? {} : { loopUsPerRequest: perRequest(shares.loopSeconds) }),
  };
}

export interface TargetCheck {
  readonly name: string;
  readonly pass: boolean;
  readonly actual: string;
}

export interface IntakeReport {
  readonly benchmark: 'intake';
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryBytes: number;
    readonly node: string;
    readonly wrk: string;
    /** 1-minute load average just before the first server started. */
    readonly loadBefore: number;
    /** NODE_OPTIONS as every server inherited it (engine flags change the numbers). */
    readonly nodeOptions?: string;
  };
  readonly settings: {
    /** Rounds of the targets (`--repeat`); the checks take the median over them. */
    readonly rounds?: number;
    readonly durationSeconds: number;
    readonly warmupSeconds: number;
    readonly connections: number;
    readonly threads: number;
    readonly timeoutSeconds: number;
    readonly bodyBytes: number;
    /** How event ids are made: a run tag and a counter (`ascending`), or with a random part. */
    readonly ids?: 'ascending' | 'random';
  };
  readonly targets: readonly TargetResult[];
  readonly checks: readonly TargetCheck[];
  readonly failed: boolean;
  /** Set when other work competed for the cpus during the run. */
  readonly warning?: string;
}

function junctionConfig(port: number, durability: Durability): string {
  return [
    '# Written by bench/intake.ts for one benchmark run.',
    'dataDir: ./.junction',
    `server: { host: 127.0.0.1, port: ${port}, allowAnonymousEmit: true }`,
    `store: { durability: ${durability} }`,
    'log: { level: warn }',
    '',
  ].join('\n');
}

/** The environment without JUNCTION_* overrides, so only the written junction.yaml counts. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('JUNCTION_')));
}

/** The SQLite file under a data dir: junction.db, else the only *.db there. */
export function findDatabase(dataDir: string): string | undefined {
  const standard = join(dataDir, 'junction.db');
  if (existsSync(standard)) return standard;
  if (!existsSync(dataDir)) return undefined;
  const found = readdirSync(dataDir).filter((file) => file.endsWith('.db'));
  return found.length === 1 ? join(dataDir, found[0]!) : undefined;
}

export function countStoredEvents(databasePath: string): number {
  const db = new DatabaseSync(databasePath, { readOnly: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM events').get();
    return Number(row?.['n'] ?? 0);
  } finally {
    db.close();
  }
}

export function checkDurability(
  stored: number,
  warmup: WrkResult | undefined,
  measured: WrkResult,
): DurabilityCheck {
  const acknowledgedWarmup = warmup?.ok2xx ?? 0;
  const acknowledgedMeasured = measured.ok2xx;
  const acknowledged = acknowledgedWarmup + acknowledgedMeasured;
  return {
    stored,
    acknowledged,
    acknowledgedWarmup,
    acknowledgedMeasured,
    extra: stored - acknowledged,
    ok: stored >= acknowledged,
  };
}

function wrkRun(
  context: BenchContext,
  url: string,
  tag: string,
  durationSeconds: number,
  script: string,
): WrkRun {
  return {
    url,
    connections: context.options.connections,
    threads: context.options.threads,
    durationSeconds,
    timeoutSeconds: WRK_TIMEOUT_SECONDS,
    script,
    scriptArgs: [tag, String(BODY_BYTES), context.options.randomIds === true ? 'random' : 'ascending'],
  };
}

async function measureTarget(context: BenchContext, spec: TargetSpec, round: number): Promise<TargetResult> {
  const { options } = context;
  const rounds = options.repeat ?? 1;
  const label = rounds > 1 ? `${spec.label} #${round}` : spec.label;
  const say = (line: string): void => context.progress(`[intake] ${label}: ${line}`);
  const dir = mkdtempSync(join(tmpdir(), `junction-bench-${spec.name}-`));
  const profileDir =
    options.cpuProf && spec.durability !== undefined
      ? mkdtempSync(join(tmpdir(), `junction-prof-${spec.name}-`))
      : undefined;
  const script = join(context.repoRoot, 'bench', 'wrk', 'post-cloudevent.lua');
  const runId = randomBytes(4).toString('hex');
  let server: ServerProcess | undefined;
  let result: TargetResult = {
    name: spec.name,
    label,
    ...(rounds > 1 ? { round } : {}),
    ...(spec.durability === undefined ? {} : { durability: spec.durability }),
  };
  try {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    let args: string[];
    let database: (() => string | undefined) | undefined;
    if (spec.name === 'bare') {
      args = [join(context.repoRoot, 'bench', 'bare-server.ts'), '--port', String(port)];
    } else if (spec.name === 'sqlite-floor') {
      const file = join(dir, 'floor.db');
      args = [
        join(context.repoRoot, 'bench', 'sqlite-floor-server.ts'),
        '--port',
        String(port),
        '--db',
        file,
      ];
      database = () => (existsSync(file) ? file : undefined);
    } else {
      const configPath = join(dir, 'junction.yaml');
      writeFileSync(configPath, junctionConfig(port, spec.durability ?? 'normal'));
      const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
      // The built JavaScript, as `npm start` and the installed `junction` run it (`npm run bench`
      // builds it first).
      args = [...profile, join(context.repoRoot, 'dist', 'cli', 'main.js'), '--config', configPath, 'serve'];
      database = () => findDatabase(join(dir, '.junction'));
    }
    say(`starting on ${baseUrl}`);
    server = await startServer({
      label: spec.label,
      args,
      cwd: dir,
      env: cleanEnv(),
      baseUrl,
      readyPath: '/readyz',
    });
    const idle = server.memory();
    const url = `${baseUrl}/events`;

    let warmup: WrkResult | undefined;
    if (options.warmupSeconds > 0) {
      say(`warm-up ${options.warmupSeconds}s`);
      warmup = (
        await runWrk(context.wrkBin, wrkRun(context, url, `${runId}-warmup`, options.warmupSeconds, script))
      ).result;
    }
    say(`measuring ${options.durationSeconds}s`);
    const cpuBefore = sampleCpu(server);
    const startedAt = performance.now();
    const measuredRun = await runWrk(
      context.wrkBin,
      wrkRun(context, url, `${runId}-measure`, options.durationSeconds, script),
    );
    const wallSeconds = (performance.now() - startedAt) / 1000;
    const cpuAfter = sampleCpu(server);
    const peak = server.memory();
    const measured = measuredRun.result;

    say('stopping (SIGTERM)');
    const stopping = server;
    server = undefined;
    const exit = await stopping.stop();
    result = {
      ...result,
      wrkCommand: measuredRun.command,
      ...(warmup === undefined ? {} : { warmup }),
      measured,
      eventsPerSec: measured.ok2xx / measured.durationSeconds,
      ...(cpuBefore === undefined || cpuAfter === undefined
        ? {}
        : cpuFigures(cpuShares(cpuBefore, cpuAfter, wallSeconds), measured.requests)),
      ...(idle === undefined ? {} : { idleRssBytes: idle.rssBytes }),
      ...(peak === undefined ? {} : { peakRssBytes: peak.peakRssBytes }),
      exit,
      ...(profileDir === undefined ? {} : { profileDir }),
    };
    if (database !== undefined) {
      const file = database();
      if (file === undefined) throw new BenchError(`no SQLite file under '${dir}' after the server stopped`);
      const check = checkDurability(countStoredEvents(file), warmup, measured);
      result = { ...result, durabilityCheck: check };
      say(`stored ${check.stored} events, wrk counted ${check.acknowledged} 2xx answers`);
      if (!check.ok) {
        return {
          ...result,
          error: `lost acknowledged events: ${check.acknowledged} answered 2xx but only ${check.stored} stored`,
        };
      }
    }
    if (exit.killed) return { ...result, error: 'did not exit within 30 s of SIGTERM and was killed' };
    if (exit.code !== 0) {
      return {
        ...result,
        error: `exited with code ${exit.code ?? 'none'} (signal ${exit.signal ?? 'none'}) after SIGTERM; its stderr:\n${stopping.stderr() || '(empty)'}`,
      };
    }
    return result;
  } catch (error) {
    say(`failed: ${errorText(error)}`);
    return { ...result, error: errorText(error) };
  } finally {
    if (server !== undefined) await server.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The targets, checked against junction normal. With several rounds (`--repeat`) each figure is
 * the median over the rounds, and the ratio is taken within each round first, so a machine that
 * runs faster or slower for a while moves both sides of a ratio alike.
 */
export function evaluateTargets(targets: readonly TargetResult[]): TargetCheck[] {
  const normals = targets.filter((t) => t.name === 'junction-normal');
  const ratios = defined(normals.map((t) => t.ratioVsBare));
  const ratio = median(ratios);
  const p99s = defined(normals.map((t) => t.measured?.latency.p99Ms));
  const p99 = median(p99s);
  const idles = defined(normals.map((t) => t.idleRssBytes));
  const idle = median(idles);
  const ofRounds = (values: readonly number[], format: (value: number) => string): string =>
    values.length > 1 ? ` median of ${values.length} rounds (${values.map(format).join(', ')})` : '';
  let ratioActual = 'no result';
  if (ratio !== undefined && ratios.length > 1) {
    ratioActual = `${formatRatio(ratio)}${ofRounds(ratios, formatRatio)}`;
  } else if (ratio !== undefined) {
    const bare = targets.find((t) => t.name === 'bare');
    ratioActual = `${formatRatio(ratio)} (${formatInt(normals[0]?.eventsPerSec)} vs ${formatInt(bare?.eventsPerSec)} events/s)`;
  }
  return [
    {
      name: `junction normal events/s ≥ ${TARGETS.minRatioVsBare}× bare`,
      pass: ratio !== undefined && ratio >= TARGETS.minRatioVsBare,
      actual: ratioActual,
    },
    {
      name: `junction normal p99 ≤ ${TARGETS.maxP99Ms} ms`,
      pass: p99 !== undefined && p99 <= TARGETS.maxP99Ms,
      actual:
        p99 === undefined ? 'no result' : `${formatMs(p99)} ms${ofRounds(p99s, (v) => `${formatMs(v)} ms`)}`,
    },
    {
      name: `junction idle RSS ≤ ${TARGETS.maxIdleRssBytes / 1e6} MB`,
      pass: idle !== undefined && idle <= TARGETS.maxIdleRssBytes,
      actual: idle === undefined ? 'no result' : `${formatMB(idle)}${ofRounds(idles, formatMB)}`,
    },
  ];
}

function defined(values: readonly (number | undefined)[]): number[] {
  return values.filter((value): value is number => value !== undefined);
}

/** The middle value; the mean of the two middle ones for an even count; undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The floor's events/s against the bare server's, and Junction normal's against the floor's, each
 * taken within a round and then the median over rounds; undefined without a floor result.
 */
export function floorFigures(
  targets: readonly TargetResult[],
): { vsBare: number; junctionVsFloor: number | undefined; rounds: number } | undefined {
  const floors = targets.filter((t) => t.name === 'sqlite-floor' && t.eventsPerSec !== undefined);
  const vsBare = median(defined(floors.map((t) => t.ratioVsBare)));
  if (vsBare === undefined) return undefined;
  const junctionVsFloor = median(
    defined(
      targets.filter((t) => t.name === 'junction-normal').map((t) => rateAgainst(targets, t, 'sqlite-floor')),
    ),
  );
  return { vsBare, junctionVsFloor, rounds: floors.length };
}

/** `target`'s events/s divided by those of the `other` target of the same round, when both ran. */
function rateAgainst(
  targets: readonly TargetResult[],
  target: TargetResult,
  other: TargetResult['name'],
): number | undefined {
  const otherRate = targets.find((t) => t.name === other && t.round === target.round)?.eventsPerSec;
  return target.eventsPerSec === undefined || otherRate === undefined || otherRate === 0
    ? undefined
    : target.eventsPerSec / otherRate;
}

/** Each target's events/s against the bare server's of the same round. */
function withRatios(targets: readonly TargetResult[]): TargetResult[] {
  return targets.map((t) => {
    const ratioVsBare = rateAgainst(targets, t, 'bare');
    return ratioVsBare === undefined ? t : { ...t, ratioVsBare };
  });
}

export function formatIntakeReport(report: IntakeReport): string {
  const { machine, settings } = report;
  const rows = report.targets.map((t) => {
    const m = t.measured;
    const isBare = t.name === 'bare';
    return [
      t.label,
      formatInt(t.eventsPerSec),
      formatMs(m?.latency.p50Ms),
      formatMs(m?.latency.p90Ms),
      formatMs(m?.latency.p99Ms),
      formatInt(m?.non2xx),
      m === undefined ? MISSING : formatInt(totalSocketErrors(m.socketErrors)),
      isBare ? '1.00×' : formatRatio(t.ratioVsBare),
      formatInt(t.cpuUsPerRequest),
      formatInt(t.loopUsPerRequest),
      formatPercent(t.cpuPercent?.server),
      formatPercent(t.cpuPercent?.loopWait),
      formatPercent(t.cpuPercent?.wrk),
      formatPercent(t.cpuPercent?.other),
      formatPercent(t.cpuPercent?.ioWait),
      formatMB(t.idleRssBytes),
      formatMB(t.peakRssBytes),
    ];
  });
  const table = formatTable(
    [
      'target',
      'events/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'non-2xx',
      'sock err',
      'vs bare',
      'cpu µs/req',
      'loop µs/req',
      'srv cpu',
      'loop wait',
      'wrk cpu',
      'other cpu',
      'iowait',
      'idle RSS',
      'peak RSS',
    ],
    rows,
  );

  const durability = report.targets
    .filter((t) => t.name !== 'bare')
    .map((t) => {
      const c = t.durabilityCheck;
      if (c === undefined)
        return `${t.label}: not checked${t.error === undefined ? '' : ` (${t.error.split('\n')[0] ?? ''})`}`;
      return `${c.ok ? 'OK  ' : 'FAIL'}  ${t.label}: stored ${formatInt(c.stored)}, acknowledged ${formatInt(c.acknowledged)} (warm-up ${formatInt(c.acknowledgedWarmup)} + measured ${formatInt(c.acknowledgedMeasured)}), extra ${formatInt(c.extra)}`;
    });

  const errors = report.targets
    .filter((t) => t.error !== undefined)
    .map((t) => `${t.label}: ${t.error ?? ''}`);
  const fulls = report.targets.filter((t) => t.name === 'junction-full' && t.measured !== undefined);
  const fullRatio = median(defined(fulls.map((t) => t.ratioVsBare)));
  const fullP99 = median(defined(fulls.map((t) => t.measured?.latency.p99Ms)));
  const floor = floorFigures(report.targets);
  const rounds = settings.rounds ?? 1;
  const commands = report.targets
    .filter((t) => t.wrkCommand !== undefined)
    .map((t) => `${t.label}: ${t.wrkCommand ?? ''}`);
  const profiles = report.targets
    .filter((t) => t.profileDir !== undefined)
    .map((t) => `${t.label}: ${t.profileDir ?? ''}`);

  const { warning } = report;
  return [
    `intake benchmark, ${report.date}`,
    `machine: ${machine.cpus} cpus (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${machine.node}, ${machine.wrk}, load average ${machine.loadBefore.toFixed(2)} before the run`,
    ...(machine.nodeOptions === undefined ? [] : [`NODE_OPTIONS for every server: ${machine.nodeOptions}`]),
    ...(warning === undefined ? [] : [warning]),
    `load: wrk ${settings.threads} thread${settings.threads === 1 ? '' : 's'}, ${settings.connections} connections, ${settings.warmupSeconds}s warm-up + ${settings.durationSeconds}s measured per target, ` +
      `POST /events with a ~${settings.bodyBytes} B structured CloudEvent, unique id per request` +
      (settings.ids === 'random' ? ' with a random part (--random-ids)' : ', ascending') +
      (rounds > 1 ? `; ${rounds} rounds of the targets, one after the other` : ''),
    '',
    table,
    '',
    'events/s: 2xx answers per second of the measured run; latency: wrk --latency over all answers;',
    'cpu µs/req: server CPU time per answered request (the figure least disturbed by a shared machine); loop µs/req: the same',
    "for the server's main thread, its event loop; loop wait: time the event loop was ready to run but had no cpu, as % of the run;",
    'srv/wrk/other cpu: CPU time of the server, of wrk, and of every other process during the measured run, as % of one core',
    '(other well above 0 means the machine was shared and the numbers are noisy); iowait: time the cpus idled waiting for the disk;',
    'RSS: VmRSS after /readyz (idle), VmHWM after the load (peak).',
    '',
    "sqlite floor: node:http, JSON.parse and a group-committed SQLite insert per event with the store's settings, nothing else;",
    "the least work that keeps intake's promises (stored before the answer, deduplicated) on the event loop.",
    '',
    'durability (events in SQLite after SIGTERM vs 2xx answers wrk counted; extra = stored but cut off before wrk saw the answer):',
    indent(durability.join('\n')),
    '',
    'targets:',
    indent(report.checks.map((c) => `${c.pass ? 'PASS' : 'MISS'}  ${c.name}: ${c.actual}`).join('\n')),
    ...(floor === undefined
      ? []
      : [
          indent(
            `info  sqlite floor (not a target): ${formatRatio(floor.vsBare)} bare; junction normal does ${formatRatio(floor.junctionVsFloor)} the floor${floor.rounds > 1 ? ` (medians of ${floor.rounds} rounds)` : ''}`,
          ),
        ]),
    ...(fulls.length === 0
      ? []
      : [
          indent(
            `info  junction full (not a target): ${formatRatio(fullRatio)} bare, p99 ${formatMs(fullP99)} ms${fulls.length > 1 ? ` (medians of ${fulls.length} rounds)` : ''}`,
          ),
        ]),
    '',
    'wrk command lines (measured runs):',
    indent(commands.join('\n')),
    ...(profiles.length === 0 ? [] : ['', 'cpu profiles:', indent(profiles.join('\n'))]),
    ...(errors.length === 0 ? [] : ['', 'errors:', indent(errors.join('\n'))]),
    '',
  ].join('\n');
}

/** A 1-minute load average above this share of the cores means other work competed for them. */
export const BUSY_LOAD_PER_CPU = 0.5;
/**
 * Other processes using more than this share of one core during a measured run make it noisy.
 * Junction's own disk writes by kernel threads count as "other" too and stay well below it.
 */
export const NOISY_OTHER_CPU_PERCENT = 20;

/** A warning line when other work competed for the cpus, else undefined. */
export function sharedMachineWarning(report: IntakeReport): string | undefined {
  const others = report.targets.map((t) => t.cpuPercent?.other ?? 0);
  const worst = Math.max(0, ...others);
  const loaded = report.machine.loadBefore > report.machine.cpus * BUSY_LOAD_PER_CPU;
  if (worst <= NOISY_OTHER_CPU_PERCENT && !loaded) return undefined;
  return (
    `WARNING: the machine was shared (other processes used up to ${Math.round(worst)}% of a core during a measured run; ` +
    `1-minute load ${report.machine.loadBefore.toFixed(2)} before the run): the numbers understate this machine and the ratios are noisy; rerun it idle`
  );
}

export async function runIntake(context: BenchContext): Promise<IntakeReport> {
  const { options } = context;
  const loadBefore = loadavg()[0] ?? 0;
  const results: TargetResult[] = [];
  // Rounds alternate the targets, so slow and fast spells of a shared machine hit each of them.
  for (let round = 1; round <= (options.repeat ?? 1); round++) {
    for (const spec of TARGET_SPECS) results.push(await measureTarget(context, spec, round));
  }
  const targets = withRatios(results);
  const cpuList = cpus();
  const report: IntakeReport = {
    benchmark: 'intake',
    date: new Date().toISOString(),
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      memoryBytes: totalmem(),
      node: process.version,
      wrk: await wrkVersion(context.wrkBin),
      loadBefore,
      ...(process.env['NODE_OPTIONS'] ? { nodeOptions: process.env['NODE_OPTIONS'] } : {}),
    },
    settings: {
      rounds: options.repeat ?? 1,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      connections: options.connections,
      threads: options.threads,
      timeoutSeconds: WRK_TIMEOUT_SECONDS,
      bodyBytes: BODY_BYTES,
      ids: options.randomIds === true ? 'random' : 'ascending',
    },
    targets,
    checks: evaluateTargets(targets),
    failed: targets.some((t) => t.error !== undefined),
  };
  const warning = sharedMachineWarning(report);
  return warning === undefined ? report : { ...report, warning };
}

export const intakeBenchmark: Benchmark = {
  name: 'intake',
  description:
    'events/s, latency and memory of POST /events next to a bare node:http server and a minimal durable SQLite receiver',
  needsWrk: true,
  async run(context): Promise<BenchOutcome> {
    const report = await runIntake(context);
    return { text: formatIntakeReport(report), json: report, failed: report.failed };
  },
};
