import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJunctionError } from '../errors/index.ts';
import { prepareRunScript, renderRunScriptEnv } from './shell.ts';

const OPTIONS = { variables: ['event'] };

function hostileValues(marker: string): string[] {
  return [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `; touch ${marker}; echo`,
    `&& touch ${marker}`,
    `| touch ${marker}`,
    `'; touch ${marker}; echo '`,
    `"; touch ${marker}; echo "`,
    `'"$(touch ${marker})"'`,
    `\n touch ${marker}\n`,
    `line one\nline two\r\nthree`,
    '*',
    '/*',
    '~',
    '-n',
    '-e \\n',
    '--help',
    '${HOME}',
    '$HOME',
    '$((1+1))',
    '\\',
    '\\"',
    "it's",
    '   spaced   out   ',
    '',
    `a[$(touch ${marker})]`,
    `}}'"\`$(touch ${marker})\`"'{{`,
    'EOF',
    `${'x'.repeat(1000)}$(touch ${marker})`,
    'ünïcödé ✓ 𝄞',
  ];
}

/** Scripts whose output must be exactly the value, each ending in a printf of one value. */
const SCRIPTS: readonly string[] = [
  `printf '%s' \${{ event.data.value }}`,
  `printf '%s' "\${{ event.data.value }}"`,
  `printf '%s' '\${{ event.data.value }}'`,
  `printf '%s' "[\${{ event.data.value }}]" | sed 's/^\\[//; s/\\]$//' | tr -d '\\n' ; : # printf no newline`,
  `x=\${{ event.data.value }}; printf '%s' "$x"`,
  `printf '%s' "$(printf '%s' "\${{ event.data.value }}")"`,
  `printf '%s' "\${UNSET_JUNCTION_TEST:-\${{ event.data.value }}}"`,
  `cat <<EOF\n\${{ event.data.value }}\nEOF`,
  `# a comment with \${{ event.data.value }}\nprintf '%s' \${{ event.data.value }}`,
];

/** Scripts where the expected output is derived from the value differently. */
function expectedOutput(script: string, value: string): string {
  if (script.startsWith('cat <<EOF')) return `${value}\n`;
  if (script.includes('sed')) return value.replace(/\n/g, '');
  if (script.includes('$(printf')) return value.replace(/\n+$/, ''); // $( ) drops trailing newlines
  return value;
}

function shells(): string[] {
  return ['/bin/sh', '/bin/bash', '/bin/dash'].filter((s) => existsSync(s));
}

describe('prepareRunScript runs safely in real shells', { timeout: 60_000 }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'junction-expr-shell-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('hostile values come out literally and execute nothing', () => {
    const marker = join(dir, 'pwned');
    assert.ok(shells().length >= 2, 'expected /bin/sh and /bin/bash on this machine');
    let runs = 0;
    for (const shell of shells()) {
      for (const source of SCRIPTS) {
        const prepared = prepareRunScript(source, OPTIONS);
        assert.ok(!prepared.script.includes('event.data'), `expression text leaked into ${prepared.script}`);
        for (const value of hostileValues(marker)) {
          // the sed/cat variants are line-based; newlines in them are checked by the other scripts
          if ((source.includes('sed') || source.startsWith('cat')) && /[\r\n]/.test(value)) continue;
          const env = renderRunScriptEnv(prepared, { event: { data: { value } } });
          const result = spawnSync(shell, ['-c', prepared.script], {
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
            cwd: dir,
            encoding: 'utf8',
            timeout: 10_000,
          });
          runs += 1;
          assert.equal(result.status, 0, `${shell} failed on ${JSON.stringify(source)}: ${result.stderr}`);
          assert.equal(
            result.stdout,
            expectedOutput(source, value),
            `${shell} ${JSON.stringify(prepared.script)} with ${JSON.stringify(value)}`,
          );
          assert.equal(existsSync(marker), false, `${shell} executed data from ${JSON.stringify(value)}`);
        }
      }
    }
    assert.ok(runs > 400);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name !== 'pwned'),
      [],
      'a glob or redirection created files',
    );
  });

  test('a value that is a list or number is rendered as text, then passed as data', () => {
    const prepared = prepareRunScript(
      `printf '%s|%s' \${{ event.data.list }} \${{ event.data.n + 1 }}`,
      OPTIONS,
    );
    const env = renderRunScriptEnv(prepared, { event: { data: { list: ['$(x)', 2], n: 41 } } });
    const result = spawnSync('/bin/sh', ['-c', prepared.script], { env, encoding: 'utf8' });
    assert.equal(result.stdout, '["$(x)",2]|42');
  });
});

