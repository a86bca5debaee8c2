/**
 * `junction run PIPELINE [--event FILE]`: runs one pipeline once, in this process, on a private
 * in-memory store (src/local-run.ts), so pipelines can be tried before any webhook points at them
 * and without racing a `junction serve` on the project's database.
 *
 * - PIPELINE is a pipeline name from `pipelines.dir`, or the path of a pipeline file. A file with
 *   problems prints every problem as `file:line:col path: message` and exits 65, as `validate`.
 * - `--event FILE` (`-` for stdin) holds a structured CloudEvent (a JSON object with
 *   `specversion`), checked as POST /events checks it, or any other JSON value, taken as the data
 *   of an event of type `--type` (default `junction.manual`) from `--source` (default
 *   `junction/cli`). `--data JSON` gives the data on the command line, as for `emit`. An event that is not
 *   JSON or not a valid CloudEvent exits 65.
 * - Progress goes to stdout as it happens: `▶ job / step` when a step starts, `✓`/`✗` with its
 *   duration when it ends, the step's output lines behind a `job │` prefix, then a summary.
 *   Colour only on a terminal without NO_COLOR. `--json` prints one object at the end instead.
 * - Exit 0 when the run succeeded, 1 when it failed or timed out, 130 when SIGINT or SIGTERM
 *   cancelled it (the running step is stopped; `finally` jobs and `always()` steps still run; a
 *   second signal exits at once).
 */
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { JunctionConfig } from '../../config/index.ts';
import { JunctionError, isJunctionError } from '../../errors/index.ts';
import {
  STRUCTURED_MEDIA_TYPE,
  parseHttpEvents,
  parseJsonBytes,
  validateCloudEvent,
  type CloudEvent,
} from '../../events/index.ts';
import { combinationName, formatProblems, type PipelineProblem } from '../../pipelines/index.ts';
import type { JobRecord, StepRecord } from '../../store/index.ts';
// The engine is loaded when the command runs, so other commands start without it.
import type { LocalRunObserver, LocalRunResult } from '../../local-run.ts';
import { EXIT } from '../exit-codes.ts';
import { paint, printJson } from '../output.ts';

export interface RunCommandDeps {
  /** The configuration `--config` names, or the default one. */
  readonly config: () => Promise<JunctionConfig>;
}

interface RunFlags {
  event?: string;
  type?: string;
  source?: string;
  data?: string;
  keepWorkspace?: boolean;
  json?: boolean;
}

const DEFAULT_TYPE = 'junction.manual';
const DEFAULT_SOURCE = 'junction/cli';
/** The runner's own step markers, which this command prints in its own form. */
const RUNNER_MARKER = /^\[junction\] (?:[▶✓✗-] |emitted )/;

export function registerRun(program: Command, deps: RunCommandDeps): void {
  program
    .command('run')
    .description('run one pipeline once, locally, without a server (nothing is delivered to other pipelines)')
    .argument('<pipeline>', 'pipeline name (from pipelines.dir) or path to a pipeline file')
    .option(
      '--event <file>',
      "the event as JSON: a CloudEvent, or any value taken as its data ('-' reads stdin)",
    )
    .option('-t, --type <type>', `event type when --event holds only data (default ${DEFAULT_TYPE})`)
    .option('-s, --source <source>', `event source when --event holds only data (default ${DEFAULT_SOURCE})`)
    .option('-d, --data <json>', 'event data as JSON, as for emit (instead of --event)')
    .option('--keep-workspace', 'keep the job workspaces and print where they are')
    .option('--json', 'print one JSON object at the end (run, jobs, steps, outputs) and nothing else')
    .action(async (target: string, flags: RunFlags) => {
      const config = await deps.config();
      const { loadRunPipeline, runPipelineOnce } = await import('../../local-run.ts');
      const pipeline = await loadRunPipeline(target, config.pipelines.dir).catch((error: unknown) => {
        if (isJunctionError(error, 'PIPELINE_INVALID')) return problemsOf(error);
        throw error;
      });
      if (!('spec' in pipeline)) {
        process.stderr.write(
          `${paint('red', 'invalid', process.stderr)}  ${target}\n${formatProblems(pipeline)}\n`,
        );
        process.exitCode = EXIT.invalid;
        return;
      }
      let event: CloudEvent;
      try {
        event = await readRunEvent(flags, config);
      } catch (error) {
        if (!isEventProblem(error)) throw error;
        reportEventProblem(error, flags);
        return;
      }

      // A reader that goes away (`| head`) must not stop the run half-way: output stops, the run
      // goes on to its end, and the exit code still tells how it ended.
      const onStdoutError = (error: NodeJS.ErrnoException): void => {
        if (error.code !== 'EPIPE') process.stderr.write(`stdout: ${error.message}\n`);
      };
      process.stdout.on('error', onStdoutError);
      const controller = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals > 1) {
          process.stderr.write(`${signal} again: exiting without waiting for the run to end\n`);
          process.exit(EXIT.interrupted);
        }
        process.stderr.write(`${signal}: cancelling the run; send again to exit at once\n`);
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let result: LocalRunResult;
      try {
        result = await runPipelineOnce({
          config,
          pipeline,
          event,
          keepWorkspace: flags.keepWorkspace === true,
          signal: controller.signal,
          ...(flags.json === true ? {} : { observer: progressPrinter() }),
        });
      } catch (error) {
        // Intake refused the event (its data does not match the schema of its type).
        if (!isEventProblem(error)) throw error;
        reportEventProblem(error, flags);
        return;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (flags.json === true) printJson(jsonResult(result));
      else printSummary(result, pipeline.spec.on.length);
      process.exitCode = exitCodeOf(result);
    });
}

