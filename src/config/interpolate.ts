/**
 * `${VAR}` references in configuration strings: `${NAME}` is the variable's value,
 * `${NAME:-default}` falls back to `default` when NAME is unset or empty, and `$${` stands for a
 * literal `${`. Pure: the environment is passed in, and nothing is substituted when a reference
 * is missing or malformed; those are reported with their offset in the string.
 */

export interface ReferenceProblem {
  /** Offset of the reference's `$` in the input string. */
  readonly index: number;
  /** The reference as written, such as `${TOKEN}`, for locating it in the source. */
  readonly reference: string;
  readonly message: string;
  /** Set when the problem is an unset variable (as opposed to a malformed reference). */
  readonly variable?: string;
}

export interface InterpolationResult {
  readonly value: string;
  /** Whether the input held any reference or escape (so `value` may differ from the input). */
  readonly changed: boolean;
  readonly problems: readonly ReferenceProblem[];
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const problems: ReferenceProblem[] = [];
  let value = '';
  let cursor = 0;
  let changed = false;
  for (let start = text.indexOf('$', cursor); start !== -1; start = text.indexOf('$', cursor)) {
    if (text.startsWith('$${', start)) {
      value += `${text.slice(cursor, start)}\${`;
      cursor = start + 3;
      changed = true;
      continue;
    }
    if (!text.startsWith('${', start)) {
      value += text.slice(cursor, start + 1);
      cursor = start + 1;
      continue;
    }
    changed = true;
    value += text.slice(cursor, start);
    const end = text.indexOf('}', start + 2);
    if (end === -1) {
      problems.push({
        index: start,
        reference: text.slice(start, start + 2),
        message: "unterminated '${': expected ${NAME} or ${NAME:-default} (write $${ for a literal '${')",
      });
      cursor = text.length;
      break;
    }
    const reference = text.slice(start, end + 1);
    cursor = end + 1;
    const match = REFERENCE.exec(text.slice(start + 2, end));
    if (!match) {
      problems.push({
        index: start,
        reference,
        message: `invalid reference '${reference}': expected \${NAME} or \${NAME:-default} (write $\${ for a literal '\${')`,
      });
      continue;
    }
    const name = match[1]!;
    const fallback = match[2];
    const found = env[name];
    if (fallback !== undefined && (found === undefined || found === '')) value += fallback;
    else if (found !== undefined) value += found;
    else {
      problems.push({
        index: start,
        reference,
        variable: name,
        message: `environment variable '${name}' is not set (write \${${name}:-default} for a fallback)`,
      });
    }
  }
  value += text.slice(cursor);
  return { value, changed, problems };
}
