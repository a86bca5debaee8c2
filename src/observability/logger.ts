/**
 * The process logger: pino, JSON lines on stderr by default (one object per line, easy to ship),
 * or a compact human form with `log.format: pretty`. Log fields use the fixed camelCase set
 * (`eventId`, `runId`, `jobId`, `stepId`, `pipeline`, `code`); payloads and secrets never go in.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  readonly format: 'json' | 'pretty';
  /** Defaults to stderr; tests pass a stream to read lines back. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stderr;
  if (options.format === 'pretty') {
    return pino(
      { level: options.level, base: null, formatters: { level: (label) => ({ level: label }) } },
      { write: (line: string) => destination.write(prettyLine(line)) },
    );
  }
  return pino({ level: options.level, base: { pid: process.pid } }, destination);
}

/** `12:00:01.123 INFO  message key=value …` from one pino JSON line. */
export function prettyLine(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const { level, msg, time, ...rest } = record;
  const at = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 23);
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${at} ${String(level).toUpperCase().padEnd(5)} ${typeof msg === 'string' ? msg : ''}${fields ? ` ${fields}` : ''}\n`;
}