function isEventProblem(error: unknown): error is JunctionError {
  return isJunctionError(error) && error.code.startsWith('EVENT_');
}

/** An event that is not JSON or not valid: a data error (65), like a pipeline file with problems. */
function reportEventProblem(error: JunctionError, flags: RunFlags): void {
  const origin =
    flags.event !== undefined
      ? `event ${flags.event === '-' ? 'on stdin' : `file '${flags.event}'`}`
      : flags.data !== undefined
        ? '--data'
        : 'the event';
  process.stderr.write(
    `${paint('red', 'error', process.stderr)}: ${origin}: ${error.message} [${error.code}]\n`,
  );
  process.exitCode = EXIT.invalid;
}

function problemsOf(error: JunctionError): readonly PipelineProblem[] {
  const problems = error.details?.['problems'];
  return Array.isArray(problems) ? (problems as PipelineProblem[]) : [{ path: '', message: error.message }];
}

export function exitCodeOf(result: LocalRunResult): number {
  if (result.interrupted && result.run.status === 'cancelled') return EXIT.interrupted;
  return result.run.status === 'succeeded' || result.run.status === 'skipped' ? EXIT.ok : EXIT.failure;
}

// ---------------------------------------------------------------------------------------------
// The event.

/** The event `junction run` starts the pipeline with, from `--event` or `--data`, `--type`, `--source`. */
export async function readRunEvent(flags: RunFlags, config: JunctionConfig): Promise<CloudEvent> {
  if (flags.event !== undefined && flags.data !== undefined) {
    throw new JunctionError('CLI_USAGE', 'give --event or --data, not both');
  }
  const limits = { maxDepth: config.server.maxJsonDepth };
  if (flags.event === undefined) {
    const data =
      flags.data === undefined
        ? {}
        : parseJsonBytes(Buffer.from(flags.data, 'utf8'), { ...limits, what: 'the data' }).value;
    return bareEvent(data, flags);
  }
  const bytes = await readEventBytes(flags.event, config.server.bodyLimitBytes);
  const { value } = parseJsonBytes(bytes, { ...limits, what: 'the event' });
  const isCloudEvent =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.hasOwn(value, 'specversion');
  if (!isCloudEvent) return bareEvent(value, flags);
  if (flags.type !== undefined || flags.source !== undefined) {
    throw new JunctionError(
      'CLI_USAGE',
      '--type and --source apply when --event holds only data; this file is a CloudEvent with its own',
    );
  }
  // Checked exactly as POST /events checks a structured event (envelope attributes named twice…).
  const [structured] = parseHttpEvents({
    headers: { 'content-type': STRUCTURED_MEDIA_TYPE },
    body: bytes,
    limits: { maxJsonDepth: config.server.maxJsonDepth, maxBatchEvents: 1 },
  }).events;
  return structured!;
}

function bareEvent(data: unknown, flags: RunFlags): CloudEvent {
  return validateCloudEvent({
    specversion: '1.0',
    id: randomUUID(),
    source: flags.source ?? DEFAULT_SOURCE,
    type: flags.type ?? DEFAULT_TYPE,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  });
}

/** The bytes of `--event`, at most `limit` (the server's body limit). */
async function readEventBytes(file: string, limit: number): Promise<Uint8Array> {
  const tooLarge = (): JunctionError =>
    new JunctionError('EVENT_TOO_LARGE', `it is larger than ${limit} bytes (server.bodyLimit)`);
  if (file === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      size += bytes.length;
      if (size > limit) {
        process.stdin.destroy();
        throw tooLarge();
      }
      chunks.push(bytes);
    }
    return Buffer.concat(chunks, size);
  }
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) {
    throw new JunctionError('CLI_USAGE', `--event: no file '${file}'`);
  }
  if (info.size > limit) throw tooLarge();
  return readFile(file);
}

