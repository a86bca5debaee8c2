import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isJunctionError } from '../errors/index.ts';
import { compileGitHubGlob, globMatches, globProblems, inPatternList, lastMatch } from './github-glob.ts';

// Every row of the two tables of GitHub's "Filter pattern cheat sheet", with the documented
// matches, plus names the description rules out.
const BRANCH_AND_TAG_TABLE: { pattern: string; matches: string[]; rejects: string[] }[] = [
  { pattern: 'feature/*', matches: ['feature/my-branch', 'feature/your-branch'], rejects: ['feature/a/b'] },
  {
    pattern: 'feature/**',
    matches: ['feature/beta-a/my-branch', 'feature/your-branch', 'feature/mona/the/octocat'],
    rejects: ['features/x', 'other/feature/x'],
  },
  { pattern: 'main', matches: ['main'], rejects: ['main2', 'xmain', 'Main'] },
  {
    pattern: 'releases/mona-the-octocat',
    matches: ['releases/mona-the-octocat'],
    rejects: ['releases/mona'],
  },
  { pattern: '*', matches: ['main', 'releases'], rejects: ['releases/10'] },
  { pattern: '**', matches: ['all/the/branches', 'every/tag', 'main'], rejects: [] },
  {
    pattern: '*feature',
    matches: ['mona-feature', 'feature', 'ver-10-feature'],
    rejects: ['feature-x', 'a/feature'],
  },
  { pattern: 'v2*', matches: ['v2', 'v2.0', 'v2.9'], rejects: ['v1', 'v20/x'] },
  {
    pattern: 'v[12].[0-9]+.[0-9]+',
    matches: ['v1.10.1', 'v2.0.0'],
    rejects: ['v3.0.0', 'v1.0', 'v1.x.1', 'v1..1', 'v1a0b1'],
  },
];

const PATH_TABLE: { pattern: string; matches: string[]; rejects: string[] }[] = [
  { pattern: '*', matches: ['README.md', 'server.rb'], rejects: ['docs/README.md'] },
  { pattern: '*.jsx?', matches: ['page.js', 'page.jsx'], rejects: ['page.jsxx', 'src/page.js', 'page.j'] },
  { pattern: '**', matches: ['all/the/files.md'], rejects: [] },
  { pattern: '*.js', matches: ['app.js', 'index.js'], rejects: ['js/index.js'] },
  { pattern: '**.js', matches: ['index.js', 'js/index.js', 'src/js/app.js'], rejects: ['index.jsx'] },
  {
    pattern: 'docs/*',
    matches: ['docs/README.md', 'docs/file.txt'],
    rejects: ['docs/mona/octocat.txt', 'a/docs/x'],
  },
  {
    pattern: 'docs/**',
    matches: ['docs/README.md', 'docs/mona/octocat.txt'],
    rejects: ['a/docs/x', 'docsx/y'],
  },
  {
    pattern: 'docs/**/*.md',
    matches: ['docs/README.md', 'docs/mona/hello-world.md', 'docs/a/markdown/file.md'],
    rejects: ['docs/a/file.txt', 'src/docs/a.md'],
  },
  {
    pattern: '**/docs/**',
    matches: ['docs/hello.md', 'dir/docs/my-file.txt', 'space/docs/plan/space.doc'],
    rejects: ['mydocs/x', 'docs'],
  },
  {
    pattern: '**/README.md',
    matches: ['README.md', 'js/README.md'],
    rejects: ['README.mdx', 'js/XREADME.md'],
  },
  { pattern: '**/*src/**', matches: ['a/src/app.js', 'my-src/code/js/app.js'], rejects: ['src-a/x.js'] },
  { pattern: '**/*-post.md', matches: ['my-post.md', 'path/their-post.md'], rejects: ['post.md'] },
  {
    pattern: '**/migrate-*.sql',
    matches: ['migrate-10909.sql', 'db/migrate-v1.0.sql', 'db/sept/migrate-v1.sql'],
    rejects: ['db/migrate-v1.sql.bak', 'db/premigrate-1.sql'],
  },
];

