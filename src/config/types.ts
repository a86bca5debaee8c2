/**
 * The shapes of Junction's configuration: `ConfigFile` is what `junction.yaml` may hold (short
 * forms, unit strings, relative paths), `JunctionConfig` is the effective configuration after
 * defaults, unit parsing and path resolution. Callers may assume every field of a
 * `JunctionConfig` is filled (optional ones only where documented), every path is absolute, and
 * the object is deeply frozen.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
export type StoreDurability = 'normal' | 'full';

/** One configured event source. Options beyond these belong to the source's type. */
export interface SourceConfig {
  /** Unique; matches `^[a-z0-9][a-z0-9-]{0,62}$`; the receiver lives at `/hooks/<name>`. */
  readonly name: string;
  readonly type: string;
  /** Shared secret for signature checks (secret; masked and redacted). */
  readonly secret?: string;
  /** Token the sender presents (secret; masked and redacted). */
  readonly token?: string;
  /** YAML key `bodyLimit`: largest delivery accepted; the provider's default when absent. */
  readonly bodyLimitBytes?: number;
  /** YAML key `rateLimit`: a token bucket checked before authentication; no limit when absent. */
  readonly rateLimit?: { readonly perSecond: number; readonly burst: number };
  readonly [option: string]: unknown;
}

/** One configured notifier: where run states are reported (docs/notifiers.md). */
export interface NotifierConfig {
  readonly type: 'github-status' | 'gitlab-status';
  /** Secret; masked and redacted. */
  readonly token: string;
  /** Absent: the provider's public API. */
  readonly apiUrl?: string;
  /** Absent: `junction/<pipeline>`. */
  readonly context?: string;
  /** Absent: every pipeline. */
  readonly pipelines?: readonly string[];
  /** Absent: every repository. */
  readonly repositories?: readonly string[];
}

/** When deployments to an environment wait for people (docs/deployments.md). */
export interface EnvironmentProtection {
  /** Distinct approvers needed, 1–10. */
  readonly approvals: number;
  /** Names of the API tokens that may approve; absent: any token with the `approve` scope. */
  readonly approvers?: readonly string[];
  /** YAML key `timeout`: a deployment waiting for approval longer than this is rejected. */
  readonly timeoutMs: number;
}

/** A time range, between two cron slots, in which deployments wait or are refused. */
export interface FreezeWindowConfig {
  /** Cron expression: when the freeze starts. */
  readonly from: string;
  /** Cron expression: when it ends. */
  readonly to: string;
  /** IANA time zone both expressions are read in. */
  readonly timezone: string;
  readonly mode: 'wait' | 'refuse';
}

/** The rules of one deployment environment; environments not listed have none. */
export interface EnvironmentConfig {
  /** Unique; letters, digits, `.`, `_` and `-`, at most 63, starting with a letter or digit. */
  readonly name: string;
  readonly protection?: EnvironmentProtection;
  readonly freeze: readonly FreezeWindowConfig[];
}

export interface JunctionConfig {
  /** Folder for state (SQLite database, workspaces). Default '.junction', relative to the config file's folder. */
  readonly dataDir: string;
  readonly server: {
    readonly host: string;
    /** 0 picks a free port. */
    readonly port: number;
    readonly publicUrl?: string;
    /** File paths, absolute after loading. */
    readonly tls?: { readonly cert: string; readonly key: string };
    /** YAML key `bodyLimit`. */
    readonly bodyLimitBytes: number;
    readonly maxJsonDepth: number;
    readonly maxBatchEvents: number;
    /**
     * When true, POST /events accepts events without a token; when false, it needs a token with
     * the `emit` scope.
     */
    readonly allowAnonymousEmit: boolean;
    /** YAML key `requestTimeout`. */
    readonly requestTimeoutMs: number;
  };
  readonly store: { readonly url: string; readonly durability: StoreDurability };
  readonly bus: { readonly url: string; readonly prefix: string };
  readonly intake: { readonly maxPendingEvents: number; readonly maxBatchWaitMs: number };
  readonly pipelines: { readonly dir: string };
  readonly workers: {
    readonly concurrency: number;
    readonly workspaceDir: string;
    readonly keepWorkspaces: boolean;
    readonly leaseMs: number;
    readonly shutdownGraceMs: number;
  };
  /** A folder of JSON Schemas for event data, one file per type: `<type>.json`. */
  readonly schemas: { readonly dir?: string };
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  readonly sources: readonly SourceConfig[];
  readonly notifiers: readonly NotifierConfig[];
  readonly environments: readonly EnvironmentConfig[];
}

/** What `junction.yaml` may hold, before defaults. */
export interface ConfigFile {
  readonly dataDir?: string;
  readonly server?: {
    readonly host?: string;
    readonly port?: number;
    readonly publicUrl?: string;
    readonly tls?: { readonly cert?: string; readonly key?: string };
    readonly bodyLimit?: number | string;
    readonly maxJsonDepth?: number;
    readonly maxBatchEvents?: number;
    readonly allowAnonymousEmit?: boolean;
    readonly requestTimeout?: number | string;
  };
  readonly store?: string | { readonly url?: string; readonly durability?: StoreDurability };
  readonly bus?: string | { readonly url?: string; readonly prefix?: string };
  readonly intake?: { readonly maxPendingEvents?: number; readonly maxBatchWaitMs?: number };
  readonly pipelines?: { readonly dir?: string };
  readonly workers?: {
    readonly concurrency?: number;
    readonly workspaceDir?: string;
    readonly keepWorkspaces?: boolean;
    readonly leaseMs?: number;
    readonly shutdownGraceMs?: number;
  };
  readonly schemas?: { readonly dir?: string };
  readonly log?: { readonly level?: LogLevel; readonly format?: LogFormat };
  readonly sources?: readonly SourceConfig[];
  readonly notifiers?: readonly NotifierConfig[];
  readonly environments?: readonly {
    readonly name: string;
    readonly protection?: {
      readonly approvals?: number;
      readonly approvers?: readonly string[];
      readonly timeout?: number | string;
    };
    readonly freeze?: readonly {
      readonly from: string;
      readonly to: string;
      readonly timezone?: string;
      readonly mode?: 'wait' | 'refuse';
    }[];
  }[];
}

type Overridable<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: Overridable<T[K]> | undefined }
    : T;

/**
 * Values from command-line flags, in the shape of `junction.yaml`: `{ server: { port: 9090 } }`.
 * `undefined` leaves a value alone, so unset flags can be passed through as they are.
 */
export type ConfigOverrides = Overridable<ConfigFile>;

/** One thing wrong with the configuration, located as precisely as its origin allows. */
export interface ConfigProblem {
  /** Dotted key path with array indexes: `server.port`, `sources[1].name`; '' for the whole document. */
  readonly path: string;
  readonly message: string;
  /** 1-based, in `file`. */
  readonly line?: number;
  /** 1-based, in `file`. */
  readonly column?: number;
  /** The configuration file, as shown to the user (relative to the working folder when inside it). */
  readonly file?: string;
  /** Where the value came from when not the file: `env JUNCTION_SERVER_PORT` or `command line`. */
  readonly origin?: string;
}

export interface LoadedConfig {
  readonly config: JunctionConfig;
  /** The absolute path of the file used, or undefined when none exists and defaults apply. */
  readonly path: string | undefined;
  /** Resolved secret values (source secrets and tokens, passwords in URLs), for masking. */
  readonly secrets: ReadonlySet<string>;
}
