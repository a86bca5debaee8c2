/**
 * The `checkout` built-in action: fetches one commit of a git repository into the job's workspace
 * with the `git` command found on PATH.
 *
 * What callers may assume:
 * - `checkoutTarget` fills `repository` and `ref` from the triggering event's data when the step's
 *   `with` leaves them out, and refuses values that could be read as git options (a leading `-`),
 *   transport helpers (`ext::`), relative local paths and refs with spaces or control characters,
 *   with `STEP_INPUT_INVALID` naming the `with` key to set.
 * - `checkout` runs git with an argument list (never a shell), without system or user git
 *   configuration, without prompts, and with only the file, git, http, https and ssh transports.
 *   The destination stays inside the workspace, also through symbolic links; a destination that
 *   is not empty must already be a git repository, which is then reused.
 * - A fetch of a commit id the server refuses to hand out directly falls back to fetching every
 *   branch and tag in full and checking the commit out from there.
 * - Every line git prints is passed to `onLine` (cut at 8 KiB, credentials in URLs masked). A
 *   failure rejects with `STEP_CHECKOUT_FAILED` quoting git's last lines of stderr. On timeout
 *   or abort the whole git process group is killed before the promise rejects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { JunctionError } from '../../errors/index.ts';

export interface CheckoutInputs {
  readonly repository?: string;
  readonly ref?: string;
  readonly path?: string;
  readonly depth?: number;
}

export interface CheckoutTarget {
  readonly repository: string;
  readonly ref: string;
}

export interface CheckoutLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  readonly ts: string;
}

export interface CheckoutOptions {
  readonly target: CheckoutTarget;
  /** The job's workspace; created when missing. */
  readonly workspace: string;
  /** Folder inside the workspace to check out into; the workspace itself when absent. */
  readonly path?: string;
  /** Commits of history to fetch; 0 fetches all. */
  readonly depth: number;
  /** Base environment for git (PATH, HOME, …); its `GIT_*` variables are dropped. */
  readonly env: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Longest the whole checkout may take. */
  readonly timeoutMs?: number;
  /** Called for every line git prints; must not throw. */
  readonly onLine: (line: CheckoutLine) => void;
}

export interface CheckoutResult {
  readonly commit: string;
  readonly outputs: Record<string, string>;
}

/** The transports git may use; `ext::` and `fd::` are not among them. */
export const ALLOWED_GIT_PROTOCOLS = 'file:git:http:https:ssh';
const MAX_LINE_CHARS = 8192;
const STDERR_TAIL_LINES = 20;
const MESSAGE_TAIL_LINES = 5;
const MAX_INPUT_CHARS = 4096;
const MAX_REF_CHARS = 255;
const MAX_DEPTH = 2_147_483_647;
const ZERO_SHA = /^0{40}(?:0{24})?$/;
const HEX_REF = /^[0-9a-f]{7,64}$/i;
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
// Control characters, DEL, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f\u2028\u2029]/;

// ---------------------------------------------------------------------------------------------
// Inputs.

function invalid(message: string, key?: string): JunctionError {
  return new JunctionError('STEP_INPUT_INVALID', message, key === undefined ? {} : { details: { key } });
}

/** A URL or scp-like address with its user information replaced by `***`. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

/** Quotes a value for a message: credentials masked, at most 200 characters. */
function quote(value: string): string {
  const shown = redactUrl(value).replace(new RegExp(CONTROL_CHARS.source, 'g'), '?');
  return `'${shown.length > 200 ? `${shown.slice(0, 199)}…` : shown}'`;
}

