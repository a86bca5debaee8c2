/**
 * The `junction` command. Server commands (`serve`, `init`, `config`, `token`) work on the local
 * configuration and store; client commands (`emit`, `events`, `explain`) talk to a running server at
 * JUNCTION_URL with JUNCTION_TOKEN. Exit codes are listed in exit-codes.ts and docs/cli.md.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import {
  formatConfigProblems,
  initProject,
  loadConfig,
  printConfigYaml,
  redactConfig,
  type JunctionConfig,
} from '../config/index.ts';
import { openStore } from '../store/index.ts';
import {
  TOKEN_SCOPES,
  createApiToken,
  createSecretKeyFile,
  isTokenScope,
  resolveSecretKeyFile,
} from '../security/index.ts';
import { JunctionError, errorMessage, isJunctionError } from '../errors/index.ts';
import { clientFrom, clientOptions, type ClientFlags } from './common.ts';
import { applyEngineFlags } from './engine-flags.ts';
import { registerExplain } from './commands/explain.ts';
import { registerGraph } from './commands/graph.ts';
import { registerHook } from './commands/hook.ts';
import { registerRuns } from './commands/runs.ts';
import { registerSecret } from './commands/secret.ts';
import { registerSchema } from './commands/schema.ts';
import { registerValidate } from './commands/validate.ts';
import { registerRun } from './commands/run.ts';
import { registerTrace } from './commands/trace.ts';
import { registerApprove } from './commands/approve.ts';
import { registerDeployments } from './commands/deployments.ts';
import { registerRollback } from './commands/rollback.ts';
import { registerDlq } from './commands/dlq.ts';
import { registerReplay } from './commands/replay.ts';
import { checkPipelineExpression } from '../runs/index.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { formatTable, paint, printJson } from './output.ts';

interface GlobalOptions {
  config?: string;
}

const program = new Command('junction')
  .description('Event-driven DevOps pipelines: receive events, store them, run pipelines')
  .option('-c, --config <file>', 'configuration file (default: $JUNCTION_CONFIG or ./junction.yaml)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();

async function config(overrides?: Record<string, unknown>): Promise<JunctionConfig> {
  const path = globals().config;
  const loaded = await loadConfig({
    ...(path === undefined ? {} : { path }),
    ...(overrides === undefined ? {} : { overrides }),
  });
  return loaded.config;
}

/** `30m`, `2h`, `7d` before now, or an ISO 8601 time. */
export function parseTime(value: string, flag: string): string {
  const relative = /^(\d+)(s|m|h|d)$/.exec(value);
  if (relative !== null) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(relative[1]) * unit).toISOString();
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new JunctionError(
      'CLI_USAGE',
      `${flag} takes an ISO 8601 time or a duration like 30m, 2h, 7d, got '${value}'`,
    );
  }
  return new Date(parsed).toISOString();
}

program
  .command('init')
  .description('write a commented junction.yaml and an example pipeline into a folder')
  .argument('[dir]', 'folder to write into', '.')
  .option('--force', 'overwrite existing files')
  .action(async (dir: string, flags: { force?: boolean }) => {
    const result = await initProject(dir, { force: flags.force === true });
    for (const file of result.written) process.stdout.write(`${paint('green', 'wrote')}   ${file}\n`);
    for (const file of result.skipped)
      process.stdout.write(`${paint('yellow', 'kept')}    ${file} (exists; --force overwrites)\n`);
    const keyFile = resolveSecretKeyFile(join(dir, '.junction'));
    if ((await createSecretKeyFile(keyFile)) === 'created')
      process.stdout.write(`${paint('green', 'wrote')}   ${keyFile} (secret key, mode 0600)\n`);
    else
      process.stdout.write(
        `${paint('yellow', 'kept')}    ${keyFile} (secret key exists; never overwritten)\n`,
      );
    process.stdout.write(`\nnext: junction serve${dir === '.' ? '' : ` --config ${dir}/junction.yaml`}\n`);
  });

