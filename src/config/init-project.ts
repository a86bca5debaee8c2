/**
 * The starter files `junction init` writes: a commented `junction.yaml` that loads as it is (the
 * embedded single-node setup, every default shown), an example pipeline, and a `.gitignore`
 * entry for the state folder. Existing files are kept unless `force`; the `.gitignore` is only
 * ever appended to.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const STARTER_CONFIG = `# junction.yaml: the configuration of a Junction server and its workers.
#
# Every key is optional: the values below are the defaults, and a folder without this file
# runs the same single-node setup (SQLite store, in-process bus). Reference: docs/configuration.md
#
# Any value may read an environment variable: \${NAME}, or \${NAME:-fallback}.
# Any key may be set from the environment: JUNCTION_ + its path, e.g. JUNCTION_SERVER_PORT=9090.

# Folder for state (the SQLite database, job workspaces), relative to this file.
dataDir: .junction

# The HTTP server: webhook receivers at /hooks/<source>, CloudEvents at /events, the REST API
# at /api/v1, the web UI at /, metrics at /metrics.
server:
  # This machine only. Before listening on other interfaces (0.0.0.0), create an API token:
  #   junction token create --scope admin --name me
  host: 127.0.0.1
  port: 8080
  # publicUrl: https://junction.example.com   # the address senders use, behind a proxy
  # tls:                                      # serve HTTPS
  #   cert: tls/cert.pem
  #   key: tls/key.pem
  # Largest request body (larger ones get 413), deepest JSON nesting, most events in one
  # batched request, and the longest time to receive a request.
  bodyLimit: 1MiB
  maxJsonDepth: 64
  maxBatchEvents: 1000
  requestTimeout: 30s
  # false: POST /events needs a token with the emit scope, created with
  #   junction token create --scope emit --name ci
  # true: anyone who can reach the server may send events.
  allowAnonymousEmit: false

# Where state is kept: by default a SQLite file in dataDir. For several nodes, use PostgreSQL:
#   store: postgres://junction:\${PGPASSWORD}@db.internal:5432/junction
store:
  # url: sqlite:.junction/junction.db
  # normal: survives a killed process; a power loss may lose the last commits.
  # full: survives a power loss too, at the cost of an fsync on every commit.
  durability: normal

# How events and jobs travel between Junction's parts. 'embedded' keeps them in this process,
# which is all one node needs. To scale out over NATS JetStream, name its servers instead:
#   bus: nats://nats-1.internal:4222,nats://nats-2.internal:4222
bus:
  url: embedded
  # Prefix of stream and subject names, so several installations can share a broker.
  prefix: junction

# How received events are written to the store.
intake:
  # Beyond this many events waiting, senders get 503 with Retry-After and retry.
  maxPendingEvents: 10000
  # Milliseconds to gather events arriving together into one commit.
  maxBatchWaitMs: 2

# Pipeline files (*.yaml), relative to this file.
pipelines:
  dir: pipelines

# JSON Schemas that event data must match, one file per event type: <type>.json.
# schemas:
#   dir: schemas

# What is logged: debug, info, warn or error; json for machines, pretty for a terminal.
log:
  level: info
  format: json

# Event sources, each with a receiver at /hooks/<name>. Keep secrets out of this file:
# sources:
#   - name: github
#     type: github
#     secret: \${GITHUB_WEBHOOK_SECRET}
sources: []
`;

export const STARTER_PIPELINE = `# An example pipeline: it runs when an event of type com.example.hello arrives.
# Send one (with a token that has the emit scope in JUNCTION_TOKEN):
#   junction emit --type com.example.hello --data '{"name":"world"}'
name: hello
on:
  - event: com.example.hello
jobs:
  greet:
    steps:
      - run: echo "hello, \${{ event.data.name }}"
        timeout: 1m
`;

/** The line `junction init` adds to `.gitignore`. */
export const GITIGNORE_ENTRY = '.junction/';

export interface InitProjectOptions {
  /** Overwrite existing starter files. */
  readonly force?: boolean;
}

export interface InitProjectResult {
  /** Files written or changed, as `path.join(dir, file)`. */
  readonly written: string[];
  /** Files left alone because they exist (or already ignore the state folder). */
  readonly skipped: string[];
}

async function writeStarter(file: string, text: string, force: boolean): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(file, text, { flag: force ? 'w' : 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Whether a `.gitignore` already ignores the `.junction` folder at its root. */
export function ignoresStateFolder(gitignore: string): boolean {
  return gitignore
    .split(/\r?\n/)
    .map((line) => line.trim())
    .some((line) =>
      ['.junction', '.junction/', '/.junction', '/.junction/', '.junction/*', '/.junction/*'].includes(line),
    );
}

async function ensureGitignore(file: string): Promise<boolean> {
  let current: string;
  try {
    current = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await writeFile(file, `${GITIGNORE_ENTRY}\n`, { flag: 'wx' });
    return true;
  }
  if (ignoresStateFolder(current)) return false;
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  await writeFile(file, `${current}${separator}${GITIGNORE_ENTRY}\n`);
  return true;
}

/**
 * Writes `junction.yaml`, `pipelines/hello.yaml` and a `.gitignore` entry for `.junction/` into
 * `dir` (created if missing). Existing starter files are kept (reported as skipped) unless
 * `force`; an existing `.gitignore` is appended to, never replaced.
 */
export async function initProject(dir: string, options: InitProjectOptions = {}): Promise<InitProjectResult> {
  const force = options.force === true;
  const written: string[] = [];
  const skipped: string[] = [];
  const starters: [string, string][] = [
    ['junction.yaml', STARTER_CONFIG],
    [path.join('pipelines', 'hello.yaml'), STARTER_PIPELINE],
  ];
  for (const [name, text] of starters) {
    const file = path.join(dir, name);
    ((await writeStarter(file, text, force)) ? written : skipped).push(file);
  }
  const gitignore = path.join(dir, '.gitignore');
  ((await ensureGitignore(gitignore)) ? written : skipped).push(gitignore);
  return { written, skipped };
}
