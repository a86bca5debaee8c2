/**
 * The rewrite that keeps `${{ }}` out of shell code. In a `run:` script every `${{ expr }}` is
 * replaced by a reference to an environment variable `JUNCTION_EXPR_<n>`; the executor sets that
 * variable to the rendered value. The shell expands a variable once and never parses its value as
 * code, so event data such as `$(rm -rf ~)`, backticks, `;`, quotes or newlines stays data.
 *
 * What callers may assume:
 * - The returned script contains the original script's text and, in place of each `${{ … }}`,
 *   only the fixed text of a variable reference, quoted for where it stands (a small POSIX `sh`
 *   lexer decides): outside quotes `"${JUNCTION_EXPR_1}"` (no word splitting, no globbing); inside
 *   double quotes and unquoted here-documents `${JUNCTION_EXPR_1}`; inside single quotes
 *   `'"${JUNCTION_EXPR_1}"'` (close, expand, reopen); inside `$'…'` the same with `$'` reopening.
 *   Command substitutions `$( … )` and parameter expansions `${ … }` are followed, quotes inside
 *   them included. The expression's own text never reaches the script.
 * - A backslash right before `${{` is dropped: the expression is replaced all the same.
 * - In a comment the expression is neither compiled nor evaluated (a commented-out line cannot
 *   fail a step) and its text is replaced by `[expression]`.
 * - Refused with EXPR_INVALID: `${{ }}` inside arithmetic (`$(( ))`, `(( ))`), where the shell
 *   would evaluate the value as code; inside backquotes (use `$( )`); inside a quoted
 *   here-document (`<<'EOF'`), where nothing expands. Compile errors carry `details.offset`,
 *   `line` and `column` in the script.
 * - The same expression text used twice shares one variable.
 * - What the script itself does with the value (`eval "$X"`, `sh -c "$X"`, `[[ $X -eq 1 ]]`) is
 *   the script's business: the rewrite guarantees the value is not code until the script says so.
 */
import { JunctionError } from '../errors/index.ts';
import { positionOf, quoteExpression, type CompiledExpression, type CompileOptions } from './cel.ts';
import { compileEmbedded, findExpressionEnd, OPEN, renderExpression } from './template.ts';

export const RUN_ENV_PREFIX = 'JUNCTION_EXPR_';

export interface RunScriptVariable {
  readonly name: string;
  readonly expression: CompiledExpression;
}

export interface PreparedRunScript {
  readonly script: string;
  readonly env: readonly RunScriptVariable[];
}

type FrameKind =
  | 'normal' // top level, or inside ( … ) / $( … ) command substitution
  | 'subshell' // ( … ) or $( … ): normal, ends at )
  | 'double'
  | 'single'
  | 'ansi' // $'…'
  | 'param' // ${ … }
  | 'arith' // $(( … )) or (( … ))
  | 'backtick'
  | 'comment'
  | 'heredoc';

interface Frame {
  readonly kind: FrameKind;
  /** Open parentheses inside an arithmetic frame. */
  parens: number;
}

interface PendingHeredoc {
  readonly delimiter: string;
  readonly stripTabs: boolean;
  readonly quoted: boolean;
}

const WORD_BREAK = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

class Rewriter {
  readonly #script: string;
  readonly #options: CompileOptions;
  readonly #variables = new Map<string, RunScriptVariable>();

  constructor(script: string, options: CompileOptions) {
    this.#script = script;
    this.#options = options;
  }

