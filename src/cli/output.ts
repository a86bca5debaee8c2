/**
 * Terminal output: aligned tables for people, JSON for scripts (`--json`), colour only on a TTY
 * and never when NO_COLOR is set (util.styleText checks both against the stream).
 */
import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return styleText(style, text, { stream, validateStream: true });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns padded to the widest cell; cells are cut at `maxWidth`. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  maxWidth = 60,
): string {
  const clip = (cell: string): string => (cell.length > maxWidth ? `${cell.slice(0, maxWidth - 1)}…` : cell);
  const all = [headers, ...rows].map((row) => row.map((cell) => clip(cell.replace(/[\r\n\t]/g, ' '))));
  const widths = headers.map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const [head, ...body] = all;
  return [paint('bold', line(head ?? [])), ...body.map(line)].join('\n') + '\n';
}
