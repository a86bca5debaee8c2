import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CloudEvent } from '../events/index.ts';
import { UNKNOWN_FILES_NOTE } from './filters.ts';
import {
  checkTriggerSpec,
  eventChangedFiles,
  eventRef,
  matchEventType,
  matchTrigger,
  type TriggerClause,
  type TriggerSpec,
  type TriggerVerdict,
} from './trigger.ts';

function event(type: string, data: unknown, extra: Partial<CloudEvent> = {}): CloudEvent {
  return { specversion: '1.0', id: 'e1', source: 'https://github.com/acme/app', type, data, ...extra };
}

const push = event('git.push', {
  repository: 'acme/app',
  ref: 'refs/heads/main',
  changed_files: ['src/a.ts', 'README.md'],
  commits: [{ id: 'c1' }],
});

describe('matchEventType', { timeout: 30_000 }, () => {
  const cases: [string, string, boolean][] = [
    ['git.push', 'git.push', true],
    ['git.push', 'git.pushed', false],
    ['git.*', 'git.push', true],
    ['git.*', 'git.pull_request', true],
    ['git.*', 'git.branch.deleted', false],
    ['git.*', 'git', false],
    ['git.**', 'git.branch.deleted', true],
    ['git.**', 'git.push', true],
    ['git.**', 'git', false],
    ['*.succeeded', 'pipeline.succeeded', true],
    ['*.succeeded', 'deployment.succeeded', true],
    ['*.succeeded', 'a.b.succeeded', false],
    ['**.succeeded', 'a.b.succeeded', true],
    ['**', 'anything.at.all', true],
    ['**', 'single', true],
    ['*', 'single', true],
    ['*', 'two.parts', false],
    ['pipeline.succ*', 'pipeline.succeeded', true],
    ['pipeline.succ*', 'pipeline.failed', false],
    ['com.example.*', 'com.example.object.deleted.v2', false],
    ['com.example.**', 'com.example.object.deleted.v2', true],
    ['image.pushed', 'image+pushed', false],
    ['a..b', 'a..b', true], // no '*': exact comparison, never a pattern
    ['git.a**', 'git.abc', false], // invalid pattern never matches
  ];
  for (const [pattern, type, expected] of cases) {
    test(`'${pattern}' vs '${type}' → ${String(expected)}`, () =>
      assert.equal(matchEventType(pattern, type), expected));
  }
});

describe('canonical fields', { timeout: 30_000 }, () => {
  test('ref from ref, branch and tag fields', () => {
    assert.deepEqual(eventRef(event('git.push', { ref: 'refs/heads/feature/x' })), { branch: 'feature/x' });
    assert.deepEqual(eventRef(event('git.push', { ref: 'refs/tags/v1.2' })), { tag: 'v1.2' });
    assert.deepEqual(eventRef(event('git.tag', { tag: 'v1', ref: 'refs/tags/v1' })), { tag: 'v1' });
    assert.deepEqual(eventRef(event('git.push', { branch: 'main', ref: 'refs/heads/ignored' })), {
      branch: 'main',
    });
    assert.deepEqual(eventRef(event('git.push', { ref: 'refs/notes/x' })), {});
    assert.deepEqual(eventRef(event('alert.firing', 'text')), {});
    assert.deepEqual(eventRef(event('alert.firing', undefined)), {});
    assert.deepEqual(eventRef(event('pipeline.succeeded', { branch: 'main' })), { branch: 'main' });
  });

  test('pull requests use the base branch', () => {
    const pr = { head_branch: 'feature/x', head_ref: 'refs/heads/feature/x', branch: 'feature/x' };
    assert.deepEqual(eventRef(event('git.pull_request', { ...pr, base_branch: 'main' })), { branch: 'main' });
    assert.deepEqual(eventRef(event('git.pull_request', { ...pr, base_ref: 'refs/heads/release/1' })), {
      branch: 'release/1',
    });
    assert.deepEqual(eventRef(event('git.pull_request', { ...pr, base_ref: 'develop' })), {
      branch: 'develop',
    });
    assert.deepEqual(eventRef(event('git.pull_request', pr)), {});
  });

  test('changed files', () => {
    assert.deepEqual(eventChangedFiles(push), ['src/a.ts', 'README.md']);
    assert.equal(eventChangedFiles(event('git.push', {})), undefined);
    assert.equal(eventChangedFiles(event('git.push', { changed_files: 'a' })), undefined);
    assert.equal(eventChangedFiles(event('git.push', { changed_files: ['a', 3] })), undefined);
    assert.deepEqual(eventChangedFiles(event('git.push', { changed_files: [] })), []);
  });
});

