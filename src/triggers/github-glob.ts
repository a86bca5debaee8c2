/**
 * GitHub Actions filter patterns (the "filter pattern cheat sheet" of GitHub's workflow syntax),
 * translated into anchored regular expressions. Used for branch, tag, path, source and subject
 * filters, so a pattern means in Junction what it means in a GitHub workflow:
 *
 * - `*` zero or more characters except `/`; `**` zero or more of any character; `**` followed by
 *   `/` may also match no folder at all, so `**` + `/README.md` matches `README.md` itself;
 * - `?` zero or one of the preceding character, `+` one or more of the preceding character (the
 *   preceding character may be a literal, an escaped character or a `[...]` set);
 * - `[...]` one letter or digit listed, or in a range `a-z`, `A-Z`, `0-9` (or a part of one);
 * - `!` as the first character negates the pattern (see `lastMatch` for the ordered semantics);
 * - `\` makes the next character literal.
 *
 * Patterns match the whole name. Compiled patterns are cached, so callers may pass the same strings
 * on every event. `globProblems` lists what is wrong with a pattern without throwing;
 * `compileGitHubGlob` throws `TRIGGER_PATTERN_INVALID` for the same problems.
 */
import { JunctionError } from '../errors/index.ts';

export interface GitHubGlob {
  /** The pattern as written, including a leading `!`. */
  readonly pattern: string;
  /** True when the pattern starts with `!`. */
  readonly negated: boolean;
  /** Anchored expression for the pattern without its `!`. */
  readonly regex: RegExp;
}

interface Translation {
  readonly source: string;
  readonly problems: string[];
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/;
const ALNUM = /^[A-Za-z0-9]$/u;

function escapeChar(char: string): string {
  return REGEX_SPECIAL.test(char) ? `\\${char}` : char;
}

function sameRangeKind(a: string, b: string): boolean {
  const kind = (c: string): string => (/[a-z]/.test(c) ? 'lower' : /[A-Z]/.test(c) ? 'upper' : 'digit');
  return kind(a) === kind(b);
}

/** Reads a `[...]` set starting after `[`; returns the regex set and the index after `]`. */
function translateSet(
  chars: readonly string[],
  start: number,
  problems: string[],
): { set: string; next: number } {
  let i = start;
  let body = '';
  if (chars[i] === ']') {
    problems.push('empty brackets []; list at least one letter or digit');
    return { set: '', next: i + 1 };
  }
  while (i < chars.length && chars[i] !== ']') {
    const c = chars[i] ?? '';
    const dash = chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']';
    if (dash) {
      const end = chars[i + 2] ?? '';
      if (!ALNUM.test(c) || !ALNUM.test(end) || !sameRangeKind(c, end) || c > end) {
        problems.push(`range '${c}-${end}' is not within a-z, A-Z or 0-9`);
      }
      body += `${c}-${end}`;
      i += 3;
      continue;
    }
    if (!ALNUM.test(c)) problems.push(`'${c}' in brackets is not a letter or digit`);
    body += escapeChar(c);
    i += 1;
  }
  if (i >= chars.length) {
    problems.push("missing ']' to close '['");
    return { set: '', next: i };
  }
  return { set: `[${body}]`, next: i + 1 };
}

function translate(body: string): Translation {
  const problems: string[] = [];
  if (body === '') return { source: '', problems: ['pattern is empty'] };
  const chars = [...body];
  let source = '';
  // Whether the last thing emitted is one character (literal, escaped or a set) that `?`/`+` repeat.
  let afterAtom = false;
  let i = 0;
  while (i < chars.length) {
    const c = chars[i] ?? '';
    if (c === '*') {
      if (chars[i + 1] === '*') {
        if (chars[i + 2] === '/') {
          source += '(?:.*/)?';
          i += 3;
        } else {
          source += '.*';
          i += 2;
        }
      } else {
        source += '[^/]*';
        i += 1;
      }
      afterAtom = false;
    } else if (c === '?' || c === '+') {
      if (!afterAtom) {
        problems.push(
          `'${c}' at position ${i + 1} does not follow a character it could repeat; write '\\${c}' for a literal '${c}'`,
        );
      }
      source += c;
      afterAtom = false;
      i += 1;
    } else if (c === '[') {
      const { set, next } = translateSet(chars, i + 1, problems);
      source += set;
      afterAtom = true;
      i = next;
    } else if (c === '\\') {
      const escaped = chars[i + 1];
      if (escaped === undefined) {
        problems.push("pattern ends with '\\'; escape a character after it or write '\\\\'");
        i += 1;
      } else {
        source += escapeChar(escaped);
        i += 2;
      }
      afterAtom = true;
    } else {
      source += escapeChar(c);
      afterAtom = true;
      i += 1;
    }
  }
  return { source, problems };
}

function splitNegation(pattern: string): { negated: boolean; body: string } {
  return pattern.startsWith('!')
    ? { negated: true, body: pattern.slice(1) }
    : { negated: false, body: pattern };
}

/** Everything wrong with a pattern, in words; empty when it is valid. */
export function globProblems(pattern: string): string[] {
  return translate(splitNegation(pattern).body).problems;
}

const cache = new Map<string, GitHubGlob>();
const CACHE_LIMIT = 50_000;

/** Compiles a pattern (cached); throws `TRIGGER_PATTERN_INVALID` when it is not valid. */
export function compileGitHubGlob(pattern: string): GitHubGlob {
  const cached = cache.get(pattern);
  if (cached !== undefined) return cached;
  const { negated, body } = splitNegation(pattern);
  const { source, problems } = translate(body);
  if (problems.length > 0) {
    throw new JunctionError(
      'TRIGGER_PATTERN_INVALID',
      `invalid filter pattern '${pattern}': ${problems.join('; ')}`,
    );
  }
  const glob: GitHubGlob = { pattern, negated, regex: new RegExp(`^${source}$`, 'u') };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, glob);
  return glob;
}

/** True when the name matches the pattern, ignoring a leading `!`. */
export function globMatches(pattern: string, name: string): boolean {
  return compileGitHubGlob(pattern).regex.test(name);
}

/**
 * The last pattern of an ordered list that matches the name, or undefined. GitHub's rule: a name is
 * in the list when the last pattern matching it is positive; a later `!` pattern excludes it again
 * and a later positive pattern re-includes it.
 */
export function lastMatch(patterns: readonly string[], name: string): GitHubGlob | undefined {
  for (let i = patterns.length - 1; i >= 0; i -= 1) {
    const glob = compileGitHubGlob(patterns[i] ?? '');
    if (glob.regex.test(name)) return glob;
  }
  return undefined;
}

/** True when the last pattern matching the name is positive. */
export function inPatternList(patterns: readonly string[], name: string): boolean {
  const last = lastMatch(patterns, name);
  return last !== undefined && !last.negated;
}
