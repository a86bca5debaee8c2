/**
 * `npx node bench/cel.ts [--quick]`: compares the two CEL libraries Junction considered,
 * `@bufbuild/cel` and `@marcbachmann/cel-js`, in one run on the same machine.
 *
 * Part 1, conformance: a table of CEL expressions that matter to triggers and templates, each with
 * the result the CEL specification gives, evaluated by both libraries over the same plain JSON
 * event (numbers are JS numbers, as they arrive from a webhook). Rows marked `observe` have no
 * single right answer (they show how a library reads a JS number) and are not scored. A third
 * column shows Junction's own layer (src/expr) over the chosen library, for reference.
 *
 * Part 2, speed: compile and evaluate operations per second for three representative
 * expressions, with the ratio between the libraries. Each figure is the median of five timed
 * rounds after a warm-up. `--quick` shortens the rounds (for a smoke check, not for numbers).
 *
 * The decision these numbers support is recorded in docs/decisions/0005-cel-library.md.
 */
import { celEnv, isCelError, parse as bufParse, plan as bufPlan, type CelValue } from '@bufbuild/cel';
import { strings as bufStrings } from '@bufbuild/cel/ext';
import { Environment } from '@marcbachmann/cel-js';
import { compileExpression } from '../src/expr/index.ts';
import { formatRatio, formatTable } from './lib/format.ts';

type Outcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

interface Library {
  readonly name: string;
  /** Compiles once; the returned function evaluates and returns the value or throws. */
  compile(source: string): (bindings: Record<string, unknown>) => unknown;
}

const bufEnv = celEnv({ funcs: bufStrings });
const buf: Library = {
  name: '@bufbuild/cel',
  compile(source) {
    const run = bufPlan(bufEnv, bufParse(source));
    return (bindings) => {
      const result: CelValue | Error = run(bindings as never);
      if (isCelError(result)) throw result;
      return result;
    };
  },
};

const marcEnv = new Environment({ homogeneousAggregateLiterals: false }).registerVariable('event', 'map');
const marc: Library = {
  name: '@marcbachmann/cel-js',
  compile(source) {
    const parsed = marcEnv.parse(source);
    const checked = parsed.check();
    if (!checked.valid) throw checked.error ?? new Error('type check failed');
    return (bindings) => parsed(bindings) as unknown;
  },
};

/** Junction's own layer over @marcbachmann/cel-js (number policy, int == double), for reference. */
const junction: Library = {
  name: 'junction (src/expr)',
  compile(source) {
    const compiled = compileExpression(source, { variables: ['event'] });
    return (bindings) => compiled.evaluate(bindings);
  },
};

const LIBRARIES: readonly Library[] = [buf, marc];
const CONFORMANCE_TARGETS: readonly Library[] = [buf, marc, junction];

/** The event every conformance case and benchmark sees: plain JSON, as parsed from a body. */
const EVENT = JSON.parse(`{
  "id": "3f1c",
  "type": "git.push",
  "source": "https://github.com/acme/app",
  "data": {
    "repository": "acme/app",
    "ref": "refs/heads/main",
    "branch": "main",
    "count": 3,
    "ratio": 3.5,
    "draft": false,
    "nothing": null,
    "timestamp": "2024-01-01T00:00:00Z",
    "tags": ["a", "b"],
    "labels": { "team": "infra", "needs-review": "yes" },
    "pusher": { "name": "ann", "email": "ann@example.com" },
    "commits": [
      { "message": "fix [deploy]", "added": ["src/a.ts"] },
      { "message": "docs: readme", "added": [] }
    ]
  }
}`) as Record<string, unknown>;

interface Case {
  readonly expr: string;
  /** `error` when the specification requires an error (at compile or evaluation time). */
  readonly expect: unknown;
  readonly observe?: true;
  readonly note?: string;
}

const ERROR = Symbol('error');

