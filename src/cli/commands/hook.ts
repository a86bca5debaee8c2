/**
 * `junction hook install REPO --url URL --source NAME [--token-file FILE | --token-env VAR]
 * [--clone-url URL] [--force]` · `junction hook uninstall REPO`: the post-receive hook that reports
 * pushes to a plain git repository to Junction's `git` source (docs/sources-git.md).
 *
 * What callers may assume:
 * - `REPO` must be a bare repository or a repository's `.git` folder (it has `HEAD` and
 *   `objects/`); anything else is `CLI_USAGE`.
 * - The hook is a POSIX sh script needing only sh, git, awk, mktemp and curl. It never contains
 *   the token: it reads it at run time from the token file (which must be mode 0600, checked at
 *   install and at every run) or from an environment variable. Configuration values are written
 *   into it single-quoted, and values with control characters are refused.
 * - An existing hook that is not Junction's is never overwritten without `--force`; `uninstall`
 *   removes only Junction's own hook.
 * - The hook never rejects a push: a failed delivery prints a warning to the pusher, exit 0.
 */
import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { JunctionError } from '../../errors/index.ts';

/** The line that marks a hook as Junction's. */
export const HOOK_MARKER = '# junction-hook: git post-receive';
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface HookInstallOptions {
  readonly url: string;
  readonly source: string;
  readonly tokenFile?: string;
  readonly tokenEnv?: string;
  readonly cloneUrl?: string;
  readonly force?: boolean;
}

function usage(message: string): JunctionError {
  return new JunctionError('CLI_USAGE', message);
}

/** Throws CLI_USAGE unless `repo` is a bare repository or a `.git` folder; returns its absolute path. */
export function checkGitDir(repo: string): string {
  const dir = resolve(repo);
  const isDir = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();
  if (!isDir(dir) || !existsSync(join(dir, 'HEAD')) || !isDir(join(dir, 'objects'))) {
    throw usage(`'${repo}' is not a bare git repository or a .git folder (expected HEAD and objects/ in it)`);
  }
  return dir;
}