program
  .command('serve')
  .description('run Junction: intake, API and the outbox relay')
  .option('--host <host>', 'address to listen on (default 127.0.0.1)')
  .option('--port <port>', 'port to listen on (default 8080)', (v) => {
    const port = Number(v);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new JunctionError('CLI_USAGE', `--port must be 0-65535, got '${v}'`);
    return port;
  })
  .action(async (flags: { host?: string; port?: number }) => {
    const server: Record<string, unknown> = {};
    if (flags.host !== undefined) server['host'] = flags.host;
    if (flags.port !== undefined) server['port'] = flags.port;
    const cfg = await config(Object.keys(server).length > 0 ? { server } : undefined);
    // Engine settings for a long-running server (engine-flags.ts), before its modules load.
    applyEngineFlags();
    // Loaded here, so client commands start without the server's modules.
    const { startApp } = await import('../app.ts');
    // The handlers come first: a supervisor may send SIGTERM the moment it sees the "listening"
    // line (or during start-up), and Node's default for a signal without a handler is to die.
    type App = Awaited<ReturnType<typeof startApp>>;
    const state: { app?: App; pending?: NodeJS.Signals } = {};
    let signals = 0;
    const shutDown = (signal: NodeJS.Signals, running: App): void => {
      process.stderr.write(
        `${signal}: shutting down (finishing requests, publishing the outbox); send again to exit at once\n`,
      );
      running.stop().then(
        () => process.exit(EXIT.ok),
        (error: unknown) => {
          process.stderr.write(`shutdown failed: ${errorMessage(error)}\n`);
          process.exit(EXIT.failure);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        process.stderr.write(`${signal} again: exiting without finishing the shutdown\n`);
        process.exit(130);
      }
      if (state.app === undefined) {
        state.pending = signal;
        process.stderr.write(
          `${signal} during start-up: shutting down once started; send again to exit at once\n`,
        );
        return;
      }
      shutDown(signal, state.app);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const app = await startApp(cfg);
    state.app = app;
    process.stderr.write(
      `junction listening on ${app.url} (store ${app.store.kind}, bus ${app.bus.kind}, data ${cfg.dataDir})\n`,
    );
    if (state.pending !== undefined) shutDown(state.pending, app);
  });

clientOptions(
  program
    .command('emit')
    .description('send one CloudEvent to a running server')
    .requiredOption('-t, --type <type>', 'event type, e.g. com.example.hello')
    .option('-s, --source <source>', 'event source (URI reference)', 'junction/cli')
    .option('--id <id>', 'event id (default: a random UUID; reuse one to test dedupe)')
    .option('--subject <subject>', 'event subject')
    .option('-d, --data <json>', 'event data as JSON')
    .option('--data-file <file>', "event data from a JSON file ('-' reads stdin)")
    .option(
      '-e, --extension <name=value>',
      'extension attribute (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--json', 'print the server answer as JSON'),
).action(
  async (
    flags: ClientFlags & {
      type: string;
      source: string;
      id?: string;
      subject?: string;
      data?: string;
      dataFile?: string;
      extension: string[];
      json?: boolean;
    },
  ) => {
    if (flags.data !== undefined && flags.dataFile !== undefined)
      throw new JunctionError('CLI_USAGE', 'give --data or --data-file, not both');
    const dataText =
      flags.dataFile !== undefined
        ? readFileSync(flags.dataFile === '-' ? 0 : flags.dataFile, 'utf8')
        : flags.data;
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id: flags.id ?? randomUUID(),
      source: flags.source,
      type: flags.type,
      time: new Date().toISOString(),
    };
    if (flags.subject !== undefined) event['subject'] = flags.subject;
    for (const pair of flags.extension) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new JunctionError('CLI_USAGE', `--extension takes name=value, got '${pair}'`);
      event[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    if (dataText !== undefined) {
      try {
        event['data'] = JSON.parse(dataText);
      } catch (error) {
        throw new JunctionError('CLI_USAGE', `event data is not valid JSON: ${errorMessage(error)}`);
      }
      event['datacontenttype'] = 'application/json';
    }
    const { status, body } = await clientFrom(flags).request<{ id: string; duplicate: boolean }>(
      'POST',
      '/events',
      {
        body: JSON.stringify(event),
        headers: { 'content-type': 'application/cloudevents+json' },
      },
    );
    if (flags.json === true) printJson({ status, ...body });
    else process.stdout.write(`${body.duplicate ? 'duplicate of' : 'stored'} ${body.id}\n`);
  },
);

interface EventItem {
  id: string;
  receivedAt: string;
  receiver: string;
  event: { type: string; source: string; subject?: string; id: string };
}

clientOptions(
  program
    .command('events')
    .description('list stored events, newest first, or show one by id')
    .argument('[id]', 'show this event in full')
    .option('--type <type>', 'only this event type')
    .option('--source <source>', 'only this event source')
    .option('--receiver <name>', "only events that came in through this receiver ('events' or a source name)")
    .option('--since <time>', 'received at or after: ISO time or 30m, 2h, 7d')
    .option('--until <time>', 'received before: ISO time or 30m, 2h, 7d')
    .option('-n, --limit <n>', 'how many (default 20; with --all, page size)', (v) => Number(v))
    .option('--all', 'follow pages to the end')
    .option('--json', 'print JSON ({ items, next } or the event)'),
).action(
  async (
    id: string | undefined,
    flags: ClientFlags & {
      type?: string;
      source?: string;
      receiver?: string;
      since?: string;
      until?: string;
      limit?: number;
      all?: boolean;
      json?: boolean;
    },
  ) => {
    const client = clientFrom(flags);
    if (id !== undefined) {
      const { body } = await client.request<EventItem>('GET', `/api/v1/events/${encodeURIComponent(id)}`);
      printJson(body);
      return;
    }
    const limit = flags.limit ?? (flags.all === true ? 500 : 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new JunctionError('CLI_USAGE', '--limit must be 1-1000');
    const query = new URLSearchParams({ limit: String(limit) });
    if (flags.type !== undefined) query.set('type', flags.type);
    if (flags.source !== undefined) query.set('source', flags.source);
    if (flags.receiver !== undefined) query.set('receiver', flags.receiver);
    if (flags.since !== undefined) query.set('since', parseTime(flags.since, '--since'));
    if (flags.until !== undefined) query.set('until', parseTime(flags.until, '--until'));
    const items: EventItem[] = [];
    let next: string | null = null;
    do {
      if (next !== null) query.set('cursor', next);
      const { body } = await client.request<{ items: EventItem[]; next: string | null }>(
        'GET',
        `/api/v1/events?${query.toString()}`,
      );
      items.push(...body.items);
      next = body.next;
    } while (flags.all === true && next !== null);
    if (flags.json === true) {
      printJson({ items, next });
      return;
    }
    if (items.length === 0) {
      process.stdout.write('no events\n');
      return;
    }
    process.stdout.write(
      formatTable(
        ['RECEIVED', 'ID', 'TYPE', 'SOURCE', 'SUBJECT'],
        items.map((item) => [
          item.receivedAt,
          item.id,
          item.event.type,
          item.event.source,
          item.event.subject ?? '',
        ]),
      ),
    );
    if (next !== null) process.stdout.write(paint('dim', `more: --all, or --limit up to 1000\n`));
  },
);

registerExplain(program, clientFrom);
registerRuns(program, clientFrom);
registerTrace(program, clientFrom);
registerApprove(program, clientFrom);
registerDeployments(program, clientFrom);
registerRollback(program, clientFrom);
registerDlq(program, clientFrom);
registerReplay(program, clientFrom);
registerValidate(program, { checkExpression: checkPipelineExpression });
registerGraph(program, { checkExpression: checkPipelineExpression });
registerSchema(program);
registerHook(program);
registerRun(program, { config: () => config() });
registerSecret(program, {
  openLocalStore: async () => {
    const cfg = await config();
    const store = await openStore(cfg.store.url, { durability: cfg.store.durability, baseDir: cfg.dataDir });
    return { store, dataDir: cfg.dataDir };
  },
});

const configCommand = program.command('config').description('inspect the configuration');
configCommand
  .command('print')
  .description('print the effective configuration (defaults, file, environment), secrets redacted')
  .option('--json', 'print JSON instead of YAML')
  .action(async (flags: { json?: boolean }) => {
    const cfg = await config();
    if (flags.json === true) printJson(redactConfig(cfg));
    else process.stdout.write(printConfigYaml(cfg));
  });

const tokenCommand = program.command('token').description('manage API tokens (works on the local store)');
tokenCommand
  .command('create')
  .description('create an API token; it is shown once, alone on the last line')
  .addOption(
    new Option(
      '--scope <scope>',
      `scope to grant, repeatable or comma-separated (${TOKEN_SCOPES.join(', ')})`,
    )
      .argParser((v: string, all: string[] | undefined) => [
        ...(all ?? []),
        ...v.split(',').map((s) => s.trim()),
      ])
      .makeOptionMandatory(),
  )
  .option('--name <name>', 'what the token is for', 'unnamed')
  .action(async (flags: { scope: string[]; name: string }) => {
    const scopes = flags.scope.filter((s) => s !== '');
    const bad = scopes.find((s) => !isTokenScope(s));
    if (bad !== undefined)
      throw new JunctionError(
        'CLI_USAGE',
        `unknown scope '${bad}' (expected one of ${TOKEN_SCOPES.join(', ')})`,
      );
    const cfg = await config();
    const store = await openStore(cfg.store.url, { durability: cfg.store.durability, baseDir: cfg.dataDir });
    try {
      const created = await createApiToken(store, flags.name, scopes.filter(isTokenScope));
      process.stdout.write(
        `created token ${created.record.id} (${flags.name}) with scopes ${created.record.scopes.join(', ')}\n`,
      );
      process.stdout.write('store it now: it cannot be shown again\n');
      process.stdout.write(`${created.token}\n`);
    } finally {
      await store.close();
    }
  });
tokenCommand
  .command('list')
  .description('list API tokens (never their secrets)')
  .option('--json', 'print JSON')
  .action(async (flags: { json?: boolean }) => {
    const cfg = await config();
    const store = await openStore(cfg.store.url, { durability: cfg.store.durability, baseDir: cfg.dataDir });
    try {
      const tokens = await store.listTokens();
      const items = tokens.map(({ hash: _hash, ...rest }) => rest);
      if (flags.json === true) printJson({ items, next: null });
      else if (items.length === 0) process.stdout.write('no tokens\n');
      else
        process.stdout.write(
          formatTable(
            ['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'REVOKED'],
            items.map((t) => [
              t.id,
              t.name,
              t.scopes.join(','),
              t.createdAt,
              t.lastUsedAt ?? '-',
              t.revokedAt ?? '-',
            ]),
          ),
        );
    } finally {
      await store.close();
    }
  });
tokenCommand
  .command('revoke')
  .description('revoke an API token by id')
  .argument('<id>')
  .action(async (id: string) => {
    const cfg = await config();
    const store = await openStore(cfg.store.url, { durability: cfg.store.durability, baseDir: cfg.dataDir });
    try {
      if (!(await store.revokeToken(id)))
        throw new JunctionError('API_NOT_FOUND', `no active token with id '${id}'`, { httpStatus: 404 });
      process.stdout.write(`revoked ${id}\n`);
    } finally {
      await store.close();
    }
  });

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (isJunctionError(error)) {
    process.stderr.write(`${paint('red', 'error', process.stderr)}: ${error.message} [${error.code}]\n`);
    if (Array.isArray(error.details?.['problems'])) process.stderr.write(`${formatConfigProblems(error)}\n`);
    return exitCodeFor(
      error.code,
      error.httpStatus === 500 && error.code.startsWith('CONFIG_') ? undefined : error.httpStatus,
    );
  }
  process.stderr.write(`${paint('red', 'error', process.stderr)}: ${errorMessage(error)}\n`);
  return EXIT.failure;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}
