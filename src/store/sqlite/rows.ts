/**
 * Reading typed values out of `node:sqlite` rows. A column holding something else than expected is
 * a schema bug, reported as INTERNAL with the column's name (never its value).
 */
import type { SQLOutputValue } from 'node:sqlite';
import { JunctionError } from '../../errors/index.ts';

export type Row = Record<string, SQLOutputValue>;

export function text(row: Row | undefined, column: string): string {
  const value = row?.[column];
  if (typeof value !== 'string') throw columnError(column, 'text', value);
  return value;
}

export function optionalText(row: Row, column: string): string | null {
  const value = row[column];
  if (value === null) return null;
  if (typeof value !== 'string') throw columnError(column, 'text or null', value);
  return value;
}

export function integer(row: Row | undefined, column: string): number {
  const value = row?.[column];
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw columnError(column, 'an integer', value);
  return value;
}

export function columnError(column: string, expected: string, value: unknown): JunctionError {
  const actual = value === null ? 'null' : typeof value;
  return new JunctionError('INTERNAL', `sqlite column '${column}' holds ${actual}, expected ${expected}`);
}

export function optionalInteger(row: Row, column: string): number | null {
  return row[column] === null ? null : integer(row, column);
}

/** A JSON object column, or null. */
export function jsonObject<T>(row: Row, column: string): T | null {
  const value = optionalText(row, column);
  return value === null ? null : (JSON.parse(value) as T);
}
