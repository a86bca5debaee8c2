/**
 * Crash trials: `junction serve` runs as a child process with a pipeline on `load.tick`, a load
 * driver (test/crash/load.ts, a process of its own) posts events at a fixed rate and writes down
 * every id the server acknowledged, and the server is SIGKILLed at moments drawn from a seeded
 * PRNG — while it takes events, routes them, runs steps and flushes its outbox — then started
 * again. After the load stops and the server drained and stopped, its SQLite store is checked:
 *
 * - every acknowledged event is stored (lost = 0);
 * - no (event, pipeline, trigger) has two runs, and every stored `load.tick` event has its run;
 * - no run or job is left queued, waiting or running;
 * - a job interrupted by a kill either failed with a `worker-lost` reason, or ran again as a new
 *   attempt only when every step it had started is marked `on-worker-lost: retry`; a step not so
 *   marked never ran twice (each run of it appends a line to a marker file).
 *
 * What callers may assume: `runTrial` never leaves a process behind and removes its temp dir
 * (kept when `keepDir` is set); everything that broke a promise is in `problems`, one line each,
 * with the seed, so a trial can be repeated exactly with the same seed.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { tempDir } from '../helpers/app.ts';
import { serve, type Served } from '../helpers/serve.ts';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface TrialOptions {
  /** Events per second the driver posts. Default 12. */
  readonly rate?: number;
  /** Jobs the server runs at once. Default 2. */
  readonly workers?: number;
  /** Longest wait for the server to finish its work after the load stopped. Default 20 s. */
  readonly drainTimeoutMs?: number;
  readonly keepDir?: boolean;
}

/** What the store held after a trial; `problems` lists every broken promise. */
export interface StoreFindings {
  readonly acknowledged: number;
  /** `load.tick` events in the store. */
  readonly stored: number;
  /** Acknowledged ids that are not stored. */
  readonly lost: readonly string[];
  /** (event, pipeline, trigger) with more than one run. */
  readonly duplicateRuns: number;
  /** Stored `load.tick` events without a run. */
  readonly unrouted: number;
  readonly runs: number;
  readonly jobs: number;
  /** Runs and jobs still queued, waiting or running. */
  readonly stuck: number;
  /** Jobs a kill interrupted: a worker-lost reason or more than one attempt. */
  readonly interrupted: number;
  readonly failedWorkerLost: number;
  /** Jobs that ran again as a later attempt and succeeded. */
  readonly retried: number;
  /** Steps not marked `on-worker-lost: retry` that ran more than once. */
  readonly ranTwice: number;
  readonly problems: readonly string[];
}

export interface KillMoment {
  /** `load`: while the driver posted; `drain`: after it stopped, while runs went on. */
  readonly phase: 'load' | 'drain';
  /** Milliseconds after the load, the previous restart or the end of the load. */
  readonly afterMs: number;
  readonly runningJobs: number;
  readonly queuedJobs: number;
  /** Stored events not yet published to the bus. */
  readonly pendingOutbox: number;
}

export interface TrialResult extends StoreFindings {
  readonly seed: number;
  /** Each SIGKILL: when, and what the store showed in progress a moment before. */
  readonly kills: readonly KillMoment[];
  /** Requests the driver sent, and those that got no 2xx (the server was down). */
  readonly sent: number;
  readonly refused: number;
  readonly drainMs: number;
  readonly dir?: string;
}

const ACTIVE = ['queued', 'waiting', 'running'];

function pipelineText(marks: string, fragileSleep: string, repeatableSleep: string): string {
  return `name: load
on:
  - event: load.tick
jobs:
  fragile:
    steps:
      - run: |
          echo ran >> '${marks}/fragile.'"$JUNCTION_RUN_ID"
          sleep ${fragileSleep}
          echo done
  repeatable:
    steps:
      - run: |
          sleep ${repeatableSleep}
          echo "done attempt $JUNCTION_JOB_ATTEMPT"
        on-worker-lost: retry
`;
}

function configText(workers: number): string {
  return [
    'dataDir: ./.junction',
    'store: { url: "sqlite:./.junction/junction.db" }',
    'bus: embedded',
    'server: { host: 127.0.0.1, allowAnonymousEmit: true }',
    `workers: { concurrency: ${workers}, shutdownGraceMs: 200 }`,
    'log: { level: warn }',
    '',
  ].join('\n');
}

/** Lines `<cloudevent id> <junction id>` the driver wrote for 2xx answers. */
export function readAcked(path: string): { ceId: string; junctionId: string }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [ceId = '', junctionId = ''] = line.split(' ');
      return { ceId, junctionId };
    });
}