// ---------------------------------------------------------------------------------------------
// Output.

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function elapsed(from: string | null, to: string | null): string {
  if (from === null || to === null) return '';
  return formatDuration(Math.max(0, Date.parse(to) - Date.parse(from)));
}

function jobLabel(job: JobRecord): string {
  return combinationName(job.name, job.matrix ?? {});
}

function mark(status: string): string {
  if (status === 'succeeded') return paint('green', '✓');
  if (status === 'skipped') return paint('dim', '-');
  if (status === 'cancelled') return paint('yellow', '⊘');
  return paint('red', '✗');
}

/** One line per event of the run, as it happens. */
function progressPrinter(): LocalRunObserver {
  const out = (line: string): void => {
    if (process.stdout.writable) process.stdout.write(`${line}\n`);
  };
  const stepName = (job: JobRecord, step: StepRecord): string =>
    `${jobLabel(job)} / ${step.name}${step.try > 1 ? ` (try ${step.try})` : ''}`;
  return {
    stepStarted(job, step) {
      out(`${paint('cyan', '▶')} ${paint('bold', stepName(job, step))}`);
    },
    stepFinished(job, step) {
      if (step.status === 'skipped') {
        out(paint('dim', `- ${stepName(job, step)} skipped`));
        return;
      }
      const took = elapsed(step.startedAt, step.finishedAt);
      const why = step.status === 'succeeded' || step.reason === null ? '' : `: ${step.reason}`;
      out(
        `${mark(step.status)} ${stepName(job, step)} ${step.status}${took === '' ? '' : ` in ${took}`}${why}`,
      );
    },
    line(job, line) {
      if (line.stream === 'system' && RUNNER_MARKER.test(line.text)) return;
      const prefix = paint('dim', `  ${jobLabel(job)} │`);
      out(`${prefix} ${line.stream === 'system' ? paint('yellow', line.text) : line.text}`);
    },
    emitted(event, id) {
      out(paint('dim', `emitted ${event.type} ${id}`));
    },
  };
}

function printSummary(result: LocalRunResult, triggers: number): void {
  const { run } = result;
  const lines: string[] = ['', paint('bold', 'jobs')];
  const labels = result.jobs.map(jobLabel);
  const width = Math.max(0, ...labels.map((label) => label.length));
  result.jobs.forEach((job, i) => {
    const took = elapsed(job.startedAt, job.finishedAt);
    const reason = job.status === 'succeeded' || job.reason === null ? '' : `  ${paint('dim', job.reason)}`;
    lines.push(
      `  ${mark(job.status)} ${labels[i]!.padEnd(width)}  ${job.status.padEnd(9)}  ${took}${reason}`.trimEnd(),
    );
  });
  const took = elapsed(run.startedAt, run.finishedAt);
  const status = run.status === 'succeeded' ? paint('green', run.status) : paint('red', run.status);
  lines.push(
    '',
    `${paint('bold', 'run')} ${run.id} ${status}${took === '' ? '' : ` in ${took}`}${run.reason === null ? '' : `: ${run.reason}`}`,
  );
  const outputs = Object.entries(run.outputs ?? {});
  if (outputs.length > 0) {
    lines.push(paint('bold', 'outputs'));
    for (const [name, value] of outputs) lines.push(`  ${name} = ${value}`);
  }
  const note = triggerNote(result, triggers);
  if (note !== undefined) lines.push(paint('dim', note));
  if (result.workspace !== undefined) lines.push(`workspace kept at ${result.workspace}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Whether a server would have started this run for the event, when it would not. */
function triggerNote(result: LocalRunResult, triggers: number): string | undefined {
  if (triggers === 0) return undefined;
  const { pipeline } = result.run;
  if (result.decisions.length === 0) {
    return `note: no trigger of '${pipeline}' listens for '${result.event.event.type}' events; on a server this event would not start it`;
  }
  if (result.decisions.some((d) => d.matched)) return undefined;
  const reasons = result.decisions.map((d) => `on[${d.triggerIndex}]: ${d.reason}`).join('; ');
  return `note: on a server this event would not start '${pipeline}' (${reasons})`;
}

function jsonResult(result: LocalRunResult): Record<string, unknown> {
  const { spec: _spec, ...run } = result.run;
  return {
    run,
    event: result.event,
    jobs: result.jobs,
    steps: result.steps,
    outputs: result.run.outputs ?? {},
    emitted: result.emitted,
    decisions: result.decisions,
    ...(result.workspace === undefined ? {} : { workspace: result.workspace }),
  };
}