/** Checks a clone URL or absolute path; throws `STEP_INPUT_INVALID` naming `with.repository`. */
export function validateRepository(repository: string): string {
  const key = 'with.repository';
  if (repository === '') throw invalid(`${key} is empty`, key);
  if (repository.length > MAX_INPUT_CHARS)
    throw invalid(`${key} is longer than ${MAX_INPUT_CHARS} characters`, key);
  if (CONTROL_CHARS.test(repository))
    throw invalid(`${key} ${quote(repository)} contains a control character`, key);
  if (repository.startsWith('-'))
    throw invalid(`${key} ${quote(repository)} starts with '-', which git would read as an option`, key);
  const helper = /^([a-z0-9][a-z0-9+.-]*)::/i.exec(repository);
  if (helper !== null) throw invalid(`${key} uses the transport '${helper[1]}::', which is not allowed`, key);
  const url = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(repository);
  if (url !== null) {
    const scheme = url[1]!.toLowerCase();
    const allowed = ALLOWED_GIT_PROTOCOLS.split(':');
    const known = allowed.includes(scheme) || scheme === 'git+ssh' || scheme === 'ssh+git';
    if (!known)
      throw invalid(`${key} uses the scheme '${scheme}://'; expected one of ${allowed.join(', ')}`, key);
    const host = url[2]!.replace(/^[^/@]*@/, '');
    if (host.startsWith('-'))
      throw invalid(`${key} ${quote(repository)} names a host starting with '-'`, key);
    return repository;
  }
  if (path.isAbsolute(repository)) return repository;
  // scp-like `user@host:path` or `host:path`: a ':' before the first '/'.
  const scp = /^(?:([^@/:\s]+)@)?([^@/:\s]+):/.exec(repository);
  if (scp !== null) {
    if (scp[2]!.startsWith('-') || (scp[1] ?? '').startsWith('-'))
      throw invalid(`${key} ${quote(repository)} names a user or host starting with '-'`, key);
    return repository;
  }
  throw invalid(
    `${key} ${quote(repository)} is neither a URL (https://, ssh://, git://, file://), user@host:path, nor an absolute path`,
    key,
  );
}

