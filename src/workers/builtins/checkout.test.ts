/** The `checkout` action against real git: a bare repository in a temp folder, two commits, a tag. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJunctionError } from '../../errors/index.ts';
import {
  checkout,
  checkoutTarget,
  gitEnvironment,
  redactUrl,
  type CheckoutLine,
  type CheckoutOptions,
} from './checkout.ts';

const baseEnv: Record<string, string> = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' };
const setupEnv = { ...baseEnv, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
    cwd,
    env: setupEnv,
    encoding: 'utf8',
  }).trim();
}

let root = '';
let bare = '';
let first = '';
let second = '';
let counter = 0;

function workspace(): string {
  counter += 1;
  const dir = join(root, `ws-${counter}`);
  mkdirSync(dir);
  return dir;
}

function options(overrides: Partial<CheckoutOptions> & Pick<CheckoutOptions, 'target'>): {
  options: CheckoutOptions;
  lines: CheckoutLine[];
} {
  const lines: CheckoutLine[] = [];
  return {
    lines,
    options: {
      workspace: workspace(),
      depth: 1,
      env: baseEnv,
      timeoutMs: 30_000,
      onLine: (line) => lines.push(line),
      ...overrides,
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isJunctionError(error), `expected a JunctionError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

function throwsWith(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isJunctionError(error), `expected a JunctionError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

describe('checkout', { timeout: 120_000 }, () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'junction-checkout-'));
    bare = join(root, 'origin.git');
    const work = join(root, 'work');
    git(root, 'init', '-q', '--bare', bare);
    git(root, 'init', '-q', work);
    writeFileSync(join(work, 'a.txt'), 'one\n');
    git(work, 'add', 'a.txt');
    git(work, 'commit', '-q', '-m', 'one');
    first = git(work, 'rev-parse', 'HEAD');
    git(work, 'tag', '-a', '-m', 'version one', 'v1');
    writeFileSync(join(work, 'a.txt'), 'two\n');
    git(work, 'commit', '-q', '-am', 'two');
    second = git(work, 'rev-parse', 'HEAD');
    git(work, 'push', '-q', bare, 'HEAD:refs/heads/main', 'refs/tags/v1');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('checks out a commit that is not the tip, by its full id', async () => {
    const { options: o, lines } = options({ target: { repository: bare, ref: first } });
    const result = await checkout(o);
    assert.equal(result.commit, first);
    assert.deepEqual(result.outputs, { commit: first, ref: first, repository: bare });
    assert.equal(git(o.workspace, 'rev-parse', 'HEAD'), first);
    assert.ok(
      lines.every((l) => typeof l.ts === 'string' && (l.stream === 'stdout' || l.stream === 'stderr')),
    );
  });

  test('checks out by branch and by annotated tag', async () => {
    const branch = options({ target: { repository: bare, ref: 'main' } });
    assert.equal((await checkout(branch.options)).commit, second);
    assert.ok(
      branch.lines.some((l) => /main/.test(l.text)),
      'git output is streamed',
    );
    const tag = options({ target: { repository: bare, ref: 'v1' } });
    assert.equal((await checkout(tag.options)).commit, first);
    const fullRef = options({ target: { repository: `file://${bare}`, ref: 'refs/heads/main' } });
    assert.equal((await checkout(fullRef.options)).commit, second);
  });

  test('an abbreviated commit id falls back to fetching every branch and tag', async () => {
    const { options: o } = options({ target: { repository: bare, ref: first.slice(0, 10) } });
    const result = await checkout(o);
    assert.equal(result.commit, first);
    assert.equal(git(o.workspace, 'rev-list', '--count', 'HEAD'), '1');
    assert.equal(git(o.workspace, 'rev-parse', 'refs/remotes/origin/main'), second);
  });

  test('depth 1 fetches one commit, depth 0 the whole history', async () => {
    const shallow = options({ target: { repository: bare, ref: 'main' }, depth: 1 });
    await checkout(shallow.options);
    assert.equal(git(shallow.options.workspace, 'rev-list', '--count', 'HEAD'), '1');
    const full = options({ target: { repository: bare, ref: 'main' }, depth: 0 });
    await checkout(full.options);
    assert.equal(git(full.options.workspace, 'rev-list', '--count', 'HEAD'), '2');
  });

  test('checks out into a sub-path, and again into the same repository', async () => {
    const { options: o } = options({ target: { repository: bare, ref: first }, path: 'src/app' });
    await checkout(o);
    assert.equal(git(join(o.workspace, 'src', 'app'), 'rev-parse', 'HEAD'), first);
    assert.ok(!existsSync(join(o.workspace, '.git')));
    writeFileSync(join(o.workspace, 'src', 'app', 'a.txt'), 'local change\n');
    const again = await checkout({ ...o, target: { repository: bare, ref: 'main' } });
    assert.equal(again.commit, second);
    assert.equal(git(join(o.workspace, 'src', 'app'), 'status', '--porcelain'), '');
  });

  test('takes repository and commit from git.push-shaped event data', async () => {
    const data = { repository: { clone_url: bare, name: 'origin' }, after: first, ref: 'refs/heads/main' };
    const target = checkoutTarget({}, data);
    assert.deepEqual(target, { repository: bare, ref: first });
    const { options: o } = options({ target });
    assert.equal((await checkout(o)).commit, first);
  });

  test('event data defaults follow the documented order; with values win', () => {
    const repo = '/srv/repo.git';
    const cases: [unknown, { repository: string; ref: string }][] = [
      [
        { repository: { url: repo }, sha: 'abc1234' },
        { repository: repo, ref: 'abc1234' },
      ],
      [
        { repository: repo, commit: 'main' },
        { repository: repo, ref: 'main' },
      ],
      [
        { repo: { url: repo }, head: { sha: first } },
        { repository: repo, ref: first },
      ],
      [
        { repository: { clone_url: repo }, pull_request: { head: { sha: second } } },
        { repository: repo, ref: second },
      ],
      [
        // git.pull_request as every git-host source maps it: the head commit, not the base ref.
        { repository: { clone_url: repo }, head_sha: second, base_ref: 'main', ref: 'refs/heads/main' },
        { repository: repo, ref: second },
      ],
      [
        { repository: { clone_url: repo }, ref: 'refs/tags/v1' },
        { repository: repo, ref: 'refs/tags/v1' },
      ],
      [
        { repository: { clone_url: repo, url: 'https://example.com/x' }, after: first, sha: second },
        { repository: repo, ref: first },
      ],
      [
        { repository: { clone_url: 42, url: repo }, after: 7, sha: 'v1' },
        { repository: repo, ref: 'v1' },
      ],
    ];
    for (const [data, expected] of cases) assert.deepEqual(checkoutTarget({}, data), expected);
    assert.deepEqual(checkoutTarget({ repository: 'https://example.com/a.git', ref: 'dev' }, cases[0]![0]), {
      repository: 'https://example.com/a.git',
      ref: 'dev',
    });
    assert.deepEqual(checkoutTarget({ repository: '', ref: '' }, cases[1]![0]), {
      repository: repo,
      ref: 'main',
    });
  });

  test('missing or unusable event data names the with key to set', () => {
    for (const data of [undefined, null, 'text', [], {}, { repository: { name: 'x' } }, { after: first }])
      throwsWith(() => checkoutTarget({}, data), 'STEP_INPUT_INVALID', /with\.repository/);
    throwsWith(() => checkoutTarget({}, { repository: bare }), 'STEP_INPUT_INVALID', /with\.ref/);
    throwsWith(
      () => checkoutTarget({}, { repository: bare, after: '0'.repeat(40), ref: 'refs/heads/gone' }),
      'STEP_INPUT_INVALID',
      /all zeros.*deleted the branch.*with\.ref/,
    );
    assert.deepEqual(checkoutTarget({ ref: 'main' }, { repository: bare, after: '0'.repeat(40) }), {
      repository: bare,
      ref: 'main',
    });
  });

  test('option injection through repository or ref is refused and runs nothing', async () => {
    const marker = join(root, 'pwned');
    const payload = `--upload-pack=touch ${marker}`;
    // The payload is live: git given it as an option runs it.
    try {
      execFileSync('git', ['ls-remote', payload, bare], { env: setupEnv, stdio: 'ignore' });
    } catch {
      // git fails after running the command; the marker is what counts
    }
    assert.ok(existsSync(marker), 'control: the payload creates the marker when git reads it as an option');
    rmSync(marker);

    throwsWith(
      () => checkoutTarget({ repository: payload }, {}),
      'STEP_INPUT_INVALID',
      /with\.repository.*'-'/,
    );
    throwsWith(
      () => checkoutTarget({ ref: payload }, { repository: bare }),
      'STEP_INPUT_INVALID',
      /with\.ref/,
    );
    throwsWith(
      () => checkoutTarget({}, { repository: { clone_url: bare }, after: payload }),
      'STEP_INPUT_INVALID',
      /with\.ref/,
    );
    throwsWith(() => checkoutTarget({}, { repository: payload, after: first }), 'STEP_INPUT_INVALID');
    await rejectsWith(
      checkout(options({ target: { repository: payload, ref: 'main' } }).options),
      'STEP_INPUT_INVALID',
    );
    await rejectsWith(
      checkout(options({ target: { repository: bare, ref: payload } }).options),
      'STEP_INPUT_INVALID',
    );
    await rejectsWith(
      checkout(
        options({ target: { repository: 'ssh://-oProxyCommand=touch%20x/repo', ref: 'main' } }).options,
      ),
      'STEP_INPUT_INVALID',
      /host starting with '-'/,
    );
    await rejectsWith(
      checkout(options({ target: { repository: '-oProxyCommand=x:repo', ref: 'main' } }).options),
      'STEP_INPUT_INVALID',
    );
    assert.ok(!existsSync(marker), 'nothing was executed');
  });

  test('ext:: and other transports are refused, by validation and by git itself', async () => {
    const marker = join(root, 'ext-pwned');
    const ext = `ext::sh -c touch% ${marker}`;
    throwsWith(() => checkoutTarget({ repository: ext, ref: 'main' }, {}), 'STEP_INPUT_INVALID', /'ext::'/);
    await rejectsWith(
      checkout(options({ target: { repository: ext, ref: 'main' } }).options),
      'STEP_INPUT_INVALID',
    );
    for (const repository of ['fd::17', 'ftp://example.com/x.git', 'relative/path', '../up.git', 'C'])
      throwsWith(
        () => checkoutTarget({ repository, ref: 'main' }, {}),
        'STEP_INPUT_INVALID',
        /with\.repository/,
      );
    // Second layer: the environment git runs with refuses ext:: even when asked directly.
    let failed = false;
    try {
      execFileSync('git', ['ls-remote', ext], { env: gitEnvironment(baseEnv), stdio: 'ignore' });
    } catch {
      failed = true;
    }
    assert.ok(failed, 'git refuses the ext transport');
    assert.ok(!existsSync(marker), 'nothing was executed');
  });

  test('refs with spaces, control characters or refspec syntax are refused', () => {
    const refs = [
      'main branch',
      'main\n--x',
      'a\u0000b',
      'tab\there',
      'main:refs/heads/x',
      '+main',
      'a..b',
      'a~1',
      'x^{}',
      'a@{1}',
      '/main',
      'main/',
      'x.lock',
      'a*',
      ' ',
    ];
    for (const ref of refs)
      throwsWith(() => checkoutTarget({ repository: bare, ref }, {}), 'STEP_INPUT_INVALID', /with\.ref/);
    throwsWith(
      () => checkoutTarget({ repository: bare, ref: 'x'.repeat(300) }, {}),
      'STEP_INPUT_INVALID',
      /longer/,
    );
    for (const ref of ['main', 'release/1.x', 'refs/pull/12/head', 'v1.0.0-rc.1', first, 'feature+x'])
      assert.equal(checkoutTarget({ repository: bare, ref }, {}).ref, ref);
  });

  test('path must stay inside the workspace, also through symbolic links', async () => {
    for (const path of ['../escape', 'a/../../escape', '/tmp/escape', 'a\nb']) {
      const { options: o } = options({ target: { repository: bare, ref: 'main' }, path });
      await rejectsWith(checkout(o), 'STEP_INPUT_INVALID', /with\.path/);
    }
    const outside = join(root, `outside-${counter}`);
    mkdirSync(outside);
    const { options: o } = options({ target: { repository: bare, ref: 'main' }, path: 'link/deeper' });
    symlinkSync(outside, join(o.workspace, 'link'));
    await rejectsWith(checkout(o), 'STEP_INPUT_INVALID', /symbolic link/);
    assert.ok(!existsSync(join(outside, 'deeper')), 'nothing was written outside');
    const inside = options({ target: { repository: bare, ref: 'main' }, path: 'sub/../sub2' });
    await checkout(inside.options);
    assert.ok(existsSync(join(inside.options.workspace, 'sub2', 'a.txt')));
  });

  test('depth must be a whole number of at least 0', async () => {
    for (const depth of [-1, 1.5, Number.NaN, 2 ** 40]) {
      await rejectsWith(
        checkout(options({ target: { repository: bare, ref: 'main' }, depth }).options),
        'STEP_INPUT_INVALID',
        /with\.depth/,
      );
    }
  });

  test('a non-empty destination that is not a git repository is a clear error', async () => {
    const { options: o } = options({ target: { repository: bare, ref: 'main' } });
    writeFileSync(join(o.workspace, 'stray.txt'), 'x');
    const error = await rejectsWith(
      checkout(o),
      'STEP_CHECKOUT_FAILED',
      /not empty and is not a git repository/,
    );
    assert.equal((error as { retryable?: boolean }).retryable, false);
    mkdirSync(join(o.workspace, 'sub'));
    writeFileSync(join(o.workspace, 'sub', '.git'), `gitdir: ${root}\n`);
    await rejectsWith(checkout({ ...o, path: 'sub' }), 'STEP_CHECKOUT_FAILED', /not a git repository/);
  });

  test("an unknown commit fails with git's last lines of stderr", async () => {
    const unknown = 'f'.repeat(40);
    const error = await rejectsWith(
      checkout(options({ target: { repository: bare, ref: unknown } }).options),
      'STEP_CHECKOUT_FAILED',
      /cannot check out 'f{40}'.*no branch or tag there contains it.*git checkout exited with \d+:\n.*(fatal|error)/s,
    );
    assert.equal((error as { retryable?: boolean }).retryable, true);
    await rejectsWith(
      checkout(options({ target: { repository: bare, ref: 'no-such-branch' } }).options),
      'STEP_CHECKOUT_FAILED',
      /git fetch exited with 128:\n.*couldn't find remote ref no-such-branch/s,
    );
    await rejectsWith(
      checkout(options({ target: { repository: join(root, 'missing.git'), ref: 'main' } }).options),
      'STEP_CHECKOUT_FAILED',
      /does not appear to be a git repository|not a git repository/,
    );
  });

  test('credentials in a URL never reach messages, lines or outputs', async () => {
    assert.equal(redactUrl('https://user:s3cret@example.com/a.git'), 'https://***@example.com/a.git');
    const { options: o, lines } = options({
      target: { repository: 'https://user:s3cret@127.0.0.1:1/a.git', ref: 'main' },
    });
    const error = await rejectsWith(checkout(o), 'STEP_CHECKOUT_FAILED');
    assert.doesNotMatch(error.message, /s3cret/);
    assert.match(error.message, /\*\*\*@127\.0\.0\.1/);
    assert.ok(lines.every((l) => !l.text.includes('s3cret')));
  });

  test('git base environment variables cannot redirect git', async () => {
    const env = {
      ...baseEnv,
      GIT_DIR: join(root, 'elsewhere'),
      GIT_ASKPASS: '/bin/false',
      GIT_CONFIG_GLOBAL: '/x',
    };
    const built = gitEnvironment(env);
    assert.equal(built['GIT_DIR'], undefined);
    assert.equal(built['GIT_ASKPASS'], undefined);
    assert.equal(built['GIT_CONFIG_GLOBAL'], '/dev/null');
    assert.equal(built['GIT_TERMINAL_PROMPT'], '0');
    const { options: o } = options({ target: { repository: bare, ref: 'main' }, env });
    assert.equal((await checkout(o)).commit, second);
    assert.ok(!existsSync(join(root, 'elsewhere')));
  });

  describe('against a server that never answers', () => {
    const sockets = new Set<Socket>();
    const closed: Socket[] = [];
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => closed.push(socket));
      socket.on('error', () => socket.destroy());
      socket.resume(); // read (and drop) the request, so the end of the connection is seen
    });
    let url = '';
    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      assert.ok(typeof address === 'object' && address !== null);
      url = `http://127.0.0.1:${address.port}/repo.git`;
    });
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    async function until(condition: () => boolean, what: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!condition()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    test('a timeout kills git and rejects', async () => {
      const before = closed.length;
      const started = Date.now();
      const error = await rejectsWith(
        checkout(options({ target: { repository: url, ref: 'main' }, timeoutMs: 800 }).options),
        'STEP_CHECKOUT_FAILED',
        /timed out after 800ms/,
      );
      assert.ok(Date.now() - started < 8_000);
      assert.equal((error as { details?: { reason?: string } }).details?.reason, 'timeout');
      await until(() => closed.length > before, 'the connection to close');
    });

    test('an abort kills git and rejects', async () => {
      const controller = new AbortController();
      const connected = sockets.size;
      const promise = checkout(
        options({ target: { repository: url, ref: 'main' }, signal: controller.signal, timeoutMs: 60_000 })
          .options,
      );
      await until(() => sockets.size > connected, 'git to connect');
      const before = closed.length;
      controller.abort();
      await rejectsWith(promise, 'STEP_CHECKOUT_FAILED', /cancelled/);
      await until(() => closed.length > before, 'the connection to close');
      const aborted = new AbortController();
      aborted.abort();
      await rejectsWith(
        checkout(options({ target: { repository: bare, ref: 'main' }, signal: aborted.signal }).options),
        'STEP_CHECKOUT_FAILED',
        /cancelled/,
      );
    });
  });
});
