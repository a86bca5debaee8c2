/**
 * Client commands for runs, all talking to a running server:
 * - `junction runs [RUN]`: a table of runs (filters `--pipeline`, `--status`, `--event`), or one run
 *   with each job and, indented, its steps.
 * - `junction logs RUN [--job NAME] [-f]`: log lines as `[job/step] text` (stderr lines marked
 *   `!`); `-f` follows the server's NDJSON stream until the run ends. The exit code is the run's:
 *   0 when it succeeded, 1 when it ended any other way (0 for a run still going without `-f`).
 * - `junction cancel RUN`, `junction rerun RUN [--failed]` (prints the new run's id).
 * - `junction concurrency` (groups, holders, waiting runs) and `junction concurrency release GROUP`.
 * `--json` prints the API's answer (`logs` prints one JSON line per log line). Errors carry the
 * server's code, so a missing run exits 5 and a refused action (409) exits 6.
 */
import type { Command } from 'commander';
import { JunctionError, ERROR_CODES, type ErrorCode } from '../../errors/index.ts';
import { combinationName } from '../../runs/index.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { EXIT } from '../exit-codes.ts';
import { formatTable, paint, printJson } from '../output.ts';

interface RunItem {
  id: string;
  eventId: string;
  pipeline: string;
  triggerIndex: number;
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  reason: string | null;
}

interface JobItem {
  id: string;
  name: string;
  matrix: Record<string, unknown> | null;
  status: string;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  reason: string | null;
}

interface StepItem {
  id: string;
  jobId: string;
  attempt: number;
  index: number;
  try: number;
  name: string;
  status: string;
  exitCode: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  reason: string | null;
}

interface RunDetailItem extends RunItem {
  outputs: Record<string, string> | null;
  rerunOf: string | null;
  concurrencyGroup: string | null;
  cancelRequested: boolean;
  jobs: JobItem[];
  steps: StepItem[];
}

interface LogLineItem {
  id: number;
  jobId: string;
  stepId: string | null;
  stream: string;
  text: string;
}

interface GroupItem {
  name: string;
  holder: { runId: string; seq: number; since: string } | null;
  waiting: { runId: string; seq: number }[];
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'timed-out']);
/** Longest NDJSON line accepted from a log stream (a log line is at most 64 KiB of text). */
const MAX_STREAM_LINE = 8 * 1024 * 1024;
/** Reconnections in a row without a line received before `logs -f` gives up. */
const MAX_RECONNECTS = 5;
const REASON_WIDTH = 50;

type Colour = 'green' | 'red' | 'yellow' | 'cyan' | 'gray';

function colourOf(status: string): Colour {
  switch (status) {
    case 'succeeded':
      return 'green';
    case 'failed':
    case 'timed-out':
      return 'red';
    case 'cancelled':
    case 'skipped':
      return 'yellow';
    case 'running':
      return 'cyan';
    default:
      return 'gray';
  }
}

/**
 * A status padded to a fixed width, then coloured: every colour used has escape codes of the same
 * length, so a table column of painted statuses stays aligned.
 */
export function paintStatus(status: string, width = 9): string {
  return paint(colourOf(status), status.padEnd(width));
}

const ICONS: Readonly<Record<string, string>> = {
  succeeded: '✓',
  failed: '✗',
  'timed-out': '✗',
  cancelled: '⊘',
  skipped: '○',
  running: '●',
};