const CASES: readonly Case[] = [
  { expr: 'event.data.branch.startsWith("ma")', expect: true },
  { expr: 'event.data.ref.endsWith("/main")', expect: true },
  { expr: 'event.data.repository.contains("/")', expect: true },
  { expr: 'event.data.branch.matches("^(main|release/.*)$")', expect: true },
  { expr: '"x".matches("[")', expect: ERROR, note: 'invalid regex' },
  { expr: 'size(event.data.commits) == 2', expect: true },
  { expr: 'event.data.commits.size() == 2', expect: true },
  { expr: 'size("héllo") == 5', expect: true, note: 'code points' },
  { expr: 'size(event.data.labels) == 2', expect: true },
  { expr: 'event.data.branch in ["main", "dev"]', expect: true },
  { expr: '"team" in event.data.labels', expect: true },
  { expr: '"nope" in event.data.labels', expect: false },
  { expr: 'has(event.data.labels.team)', expect: true },
  { expr: 'has(event.data.missing)', expect: false },
  { expr: 'has(event.data.nothing)', expect: true, note: 'present, null' },
  { expr: 'event.data.commits.all(c, size(c.message) > 0)', expect: true },
  { expr: 'event.data.commits.exists(c, c.message.contains("[deploy]"))', expect: true },
  { expr: 'event.data.commits.exists_one(c, c.message.startsWith("docs"))', expect: true },
  { expr: 'event.data.commits.map(c, c.message) == ["fix [deploy]", "docs: readme"]', expect: true },
  { expr: 'event.data.commits.filter(c, c.message.contains("fix")).size() == 1', expect: true },
  { expr: 'event.data.labels.all(k, k.size() > 0)', expect: true, note: 'macro over map keys' },
  { expr: '7 / 2 == 3', expect: true, note: 'int division' },
  { expr: '7.0 / 2.0 == 3.5', expect: true },
  { expr: '-7 % 3 == -1', expect: true },
  { expr: '9223372036854775807 + 1', expect: ERROR, note: 'int overflow' },
  { expr: '(-9223372036854775807 - 1) - 1', expect: ERROR, note: 'int underflow' },
  { expr: '1 / 0', expect: ERROR },
  { expr: '1 % 0', expect: ERROR },
  { expr: '1.0 / 0.0 > 1e308', expect: true, note: 'double division gives +Inf' },
  { expr: '"a" + "b" == "ab"', expect: true },
  { expr: '"n=" + string(42)', expect: 'n=42' },
  { expr: '"n=" + 42', expect: ERROR, note: 'no string + int' },
  { expr: 'event.data.draft ? "draft" : "ready"', expect: 'ready' },
  { expr: '1 < 1.5', expect: true, note: 'mixed int/double ordering' },
  { expr: '1 == 1.0', expect: true, note: 'heterogeneous equality' },
  { expr: '{"a": 1, "b": [1, 2]}["b"][1] == 2', expect: true },
  { expr: '[1, "a"].size() == 2', expect: true, note: 'mixed list literal' },
  { expr: '[1, 2, 3][3]', expect: ERROR, note: 'index out of range' },
  { expr: 'event.data.missing == null', expect: ERROR, note: 'no such key' },
  { expr: 'event.data.nothing == null', expect: true },
  { expr: 'event.data.pusher.name == "ann"', expect: true },
  { expr: 'event.data.labels["needs-review"] == "yes"', expect: true },
  { expr: 'event.data.commits[0].added[0] == "src/a.ts"', expect: true },
  {
    expr: 'timestamp("2024-01-01T00:00:00Z") + duration("1h") == timestamp("2024-01-01T01:00:00Z")',
    expect: true,
  },
  { expr: 'timestamp(event.data.timestamp).getFullYear() == 2024', expect: true },
  { expr: 'duration("90m") > duration("1h")', expect: true },
  { expr: 'false && (1 / 0 == 1)', expect: false, note: 'short circuit' },
  { expr: '(1 / 0 == 1) || true', expect: true, note: 'commutative error absorption' },
  { expr: 'int(event.data.ratio) == 3', expect: true },
  { expr: 'string(3.5) == "3.5"', expect: true },
  { expr: 'event.data.count == 3', expect: true },
  { expr: 'type(event.data.ratio) == double', expect: true },
  { expr: 'type(event.data.count)', expect: undefined, observe: true, note: 'JSON 3' },
  { expr: 'event.data.count + 1', expect: undefined, observe: true, note: 'JSON 3 + int' },
  { expr: 'event.data.branch.lowerAscii() == "main"', expect: true, note: 'strings extension' },
  { expr: 'event.data.tags.join(",") == "a,b"', expect: true, note: 'strings extension' },
];