  get variables(): RunScriptVariable[] {
    return [...this.#variables.values()];
  }

  #refuse(offset: number, reason: string): JunctionError {
    const { line, column } = positionOf(this.#script, offset);
    return new JunctionError('EXPR_INVALID', `'\${{ }}' ${reason} (script line ${line}, column ${column})`, {
      details: { offset, line, column, script: quoteExpression(this.#script) },
    });
  }

  #variableFor(source: string, offset: number): string {
    const key = source.trim();
    const existing = this.#variables.get(key);
    if (existing !== undefined) return existing.name;
    const expression = compileEmbedded(this.#script, source, offset, this.#options);
    const name = `${RUN_ENV_PREFIX}${this.#variables.size + 1}`;
    this.#variables.set(key, { name, expression });
    return name;
  }

  /** The reference text for an expression standing in `stack`'s innermost quoting context. */
  #reference(stack: readonly Frame[], name: string, offset: number): string {
    if (stack.some((f) => f.kind === 'arith')) {
      throw this.#refuse(
        offset,
        'inside arithmetic $(( )) or (( )) is refused: the shell would evaluate its value as code',
      );
    }
    if (stack.some((f) => f.kind === 'backtick')) {
      throw this.#refuse(offset, 'inside backquotes is not supported; write $( … ) instead');
    }
    let i = stack.length - 1;
    while (i > 0 && stack[i]!.kind === 'param') i -= 1;
    const kind = stack[i]!.kind;
    const ref = `\${${name}}`;
    switch (kind) {
      case 'double':
      case 'heredoc':
        return ref;
      case 'single':
        return `'"${ref}"'`;
      case 'ansi':
        return `'"${ref}"$'`;
      case 'normal':
      case 'subshell':
      case 'param':
      case 'arith':
      case 'backtick':
      case 'comment':
        return `"${ref}"`;
    }
  }

  /** Rewrites `text` (the script, or a here-document body at `base`) starting in `initial`. */
  rewrite(text: string, base: number, initial: FrameKind): string {
    const stack: Frame[] = [{ kind: initial, parens: 0 }];
    const pending: PendingHeredoc[] = [];
    let out = '';
    let i = 0;
    const top = (): Frame => stack[stack.length - 1]!;
    const push = (kind: FrameKind): void => {
      stack.push({ kind, parens: 0 });
    };
    const atWordStart = (): boolean => i === 0 || WORD_BREAK.has(text[i - 1]!);
    const enclosingIsDouble = (): boolean => {
      let j = stack.length - 1;
      while (j > 0 && stack[j]!.kind === 'param') j -= 1;
      return stack[j]!.kind === 'double' || stack[j]!.kind === 'heredoc';
    };

    while (i < text.length) {
      const frame = top();
      const c = text[i]!;

      if (text.startsWith(OPEN, i)) {
        const start = i + OPEN.length;
        const end = findExpressionEnd(text, start);
        if (end === -1) throw this.#refuse(base + i, "is not closed: an unterminated '${{'");
        if (frame.kind === 'comment') {
          out += '[expression]';
        } else if (frame.kind === 'heredoc' && initial === 'heredoc' && this.#quotedHeredoc) {
          throw this.#refuse(
            base + i,
            "inside a quoted here-document (<<'EOF') cannot expand; leave the delimiter unquoted",
          );
        } else {
          const source = text.slice(start, end);
          if (source.trim() === '') throw this.#refuse(base + i, 'is empty');
          out += this.#reference(stack, this.#variableFor(source, base + start), base + i);
        }
        i = end + 2;
        continue;
      }

      switch (frame.kind) {
        case 'single':
          if (c === "'") stack.pop();
          out += c;
          i += 1;
          continue;
        case 'comment':
          if (c === '\n') {
            stack.pop();
            continue; // the newline is handled by the enclosing frame
          }
          out += c;
          i += 1;
          continue;
        case 'ansi':
          if (c === '\\') {
            out += text.slice(i, i + 2);
            i += 2;
            continue;
          }
          if (c === "'") stack.pop();
          out += c;
          i += 1;
          continue;
        case 'normal':
        case 'subshell':
        case 'double':
        case 'param':
        case 'arith':
        case 'backtick':
        case 'heredoc':
          break;
      }

      if (c === '\\') {
        // `\${{`: the backslash is dropped; an expression is always replaced, never left as text
        if (!text.startsWith(OPEN, i + 1)) out += text.slice(i, i + 2);
        i += text.startsWith(OPEN, i + 1) ? 1 : 2;
        continue;
      }
      if (text.startsWith('$((', i)) {
        push('arith');
        out += '$((';
        i += 3;
        continue;
      }
      if (text.startsWith('$(', i)) {
        push('subshell');
        out += '$(';
        i += 2;
        continue;
      }
      if (text.startsWith('${', i)) {
        push('param');
        out += '${';
        i += 2;
        continue;
      }
      if (c === '`') {
        if (frame.kind === 'backtick') stack.pop();
        else push('backtick');
        out += c;
        i += 1;
        continue;
      }

      switch (frame.kind) {
        case 'double':
          if (c === '"') stack.pop();
          break;
        case 'heredoc':
          break;
        case 'arith':
          if (c === '(') frame.parens += 1;
          else if (c === ')') {
            if (frame.parens > 0) frame.parens -= 1;
            else if (text[i + 1] === ')') {
              stack.pop();
              out += '))';
              i += 2;
              continue;
            }
          }
          break;
        case 'param':
          if (c === '}') stack.pop();
          else if (c === '"') push('double');
          else if (c === "'" && !enclosingIsDouble()) push('single');
          break;
        case 'normal':
        case 'subshell':
        case 'backtick': {
          if (c === '"') push('double');
          else if (c === "'") push('single');
          else if (c === '$' && text[i + 1] === "'") {
            push('ansi');
            out += "$'";
            i += 2;
            continue;
          } else if (c === '#' && atWordStart()) push('comment');
          else if (c === '(' && text[i + 1] === '(' && atWordStart()) {
            push('arith');
            out += '((';
            i += 2;
            continue;
          } else if (c === '(') push('subshell');
          else if (c === ')' && frame.kind === 'subshell') stack.pop();
          else if (c === '<' && text[i + 1] === '<' && text[i + 2] !== '<') {
            const operator = this.#readHeredocOperator(text, i);
            pending.push(operator.heredoc);
            out += operator.text;
            i += operator.text.length;
            continue;
          } else if (c === '\n' && pending.length > 0) {
            out += c;
            i += 1;
            for (const heredoc of pending.splice(0)) {
              const body = this.#readHeredocBody(text, i, heredoc);
              out += this.#rewriteHeredoc(body.text, base + i, heredoc) + body.terminator;
              i += body.text.length + body.terminator.length;
            }
            continue;
          }
          break;
        }
      }
      out += c;
      i += 1;
    }
    return out;
  }