describe('github-glob: cheat sheet tables', { timeout: 30_000 }, () => {
  for (const row of [...BRANCH_AND_TAG_TABLE, ...PATH_TABLE]) {
    test(`'${row.pattern}'`, () => {
      for (const name of row.matches)
        assert.ok(globMatches(row.pattern, name), `'${row.pattern}' should match '${name}'`);
      for (const name of row.rejects)
        assert.ok(!globMatches(row.pattern, name), `'${row.pattern}' must not match '${name}'`);
    });
  }

  test("ordered negation: '*.md', '!README.md'", () => {
    const list = ['*.md', '!README.md'];
    assert.ok(inPatternList(list, 'hello.md'));
    assert.ok(!inPatternList(list, 'README.md'));
    assert.ok(!inPatternList(list, 'docs/hello.md'));
    assert.equal(lastMatch(list, 'README.md')?.pattern, '!README.md');
  });

  test("re-inclusion: '*.md', '!README.md', 'README*'", () => {
    const list = ['*.md', '!README.md', 'README*'];
    assert.ok(inPatternList(list, 'hello.md'));
    assert.ok(inPatternList(list, 'README.md'));
    assert.ok(inPatternList(list, 'README.doc'));
  });

  test('documented branch example: releases/** then !releases/**-alpha', () => {
    const list = ['releases/**', '!releases/**-alpha'];
    assert.ok(inPatternList(list, 'releases/10'));
    assert.ok(inPatternList(list, 'releases/beta/mona'));
    assert.ok(!inPatternList(list, 'releases/10-alpha'));
    assert.ok(!inPatternList(list, 'releases/beta/3-alpha'));
  });

  test('documented path example: sub-project/** then !sub-project/docs/**', () => {
    const list = ['sub-project/**', '!sub-project/docs/**'];
    assert.ok(inPatternList(list, 'sub-project/index.js'));
    assert.ok(inPatternList(list, 'sub-project/src/index.js'));
    assert.ok(!inPatternList(list, 'sub-project/docs/readme.md'));
  });

  test('documented tags: v2, v1.* and flow-sequence example release/v[0-9].[0-9]', () => {
    assert.ok(globMatches('v1.*', 'v1.9.1'));
    assert.ok(!globMatches('v1.*', 'v10'));
    assert.ok(globMatches('release/v[0-9].[0-9]', 'release/v1.2'));
    assert.ok(!globMatches('release/v[0-9].[0-9]', 'release/v1.23'));
  });
});