/** Checks a commit id, branch, tag or full ref name; throws `STEP_INPUT_INVALID` naming `with.ref`. */
export function validateRef(ref: string): string {
  const key = 'with.ref';
  if (ref === '') throw invalid(`${key} is empty`, key);
  if (ref.length > MAX_REF_CHARS) throw invalid(`${key} is longer than ${MAX_REF_CHARS} characters`, key);
  if (ZERO_SHA.test(ref))
    throw invalid(
      `${key} ${quote(ref)} is the all-zeros commit (a branch deletion has no commit to check out); set with.ref or skip the step with 'if'`,
      key,
    );
  if (ref.startsWith('-'))
    throw invalid(`${key} ${quote(ref)} starts with '-', which git would read as an option`, key);
  if (CONTROL_CHARS.test(ref) || /\s/u.test(ref))
    throw invalid(`${key} ${quote(ref)} contains a space or a control character`, key);
  const bad = /[~^:?*[\\]|@\{|\.\.|\/\/|^[+/.]|[/.]$|\.lock$|\/\./.exec(ref);
  if (bad !== null)
    throw invalid(`${key} ${quote(ref)} is not a valid commit, branch or tag name (found '${bad[0]}')`, key);
  return ref;
}

function field(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}

/**
 * The repository and ref to check out: the step's `with` values, or else the triggering event's
 * (`git.push`, `git.pull_request`, `git.tag` shapes). Throws `STEP_INPUT_INVALID` saying which
 * `with` key to set when neither gives one, or when a value is refused.
 */
export function checkoutTarget(inputs: CheckoutInputs, eventData: unknown): CheckoutTarget {
  const repository = firstString(
    inputs.repository,
    field(eventData, 'repository', 'clone_url'),
    field(eventData, 'repository', 'url'),
    field(eventData, 'repository'),
    field(eventData, 'repo', 'url'),
  );
  if (repository === undefined)
    throw invalid(
      "no repository to check out: the event's data has no repository.clone_url, repository.url, repository or repo.url; set with.repository",
      'with.repository',
    );
  validateRepository(repository);
  const fromEvent = firstString(inputs.ref) === undefined;
  const after = field(eventData, 'after');
  if (fromEvent && typeof after === 'string' && ZERO_SHA.test(after))
    throw invalid(
      "the event's 'after' commit is all zeros: the push deleted the branch, so there is nothing to check out; set with.ref or skip the step with 'if'",
      'with.ref',
    );
  const ref = firstString(
    inputs.ref,
    after,
    field(eventData, 'sha'),
    field(eventData, 'commit'),
    // git.pull_request events of every git-host source: the head commit of the pull request.
    field(eventData, 'head_sha'),
    field(eventData, 'head', 'sha'),
    field(eventData, 'pull_request', 'head', 'sha'),
    field(eventData, 'ref'),
  );
  if (ref === undefined)
    throw invalid(
      "no commit to check out: the event's data has no after, sha, commit, head_sha, head.sha, pull_request.head.sha or ref; set with.ref",
      'with.ref',
    );
  return { repository, ref: validateRef(ref) };
}

function validateDepth(depth: number): number {
  if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH)
    throw invalid(
      `with.depth must be a whole number from 0 to ${MAX_DEPTH}, got ${String(depth)}`,
      'with.depth',
    );
  return depth;
}

// ---------------------------------------------------------------------------------------------
// The destination.

function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

async function exists(target: string): Promise<boolean> {
  try {
    await lstat(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** The real path of `target`'s deepest existing ancestor, with the rest appended. */
async function realTarget(target: string): Promise<string> {
  const missing: string[] = [];
  let current = target;
  for (let i = 0; i < 4096; i += 1) {
    if (await exists(current)) return path.join(await realpath(current), ...missing.reverse());
    const parent = path.dirname(current);
    if (parent === current) break;
    missing.push(path.basename(current));
    current = parent;
  }
  return target;
}

/** Resolves `with.path` inside the workspace (following symbolic links) and prepares it. */
async function prepareDestination(workspace: string, subPath: string | undefined): Promise<string> {
  const key = 'with.path';
  const root = path.resolve(workspace);
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  let dest = realRoot;
  if (subPath !== undefined && subPath !== '') {
    if (subPath.length > MAX_INPUT_CHARS)
      throw invalid(`${key} is longer than ${MAX_INPUT_CHARS} characters`, key);
    if (CONTROL_CHARS.test(subPath))
      throw invalid(`${key} ${quote(subPath)} contains a control character`, key);
    if (path.isAbsolute(subPath))
      throw invalid(`${key} ${quote(subPath)} is absolute; give a folder relative to the workspace`, key);
    const lexical = path.resolve(realRoot, subPath);
    if (!isInside(realRoot, lexical))
      throw invalid(`${key} ${quote(subPath)} leads outside the workspace`, key);
    dest = await realTarget(lexical);
    if (!isInside(realRoot, dest))
      throw invalid(`${key} ${quote(subPath)} leads outside the workspace through a symbolic link`, key);
  }
  const shown = subPath === undefined || subPath === '' ? 'the workspace' : `with.path ${quote(subPath)}`;
  if (await exists(dest)) {
    const info = await lstat(dest);
    if (!info.isDirectory())
      throw new JunctionError('STEP_CHECKOUT_FAILED', `${shown} exists and is not a folder`, {
        retryable: false,
      });
    const entries = await readdir(dest);
    const gitDir = entries.includes('.git') ? await lstat(path.join(dest, '.git')) : undefined;
    if (entries.length > 0 && gitDir?.isDirectory() !== true)
      throw new JunctionError(
        'STEP_CHECKOUT_FAILED',
        `${shown} is not empty and is not a git repository; check out into an empty folder with with.path`,
        { retryable: false },
      );
  } else {
    await mkdir(dest, { recursive: true });
  }
  return dest;
}

// ---------------------------------------------------------------------------------------------
// Running git.

/** The environment git runs with: the base without its `GIT_*` variables, no prompts, no config. */
export function gitEnvironment(base: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (/^GIT_/i.test(name) || name === 'SSH_ASKPASS') continue;
    env[name] = value;
  }
  env['GIT_TERMINAL_PROMPT'] = '0';
  env['GIT_CONFIG_NOSYSTEM'] = '1';
  env['GIT_CONFIG_GLOBAL'] = '/dev/null';
  env['GIT_ALLOW_PROTOCOL'] = ALLOWED_GIT_PROTOCOLS;
  env['GIT_SSH_COMMAND'] = 'ssh -o BatchMode=yes';
  env['LC_ALL'] = 'C';
  return env;
}

/** Settings on every git command: no hooks, no file-system monitor command. */
const SAFE_CONFIG = ['-c', 'core.hooksPath=/dev/null', '-c', 'core.fsmonitor=false'];

interface GitRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderrTail: readonly string[];
}

interface GitContext {
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly deadline: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onLine: (line: CheckoutLine) => void;
}

/** Kills git and everything it started (ssh, remote helpers): git leads its own process group. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: the group has already exited. Anything else: at least kill git itself.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') child.kill('SIGKILL');
  }
}

/** Splits a stream into lines (on \n and \r), each cut at MAX_LINE_CHARS, without holding more. */
function lineSplitter(emit: (text: string) => void): { push(chunk: string): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      const parts = pending.split(/\r\n|\r|\n/);
      pending = parts.pop() ?? '';
      for (const part of parts) emit(part.slice(0, MAX_LINE_CHARS));
      if (pending.length > MAX_LINE_CHARS) {
        emit(pending.slice(0, MAX_LINE_CHARS));
        pending = '';
      }
    },
    end() {
      if (pending !== '') emit(pending.slice(0, MAX_LINE_CHARS));
      pending = '';
    },
  };
}

