import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFilterSpec, formatList, matchPaths, matchRefs, UNKNOWN_FILES_NOTE } from './filters.ts';
import type { EventRef, PathFilter, RefFilter, Verdict } from './filters.ts';

function no(reason: string): Verdict {
  return { matched: false, reason };
}
const YES: Verdict = { matched: true };

describe('matchRefs', { timeout: 30_000 }, () => {
  const cases: { name: string; filter: RefFilter; ref: EventRef; expected: Verdict }[] = [
    { name: 'no ref filter matches a branch', filter: {}, ref: { branch: 'dev' }, expected: YES },
    { name: 'no ref filter matches a tag', filter: {}, ref: { tag: 'v1' }, expected: YES },
    { name: 'no ref filter matches no ref', filter: {}, ref: {}, expected: YES },
    {
      name: 'branch in list',
      filter: { branches: ['main', 'release/**'] },
      ref: { branch: 'release/1.2' },
      expected: YES,
    },
    {
      name: 'branch not in list',
      filter: { branches: ['main', 'release/**'] },
      ref: { branch: 'dev' },
      expected: no("branch 'dev' not in [main, release/**]"),
    },
    {
      name: 'branch excluded by a later negation',
      filter: { branches: ['releases/**', '!releases/**-alpha'] },
      ref: { branch: 'releases/beta/3-alpha' },
      expected: no("branch 'releases/beta/3-alpha' excluded by '!releases/**-alpha'"),
    },
    {
      name: 'branch re-included by a later positive pattern',
      filter: { branches: ['releases/**', '!releases/**-alpha', 'releases/keep-alpha'] },
      ref: { branch: 'releases/keep-alpha' },
      expected: YES,
    },
    {
      name: 'branches-ignore excludes',
      filter: { branchesIgnore: ['mona/octocat', 'releases/**-alpha'] },
      ref: { branch: 'releases/beta/3-alpha' },
      expected: no("branch 'releases/beta/3-alpha' matches branches-ignore 'releases/**-alpha'"),
    },
    {
      name: 'branches-ignore lets others run',
      filter: { branchesIgnore: ['mona/octocat'] },
      ref: { branch: 'main' },
      expected: YES,
    },
    {
      name: 'branches-ignore with a re-inclusion',
      filter: { branchesIgnore: ['tmp/**', '!tmp/keep'] },
      ref: { branch: 'tmp/keep' },
      expected: YES,
    },
    { name: 'tag in list', filter: { tags: ['v2', 'v1.*'] }, ref: { tag: 'v1.9.1' }, expected: YES },
    {
      name: 'tag not in list',
      filter: { tags: ['v2', 'v1.*'] },
      ref: { tag: 'v3' },
      expected: no("tag 'v3' not in [v2, v1.*]"),
    },
    {
      name: 'tags-ignore excludes',
      filter: { tagsIgnore: ['v*'] },
      ref: { tag: 'v1' },
      expected: no("tag 'v1' matches tags-ignore 'v*'"),
    },
    {
      name: 'only tag filters: a branch push does not match',
      filter: { tags: ['v*'] },
      ref: { branch: 'main' },
      expected: no("branch 'main' does not match: only tags are filtered"),
    },
    {
      name: 'only tags-ignore: a branch push does not match either',
      filter: { tagsIgnore: ['v*'] },
      ref: { branch: 'main' },
      expected: no("branch 'main' does not match: only tags are filtered"),
    },
    {
      name: 'only branch filters: a tag push does not match',
      filter: { branches: ['**'] },
      ref: { tag: 'v1' },
      expected: no("tag 'v1' does not match: only branches are filtered"),
    },
    {
      name: 'only branches-ignore: a tag push does not match',
      filter: { branchesIgnore: ['dev'] },
      ref: { tag: 'v1' },
      expected: no("tag 'v1' does not match: only branches are filtered"),
    },
    {
      name: 'both kinds: a tag is checked against tags',
      filter: { branches: ['main'], tags: ['v*'] },
      ref: { tag: 'v1' },
      expected: YES,
    },
    {
      name: 'both kinds: a branch against branches',
      filter: { branches: ['main'], tags: ['v*'] },
      ref: { branch: 'main' },
      expected: YES,
    },
    {
      name: 'a ref filter and an event without a ref',
      filter: { branches: ['main'] },
      ref: {},
      expected: no('event has no branch or tag, and the trigger filters branches'),
    },
    {
      name: 'branch names are case-sensitive',
      filter: { branches: ['main'] },
      ref: { branch: 'Main' },
      expected: no("branch 'Main' not in [main]"),
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(matchRefs(c.filter, c.ref), c.expected));
  }
});

