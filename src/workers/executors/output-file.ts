/**
 * Step outputs: a step sets outputs by appending to the file named by `JUNCTION_OUTPUT`, in the
 * GitHub Actions format.
 *
 *     version=1.2.3
 *     notes<<EOF
 *     first line
 *     second line
 *     EOF
 *
 * What callers may assume:
 * - `name=value` sets `name` to everything after the first `=` (more `=` and `<<` included).
 *   `name<<DELIMITER` sets `name` to the lines up to the next line that is exactly `DELIMITER`,
 *   joined with LF; a value line that merely contains the delimiter does not end it. A line is
 *   `name=value` when its first `=` comes before its first `<<`.
 * - Lines end at LF; one trailing CR is dropped (files written on Windows read the same). Empty
 *   lines between assignments are skipped. A later assignment of a name wins.
 * - Names match `^[A-Za-z_][A-Za-z0-9_-]*$`. The result is a plain object whose own keys are
 *   exactly the names (a name such as `__proto__` is an ordinary key, never the prototype).
 * - Anything else throws STEP_OUTPUT_INVALID with the line number: a line that is neither form, a
 *   bad name, an empty delimiter, a here-document never closed, a NUL byte, text that is not
 *   UTF-8, a file larger than `maxBytes` (1 MiB by default). Messages never quote a value or a
 *   whole line, since outputs may carry secrets; at most the offending character of a name.
 * - `readOutputFile` reads at most `maxBytes` + 1 bytes whatever the file's size, treats a
 *   missing file as no outputs, and refuses what is not a regular file (a FIFO would block the
 *   worker, a symlink could point at a file the step may not read), without following it.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { JunctionError } from '../../errors/index.ts';

export const DEFAULT_MAX_OUTPUT_FILE_BYTES = 1024 * 1024;
export const OUTPUT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const READ_CHUNK_BYTES = 64 * 1024;

export interface ParseOutputFileOptions {
  /** The largest file accepted, in UTF-8 bytes. Default 1 MiB. */
  readonly maxBytes?: number;
}

interface Heredoc {
  readonly name: string;
  readonly delimiter: string;
  readonly startLine: number;
  readonly lines: string[];
}

export function parseOutputFile(text: string, options: ParseOutputFileOptions = {}): Record<string, string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_OUTPUT_FILE_BYTES;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw tooLarge(maxBytes);
  const outputs = new Map<string, string>();
  const lines = text.split('\n');
  // A final LF ends the last line; it does not start an empty one.
  if (lines.at(-1) === '') lines.pop();
  let heredoc: Heredoc | undefined;
  for (const [index, raw] of lines.entries()) {
    const lineNumber = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.includes('\0')) throw invalid(lineNumber, 'contains a NUL byte');
    if (heredoc !== undefined) {
      if (line === heredoc.delimiter) {
        outputs.set(heredoc.name, heredoc.lines.join('\n'));
        heredoc = undefined;
      } else {
        heredoc.lines.push(line);
      }
      continue;
    }
    if (line === '') continue;
    const assignment = parseAssignment(line, lineNumber);
    if ('value' in assignment) outputs.set(assignment.name, assignment.value);
    else heredoc = { ...assignment, startLine: lineNumber, lines: [] };
  }
  if (heredoc !== undefined) {
    throw invalid(
      heredoc.startLine,
      `the value of '${heredoc.name}' is never closed: no line equals its delimiter`,
    );
  }
  return Object.fromEntries(outputs);
}

function parseAssignment(
  line: string,
  lineNumber: number,
): { name: string; value: string } | { name: string; delimiter: string } {
  const equals = line.indexOf('=');
  const heredoc = line.indexOf('<<');
  if (equals !== -1 && (heredoc === -1 || equals < heredoc)) {
    const name = checkName(line.slice(0, equals), lineNumber);
    return { name, value: line.slice(equals + 1) };
  }
  if (heredoc !== -1) {
    const name = checkName(line.slice(0, heredoc), lineNumber);
    const delimiter = line.slice(heredoc + 2);
    if (delimiter === '') throw invalid(lineNumber, `'${name}<<' has no delimiter`);
    return { name, delimiter };
  }
  throw invalid(lineNumber, "expected 'name=value' or 'name<<DELIMITER'");
}

function checkName(name: string, lineNumber: number): string {
  if (OUTPUT_NAME_PATTERN.test(name)) return name;
  if (name === '') throw invalid(lineNumber, 'the output name is empty');
  // Quote only the first offending character: the rest of the line may be a secret.
  const at = /^[0-9-]/.test(name) ? 0 : name.search(/[^A-Za-z0-9_-]/);
  const character = JSON.stringify(String.fromCodePoint(name.codePointAt(at)!));
  throw invalid(
    lineNumber,
    `the output name has ${character} at position ${at + 1}; names match ${OUTPUT_NAME_PATTERN.source}`,
  );
}

function invalid(lineNumber: number, message: string): JunctionError {
  return new JunctionError('STEP_OUTPUT_INVALID', `output file line ${lineNumber}: ${message}`, {
    details: { line: lineNumber },
  });
}

function tooLarge(maxBytes: number): JunctionError {
  return new JunctionError(
    'STEP_OUTPUT_INVALID',
    `output file is larger than ${maxBytes} bytes; write large data to a file instead`,
    { details: { maxBytes } },
  );
}

/** Reads and parses the output file at `path`; a missing file means no outputs. */
export async function readOutputFile(
  path: string,
  maxBytes: number = DEFAULT_MAX_OUTPUT_FILE_BYTES,
): Promise<Record<string, string>> {
  const bytes = await readBounded(path, maxBytes);
  if (bytes === undefined) return {};
  if (bytes.length > maxBytes) throw tooLarge(maxBytes);
  return parseOutputFile(decodeUtf8(bytes), { maxBytes });
}

async function readBounded(path: string, maxBytes: number): Promise<Buffer | undefined> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: never read through a link.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw unreadable(path, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new JunctionError('STEP_OUTPUT_INVALID', `output file '${path}' is not a regular file`, {
        details: { path },
      });
    }
    // Never more than maxBytes + 1, however large the file is or grows while it is read. Chunks
    // start at the size the file has (most are empty or tiny), so nothing large is allocated for
    // them; only the bytes read are kept.
    const chunks: Buffer[] = [];
    let total = 0;
    let hint = info.size + 1;
    while (total <= maxBytes) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total, Math.max(hint, 1)));
      hint = READ_CHUNK_BYTES;
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof JunctionError) throw error;
    throw unreadable(path, error);
  } finally {
    await handle.close();
  }
}

function unreadable(path: string, error: unknown): JunctionError {
  const code = errorCode(error);
  const reason = code === 'ELOOP' ? 'is a symbolic link' : `cannot be read (${code})`;
  return new JunctionError('STEP_OUTPUT_INVALID', `output file '${path}' ${reason}`, {
    details: { path },
    cause: error,
  });
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return 'unknown';
}

/** Strict UTF-8 (a leading BOM is dropped); the error names the first line that is not. */
function decodeUtf8(bytes: Buffer): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    while (start <= bytes.length) {
      const end = bytes.indexOf(0x0a, start);
      const stop = end === -1 ? bytes.length : end;
      try {
        decoder.decode(bytes.subarray(start, stop));
      } catch (error) {
        throw new JunctionError('STEP_OUTPUT_INVALID', `output file line ${line}: not valid UTF-8`, {
          details: { line },
          cause: error,
        });
      }
      start = stop + 1;
      line += 1;
    }
    throw new JunctionError('STEP_OUTPUT_INVALID', 'output file is not valid UTF-8');
  }
}
