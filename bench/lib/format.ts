/**
 * Plain-text formatting for benchmark reports: an aligned table with right-aligned numbers and a
 * few number formats. Pure; no colour, so the output pastes cleanly into docs.
 */

/** `-` stands for a figure that could not be measured. */
export const MISSING = '-';

/** Columns padded to the widest cell; the first column is left-aligned, the rest right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n');
}

export function formatInt(value: number | undefined): string {
  return value === undefined ? MISSING : Math.round(value).toLocaleString('en-US');
}

export function formatMs(value: number | undefined): string {
  if (value === undefined) return MISSING;
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

/** Bytes as decimal megabytes (10^6), the stricter reading of an "MB" target. */
export function formatMB(bytes: number | undefined): string {
  return bytes === undefined ? MISSING : `${(bytes / 1e6).toFixed(1)} MB`;
}

export function formatRatio(value: number | undefined): string {
  return value === undefined ? MISSING : `${value.toFixed(2)}×`;
}

export function formatPercent(value: number | undefined): string {
  return value === undefined ? MISSING : `${Math.round(value)}%`;
}

export function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : by + line))
    .join('\n');
}