/** Single-quotes a value for sh. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function checkValue(name: string, value: string): void {
  if (value === '' || CONTROL.test(value) || value.length > 4096) {
    throw usage(`${name} must be a non-empty value without control characters`);
  }
}

/** The hook script for these settings (pure). */
export function renderHook(settings: {
  url: string;
  source: string;
  tokenFile?: string;
  tokenEnv?: string;
  repoName: string;
  cloneUrl: string;
}): string {
  const endpoint = `${settings.url.replace(/\/+$/, '')}/hooks/${settings.source}`;
  const tokenFile = settings.tokenFile ?? '';
  const tokenEnv = settings.tokenEnv ?? '';
  return `#!/bin/sh
${HOOK_MARKER}
# Written by 'junction hook install'; 'junction hook uninstall' removes it.
# Reports ref updates to Junction. Never rejects a push: failures print a warning, exit 0.
JUNCTION_ENDPOINT=${shellQuote(endpoint)}
JUNCTION_TOKEN_FILE=${shellQuote(tokenFile)}
JUNCTION_TOKEN_ENV=${shellQuote(tokenEnv)}
JUNCTION_REPO_NAME=${shellQuote(settings.repoName)}
JUNCTION_CLONE_URL=${shellQuote(settings.cloneUrl)}
MAX_UPDATES=1000
MAX_FILES=3000
MAX_COMMITS=100
LC_ALL=C
export LC_ALL

warn() { printf 'junction: %s\\n' "$*" >&2; }

# JSON string of stdin (lines joined with \\n, trailing empty lines dropped).
json_str() {
  awk 'BEGIN { for (i = 1; i < 32; i++) m[sprintf("%c", i)] = sprintf("\\\\u%04x", i)
         m["\\t"] = "\\\\t"; m["\\r"] = "\\\\r"; m["\\\\"] = "\\\\\\\\"; m["\\""] = "\\\\\\"" }
       { line[NR] = $0 }
       END { n = NR; while (n > 0 && line[n] == "") n--
             printf "\\""
             for (k = 1; k <= n; k++) {
               if (k > 1) printf "\\\\n"
               s = line[k]; len = length(s)
               for (i = 1; i <= len; i++) { c = substr(s, i, 1); if (c in m) printf "%s", m[c]; else printf "%s", c }
             }
             printf "\\"" }'
}

# JSON array of the lines of stdin.
json_lines() {
  printf '['
  first=1
  while IFS= read -r line || [ -n "$line" ]; do
    [ -z "$line" ] && continue
    [ "$first" = 1 ] || printf ','
    first=0
    printf '%s\\n' "$line" | json_str
  done
  printf ']'
}

TOKEN=
if [ -n "$JUNCTION_TOKEN_ENV" ]; then
  eval "TOKEN=\\\${$JUNCTION_TOKEN_ENV:-}"
elif [ -r "$JUNCTION_TOKEN_FILE" ]; then
  case "$(ls -ln -- "$JUNCTION_TOKEN_FILE")" in
    ????------*) TOKEN=$(head -n 1 -- "$JUNCTION_TOKEN_FILE" | tr -d '\\r\\n') ;;
    *) warn "token file $JUNCTION_TOKEN_FILE is readable by others (chmod 600 it); not sent"; exit 0 ;;
  esac
fi
if [ -z "$TOKEN" ]; then
  warn "no token (file $JUNCTION_TOKEN_FILE, env \${JUNCTION_TOKEN_ENV:-unset}); push not reported"
  exit 0
fi

umask 077
TMP=$(mktemp -d) || { warn "cannot create a temp dir; push not reported"; exit 0; }
trap 'rm -rf "$TMP"' EXIT
ZERO_RE='^0*$'
REPO_PATH=$(pwd -P)
OTHER_REFS="$TMP/refs"

count=0
{
  printf '{"repository":{"name":'
  printf '%s\\n' "$JUNCTION_REPO_NAME" | json_str
  printf ',"path":'
  printf '%s\\n' "$REPO_PATH" | json_str
  printf ',"clone_url":'
  printf '%s\\n' "$JUNCTION_CLONE_URL" | json_str
  printf '},"updates":['
} > "$TMP/body"

while read -r old new ref; do
  [ -n "$ref" ] || continue
  if [ "$count" -ge "$MAX_UPDATES" ]; then warn "more than $MAX_UPDATES refs updated; the rest are not reported"; break; fi
  count=$((count + 1))
  files="$TMP/files"; commits="$TMP/commits"
  : > "$files"; : > "$commits"
  complete=false
  if echo "$new" | grep -Eq "$ZERO_RE"; then
    complete=true
  else
    case "$ref" in
      refs/tags/*) complete=false ;;
      *)
        if echo "$old" | grep -Eq "$ZERO_RE"; then
          # A new branch: the commits no other ref has, and the files they touch.
          git for-each-ref --format='%(refname) %(objectname)' refs/heads refs/tags | awk -v r="$ref" '$1 != r { print "^" $2 }' > "$TMP/others"
          git rev-list --reverse --max-count=$((MAX_COMMITS + 1)) "$new" --stdin < "$TMP/others" > "$commits" 2>/dev/null
          if [ "$(wc -l < "$commits")" -le "$MAX_COMMITS" ]; then
            while read -r c; do git diff-tree --root --no-commit-id --name-only -r "$c"; done < "$commits" | sort -u | head -n $((MAX_FILES + 1)) > "$files"
            complete=true
          fi
        else
          git diff --name-only "$old" "$new" 2>/dev/null | head -n $((MAX_FILES + 1)) > "$files" && complete=true
          git rev-list --reverse --max-count=$((MAX_COMMITS + 1)) "$old..$new" > "$commits" 2>/dev/null
        fi
        ;;
    esac
  fi
  if [ "$(wc -l < "$files")" -gt "$MAX_FILES" ]; then : > "$files"; complete=false; fi
  [ "$count" -gt 1 ] && printf ',' >> "$TMP/body"
  {
    printf '{"ref":'; printf '%s\\n' "$ref" | json_str
    printf ',"before":"%s","after":"%s"' "$old" "$new"
    printf ',"changed_files_complete":%s' "$complete"
    if [ "$complete" = true ] && ! echo "$new" | grep -Eq "$ZERO_RE"; then
      printf ',"changed_files":'; json_lines < "$files"
    fi
    if [ -s "$commits" ]; then
      printf ',"commits":['
      n=0
      head -n "$MAX_COMMITS" "$commits" | while read -r c; do
        [ "$n" -gt 0 ] && printf ','
        n=$((n + 1))
        printf '{"id":"%s","message":' "$c"
        git show -s --format=%B "$c" | json_str
        printf ',"author":{"name":'
        git show -s --format=%an "$c" | json_str
        printf ',"email":'
        git show -s --format=%ae "$c" | json_str
        printf '},"timestamp":"%s"}' "$(git show -s --format=%aI "$c")"
      done
      printf ']'
    fi
    printf '}'
  } >> "$TMP/body"
done

[ "$count" -gt 0 ] || exit 0
{
  printf ']'
  if [ -n "\${USER:-}" ]; then printf ',"pusher":'; printf '%s\\n' "$USER" | json_str; fi
  printf '}'
} >> "$TMP/body"

printf 'Authorization: Bearer %s\\n' "$TOKEN" > "$TMP/auth"
if curl -sS --fail-with-body --max-time 10 -H @"$TMP/auth" -H 'content-type: application/json' \\
    --data-binary @"$TMP/body" -o "$TMP/answer" "$JUNCTION_ENDPOINT"; then
  warn "reported $count ref update(s)"
else
  warn "could not report this push to $JUNCTION_ENDPOINT: $(head -c 500 "$TMP/answer" 2>/dev/null)"
fi
exit 0
`;
}