function count(db: DatabaseSync, sql: string, ...params: string[]): number {
  return Number(db.prepare(sql).get(...params)?.['n'] ?? 0);
}

/** Work left: active runs and jobs, unpublished outbox entries, `load.tick` events without a run. */
export function pendingWork(databasePath: string): number {
  if (!existsSync(databasePath)) return 0;
  const db = new DatabaseSync(databasePath, { readOnly: true });
  try {
    const active = ACTIVE.map((s) => `'${s}'`).join(', ');
    return (
      count(db, `SELECT count(*) AS n FROM runs WHERE status IN (${active})`) +
      count(db, `SELECT count(*) AS n FROM jobs WHERE status IN (${active})`) +
      count(db, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL') +
      count(
        db,
        `SELECT count(*) AS n FROM events e WHERE e.type = 'load.tick'
           AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id AND r.rerun_of IS NULL)`,
      )
    );
  } finally {
    db.close();
  }
}

function snapshot(databasePath: string): Omit<KillMoment, 'phase' | 'afterMs'> {
  const db = new DatabaseSync(databasePath, { readOnly: true });
  try {
    return {
      runningJobs: count(db, `SELECT count(*) AS n FROM jobs WHERE status = 'running'`),
      queuedJobs: count(db, `SELECT count(*) AS n FROM jobs WHERE status = 'queued'`),
      pendingOutbox: count(db, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL'),
    };
  } finally {
    db.close();
  }
}

/** Checks a stopped server's store against what the driver was told. Reads only. */
export function inspectStore(
  databasePath: string,
  acked: readonly { ceId: string; junctionId: string }[],
  marksDir: string,
): StoreFindings {
  const db = new DatabaseSync(databasePath, { readOnly: true });
  const problems: string[] = [];
  try {
    const events = new Map<string, string>();
    for (const row of db
      .prepare(`SELECT id, json_extract(body, '$.id') AS ce FROM events WHERE type = 'load.tick'`)
      .all()) {
      events.set(String(row['id']), String(row['ce']));
    }
    const lost = acked
      .filter((a) => events.get(a.junctionId) !== a.ceId)
      .map((a) => `${a.ceId} (${a.junctionId})`);
    if (lost.length > 0)
      problems.push(`${lost.length} acknowledged events not stored: ${lost.slice(0, 5).join(', ')}`);

    const duplicateRuns = count(
      db,
      `SELECT count(*) AS n FROM (SELECT 1 FROM runs WHERE rerun_of IS NULL
         GROUP BY event_id, pipeline, trigger_index HAVING count(*) > 1)`,
    );
    if (duplicateRuns > 0) problems.push(`${duplicateRuns} (event, trigger) pairs have more than one run`);
    const unrouted = count(
      db,
      `SELECT count(*) AS n FROM events e WHERE e.type = 'load.tick'
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id AND r.rerun_of IS NULL)`,
    );
    if (unrouted > 0) problems.push(`${unrouted} stored load.tick events have no run`);

    const runs = db.prepare(`SELECT id, status, reason FROM runs WHERE pipeline = 'load'`).all();
    const jobs = db
      .prepare(
        `SELECT j.id, j.run_id, j.name, j.status, j.attempt, j.reason FROM jobs j
           JOIN runs r ON r.id = j.run_id WHERE r.pipeline = 'load'`,
      )
      .all();
    let stuck = 0;
    for (const run of runs) {
      if (ACTIVE.includes(String(run['status']))) {
        stuck += 1;
        problems.push(`run ${String(run['id'])} left ${String(run['status'])}`);
      }
    }
    let interrupted = 0;
    let failedWorkerLost = 0;
    let retried = 0;
    const failedJobRuns = new Set<string>();
    for (const job of jobs) {
      const name = String(job['name']);
      const status = String(job['status']);
      const attempt = Number(job['attempt']);
      const reason = job['reason'] === null ? '' : String(job['reason']);
      const label = `job ${name} of run ${String(job['run_id'])}`;
      const workerLost = reason.startsWith('worker-lost');
      if (workerLost || attempt > 1) interrupted += 1;
      if (ACTIVE.includes(status)) {
        stuck += 1;
        problems.push(`${label} left ${status}`);
      } else if (status === 'failed' && workerLost) {
        failedWorkerLost += 1;
        failedJobRuns.add(String(job['run_id']));
      } else if (status === 'succeeded') {
        if (attempt > 1) retried += 1;
      } else {
        problems.push(`${label} ended ${status} (attempt ${attempt}): ${reason || 'no reason'}`);
      }
    }
    for (const run of runs) {
      const id = String(run['id']);
      const status = String(run['status']);
      const reason = run['reason'] === null ? '' : String(run['reason']);
      if (failedJobRuns.has(id) && !(status === 'failed' && reason.includes('worker-lost'))) {
        problems.push(`run ${id} lost a worker but ended ${status}: ${reason || 'no reason'}`);
      }
      if (!failedJobRuns.has(id) && status !== 'succeeded' && !ACTIVE.includes(status)) {
        problems.push(`run ${id} ended ${status} with no job lost: ${reason || 'no reason'}`);
      }
    }

    // A step not marked on-worker-lost: retry runs at most once, by its own marker lines and by
    // the store's step rows (one row per attempt that started it).
    let ranTwice = 0;
    const marked = existsSync(marksDir) ? readdirSync(marksDir) : [];
    for (const file of marked) {
      const lines = readFileSync(join(marksDir, file), 'utf8').split('\n').filter(Boolean).length;
      if (lines > 1) {
        ranTwice += 1;
        problems.push(`the fragile step of run ${file.slice('fragile.'.length)} ran ${lines} times`);
      }
    }
    const twiceInStore = db
      .prepare(
        `SELECT j.run_id AS run, count(DISTINCT s.attempt) AS n FROM steps s JOIN jobs j ON j.id = s.job_id
           WHERE j.name = 'fragile' AND s.status != 'skipped' GROUP BY j.id HAVING count(DISTINCT s.attempt) > 1`,
      )
      .all();
    for (const row of twiceInStore) {
      if (marked.includes(`fragile.${String(row['run'])}`)) continue;
      ranTwice += 1;
      problems.push(`the fragile step of run ${String(row['run'])} started in ${Number(row['n'])} attempts`);
    }

    return {
      acknowledged: acked.length,
      stored: events.size,
      lost,
      duplicateRuns,
      unrouted,
      runs: runs.length,
      jobs: jobs.length,
      stuck,
      interrupted,
      failedWorkerLost,
      retried,
      ranTwice,
      problems,
    };
  } finally {
    db.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** One trial: load, one or two SIGKILLs at seeded moments, restart, drain, stop, inspect. */
export async function runTrial(seed: number, options: TrialOptions = {}): Promise<TrialResult> {
  const random = prng(seed);
  const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
  const dir = tempDir('junction-crash-');
  const marks = join(dir.path, 'marks');
  const urlFile = join(dir.path, 'url');
  const ackedFile = join(dir.path, 'acked');
  const databasePath = join(dir.path, '.junction', 'junction.db');
  mkdirSync(marks);
  mkdirSync(join(dir.path, 'pipelines'));
  writeFileSync(join(dir.path, 'junction.yaml'), configText(options.workers ?? 2));
  writeFileSync(
    join(dir.path, 'pipelines', 'load.yaml'),
    pipelineText(marks, `0.0${between(2, 8)}`, `0.0${between(1, 5)}`),
  );
  writeFileSync(urlFile, '');

  let served: Served | undefined;
  let driver: ReturnType<typeof spawn> | undefined;
  const problems: string[] = [];
  const start = async (): Promise<void> => {
    served = await serve(dir.path);
    served.child.stdout?.resume();
    writeFileSync(urlFile, served.url);
  };
  try {
    await start();
    // A first event, answered and run to the end before the load starts, so the kills land on a
    // warm server (the first request of a process is slow) rather than only on a starting one.
    const warm = await fetch(`${served!.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({
        specversion: '1.0',
        id: `s${seed}-warm`,
        source: 'crash/load',
        type: 'load.tick',
      }),
    });
    const warmBody = (await warm.json()) as { id?: string };
    if (warm.status !== 202)
      throw new Error(`the warm-up event got ${warm.status}: ${JSON.stringify(warmBody)}`);
    appendFileSync(ackedFile, `s${seed}-warm ${warmBody.id ?? '-'}\n`);
    await waitFor(() => pendingWork(databasePath) === 0, 30_000);
    driver = spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'load.ts'),
        '--url-file',
        urlFile,
        '--acked-file',
        ackedFile,
        '--rate',
        String(options.rate ?? 12),
        '--prefix',
        `s${seed}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let driverOut = '';
    driver.stdout?.on('data', (chunk: Buffer) => (driverOut += chunk.toString()));
    driver.stderr?.on('data', (chunk: Buffer) => (driverOut += chunk.toString()));
    const driverExit = new Promise<number | null>((resolve) => driver!.once('exit', (code) => resolve(code)));

    const kills: KillMoment[] = [];
    const kill = async (phase: KillMoment['phase'], afterMs: number): Promise<void> => {
      await sleep(afterMs);
      const seen = snapshot(databasePath);
      served!.child.kill('SIGKILL');
      await served!.exited;
      kills.push({ phase, afterMs, ...seen });
      writeFileSync(urlFile, '');
      await sleep(between(0, 300));
      await start();
    };
    const loadKills = random() < 0.3 ? 2 : 1;
    for (let k = 0; k < loadKills; k += 1) await kill('load', between(50, 2000));
    await sleep(between(1000, 2500));
    const drainKill = random() < 0.4 ? between(0, 600) : undefined;
    driver.kill('SIGTERM');
    const driverCode = await driverExit;
    driver = undefined;
    let summary = { sent: 0, acked: 0, failed: 0 };
    try {
      summary = JSON.parse(driverOut.trim().split('\n').at(-1) ?? '') as typeof summary;
    } catch {
      problems.push(`the load driver exited ${driverCode ?? 'by a signal'}: ${driverOut.slice(-500)}`);
    }

    // Without new events: the kill lands on queued and running jobs and the outbox alone.
    if (drainKill !== undefined) await kill('drain', drainKill);
    const drainStart = Date.now();
    await waitFor(() => pendingWork(databasePath) === 0, options.drainTimeoutMs ?? 20_000);
    const drainMs = Date.now() - drainStart;
    const stopping = served!;
    served = undefined;
    stopping.child.kill('SIGTERM');
    const code = await stopping.exited;
    if (code !== 0)
      problems.push(`serve exited ${code ?? 'by a signal'} after SIGTERM: ${stopping.stderr().slice(-1000)}`);

    const findings = inspectStore(databasePath, readAcked(ackedFile), marks);
    if (summary.acked + 1 !== findings.acknowledged) {
      problems.push(`the driver counted ${summary.acked} 2xx answers but wrote ${findings.acknowledged}`);
    }
    return {
      ...findings,
      problems: [...problems, ...findings.problems].map((p) => `seed ${seed}: ${p}`),
      seed,
      kills,
      sent: summary.sent,
      refused: summary.failed,
      drainMs,
      ...(options.keepDir === true ? { dir: dir.path } : {}),
    };
  } finally {
    driver?.kill('SIGKILL');
    if (served !== undefined) {
      served.child.kill('SIGKILL');
      await served.exited;
    }
    if (options.keepDir !== true) dir.remove();
  }
}

export interface Tally {
  readonly trials: number;
  readonly acknowledged: number;
  readonly stored: number;
  readonly lost: number;
  readonly duplicateRuns: number;
  readonly unrouted: number;
  readonly runs: number;
  readonly interrupted: number;
  readonly failedWorkerLost: number;
  readonly retried: number;
  readonly ranTwice: number;
  readonly stuck: number;
  readonly kills: number;
  /** Kills that found a job running, or events not yet published to the bus. */
  readonly killsWithRunningJobs: number;
  readonly killsWithPendingOutbox: number;
  readonly problems: readonly string[];
}

export function tally(results: readonly TrialResult[]): Tally {
  const sum = (f: (r: TrialResult) => number): number => results.reduce((n, r) => n + f(r), 0);
  return {
    trials: results.length,
    acknowledged: sum((r) => r.acknowledged),
    stored: sum((r) => r.stored),
    lost: sum((r) => r.lost.length),
    duplicateRuns: sum((r) => r.duplicateRuns),
    unrouted: sum((r) => r.unrouted),
    runs: sum((r) => r.runs),
    interrupted: sum((r) => r.interrupted),
    failedWorkerLost: sum((r) => r.failedWorkerLost),
    retried: sum((r) => r.retried),
    ranTwice: sum((r) => r.ranTwice),
    stuck: sum((r) => r.stuck),
    kills: sum((r) => r.kills.length),
    killsWithRunningJobs: sum((r) => r.kills.filter((k) => k.runningJobs > 0).length),
    killsWithPendingOutbox: sum((r) => r.kills.filter((k) => k.pendingOutbox > 0).length),
    problems: results.flatMap((r) => r.problems),
  };
}

export function formatTally(t: Tally): string {
  return (
    `crash trials: ${t.trials} · kills ${t.kills} (a job running ${t.killsWithRunningJobs}, outbox pending ${t.killsWithPendingOutbox}) · acknowledged ${t.acknowledged} · stored ${t.stored} · lost ${t.lost} · ` +
    `duplicate runs ${t.duplicateRuns} · unrouted ${t.unrouted} · runs ${t.runs} · ` +
    `interrupted ${t.interrupted} (failed worker-lost ${t.failedWorkerLost}, retried ${t.retried}) · ` +
    `ran twice ${t.ranTwice} · stuck ${t.stuck}`
  );
}