/** Runs one git command; `quiet` keeps stdout to itself (for `rev-parse`). */
function runGit(context: GitContext, args: readonly string[], quiet = false): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...SAFE_CONFIG, ...args], {
      cwd: context.cwd,
      env: context.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    const tail: string[] = [];
    let stdout = '';
    let settled = false;
    let stopped: JunctionError | undefined;
    const now = (): string => new Date().toISOString();
    const out = lineSplitter((text) => {
      const clean = redactUrl(text);
      if (quiet) {
        if (stdout.length < MAX_LINE_CHARS) stdout += `${clean}\n`;
      } else context.onLine({ stream: 'stdout', text: clean, ts: now() });
    });
    const err = lineSplitter((text) => {
      const clean = redactUrl(text);
      if (clean.trim() !== '') {
        tail.push(clean);
        if (tail.length > STDERR_TAIL_LINES) tail.shift();
      }
      context.onLine({ stream: 'stderr', text: clean, ts: now() });
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));

    const stop = (error: JunctionError): void => {
      if (stopped !== undefined) return;
      stopped = error;
      killGroup(child);
    };
    const onAbort = (): void =>
      stop(
        new JunctionError('STEP_CHECKOUT_FAILED', 'checkout was cancelled', {
          retryable: false,
          cause: context.signal?.reason,
          details: { reason: 'cancelled' },
        }),
      );
    const remaining = context.deadline === undefined ? undefined : context.deadline - Date.now();
    const timer =
      remaining === undefined
        ? undefined
        : setTimeout(
            () =>
              stop(
                new JunctionError(
                  'STEP_CHECKOUT_FAILED',
                  `checkout timed out after ${String(context.timeoutMs)}ms`,
                  { details: { reason: 'timeout' } },
                ),
              ),
            Math.max(0, remaining),
          );
    context.signal?.addEventListener('abort', onAbort, { once: true });
    if (context.signal?.aborted === true) onAbort();

    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      context.signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    child.on('error', (error: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          new JunctionError(
            'STEP_CHECKOUT_FAILED',
            error.code === 'ENOENT'
              ? 'git is not installed or not on PATH'
              : `cannot run git: ${error.message}`,
            { retryable: false, cause: error },
          ),
        ),
      ),
    );
    child.on('close', (code, signal) =>
      finish(() => {
        out.end();
        err.end();
        // The group may hold children (ssh, remote helpers) that outlive git itself.
        if (stopped !== undefined) {
          killGroup(child);
          reject(stopped);
          return;
        }
        resolve({ code: code ?? (signal === null ? 1 : 128), stdout, stderrTail: tail });
      }),
    );
  });
}

function gitFailed(what: string, target: CheckoutTarget, run: GitRun, hint = ''): JunctionError {
  const lines = run.stderrTail.slice(-MESSAGE_TAIL_LINES);
  const said = lines.length === 0 ? 'git printed nothing on stderr' : lines.join('\n');
  return new JunctionError(
    'STEP_CHECKOUT_FAILED',
    `cannot check out ${quote(target.ref)} from ${quote(target.repository)}${hint}: git ${what} exited with ${run.code}:\n${said}`,
    { details: { exitCode: run.code, command: what } },
  );
}