describe('github-glob: grammar details', { timeout: 30_000 }, () => {
  const cases: { pattern: string; name: string; expected: boolean }[] = [
    // `?` and `+` repeat the preceding character only.
    { pattern: 'colou?r', name: 'color', expected: true },
    { pattern: 'colou?r', name: 'colour', expected: true },
    { pattern: 'colou?r', name: 'colouur', expected: false },
    { pattern: 'Octoc?t', name: 'Octoct', expected: true },
    { pattern: 'Octoc?t', name: 'Octocat', expected: false },
    { pattern: 'ab+c', name: 'abbbc', expected: true },
    { pattern: 'ab+c', name: 'ac', expected: false },
    // Sets: listed letters and digits, ranges, case-sensitive.
    { pattern: '[CB]at', name: 'Cat', expected: true },
    { pattern: '[CB]at', name: 'Bat', expected: true },
    { pattern: '[CB]at', name: 'cat', expected: false },
    { pattern: '[1-2]00', name: '100', expected: true },
    { pattern: '[1-2]00', name: '200', expected: true },
    { pattern: '[1-2]00', name: '300', expected: false },
    { pattern: '[0-9a-z]', name: 'q', expected: true },
    { pattern: '[0-9a-z]', name: 'Q', expected: false },
    { pattern: '[0-9]?x', name: 'x', expected: true },
    // Escapes make special characters literal.
    { pattern: 'a\\*b', name: 'a*b', expected: true },
    { pattern: 'a\\*b', name: 'axb', expected: false },
    { pattern: 'c\\+\\+', name: 'c++', expected: true },
    { pattern: 'what\\?', name: 'what?', expected: true },
    { pattern: 'what\\?', name: 'wha', expected: false },
    { pattern: '\\!important', name: '!important', expected: true },
    { pattern: 'a\\[1\\]', name: 'a[1]', expected: true },
    // Escaped characters can be repeated too.
    { pattern: 'a\\.+b', name: 'a...b', expected: true },
    // Regex characters have no meaning.
    { pattern: 'a.b', name: 'axb', expected: false },
    { pattern: '(x|y)', name: '(x|y)', expected: true },
    { pattern: 'a^b$', name: 'a^b$', expected: true },
    { pattern: 'a{2}', name: 'a{2}', expected: true },
    // `!` only counts at the start; a lone `]` is literal.
    { pattern: 'a!b', name: 'a!b', expected: true },
    { pattern: 'a]b', name: 'a]b', expected: true },
    // `**/` in the middle may match no folder; `*` never crosses `/`.
    { pattern: 'a/**/b', name: 'a/b', expected: true },
    { pattern: 'a/**/b', name: 'a/x/y/b', expected: true },
    { pattern: 'a/**/b', name: 'a/xb', expected: false },
    { pattern: 'a/*/b', name: 'a/x/y/b', expected: false },
    { pattern: 'a/*/b', name: 'a//b', expected: true },
    // Characters beyond ASCII are single characters.
    { pattern: 'caf\u00e9?', name: 'caf', expected: true },
    { pattern: '\u{1F600}+', name: '\u{1F600}\u{1F600}', expected: true },
  ];
  for (const c of cases) {
    test(`'${c.pattern}' vs '${c.name}' → ${String(c.expected)}`, () => {
      assert.equal(globMatches(c.pattern, c.name), c.expected);
    });
  }

  test('a leading ! marks the pattern negated and matches its body', () => {
    const glob = compileGitHubGlob('!docs/**');
    assert.equal(glob.negated, true);
    assert.ok(glob.regex.test('docs/a.md'));
    assert.equal(compileGitHubGlob('!!x').regex.test('!x'), true);
  });

  test('compiled patterns are cached', () => {
    assert.equal(compileGitHubGlob('cache/me/*'), compileGitHubGlob('cache/me/*'));
  });
});

describe('github-glob: invalid patterns', { timeout: 30_000 }, () => {
  const invalid: { pattern: string; says: RegExp }[] = [
    { pattern: '', says: /empty/ },
    { pattern: '!', says: /empty/ },
    { pattern: '?abc', says: /'\?' at position 1 does not follow a character/ },
    { pattern: '+abc', says: /'\+' at position 1/ },
    { pattern: '!?abc', says: /'\?' at position 1/ },
    { pattern: 'a*?', says: /'\?' at position 3/ },
    { pattern: 'a**+', says: /'\+'/ },
    { pattern: 'a++', says: /'\+' at position 3/ },
    { pattern: 'a?+', says: /'\+' at position 3/ },
    { pattern: 'a[]', says: /empty brackets/ },
    { pattern: 'a[0-9', says: /missing '\]'/ },
    { pattern: 'a[_x]', says: /'_' in brackets is not a letter or digit/ },
    { pattern: 'a[a-Z]', says: /range 'a-Z'/ },
    { pattern: 'a[9-0]', says: /range '9-0'/ },
    { pattern: 'a[0-z]', says: /range '0-z'/ },
    { pattern: 'a[x-]', says: /'-' in brackets/ },
    { pattern: 'a\\', says: /ends with '\\'/ },
  ];
  for (const c of invalid) {
    test(`'${c.pattern}' is refused`, () => {
      const problems = globProblems(c.pattern);
      assert.ok(problems.length > 0, 'expected a problem');
      assert.match(problems.join('; '), c.says);
      assert.throws(
        () => compileGitHubGlob(c.pattern),
        (error: unknown) =>
          isJunctionError(error, 'TRIGGER_PATTERN_INVALID') && error.message.includes(`'${c.pattern}'`),
      );
    });
  }

  test('valid patterns have no problems', () => {
    for (const p of ['main', '!main', 'v[12].[0-9]+.[0-9]+', '**/*.md', 'a\\?', '[a-fA-F0-9]+']) {
      assert.deepEqual(globProblems(p), [], p);
    }
  });
});
