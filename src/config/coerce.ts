/**
 * Conversion of text (an environment variable, a substituted `${VAR}`) to the type the schema
 * expects at that key: integers, numbers and booleans (`true`/`false`). Text where the schema
 * also accepts a string stays a string unless it is a whole number and integers are accepted too.
 */
import { describeValue } from './problems.ts';
import { typesOf, type SchemaNode } from './schema.ts';

export type Coerced = { readonly value: unknown } | { readonly error: string };

export function coerceText(text: string, node: SchemaNode): Coerced {
  const types = typesOf(node);
  const trimmed = text.trim();
  if (types.includes('integer') && /^[-+]?\d+$/.test(trimmed)) return { value: Number(trimmed) };
  if (types.includes('number') && trimmed !== '' && Number.isFinite(Number(trimmed))) {
    return { value: Number(trimmed) };
  }
  if (types.includes('boolean') && (trimmed === 'true' || trimmed === 'false'))
    return { value: trimmed === 'true' };
  if (types.includes('string') || types.length === 0) return { value: text };
  const expected = types.includes('integer')
    ? 'an integer'
    : types.includes('number')
      ? 'a number'
      : types.includes('boolean')
        ? "'true' or 'false'"
        : types.join(' or ');
  return { error: `must be ${expected}, got ${describeValue(text)}` };
}