describe('matchPaths', { timeout: 30_000 }, () => {
  const cases: {
    name: string;
    filter: PathFilter;
    files: readonly string[] | undefined;
    expected: Verdict;
  }[] = [
    { name: 'no path filter', filter: {}, files: ['a'], expected: YES },
    { name: 'no path filter, no files', filter: {}, files: [], expected: YES },
    {
      name: 'one matching file is enough',
      filter: { paths: ['src/**'] },
      files: ['docs/a.md', 'src/x.ts'],
      expected: YES,
    },
    { name: '**.js example', filter: { paths: ['**.js'] }, files: ['lib/deep/x.js'], expected: YES },
    {
      name: 'no changed file matches paths',
      filter: { paths: ['src/**'] },
      files: ['docs/a.md', 'README.md'],
      expected: no('no changed file matches paths [src/**]'),
    },
    {
      name: 'one changed file does not match',
      filter: { paths: ['src/**'] },
      files: ['docs/a.md'],
      expected: no("changed file 'docs/a.md' does not match paths [src/**]"),
    },
    {
      name: 'documented: sub-project without its docs (runs)',
      filter: { paths: ['sub-project/**', '!sub-project/docs/**'] },
      files: ['sub-project/src/index.js'],
      expected: YES,
    },
    {
      name: 'documented: sub-project without its docs (does not run)',
      filter: { paths: ['sub-project/**', '!sub-project/docs/**'] },
      files: ['sub-project/docs/readme.md'],
      expected: no(
        "changed file 'sub-project/docs/readme.md' does not match paths [sub-project/**, !sub-project/docs/**]",
      ),
    },
    {
      name: 'negation is per file: one excluded, one included',
      filter: { paths: ['*.md', '!README.md'] },
      files: ['README.md', 'hello.md'],
      expected: YES,
    },
    {
      name: 're-inclusion by a later pattern',
      filter: { paths: ['*.md', '!README.md', 'README*'] },
      files: ['README.md'],
      expected: YES,
    },
    {
      name: 'paths-ignore: all files ignored',
      filter: { pathsIgnore: ['docs/**'] },
      files: ['docs/a.md', 'docs/b/c.md', 'docs/x.txt'],
      expected: no('all 3 changed files match paths-ignore [docs/**]'),
    },
    {
      name: 'paths-ignore: the only file ignored',
      filter: { pathsIgnore: ['docs/**'] },
      files: ['docs/a.md'],
      expected: no("the only changed file 'docs/a.md' matches paths-ignore [docs/**]"),
    },
    {
      name: 'paths-ignore: one file outside runs',
      filter: { pathsIgnore: ['docs/**'] },
      files: ['docs/a.md', 'src/a.ts'],
      expected: YES,
    },
    {
      name: 'paths-ignore with a re-included file',
      filter: { pathsIgnore: ['docs/**', '!docs/api/**'] },
      files: ['docs/a.md', 'docs/api/x.md'],
      expected: YES,
    },
    {
      name: 'no files changed: paths',
      filter: { paths: ['**'] },
      files: [],
      expected: no('no files changed, and the trigger filters paths'),
    },
    {
      name: 'no files changed: paths-ignore',
      filter: { pathsIgnore: ['docs/**'] },
      files: [],
      expected: no('no files changed, and the trigger filters paths-ignore'),
    },
    {
      name: 'unknown files match with a note',
      filter: { paths: ['src/**'] },
      files: undefined,
      expected: { matched: true, note: UNKNOWN_FILES_NOTE },
    },
    { name: 'unknown files, no filter: plain match', filter: {}, files: undefined, expected: YES },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(matchPaths(c.filter, c.files), c.expected));
  }
});

describe('checkFilterSpec', { timeout: 30_000 }, () => {
  test('a valid spec has no problems', () => {
    assert.deepEqual(
      checkFilterSpec({ branches: ['main', '!main-old'], tags: ['v*'], paths: ['src/**'] }),
      [],
    );
    assert.deepEqual(
      checkFilterSpec({ branchesIgnore: ['dev'], tagsIgnore: ['x'], pathsIgnore: ['docs/**'] }),
      [],
    );
  });

  test('include and ignore together are refused, for each kind', () => {
    const problems = checkFilterSpec({
      branches: ['a'],
      branchesIgnore: ['b'],
      tags: ['a'],
      tagsIgnore: ['b'],
      paths: ['a'],
      pathsIgnore: ['b'],
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['branches-ignore', 'tags-ignore', 'paths-ignore'],
    );
    assert.match(problems[0]!.message, /branches and branches-ignore cannot be used together/);
  });

  test('invalid patterns are reported with their position in the list', () => {
    const problems = checkFilterSpec({ branches: ['main', '?x'], paths: ['ok/**', 'a[]'] });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['branches[1]', 'paths[1]'],
    );
    assert.match(problems[0]!.message, /^'\?x': /);
  });

  test('a list of only negations and an empty list are reported', () => {
    const problems = checkFilterSpec({ tags: ['!v1'], paths: [] });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['tags', 'paths'],
    );
    assert.match(problems[0]!.message, /only '!' patterns/);
    assert.match(problems[1]!.message, /paths is empty/);
  });

  test('long lists are shortened in reasons', () => {
    const list = Array.from({ length: 12 }, (_, i) => `p${i}`);
    assert.equal(formatList(list), '[p0, p1, p2, p3, p4, p5, p6, p7, … 4 more]');
  });
});