describe('matchTrigger', { timeout: 30_000 }, () => {
  const truthy = { evaluateIf: (source: string) => source === 'true' };
  const no = (clause: TriggerClause, reason: string): TriggerVerdict => ({
    matched: false,
    clause,
    reason,
  });

  const cases: { name: string; trigger: TriggerSpec; event: CloudEvent; expected: TriggerVerdict }[] = [
    { name: 'type only', trigger: { event: 'git.push' }, event: push, expected: { matched: true } },
    {
      name: 'type mismatch',
      trigger: { event: 'git.tag' },
      event: push,
      expected: no('type', "type 'git.push' does not match 'git.tag'"),
    },
    { name: 'type glob', trigger: { event: 'git.*' }, event: push, expected: { matched: true } },
    {
      name: 'source exact',
      trigger: { event: 'git.push', source: 'https://github.com/acme/app' },
      event: push,
      expected: { matched: true },
    },
    {
      name: 'source glob',
      trigger: { event: 'git.push', source: 'https://github.com/acme/*' },
      event: push,
      expected: { matched: true },
    },
    {
      name: 'source mismatch',
      trigger: { event: 'git.push', source: 'https://github.com/other/*' },
      event: push,
      expected: no(
        'source',
        "source 'https://github.com/acme/app' does not match 'https://github.com/other/*'",
      ),
    },
    {
      name: 'subject missing',
      trigger: { event: 'git.push', subject: 'app/**' },
      event: push,
      expected: no('subject', "event has no subject, and the trigger wants 'app/**'"),
    },
    {
      name: 'subject glob',
      trigger: { event: 'image.pushed', subject: 'registry.local/app:*' },
      event: event('image.pushed', {}, { subject: 'registry.local/app:1.2' }),
      expected: { matched: true },
    },
    {
      name: 'branch filter',
      trigger: { event: 'git.push', branches: ['main', 'release/**'], paths: ['src/**'] },
      event: push,
      expected: { matched: true },
    },
    {
      name: 'branch filter fails',
      trigger: { event: 'git.push', branches: ['release/**'] },
      event: push,
      expected: no('refs', "branch 'main' not in [release/**]"),
    },
    {
      name: 'paths fail after refs pass',
      trigger: { event: 'git.push', branches: ['main'], paths: ['docs/**'] },
      event: push,
      expected: no('paths', 'no changed file matches paths [docs/**]'),
    },
    {
      name: 'paths-ignore',
      trigger: { event: 'git.push', 'paths-ignore': ['**.md', 'src/**'] },
      event: push,
      expected: no('paths', 'all 2 changed files match paths-ignore [**.md, src/**]'),
    },
    {
      name: 'paths unknown: match with a note',
      trigger: { event: 'git.push', paths: ['src/**'] },
      event: event('git.push', { ref: 'refs/heads/main' }),
      expected: { matched: true, note: UNKNOWN_FILES_NOTE },
    },
    {
      name: 'tags: path filters are not evaluated',
      trigger: { event: 'git.tag', tags: ['v*'], paths: ['src/**'] },
      event: event('git.tag', { tag: 'v1.0.0', changed_files: ['docs/a.md'] }),
      expected: { matched: true },
    },
    {
      name: 'a push of a tag ref: path filters are not evaluated',
      trigger: { event: 'git.push', tags: ['v*'], paths: ['src/**'] },
      event: event('git.push', { ref: 'refs/tags/v2', changed_files: [] }),
      expected: { matched: true },
    },
    {
      name: 'only tags filtered: branch push does not match',
      trigger: { event: 'git.push', tags: ['v*'] },
      event: push,
      expected: no('refs', "branch 'main' does not match: only tags are filtered"),
    },
    {
      name: 'pull request: branches apply to the base branch',
      trigger: { event: 'git.pull_request', branches: ['main'] },
      event: event('git.pull_request', { base_ref: 'refs/heads/main', head_ref: 'refs/heads/feature/x' }),
      expected: { matched: true },
    },
    {
      name: 'pull request into another base',
      trigger: { event: 'git.pull_request', branches: ['main'] },
      event: event('git.pull_request', { base_branch: 'develop', branch: 'main' }),
      expected: no('refs', "branch 'develop' not in [main]"),
    },
    {
      name: 'if true',
      trigger: { event: 'git.push', branches: ['main'], if: 'true' },
      event: push,
      expected: { matched: true },
    },
    {
      name: 'if false',
      trigger: { event: 'git.push', if: 'false' },
      event: push,
      expected: no('if', "if 'false' is false"),
    },
    {
      name: 'invalid glob fails its clause instead of throwing',
      trigger: { event: 'git.push', branches: ['?bad'] },
      event: push,
      expected: no(
        'refs',
        "invalid filter pattern '?bad': '?' at position 1 does not follow a character it could repeat; write '\\?' for a literal '?'",
      ),
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(matchTrigger(c.trigger, c.event, truthy), c.expected));
  }

  test('the first failing clause is reported, in the documented order', () => {
    const everythingWrong: TriggerSpec = {
      event: 'git.push',
      source: 'nope',
      subject: 'nope',
      branches: ['nope'],
      paths: ['nope'],
      if: 'false',
    };
    const got: string[] = [];
    // Fix one clause at a time and watch the reported clause move along TRIGGER_CLAUSES.
    const fixes: Partial<TriggerSpec>[] = [
      {},
      { source: '**' },
      { subject: '**' },
      { branches: ['**'] },
      { paths: ['**'] },
      { if: 'true' },
    ];
    let spec: TriggerSpec = { ...everythingWrong, event: 'git.tag' };
    const subjectEvent = { ...push, subject: 'x' };
    const first = matchTrigger(spec, subjectEvent, truthy);
    got.push(first.matched ? 'matched' : first.clause);
    spec = { ...spec, event: 'git.push' };
    for (const fix of fixes) {
      spec = { ...spec, ...fix };
      const verdict = matchTrigger(spec, subjectEvent, truthy);
      got.push(verdict.matched ? 'matched' : verdict.clause);
    }
    assert.deepEqual(got, ['type', 'source', 'subject', 'refs', 'paths', 'if', 'matched']);
  });

  test('if: the expression receives the event and its source text', () => {
    const seen: string[] = [];
    const verdict = matchTrigger({ event: 'git.push', if: 'event.data.commits.size() > 0' }, push, {
      evaluateIf: (source, e) => {
        seen.push(source, e.id);
        return true;
      },
    });
    assert.deepEqual(verdict, { matched: true });
    assert.deepEqual(seen, ['event.data.commits.size() > 0', 'e1']);
  });

  test('if: a throwing evaluator fails the clause with its message', () => {
    const verdict = matchTrigger({ event: 'git.push', if: 'event.data.nope.x' }, push, {
      evaluateIf: () => {
        throw new Error("no such key: 'nope'");
      },
    });
    assert.deepEqual(verdict, no('if', "if 'event.data.nope.x' failed: no such key: 'nope'"));
  });

  test('if: without an evaluator the clause fails closed', () => {
    assert.deepEqual(
      matchTrigger({ event: 'git.push', if: 'true' }, push),
      no('if', "if 'true' cannot be evaluated here"),
    );
  });

  test('if is not evaluated when an earlier clause fails', () => {
    let calls = 0;
    matchTrigger({ event: 'git.push', branches: ['dev'], if: 'true' }, push, {
      evaluateIf: () => {
        calls += 1;
        return true;
      },
    });
    assert.equal(calls, 0);
  });
});

describe('checkTriggerSpec', { timeout: 30_000 }, () => {
  test('a valid trigger has no problems', () => {
    assert.deepEqual(
      checkTriggerSpec({
        event: 'git.*',
        source: 'https://github.com/acme/*',
        subject: 'app/**',
        branches: ['main', '!main-old'],
        paths: ['src/**'],
        if: 'true',
      }),
      [],
    );
  });

  test('every problem is reported with its key', () => {
    const problems = checkTriggerSpec({
      event: 'git..a**',
      source: '!x',
      subject: '?',
      branches: ['main'],
      'branches-ignore': ['dev'],
      paths: ['a['],
      if: ' ',
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['event', 'event', 'source', 'subject', 'branches-ignore', 'paths[0]', 'if'],
    );
  });
});