describe('prepareRunScript rewrites by quoting context', { timeout: 30_000 }, () => {
  const cases: readonly (readonly [string, string])[] = [
    ['echo ${{ event.a }}', 'echo "${JUNCTION_EXPR_1}"'],
    ['echo "x ${{ event.a }} y"', 'echo "x ${JUNCTION_EXPR_1} y"'],
    ["echo 'x ${{ event.a }} y'", `echo 'x '"\${JUNCTION_EXPR_1}"' y'`],
    ["echo $'a\\' ${{ event.a }}'", `echo $'a\\' '"\${JUNCTION_EXPR_1}"$''`],
    ['echo \\${{ event.a }} "\\${{ event.a }}"', 'echo "${JUNCTION_EXPR_1}" "${JUNCTION_EXPR_1}"'],
    ['echo "$(echo "${{ event.a }}")"', 'echo "$(echo "${JUNCTION_EXPR_1}")"'],
    ['echo ${X:-${{ event.a }}}', 'echo ${X:-"${JUNCTION_EXPR_1}"}'],
    ['echo "${X:-${{ event.a }}}"', 'echo "${X:-${JUNCTION_EXPR_1}}"'],
    ['echo a#${{ event.a }}', 'echo a#"${JUNCTION_EXPR_1}"'],
    ['echo ok # ${{ not.compiled( }}', 'echo ok # [expression]'],
    [
      'cat <<EOF\n"${{ event.a }}"\nEOF\necho ${{ event.a }}',
      'cat <<EOF\n"${JUNCTION_EXPR_1}"\nEOF\necho "${JUNCTION_EXPR_1}"',
    ],
    ['cat <<-EOF\n\t${{ event.a }}\n\tEOF\n', 'cat <<-EOF\n\t${JUNCTION_EXPR_1}\n\tEOF\n'],
    ["cat <<'EOF'\n$HOME\nEOF\necho ${{ event.a }}", `cat <<'EOF'\n$HOME\nEOF\necho "\${JUNCTION_EXPR_1}"`],
    [
      'echo ${{ event.a }} ${{event.a}} ${{ event.b }}',
      'echo "${JUNCTION_EXPR_1}" "${JUNCTION_EXPR_1}" "${JUNCTION_EXPR_2}"',
    ],
    ['echo ${{ "}}" }}', 'echo "${JUNCTION_EXPR_1}"'],
    ['(cd x && echo ${{ event.a }})', '(cd x && echo "${JUNCTION_EXPR_1}")'],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => {
      assert.equal(prepareRunScript(input, OPTIONS).script, expected);
    });
  }

  const refused: readonly (readonly [string, RegExp])[] = [
    ['echo $(( ${{ event.a }} + 1 ))', /arithmetic/],
    ['(( ${{ event.a }} > 1 )) && echo big', /arithmetic/],
    ['echo `echo ${{ event.a }}`', /backquotes/],
    ["cat <<'EOF'\n${{ event.a }}\nEOF", /quoted here-document/],
    ['echo ${{ event.a ', /not closed/],
    ['echo ${{ }}', /empty/],
  ];
  for (const [input, message] of refused) {
    test(`refuses ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => prepareRunScript(input, OPTIONS),
        (error: unknown) => isJunctionError(error, 'EXPR_INVALID') && message.test(error.message),
      );
    });
  }

  test('compile errors point into the script', () => {
    assert.throws(
      () => prepareRunScript('echo hi\necho ${{ evnt.a }}', OPTIONS),
      (error: unknown) =>
        isJunctionError(error, 'EXPR_UNKNOWN_VARIABLE') &&
        error.details?.line === 2 &&
        error.details.column === 10 &&
        /did you mean 'event'/.test(error.message),
    );
  });

  test('a NUL in a value is refused before it reaches the executor', () => {
    const prepared = prepareRunScript('echo ${{ event.a }}', OPTIONS);
    assert.throws(
      () => renderRunScriptEnv(prepared, { event: { a: 'x\0y' } }),
      (error: unknown) => isJunctionError(error, 'EXPR_EVAL_FAILED'),
    );
  });
});
