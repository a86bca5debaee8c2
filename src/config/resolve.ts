/**
 * From a validated configuration value (the file's shape) to the effective `JunctionConfig`:
 * shorthands expanded, defaults filled, units parsed, relative paths made absolute, and the
 * result frozen deeply. Values from the file are relative to the file's folder; values from the
 * environment or command line are relative to the working folder.
 */
import path from 'node:path';
import { CONFIG_DEFAULTS } from './schema.ts';
import type { ConfigFile, JunctionConfig } from './types.ts';
import { parseByteSize, parseDuration } from './units.ts';

export interface ResolveOptions {
  /** Folder that relative paths from the file start at: the file's folder, or the working folder. */
  readonly fileDir: string;
  /** The working folder, for relative paths set by environment variables or flags. */
  readonly cwd: string;
  /** Key paths (`dataDir`, `server.tls.cert`) whose values came from outside the file. */
  readonly overridden: ReadonlySet<string>;
}

/** Objects and arrays frozen all the way down; returns its argument. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** `sqlite:` URLs with a relative path made absolute; other URLs as they are. */
export function resolveStoreUrl(url: string, base: string): string {
  if (!url.startsWith('sqlite:')) return url;
  const file = url.slice('sqlite:'.length);
  if (file === ':memory:') return url;
  return `sqlite:${path.resolve(base, file)}`;
}

/** Environments with their defaults: one approval, a 24h timeout, freeze windows in UTC that wait. */
function resolveEnvironments(
  environments: NonNullable<ConfigFile['environments']>,
): JunctionConfig['environments'] {
  return environments.map((entry) => {
    const protection = entry.protection;
    return {
      name: entry.name,
      ...(protection === undefined
        ? {}
        : {
            protection: {
              approvals: protection.approvals ?? CONFIG_DEFAULTS.environment.approvals,
              ...(protection.approvers === undefined ? {} : { approvers: [...protection.approvers] }),
              timeoutMs:
                protection.timeout === undefined
                  ? CONFIG_DEFAULTS.environment.timeoutMs
                  : parseDuration(protection.timeout)!,
            },
          }),
      freeze: (entry.freeze ?? []).map((window) => ({
        from: window.from,
        to: window.to,
        timezone: window.timezone ?? CONFIG_DEFAULTS.environment.timezone,
        mode: window.mode ?? CONFIG_DEFAULTS.environment.freezeMode,
      })),
    };
  });
}

export function resolveConfig(file: ConfigFile, options: ResolveOptions): JunctionConfig {
  const base = (key: string): string => (options.overridden.has(key) ? options.cwd : options.fileDir);
  const at = (key: string, value: string): string => path.resolve(base(key), value);

  const server = file.server ?? {};
  const store = typeof file.store === 'string' ? { url: file.store } : (file.store ?? {});
  const bus = typeof file.bus === 'string' ? { url: file.bus } : (file.bus ?? {});
  const dataDir = at('dataDir', file.dataDir ?? CONFIG_DEFAULTS.dataDir);
  const tls = server.tls;
  const schemasDir = file.schemas?.dir;

  const config: JunctionConfig = {
    dataDir,
    server: {
      host: server.host ?? CONFIG_DEFAULTS.server.host,
      port: server.port ?? CONFIG_DEFAULTS.server.port,
      ...(server.publicUrl === undefined ? {} : { publicUrl: server.publicUrl }),
      ...(tls?.cert === undefined || tls.key === undefined
        ? {}
        : { tls: { cert: at('server.tls.cert', tls.cert), key: at('server.tls.key', tls.key) } }),
      bodyLimitBytes:
        server.bodyLimit === undefined
          ? CONFIG_DEFAULTS.server.bodyLimitBytes
          : parseByteSize(server.bodyLimit)!,
      maxJsonDepth: server.maxJsonDepth ?? CONFIG_DEFAULTS.server.maxJsonDepth,
      maxBatchEvents: server.maxBatchEvents ?? CONFIG_DEFAULTS.server.maxBatchEvents,
      allowAnonymousEmit: server.allowAnonymousEmit ?? CONFIG_DEFAULTS.server.allowAnonymousEmit,
      requestTimeoutMs:
        server.requestTimeout === undefined
          ? CONFIG_DEFAULTS.server.requestTimeoutMs
          : parseDuration(server.requestTimeout)!,
    },
    store: {
      url:
        store.url === undefined
          ? `sqlite:${path.join(dataDir, 'junction.db')}`
          : resolveStoreUrl(store.url, base('store.url')),
      durability: store.durability ?? CONFIG_DEFAULTS.store.durability,
    },
    bus: {
      url: bus.url ?? CONFIG_DEFAULTS.bus.url,
      prefix: bus.prefix ?? CONFIG_DEFAULTS.bus.prefix,
    },
    intake: {
      maxPendingEvents: file.intake?.maxPendingEvents ?? CONFIG_DEFAULTS.intake.maxPendingEvents,
      maxBatchWaitMs: file.intake?.maxBatchWaitMs ?? CONFIG_DEFAULTS.intake.maxBatchWaitMs,
    },
    pipelines: { dir: at('pipelines.dir', file.pipelines?.dir ?? CONFIG_DEFAULTS.pipelines.dir) },
    workers: {
      concurrency: file.workers?.concurrency ?? CONFIG_DEFAULTS.workers.concurrency,
      workspaceDir:
        file.workers?.workspaceDir === undefined
          ? path.join(dataDir, 'workspaces')
          : at('workers.workspaceDir', file.workers.workspaceDir),
      keepWorkspaces: file.workers?.keepWorkspaces ?? CONFIG_DEFAULTS.workers.keepWorkspaces,
      leaseMs: file.workers?.leaseMs ?? CONFIG_DEFAULTS.workers.leaseMs,
      shutdownGraceMs: file.workers?.shutdownGraceMs ?? CONFIG_DEFAULTS.workers.shutdownGraceMs,
    },
    schemas: schemasDir === undefined ? {} : { dir: at('schemas.dir', schemasDir) },
    log: {
      level: file.log?.level ?? CONFIG_DEFAULTS.log.level,
      format: file.log?.format ?? CONFIG_DEFAULTS.log.format,
    },
    sources: (file.sources ?? []).map(({ bodyLimit, rateLimit, ...entry }) => ({
      ...structuredClone(entry),
      ...(bodyLimit === undefined ? {} : { bodyLimitBytes: parseByteSize(bodyLimit as number | string)! }),
      ...(rateLimit === undefined
        ? {}
        : { rateLimit: { perSecond: rateLimit.perSecond, burst: rateLimit.burst } }),
    })),
    notifiers: (file.notifiers ?? []).map((entry) => structuredClone(entry)),
    environments: resolveEnvironments(file.environments ?? []),
  };
  return deepFreeze(config);
}