  #quotedHeredoc = false;

  #rewriteHeredoc(body: string, base: number, heredoc: PendingHeredoc): string {
    const outer = this.#quotedHeredoc;
    this.#quotedHeredoc = heredoc.quoted;
    try {
      return heredoc.quoted && !body.includes(OPEN) ? body : this.rewrite(body, base, 'heredoc');
    } finally {
      this.#quotedHeredoc = outer;
    }
  }

  /** `<<WORD`, `<<-WORD`, `<< 'WORD'`, `<<"WORD"`, `<<\WORD`: the operator text and what it asks for. */
  #readHeredocOperator(text: string, at: number): { text: string; heredoc: PendingHeredoc } {
    let i = at + 2;
    const stripTabs = text[i] === '-';
    if (stripTabs) i += 1;
    while (text[i] === ' ' || text[i] === '\t') i += 1;
    let delimiter = '';
    let quoted = false;
    while (i < text.length && !WORD_BREAK.has(text[i]!)) {
      const c = text[i]!;
      if (c === "'" || c === '"') {
        quoted = true;
        const close = text.indexOf(c, i + 1);
        const end = close === -1 ? text.length : close;
        delimiter += text.slice(i + 1, end);
        i = end + 1;
      } else if (c === '\\') {
        quoted = true;
        delimiter += text[i + 1] ?? '';
        i += 2;
      } else {
        delimiter += c;
        i += 1;
      }
    }
    return { text: text.slice(at, Math.min(i, text.length)), heredoc: { delimiter, stripTabs, quoted } };
  }

  /** The body of a here-document starting at `start`, and its terminator line (with newline). */
  #readHeredocBody(
    text: string,
    start: number,
    heredoc: PendingHeredoc,
  ): { text: string; terminator: string } {
    let lineStart = start;
    while (lineStart < text.length) {
      const newline = text.indexOf('\n', lineStart);
      const lineEnd = newline === -1 ? text.length : newline;
      const line = text.slice(lineStart, lineEnd);
      const candidate = heredoc.stripTabs ? line.replace(/^\t+/, '') : line;
      if (candidate === heredoc.delimiter) {
        return {
          text: text.slice(start, lineStart),
          terminator: text.slice(lineStart, newline === -1 ? text.length : newline + 1),
        };
      }
      if (newline === -1) break;
      lineStart = newline + 1;
    }
    return { text: text.slice(start), terminator: '' };
  }
}

/** Rewrites a `run:` script so that no expression becomes shell text (see the module comment). */
export function prepareRunScript(script: string, options: CompileOptions): PreparedRunScript {
  const rewriter = new Rewriter(script, options);
  const rewritten = rewriter.rewrite(script, 0, 'normal');
  return { script: rewritten, env: rewriter.variables };
}

/**
 * The environment variables a prepared script needs, rendered over `context` as template text.
 * EXPR_EVAL_FAILED when an expression fails or its value holds a NUL character (which no
 * environment variable can carry).
 */
export function renderRunScriptEnv(
  prepared: PreparedRunScript,
  context: Readonly<Record<string, unknown>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, expression } of prepared.env) {
    const value = renderExpression(expression, context);
    if (value.includes('\0')) {
      throw new JunctionError(
        'EXPR_EVAL_FAILED',
        `expression '${quoteExpression(expression.source)}' produced a NUL character, which an environment variable cannot carry`,
        { details: { expression: quoteExpression(expression.source) } },
      );
    }
    env[name] = value;
  }
  return env;
}