function icon(status: string): string {
  return paint(colourOf(status), ICONS[status] ?? '·');
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** How long something took, or has been going; `-` when it has not started. */
export function durationOf(
  startedAt: string | null,
  finishedAt: string | null,
  now: number = Date.now(),
): string {
  if (startedAt === null) return '-';
  const end = finishedAt === null ? now : Date.parse(finishedAt);
  return formatDuration(end - Date.parse(startedAt));
}

function shorten(text: string, width: number): string {
  const line = printable(text).replace(/\s+/g, ' ').trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.replace(/\.\d+Z$/, 'Z');
}

/** Whether a terminal may act on this character: C0 controls, DEL and the C1 range. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** Control characters (an escape sequence in a reason) become spaces. */
function printable(text: string): string {
  let out = '';
  for (const char of text) out += isControl(char.charCodeAt(0)) ? ' ' : char;
  return out;
}

/** As the workers store log text: control characters other than TAB become U+FFFD. */
function safeText(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code !== 0x09 && isControl(code) ? '\uFFFD' : char;
  }
  return out;
}

/** The runs table. Widths are measured before the status is coloured, so colour keeps columns aligned. */
export function formatRunTable(items: readonly RunItem[], now: number = Date.now()): string {
  const headers = ['ID', 'PIPELINE', 'STATUS', 'STARTED', 'DURATION', 'REASON'];
  const rows = items.map((run) =>
    [
      run.id,
      run.pipeline,
      run.status,
      shortTime(run.startedAt),
      durationOf(run.startedAt, run.finishedAt, now),
      shorten(run.reason ?? '', REASON_WIDTH),
    ].map((cell) => printable(cell).slice(0, 200)),
  );
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[], status?: string): string =>
    cells
      .map((cell, i) => {
        if (i === cells.length - 1) return cell;
        const padded = cell.padEnd(widths[i]!);
        return i === 2 && status !== undefined ? paint(colourOf(status), padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const body = rows.map((row, i) => line(row, items[i]!.status));
  return `${[paint('bold', line(headers)), ...body].join('\n')}\n`;
}

function jobLabel(job: Pick<JobItem, 'name' | 'matrix'>): string {
  return printable(job.matrix === null ? job.name : combinationName(job.name, job.matrix));
}

function stepLabel(step: StepItem): string {
  const notes = [
    ...(step.attempt > 1 ? [`attempt ${step.attempt}`] : []),
    ...(step.try > 1 ? [`try ${step.try}`] : []),
  ];
  const name = printable(step.name);
  return notes.length === 0 ? name : `${name} (${notes.join(', ')})`;
}

/** One run for people: a header, then each job and, indented, its steps. Pure, for tests. */
export function formatRunDetail(run: RunDetailItem, now: number = Date.now()): string {
  const out: string[] = [];
  out.push(
    `${paint('bold', `run ${printable(run.id)}`)}  ${printable(run.pipeline)}  ${paint(colourOf(run.status), printable(run.status))}`,
  );
  out.push(`  event     ${printable(run.eventId)} (trigger ${run.triggerIndex})`);
  if (run.rerunOf !== null) out.push(`  rerun of  ${printable(run.rerunOf)}`);
  out.push(`  created   ${shortTime(run.createdAt)}`);
  if (run.startedAt !== null)
    out.push(`  started   ${shortTime(run.startedAt)} (${durationOf(run.startedAt, run.finishedAt, now)})`);
  if (run.concurrencyGroup !== null) out.push(`  group     ${printable(run.concurrencyGroup)}`);
  if (run.cancelRequested && !ENDED.has(run.status)) out.push(`  ${paint('yellow', 'cancel requested')}`);
  if (run.reason !== null) out.push(`  reason    ${printable(run.reason)}`);
  for (const [name, value] of Object.entries(run.outputs ?? {}))
    out.push(`  output    ${printable(name)}=${shorten(value, 200)}`);
  if (run.jobs.length === 0) {
    out.push('', '  no jobs yet');
    return `${out.join('\n')}\n`;
  }
  const labels = [
    ...run.jobs.map((job) => jobLabel(job).length + 2),
    ...run.steps.map((step) => stepLabel(step).length + 6),
  ];
  const width = Math.max(...labels);
  out.push('');
  const detail = (
    indent: string,
    label: string,
    item: {
      status: string;
      startedAt: string | null;
      finishedAt: string | null;
      exitCode: number | null;
    },
  ): string =>
    [
      `${indent}${icon(item.status)} ${label.padEnd(width - indent.length)}`,
      paintStatus(item.status),
      durationOf(item.startedAt, item.finishedAt, now).padEnd(8),
      item.exitCode === null ? '' : `exit ${item.exitCode}`,
    ]
      .join('  ')
      .trimEnd();
  const failedStep = (step: StepItem): boolean =>
    step.reason !== null && (step.status === 'failed' || step.status === 'timed-out');
  for (const job of run.jobs) {
    const steps = run.steps.filter((s) => s.jobId === job.id);
    out.push(detail('  ', jobLabel(job), job));
    // A job's reason, unless a failed step below says it (reused jobs say where they come from).
    if (job.reason !== null && (job.status !== 'succeeded' || job.reason.startsWith('reused from')))
      if (!steps.some(failedStep)) out.push(`      ${paint('dim', shorten(job.reason, 200))}`);
    for (const step of steps) {
      out.push(detail('      ', stepLabel(step), step));
      if (failedStep(step)) out.push(`          ${paint('red', shorten(step.reason ?? '', 200))}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Names for log lines: `job` or `job (matrix)` by job id, step names by step id. */
export interface LogLabels {
  readonly jobs: ReadonlyMap<string, string>;
  readonly jobNames: ReadonlyMap<string, string>;
  readonly steps: ReadonlyMap<string, string>;
}

export function logLabels(run: Pick<RunDetailItem, 'jobs' | 'steps'>): LogLabels {
  return {
    jobs: new Map(run.jobs.map((job) => [job.id, jobLabel(job)])),
    jobNames: new Map(run.jobs.map((job) => [job.id, job.name])),
    steps: new Map(run.steps.map((step) => [step.id, stepLabel(step)])),
  };
}

/** A step not recorded yet: `step N` from its id (`<job>.a1.s0.t1`), else the id. */
function stepFallback(stepId: string): string {
  const index = /\.s(\d+)\.t\d+$/.exec(stepId)?.[1];
  return index === undefined ? stepId : `step ${Number(index) + 1}`;
}

/**
 * `[job/step] text`; stderr lines get a `!` after the label. Text a terminal would act on is
 * replaced, whatever the server sent. Pure, for tests.
 */
export function formatLogLine(line: LogLineItem, labels: LogLabels): string {
  const job = labels.jobs.get(line.jobId) ?? line.jobId;
  const step =
    line.stepId === null ? undefined : (labels.steps.get(line.stepId) ?? stepFallback(line.stepId));
  const label = paint('dim', `[${printable(step === undefined ? job : `${job}/${step}`)}]`);
  const text = safeText(line.text);
  if (line.stream === 'stderr') return `${label} ${paint('red', '!')} ${text}`;
  if (line.stream === 'system') return `${label} ${paint('dim', text)}`;
  return `${label} ${text}`;
}

/** The server's URL and token, as the shared client resolves them (see common.ts). */
function serverOf(flags: ClientFlags): { base: string; token: string | undefined } {
  const url = flags.url ?? process.env['JUNCTION_URL'] ?? 'http://127.0.0.1:8080';
  return { base: url.replace(/\/+$/, ''), token: flags.token ?? process.env['JUNCTION_TOKEN'] };
}

async function errorFromResponse(response: Response): Promise<JunctionError> {
  const text = (await response.text()).slice(0, 64 * 1024);
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    error = undefined;
  }
  const code =
    error?.code !== undefined && error.code in ERROR_CODES ? (error.code as ErrorCode) : 'INTERNAL';
  return new JunctionError(code, error?.message ?? `server answered ${response.status}`, {
    httpStatus: response.status,
  });
}

interface StreamEnd {
  status: string;
  reason?: string;
  error?: { code?: string; message?: string };
}

/**
 * Reads one NDJSON log stream, handing each log line to `onLine`; resolves to its end object, or
 * undefined when the connection ended without one.
 */
async function readStream(
  response: Response,
  onLine: (line: LogLineItem) => Promise<void>,
): Promise<StreamEnd | undefined> {
  if (response.body === null) return undefined;
  const decoder = new TextDecoder();
  let buffer = '';
  const handle = async (text: string): Promise<StreamEnd | undefined> => {
    if (text.trim() === '') return undefined;
    const value = JSON.parse(text) as (LogLineItem & { end?: undefined }) | (StreamEnd & { end: true });
    if (value.end === true) return value;
    await onLine(value);
    return undefined;
  };
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const end = await handle(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      if (end !== undefined) return end;
      newline = buffer.indexOf('\n');
    }
    if (buffer.length > MAX_STREAM_LINE) {
      throw new JunctionError('INTERNAL', `the log stream sent a line longer than ${MAX_STREAM_LINE} bytes`);
    }
  }
  return handle(buffer + decoder.decode());
}

interface LogsFlags extends ClientFlags {
  job?: string;
  follow?: boolean;
  json?: boolean;
}

async function logsCommand(clientFrom: ClientFactory, runId: string, flags: LogsFlags): Promise<void> {
  const client = clientFrom(flags);
  const runPath = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const fetchDetail = async (): Promise<RunDetailItem> =>
    (await client.request<RunDetailItem>('GET', runPath)).body;
  let detail = await fetchDetail();
  let labels = logLabels(detail);
  let refreshedAt = Date.now();
  const refresh = async (line: LogLineItem): Promise<void> => {
    const known = labels.jobs.has(line.jobId) && (line.stepId === null || labels.steps.has(line.stepId));
    if (known || Date.now() - refreshedAt < 1000) return;
    refreshedAt = Date.now();
    detail = await fetchDetail();
    labels = logLabels(detail);
  };
  const job = flags.job;
  if (job !== undefined && ENDED.has(detail.status) && !detail.jobs.some((j) => j.name === job)) {
    const names = [...new Set(detail.jobs.map((j) => j.name))].join(', ');
    throw new JunctionError(
      'CLI_USAGE',
      `run ${detail.id} has no job '${job}'${names === '' ? '' : ` (its jobs: ${names})`}`,
    );
  }
  const print = async (line: LogLineItem): Promise<void> => {
    await refresh(line);
    if (job !== undefined && labels.jobNames.get(line.jobId) !== job) return;
    process.stdout.write(
      flags.json === true ? `${JSON.stringify(line)}\n` : `${formatLogLine(line, labels)}\n`,
    );
  };
  // One job row (a job without a matrix, or one combination) can be filtered by the server.
  const rows = job === undefined ? [] : detail.jobs.filter((j) => j.name === job);
  const jobQuery =
    rows.length === 1 && ENDED.has(detail.status) ? `&job=${encodeURIComponent(rows[0]!.id)}` : '';

  let status = detail.status;
  if (flags.follow !== true) {
    let after = 0;
    for (;;) {
      const { body } = await client.request<{ items: LogLineItem[]; next: number | null }>(
        'GET',
        `${runPath}/logs?limit=5000&after=${after}${jobQuery}`,
      );
      for (const line of body.items) await print(line);
      // A page is full at 5000 lines, or cut by the server once its text passes 4 MiB.
      const bytes = body.items.reduce((sum, line) => sum + Buffer.byteLength(line.text), 0);
      if (body.next === null || (body.items.length < 5000 && bytes < 3 * 1024 * 1024)) break;
      after = body.next;
    }
  } else {
    const { base, token } = serverOf(flags);
    const headers: Record<string, string> = { accept: 'application/x-ndjson' };
    if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
    let after = 0;
    let quiet = 0;
    let lost = 'the connection was lost';
    for (;;) {
      let response: Response | undefined;
      try {
        response = await fetch(`${base}${runPath}/logs?follow=true&after=${after}${jobQuery}`, { headers });
      } catch (error) {
        lost = `cannot reach junction at ${base}: ${error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error)}`;
      }
      let received = false;
      let end: StreamEnd | undefined;
      if (response !== undefined) {
        if (!response.ok) throw await errorFromResponse(response);
        end = await readStream(response, async (line) => {
          received = true;
          after = line.id;
          await print(line);
        }).catch((error: unknown) => {
          if (error instanceof SyntaxError || (error instanceof JunctionError && error.code === 'INTERNAL'))
            throw error;
          // The connection broke: reconnect from the last line printed.
          return undefined;
        });
      }
      if (end?.error !== undefined) {
        const code =
          end.error.code !== undefined && end.error.code in ERROR_CODES
            ? (end.error.code as ErrorCode)
            : 'INTERNAL';
        throw new JunctionError(code, end.error.message ?? 'the server stopped the log stream');
      }
      if (end !== undefined && ENDED.has(end.status)) break;
      if (end?.reason !== undefined) lost = end.reason;
      // Reconnect (a server restarting, a proxy cutting long answers), a few times in a row at most.
      quiet = received ? 0 : quiet + 1;
      if (quiet >= MAX_RECONNECTS) {
        throw new JunctionError(
          'CLI_SERVER_UNREACHABLE',
          `gave up following run ${detail.id} after ${MAX_RECONNECTS} attempts in a row (${lost})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const final = await fetchDetail();
    status = final.status;
    if (flags.json !== true) {
      const reason = final.reason === null ? '' : `: ${printable(final.reason)}`;
      process.stderr.write(
        `run ${final.id} ${paint(colourOf(status), status, process.stderr)}${status === 'succeeded' ? '' : reason}\n`,
      );
    }
  }
  if (ENDED.has(status) && status !== 'succeeded') process.exitCode = EXIT.failure;
}

export function registerRuns(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('runs')
      .description('list runs, newest first, or show one run with its jobs and steps')
      .argument('[run]', 'show this run')
      .option('--pipeline <name>', 'only runs of this pipeline')
      .option('--status <status>', 'only runs with this status (queued, running, succeeded, failed, …)')
      .option('--event <id>', 'only runs started by this stored event')
      .option('-n, --limit <n>', 'how many (1-1000, default 20)', (v) => Number(v))
      .option('--json', 'print JSON ({ items, next }, or the run)'),
  ).action(
    async (
      runId: string | undefined,
      flags: ClientFlags & {
        pipeline?: string;
        status?: string;
        event?: string;
        limit?: number;
        json?: boolean;
      },
    ) => {
      const client = clientFrom(flags);
      if (runId !== undefined) {
        const { body } = await client.request<RunDetailItem>(
          'GET',
          `/api/v1/runs/${encodeURIComponent(runId)}`,
        );
        if (flags.json === true) printJson(body);
        else process.stdout.write(formatRunDetail(body));
        return;
      }
      const limit = flags.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new JunctionError('CLI_USAGE', '--limit must be 1-1000');
      const query = new URLSearchParams({ limit: String(limit) });
      if (flags.pipeline !== undefined) query.set('pipeline', flags.pipeline);
      if (flags.status !== undefined) query.set('status', flags.status);
      if (flags.event !== undefined) query.set('event', flags.event);
      const { body } = await client.request<{ items: RunItem[]; next: string | null }>(
        'GET',
        `/api/v1/runs?${query.toString()}`,
      );
      if (flags.json === true) printJson(body);
      else if (body.items.length === 0) process.stdout.write('no runs\n');
      else process.stdout.write(formatRunTable(body.items));
    },
  );

  clientOptions(
    program
      .command('logs')
      .description("print a run's log; with -f, follow it until the run ends (exit 1 unless it succeeded)")
      .argument('<run>', 'the run id')
      .option('--job <name>', 'only this job (every matrix combination of it)')
      .option('-f, --follow', 'keep printing lines as they come, until the run ends')
      .option('--json', 'print each log line as a JSON object on its own line'),
  ).action((runId: string, flags: LogsFlags) => logsCommand(clientFrom, runId, flags));

  clientOptions(
    program
      .command('cancel')
      .description('cancel a run: queued jobs are cancelled, running steps are stopped')
      .argument('<run>', 'the run id')
      .option('--json', 'print the server answer as JSON'),
  ).action(async (runId: string, flags: ClientFlags & { json?: boolean }) => {
    const { body } = await clientFrom(flags).request<{ id: string; cancelled: boolean }>(
      'POST',
      `/api/v1/runs/${encodeURIComponent(runId)}/cancel`,
    );
    if (flags.json === true) printJson(body);
    else process.stdout.write(`cancel requested for run ${body.id}\n`);
  });

  clientOptions(
    program
      .command('rerun')
      .description('run an ended run again (same event, same pipeline version); prints the new run id')
      .argument('<run>', 'the run id')
      .option('--failed', 'reuse the jobs that succeeded; run only the others')
      .option('--json', 'print the server answer as JSON'),
  ).action(async (runId: string, flags: ClientFlags & { failed?: boolean; json?: boolean }) => {
    const { body } = await clientFrom(flags).request<{ id: string; rerunOf: string; reused: string[] }>(
      'POST',
      `/api/v1/runs/${encodeURIComponent(runId)}/rerun`,
      {
        body: JSON.stringify({ failed: flags.failed === true }),
        headers: { 'content-type': 'application/json' },
      },
    );
    if (flags.json === true) {
      printJson(body);
      return;
    }
    process.stdout.write(`${body.id}\n`);
    const reused = body.reused.length === 0 ? 'no jobs reused' : `reused: ${body.reused.join(', ')}`;
    process.stderr.write(paint('dim', `re-run of ${body.rerunOf}; ${reused}\n`, process.stderr));
  });

  const concurrency = program
    .command('concurrency')
    .description('concurrency groups: who holds each and who waits; release a stuck group');
  clientOptions(
    concurrency
      .command('list', { isDefault: true })
      .description('list the groups that are held or waited for')
      .option('--json', 'print JSON ({ items, next })'),
  ).action(async (flags: ClientFlags & { json?: boolean }) => {
    const { body } = await clientFrom(flags).request<{ items: GroupItem[]; next: null }>(
      'GET',
      '/api/v1/concurrency',
    );
    if (flags.json === true) printJson(body);
    else if (body.items.length === 0) process.stdout.write('no concurrency group is held or waited for\n');
    else
      process.stdout.write(
        formatTable(
          ['GROUP', 'HOLDER', 'SINCE', 'WAITING'],
          body.items.map((group) =>
            [
              group.name,
              group.holder?.runId ?? '-',
              shortTime(group.holder?.since ?? null),
              group.waiting.length === 0
                ? '-'
                : `${group.waiting.length}: ${group.waiting.map((w) => w.runId).join(', ')}`,
            ].map(printable),
          ),
          120,
        ),
      );
  });
  clientOptions(
    concurrency
      .command('release')
      .description('release a group by force: the next waiting run starts')
      .argument('<group>', 'the group name, as `junction concurrency` shows it')
      .option('--json', 'print the server answer as JSON'),
  ).action(async (group: string, flags: ClientFlags & { json?: boolean }) => {
    const { body } = await clientFrom(flags).request<{ released: string | null }>(
      'POST',
      `/api/v1/concurrency/${encodeURIComponent(group)}/release`,
    );
    if (flags.json === true) printJson(body);
    else if (body.released === null) process.stdout.write(`group '${group}' had no holder\n`);
    else process.stdout.write(`released group '${group}' from run ${body.released}\n`);
  });
}
