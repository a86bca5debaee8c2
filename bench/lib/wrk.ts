/**
 * Runs wrk and reads its numbers. `parseWrkOutput` is pure and reads wrk 4's standard report
 * (Requests/sec, the `--latency` distribution, socket errors) plus the `BENCH_STATUS` line that
 * the benchmark's lua scripts print from `done()` (2xx and non-2xx answers by status). Callers may
 * assume latencies are in milliseconds and counts are whole numbers.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BENCH_EXIT, BenchError } from './bench-error.ts';

export interface WrkRun {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationSeconds: number;
  /** Socket timeout; slower answers count as timeout errors. */
  readonly timeoutSeconds: number;
  readonly script: string;
  /** Passed to the script's `init(args)` after `--`. */
  readonly scriptArgs: readonly string[];
}

export interface WrkLatency {
  readonly p50Ms: number;
  readonly p75Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface WrkSocketErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
}

export interface WrkResult {
  /** Completed requests as wrk counts them (any status). */
  readonly requests: number;
  readonly durationSeconds: number;
  readonly requestsPerSec: number;
  readonly latency: WrkLatency;
  readonly socketErrors: WrkSocketErrors;
  /** Answers with a 2xx status, counted by the lua `response()` hook. */
  readonly ok2xx: number;
  /** Answers with any other status. */
  readonly non2xx: number;
  /** Answers by status code. */
  readonly statuses: Readonly<Record<string, number>>;
}

/** The absolute path of `wrk` on PATH, or undefined. */
export function findWrk(path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'wrk');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; keep looking.
      continue;
    }
  }
  return undefined;
}

export function wrkArgs(run: WrkRun): string[] {
  return [
    '--threads',
    String(run.threads),
    '--connections',
    String(run.connections),
    '--duration',
    `${run.durationSeconds}s`,
    '--timeout',
    `${run.timeoutSeconds}s`,
    '--latency',
    '--script',
    run.script,
    run.url,
    '--',
    ...run.scriptArgs,
  ];
}

/** The command as one shell line, for people to copy. */
export function formatCommand(bin: string, args: readonly string[]): string {
  const quote = (arg: string): string =>
    /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
  return [bin, ...args].map(quote).join(' ');
}

const TIME_UNITS_MS: Readonly<Record<string, number>> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** wrk's `328.00us`, `1.26ms`, `2.01s` → milliseconds. */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  const unit = match === null ? undefined : TIME_UNITS_MS[match[2]!];
  if (match === null || unit === undefined) throw new BenchError(`cannot read wrk time '${text}'`);
  return Number(match[1]) * unit;
}

function requireMatch(stdout: string, pattern: RegExp, what: string): RegExpExecArray {
  const match = pattern.exec(stdout);
  if (match === null) throw new BenchError(`wrk output has no ${what}:\n${stdout}`);
  return match;
}

function percentile(stdout: string, pct: number): number {
  const match = requireMatch(
    stdout,
    new RegExp(`^\\s+${pct}%\\s+(\\S+)\\s*$`, 'm'),
    `${pct}% latency line (was --latency given?)`,
  );
  return parseWrkTime(match[1]!);
}

interface StatusLine {
  readonly '2xx': number;
  readonly non2xx: number;
  readonly statuses: Record<string, number>;
  readonly maxUs: number;
}

export function parseWrkOutput(stdout: string): WrkResult {
  const totals = requireMatch(
    stdout,
    /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m,
    "'N requests in T' line",
  );
  const rps = requireMatch(stdout, /^Requests\/sec:\s+([\d.]+)/m, "'Requests/sec' line");
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const statusLine = requireMatch(
    stdout,
    /^BENCH_STATUS (\{.*\})\s*$/m,
    'BENCH_STATUS line from the lua script',
  );
  const status = JSON.parse(statusLine[1]!) as StatusLine;
  return {
    requests: Number(totals[1]),
    durationSeconds: parseWrkTime(`${totals[2]}${totals[3]}`) / 1000,
    requestsPerSec: Number(rps[1]),
    latency: {
      p50Ms: percentile(stdout, 50),
      p75Ms: percentile(stdout, 75),
      p90Ms: percentile(stdout, 90),
      p99Ms: percentile(stdout, 99),
      maxMs: status.maxUs / 1000,
    },
    socketErrors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
    },
    ok2xx: status['2xx'],
    non2xx: status.non2xx,
    statuses: status.statuses,
  };
}

export function totalSocketErrors(errors: WrkSocketErrors): number {
  return errors.connect + errors.read + errors.write + errors.timeout;
}

/** Runs wrk to completion; rejects when it exits non-zero or its output cannot be read. */
export function runWrk(
  bin: string,
  run: WrkRun,
): Promise<{ readonly command: string; readonly stdout: string; readonly result: WrkResult }> {
  const args = wrkArgs(run);
  const command = formatCommand(bin, args);
  const limitMs = (run.durationSeconds + run.timeoutSeconds + 30) * 1000;
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: limitMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(
          new BenchError(
            `wrk failed (${error.message.split('\n')[0] ?? ''}): ${stderr || stdout}`,
            BENCH_EXIT.failed,
            { cause: error },
          ),
        );
        return;
      }
      try {
        resolve({ command, stdout, result: parseWrkOutput(stdout) });
      } catch (parseError) {
        reject(parseError instanceof Error ? parseError : new BenchError(String(parseError)));
      }
    });
  });
}

/** First line of `wrk --version` (wrk exits 1 after printing it). */
export function wrkVersion(bin: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 5000 }, (_error, stdout, stderr) => {
      const line = `${stdout}${stderr}`.split('\n')[0] ?? '';
      resolve(line.replace(/\s+Copyright.*$/, '').trim());
    });
  });
}
