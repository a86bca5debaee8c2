/**
 * `${{ … }}` templates: text with CEL expressions in it, as in `ci-${{ event.data.branch }}`.
 *
 * What callers may assume:
 * - An expression ends at the first `}}` that is outside a CEL string literal (`'…'`, `"…"`,
 *   triple-quoted, raw `r"…"`, bytes `b"…"`) and outside braces the expression opened itself, so
 *   `${{ "}}" }}` and `${{ {"a": {"b": 1}} }}` work. CEL `//` comments are not recognised while
 *   looking for the end. There is no escape for a literal `${{`; write `${{ "${{" }}`.
 * - `parseTemplate` and `compileTemplate` throw `EXPR_INVALID` for an unterminated `${{` or an
 *   empty `${{ }}`, with `details.offset` (0-based, in the template) and `line`/`column`; errors of
 *   an expression inside carry the same details, pointing into the template.
 * - `render` inserts strings as they are, numbers and bools as text, lists and maps as JSON, null
 *   as the empty string, timestamps as RFC 3339 and durations as CEL writes them (`"3600s"`).
 * - `evaluateValue` keeps the value's type when the template is exactly one expression with no
 *   text around it (the JSON value of `cel.ts`), and renders a string otherwise.
 */
import { isJunctionError, JunctionError } from '../errors/index.ts';
import {
  compileExpression,
  evaluateRaw,
  fromCel,
  positionOf,
  quoteExpression,
  type CompiledExpression,
  type CompileOptions,
} from './cel.ts';

export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  /** `offset` is where `source` (the text between `${{` and `}}`) starts in the template. */
  | { readonly kind: 'expression'; readonly source: string; readonly offset: number };

export interface CompiledTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  readonly expressions: readonly CompiledExpression[];
  /** True when the template holds no `${{ }}` at all. */
  readonly isConstant: boolean;
  render(context: Readonly<Record<string, unknown>>): string;
  evaluateValue(context: Readonly<Record<string, unknown>>): unknown;
}

export const OPEN = '${{';
const CLOSE = '}}';

/** Where a CEL string literal that opens at `start` (a quote character) ends: just past its closing quote. */
function skipStringLiteral(text: string, start: number): number {
  const quote = text[start]!;
  const prefix = text.slice(Math.max(0, start - 2), start).toLowerCase();
  const before = text[start - 1]?.toLowerCase();
  const raw = before === 'r' && (prefix === 'br' || !/[A-Za-z0-9_]/.test(text[start - 2] ?? ''));
  const triple = text.startsWith(quote.repeat(3), start);
  const closing = triple ? quote.repeat(3) : quote;
  let i = start + closing.length;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && !raw) i += 2;
    else if (text.startsWith(closing, i)) return i + closing.length;
    else if (!triple && (c === '\n' || c === '\r')) return i;
    else i += 1;
  }
  return text.length;
}

/**
 * The index of the `}}` that closes an expression starting at `start` (just after `${{`), or -1
 * when there is none.
 */
export function findExpressionEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      i = skipStringLiteral(text, i);
    } else if (c === '{') {
      depth += 1;
      i += 1;
    } else if (c === '}') {
      if (depth === 0 && text.startsWith(CLOSE, i)) return i;
      if (depth > 0) depth -= 1;
      i += 1;
    } else {
      i += 1;
    }
  }
  return -1;
}

function templateError(text: string, offset: number, reason: string): JunctionError {
  const { line, column } = positionOf(text, offset);
  return new JunctionError(
    'EXPR_INVALID',
    `template '${quoteExpression(text)}' ${reason} at offset ${offset} (line ${line}, column ${column})`,
    { details: { template: quoteExpression(text), offset, line, column } },
  );
}

/** Splits a template into text and expression parts; throws EXPR_INVALID when a `${{` is not closed or is empty. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let cursor = 0;
  for (;;) {
    const open = text.indexOf(OPEN, cursor);
    if (open === -1) break;
    const start = open + OPEN.length;
    const end = findExpressionEnd(text, start);
    if (end === -1) throw templateError(text, open, "has an unterminated '${{'");
    const source = text.slice(start, end);
    if (source.trim() === '') throw templateError(text, open, "has an empty '${{ }}'");
    if (open > cursor) parts.push({ kind: 'text', text: text.slice(cursor, open) });
    parts.push({ kind: 'expression', source, offset: start });
    cursor = end + CLOSE.length;
  }
  if (cursor < text.length || parts.length === 0) parts.push({ kind: 'text', text: text.slice(cursor) });
  return parts;
}

/**
 * Compiles one expression found at `offset` in a larger text (a template or a script), so that
 * its errors point into that text: `details.offset`, `line` and `column` are positions in `text`.
 */
export function compileEmbedded(
  text: string,
  source: string,
  offset: number,
  options: CompileOptions,
): CompiledExpression {
  try {
    return compileExpression(source, options);
  } catch (error) {
    if (!isJunctionError(error)) throw error;
    const details = error.details ?? {};
    const { line = 1, column = 1 } = details as { line?: number; column?: number };
    const inner =
      source
        .split('\n')
        .slice(0, line - 1)
        .join('\n').length +
      (line > 1 ? 1 : 0) +
      column -
      1;
    const at = offset + inner;
    const where = positionOf(text, at);
    throw new JunctionError(
      error.code,
      `${error.message}, in '\${{ }}' at line ${where.line}, column ${where.column}`,
      {
        cause: error.cause,
        details: { ...details, offset: at, line: where.line, column: where.column },
      },
    );
  }
}

/** A CEL value as template text. */
export function renderValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (typeof value) {
    case 'string':
      return value;
    case 'bigint':
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
    case 'function':
    case 'symbol':
    case 'undefined':
      break;
  }
  const json = fromCel(value);
  return typeof json === 'string' ? json : JSON.stringify(json);
}

/** Renders one compiled expression as template text. */
export function renderExpression(
  compiled: CompiledExpression,
  context: Readonly<Record<string, unknown>>,
): string {
  return renderValue(evaluateRaw(compiled, context));
}

export function compileTemplate(text: string, options: CompileOptions): CompiledTemplate {
  const parts = parseTemplate(text);
  const compiled = parts.map((part) =>
    part.kind === 'expression' ? compileEmbedded(text, part.source, part.offset, options) : part.text,
  );
  const expressions = compiled.filter((item): item is CompiledExpression => typeof item !== 'string');
  const single = compiled.length === 1 && expressions.length === 1 ? expressions[0] : undefined;
  const render = (context: Readonly<Record<string, unknown>>): string => {
    let out = '';
    for (const item of compiled) out += typeof item === 'string' ? item : renderExpression(item, context);
    return out;
  };
  return {
    source: text,
    parts,
    expressions,
    isConstant: expressions.length === 0,
    render,
    evaluateValue: (context) => (single !== undefined ? single.evaluate(context) : render(context)),
  };
}