function attempt(library: Library, expr: string): Outcome {
  try {
    return { ok: true, value: library.compile(expr)({ event: EVENT }) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

function show(outcome: Outcome): string {
  if (!outcome.ok) return `error: ${outcome.error.slice(0, 48)}`;
  const value = outcome.value;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value !== null && typeof value === 'object') {
    const named = (value as { name?: unknown }).name;
    return typeof named === 'string' ? `type ${named}` : (value.constructor?.name ?? 'object');
  }
  return String(value);
}

function passes(testCase: Case, outcome: Outcome): boolean {
  if (testCase.expect === ERROR) return !outcome.ok;
  if (!outcome.ok) return false;
  // Junction returns JSON values (ints as numbers), the libraries CEL values (ints as bigint)
  const value = typeof outcome.value === 'bigint' ? Number(outcome.value) : outcome.value;
  const expected = typeof testCase.expect === 'bigint' ? Number(testCase.expect) : testCase.expect;
  return value === expected;
}

function conformance(): string {
  const LIBS = CONFORMANCE_TARGETS;
  const scores = LIBS.map(() => 0);
  const scored = CASES.filter((c) => c.observe !== true).length;
  const rows = CASES.map((testCase) => {
    const cells = LIBS.map((library, i) => {
      const outcome = attempt(library, testCase.expr);
      if (testCase.observe === true) return `· ${show(outcome)}`;
      const ok = passes(testCase, outcome);
      if (ok) scores[i]! += 1;
      return `${ok ? 'ok  ' : 'FAIL'} ${ok ? '' : show(outcome)}`.trimEnd();
    });
    const expected =
      testCase.observe === true
        ? 'observe'
        : testCase.expect === ERROR
          ? 'error'
          : show({ ok: true, value: testCase.expect });
    return [testCase.expr + (testCase.note ? `  (${testCase.note})` : ''), expected, ...cells];
  });
  const table = formatTable(['expression', 'expected', ...LIBS.map((l) => l.name)], rows);
  const summary = LIBS.map((l, i) => `${l.name}: ${scores[i]}/${scored}`).join('   ');
  return `${table}\n\nconformance: ${summary}`;
}

const BENCH_EXPRESSIONS: readonly { readonly label: string; readonly expr: string }[] = [
  { label: 'type and branch', expr: 'event.type == "git.push" && event.data.branch == "main"' },
  {
    label: 'commits exist',
    expr: 'event.data.commits.size() > 0 && event.data.commits.exists(c, c.message.contains("[deploy]"))',
  },
  { label: 'template string', expr: '"ci-" + event.data.repository + "-" + event.data.branch' },
];

/** Operations per second: median of five rounds of `roundMs`, after one warm-up round. */
function opsPerSecond(operation: () => void, roundMs: number): number {
  const round = (): number => {
    const deadline = performance.now() + roundMs;
    let count = 0;
    const start = performance.now();
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < 100; i++) operation();
      count += 100;
      now = performance.now();
    }
    return (count * 1000) / (now - start);
  };
  round();
  const rounds = Array.from({ length: 5 }, round).sort((a, b) => a - b);
  return rounds[2]!;
}

function formatOps(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function speed(roundMs: number): string {
  const rows: string[][] = [];
  const bindings = { event: EVENT };
  for (const { label, expr } of BENCH_EXPRESSIONS) {
    const [bufCompile, marcCompile] = LIBRARIES.map((library) =>
      opsPerSecond(() => library.compile(expr), roundMs),
    ) as [number, number];
    const [bufEval, marcEval] = LIBRARIES.map((library) => {
      const run = library.compile(expr);
      return opsPerSecond(() => run(bindings), roundMs);
    }) as [number, number];
    rows.push([
      `${label}: compile`,
      formatOps(bufCompile),
      formatOps(marcCompile),
      formatRatio(marcCompile / bufCompile),
    ]);
    rows.push([
      `${label}: evaluate`,
      formatOps(bufEval),
      formatOps(marcEval),
      formatRatio(marcEval / bufEval),
    ]);
  }
  const table = formatTable(['ops/s', buf.name, marc.name, 'marc ÷ buf'], rows);
  return `${BENCH_EXPRESSIONS.map((b) => `${b.label}: ${b.expr}`).join('\n')}\n\n${table}`;
}

function main(argv: readonly string[]): void {
  const quick = argv.includes('--quick');
  process.stdout.write(`CEL libraries on Node ${process.version}\n\n## conformance\n\n${conformance()}\n\n`);
  process.stdout.write(
    `## speed (median of 5 rounds of ${quick ? 20 : 400} ms)\n\n${speed(quick ? 20 : 400)}\n`,
  );
}

main(process.argv.slice(2));