function isJunctionHook(path: string): boolean {
  return readFileSync(path, 'utf8').split('\n', 3).includes(HOOK_MARKER);
}

/** Writes REPO/hooks/post-receive; returns its path. */
export function installHook(repo: string, options: HookInstallOptions): string {
  const dir = checkGitDir(repo);
  checkValue('--url', options.url);
  if (!/^https?:\/\/[^\s'"]+$/.test(options.url))
    throw usage(`--url must be an http(s) URL, got '${options.url}'`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(options.source)) {
    throw usage(`--source must be a source name (letters, digits, _ . -), got '${options.source}'`);
  }
  if (options.tokenFile !== undefined && options.tokenEnv !== undefined) {
    throw usage('give --token-file or --token-env, not both');
  }
  let tokenFile: string | undefined;
  if (options.tokenEnv !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.tokenEnv)) {
      throw usage(`--token-env must be an environment variable name, got '${options.tokenEnv}'`);
    }
  } else {
    tokenFile = resolve(options.tokenFile ?? join(dir, 'junction.token'));
    checkValue('--token-file', tokenFile);
    if (!existsSync(tokenFile)) {
      throw usage(
        `token file '${tokenFile}' does not exist; write the source's token into it and chmod 600 it`,
      );
    }
    if ((statSync(tokenFile).mode & 0o077) !== 0) {
      throw usage(`token file '${tokenFile}' is readable by others; chmod 600 it`);
    }
  }
  const cloneUrl = options.cloneUrl ?? dir;
  checkValue('--clone-url', cloneUrl);
  const repoName = basename(dir === resolve(dir, '..', '.git') ? resolve(dir, '..') : dir).replace(
    /\.git$/,
    '',
  );
  const hookPath = join(dir, 'hooks', 'post-receive');
  if (existsSync(hookPath) && options.force !== true && !isJunctionHook(hookPath)) {
    throw usage(`'${hookPath}' exists and is not Junction's hook; --force replaces it`);
  }
  const script = renderHook({
    url: options.url,
    source: options.source,
    repoName: repoName === '' ? 'repository' : repoName,
    cloneUrl,
    ...(tokenFile === undefined ? {} : { tokenFile }),
    ...(options.tokenEnv === undefined ? {} : { tokenEnv: options.tokenEnv }),
  });
  writeFileSync(hookPath, script, { mode: 0o755 });
  chmodSync(hookPath, 0o755);
  return hookPath;
}

/** Removes Junction's hook; returns false when there is none, throws when the hook is not Junction's. */
export function uninstallHook(repo: string): boolean {
  const hookPath = join(checkGitDir(repo), 'hooks', 'post-receive');
  if (!existsSync(hookPath)) return false;
  if (!isJunctionHook(hookPath)) throw usage(`'${hookPath}' is not Junction's hook; it was left in place`);
  unlinkSync(hookPath);
  return true;
}

export function registerHook(program: Command): void {
  const hook = program.command('hook').description('git hooks that report pushes to a git source');
  hook
    .command('install')
    .description('install a post-receive hook in a bare repository (or .git folder)')
    .argument('<repo>', 'bare repository or .git folder')
    .requiredOption('--url <url>', 'Junction server URL')
    .requiredOption('--source <name>', "name of the 'git' source in junction.yaml")
    .option('--token-file <file>', "file holding the source's token, mode 0600 (default REPO/junction.token)")
    .option('--token-env <var>', "environment variable holding the source's token at push time")
    .option('--clone-url <url>', 'clone URL reported in events (default: the repository path)')
    .option('--force', "replace an existing hook that is not Junction's")
    .action((repo: string, flags: HookInstallOptions) => {
      const path = installHook(repo, flags);
      process.stdout.write(`installed ${path}\n`);
    });
  hook
    .command('uninstall')
    .description("remove Junction's post-receive hook (never another hook)")
    .argument('<repo>', 'bare repository or .git folder')
    .action((repo: string) => {
      const removed = uninstallHook(repo);
      process.stdout.write(
        removed ? `removed ${join(resolve(repo), 'hooks', 'post-receive')}\n` : 'no hook installed\n',
      );
    });
}