async function mustRun(
  context: GitContext,
  target: CheckoutTarget,
  what: string,
  args: readonly string[],
  hint = '',
): Promise<GitRun> {
  const run = await runGit(context, args);
  if (run.code !== 0) throw gitFailed(what, target, run, hint);
  return run;
}

/** Points `origin` at the repository, adding it or changing its URL. */
async function setOrigin(context: GitContext, target: CheckoutTarget, dest: string): Promise<void> {
  const current = await runGit(context, ['-C', dest, 'config', '--get', 'remote.origin.url'], true);
  const args =
    current.code === 0
      ? ['-C', dest, 'remote', 'set-url', '--', 'origin', target.repository]
      : ['-C', dest, 'remote', 'add', '--', 'origin', target.repository];
  await mustRun(context, target, 'remote', args);
}

/**
 * Fetches `target.ref` into `dest` and checks it out detached. Returns the commit checked out
 * and the step's outputs `commit`, `ref` and `repository` (credentials masked).
 */
export async function checkout(options: CheckoutOptions): Promise<CheckoutResult> {
  const target: CheckoutTarget = {
    repository: validateRepository(options.target.repository),
    ref: validateRef(options.target.ref),
  };
  const depth = validateDepth(options.depth);
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0))
    throw new JunctionError(
      'STEP_INPUT_INVALID',
      `the checkout timeout must be positive, got ${options.timeoutMs}`,
    );
  if (options.signal?.aborted === true)
    throw new JunctionError('STEP_CHECKOUT_FAILED', 'checkout was cancelled', {
      retryable: false,
      cause: options.signal.reason,
      details: { reason: 'cancelled' },
    });
  const dest = await prepareDestination(options.workspace, options.path);
  const context: GitContext = {
    cwd: dest,
    env: gitEnvironment(options.env),
    deadline: options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    onLine: options.onLine,
  };

  await mustRun(context, target, 'init', ['init', '-q', '--template=', '--', dest]);
  await setOrigin(context, target, dest);
  const depthArgs = depth === 0 ? [] : ['--depth', String(depth)];
  const fetch = await runGit(context, [
    '-C',
    dest,
    'fetch',
    '--no-tags',
    ...depthArgs,
    '--',
    'origin',
    target.ref,
  ]);
  let revision = 'FETCH_HEAD';
  let hint = '';
  if (fetch.code !== 0) {
    // A server may refuse a commit id no branch or tag points at, and an abbreviated id cannot
    // be fetched at all: fetch everything and let checkout find the commit.
    if (!HEX_REF.test(target.ref)) throw gitFailed('fetch', target, fetch);
    const unshallow = (await exists(path.join(dest, '.git', 'shallow'))) ? ['--unshallow'] : [];
    await mustRun(context, target, 'fetch', [
      '-C',
      dest,
      'fetch',
      '--no-tags',
      ...unshallow,
      '--',
      'origin',
      '+refs/heads/*:refs/remotes/origin/*',
      '+refs/tags/*:refs/tags/*',
    ]);
    revision = `${target.ref}^{commit}`;
    hint = ' (the server would not hand it out alone, and no branch or tag there contains it)';
  }
  await mustRun(
    context,
    target,
    'checkout',
    ['-C', dest, 'checkout', '-q', '--force', '--detach', revision, '--'],
    hint,
  );
  const head = await runGit(context, ['-C', dest, 'rev-parse', '--verify', 'HEAD^{commit}'], true);
  const commit = head.stdout.trim();
  if (head.code !== 0 || !FULL_SHA.test(commit)) throw gitFailed('rev-parse', target, head);
  if (FULL_SHA.test(target.ref) && commit !== target.ref.toLowerCase())
    throw new JunctionError(
      'STEP_CHECKOUT_FAILED',
      `checked out ${commit} but ${quote(target.ref)} was asked for`,
      { retryable: false },
    );
  return {
    commit,
    outputs: { commit, ref: target.ref, repository: redactUrl(target.repository) },
  };
}
