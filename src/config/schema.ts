/**
 * The JSON Schema (draft-07) of `junction.yaml`. It is the single description of every key:
 * validation compiles it, environment overrides are derived from its scalar keys, and
 * docs/configuration.md is checked against it. Every property carries a `description`.
 *
 * Two annotations of Junction's own:
 * - `x-secret`: `true` marks a value that is a secret as a whole; `'url-password'` marks a URL
 *   whose password (`nats://user:pass@host`) is a secret. Redaction and masking follow them.
 * - `x-shorthand`: on an object that may also be written as a string, the property that string
 *   fills (`store: sqlite:…` means `store: { url: sqlite:… }`).
 */
import { MAX_DURATION_MS } from './units.ts';

/** Defaults that do not depend on where the configuration file is. */
export const CONFIG_DEFAULTS = {
  dataDir: '.junction',
  server: {
    host: '127.0.0.1',
    port: 8080,
    bodyLimitBytes: 1024 * 1024,
    maxJsonDepth: 64,
    maxBatchEvents: 1000,
    allowAnonymousEmit: false,
    requestTimeoutMs: 30_000,
  },
  store: { durability: 'normal' },
  bus: { url: 'embedded', prefix: 'junction' },
  intake: { maxPendingEvents: 10_000, maxBatchWaitMs: 2 },
  pipelines: { dir: 'pipelines' },
  workers: { concurrency: 4, leaseMs: 30_000, shutdownGraceMs: 10_000, keepWorkspaces: false },
  log: { level: 'info', format: 'json' },
  environment: { approvals: 1, timeoutMs: 24 * 3_600_000, timezone: 'UTC', freezeMode: 'wait' },
} as const;

/** The pattern every environment name must match (the same as deployments use). */
export const ENVIRONMENT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';

/** The pattern every source name must match. */
export const SOURCE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';

export const configJsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'junction.yaml',
  description: 'Configuration of a Junction server and its workers.',
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: {
      description:
        'Folder for state: the SQLite database and job workspaces. Relative paths start at the folder of the configuration file.',
      type: 'string',
      minLength: 1,
      default: CONFIG_DEFAULTS.dataDir,
    },
    server: {
      description: 'The HTTP server: receivers, CloudEvents intake, REST API, web UI and metrics.',
      type: 'object',
      additionalProperties: false,
      properties: {
        host: {
          description:
            'Address to listen on. The default accepts connections from this machine only; 0.0.0.0 listens on every interface.',
          type: 'string',
          minLength: 1,
          default: CONFIG_DEFAULTS.server.host,
        },
        port: {
          description: 'TCP port to listen on; 0 picks a free port.',
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          default: CONFIG_DEFAULTS.server.port,
        },
        publicUrl: {
          description:
            'The URL senders and browsers use to reach this server, when it differs from host and port (behind a proxy). Used in links and printed webhook addresses.',
          type: 'string',
          format: 'http-url',
        },
        tls: {
          description: 'Serve HTTPS with this certificate and key instead of plain HTTP.',
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: {
            cert: {
              description: 'Path of the PEM certificate chain file.',
              type: 'string',
              minLength: 1,
            },
            key: {
              description: 'Path of the PEM private key file.',
              type: 'string',
              minLength: 1,
            },
          },
        },
        bodyLimit: {
          description:
            "Largest request body accepted: whole bytes or a size with a unit ('512KiB', '1MiB', '2MB'). Larger bodies get 413.",
          type: ['integer', 'string'],
          minimum: 1,
          format: 'byte-size',
          default: '1MiB',
        },
        maxJsonDepth: {
          description:
            'Deepest nesting of arrays and objects accepted in a JSON body. Deeper bodies get 400.',
          type: 'integer',
          minimum: 1,
          maximum: 10_000,
          default: CONFIG_DEFAULTS.server.maxJsonDepth,
        },
        maxBatchEvents: {
          description: 'Most events accepted in one batched CloudEvents request. Larger batches get 413.',
          type: 'integer',
          minimum: 1,
          default: CONFIG_DEFAULTS.server.maxBatchEvents,
        },
        allowAnonymousEmit: {
          description:
            'When true, POST /events accepts events without a token; when false, it needs a token with the emit scope.',
          type: 'boolean',
          default: CONFIG_DEFAULTS.server.allowAnonymousEmit,
        },
        requestTimeout: {
          description:
            "Longest time to receive a whole request: whole milliseconds or a duration ('500ms', '30s', '2m', '1h').",
          type: ['integer', 'string'],
          minimum: 1,
          maximum: MAX_DURATION_MS,
          format: 'duration',
          default: '30s',
        },
      },
    },
    store: {
      description:
        "Where state is kept. A string is short for the url ('store: sqlite:/var/lib/junction/junction.db').",
      type: ['string', 'object'],
      'x-shorthand': 'url',
      additionalProperties: false,
      properties: {
        url: {
          description:
            "'sqlite:<path>' (relative paths start at the folder of the configuration file) or 'postgres://user:password@host:port/database'. Default: sqlite:<dataDir>/junction.db.",
          type: 'string',
          format: 'store-url',
          'x-secret': 'url-password',
        },
        durability: {
          description:
            "'normal' survives a killed process, a power loss may lose the last commits; 'full' survives a power loss too, at the cost of an fsync on every commit.",
          type: 'string',
          enum: ['normal', 'full'],
          default: CONFIG_DEFAULTS.store.durability,
        },
      },
    },
    bus: {
      description:
        "How events and jobs travel between Junction's parts. A string is short for the url ('bus: nats://127.0.0.1:4222').",
      type: ['string', 'object'],
      'x-shorthand': 'url',
      additionalProperties: false,
      properties: {
        url: {
          description:
            "'embedded' (in-process, one node) or one or more NATS JetStream servers: 'nats://host:port', several separated by commas.",
          type: 'string',
          format: 'bus-url',
          'x-secret': 'url-password',
          default: CONFIG_DEFAULTS.bus.url,
        },
        prefix: {
          description:
            'Prefix of every stream, subject and consumer name Junction creates on the bus, so several installations can share a broker.',
          type: 'string',
          pattern: '^[A-Za-z0-9_-]{1,32}$',
          default: CONFIG_DEFAULTS.bus.prefix,
        },
      },
    },
    intake: {
      description: 'How received events are written to the store.',
      type: 'object',
      additionalProperties: false,
      properties: {
        maxPendingEvents: {
          description:
            'Most events waiting to be stored at once. Beyond it, intake answers 503 with Retry-After so senders retry.',
          type: 'integer',
          minimum: 1,
          default: CONFIG_DEFAULTS.intake.maxPendingEvents,
        },
        maxBatchWaitMs: {
          description:
            'Milliseconds intake may wait to group events arriving together into one commit; 0 commits each at once.',
          type: 'integer',
          minimum: 0,
          maximum: 60_000,
          default: CONFIG_DEFAULTS.intake.maxBatchWaitMs,
        },
      },
    },
    workers: {
      description: 'The workers of this process, which run the jobs of pipelines.',
      type: 'object',
      additionalProperties: false,
      properties: {
        concurrency: {
          description:
            'Most jobs this process runs at once; 0 runs none (a server that only receives and schedules).',
          type: 'integer',
          minimum: 0,
          maximum: 256,
          default: CONFIG_DEFAULTS.workers.concurrency,
        },
        workspaceDir: {
          description:
            'Folder under which each job gets a workspace (<run id>/<job>). Default: workspaces under dataDir. Relative paths start at the folder of the configuration file.',
          type: 'string',
          minLength: 1,
        },
        keepWorkspaces: {
          description: 'Keep job workspaces after jobs end, for debugging; they are removed by default.',
          type: 'boolean',
          default: CONFIG_DEFAULTS.workers.keepWorkspaces,
        },
        leaseMs: {
          description:
            'Milliseconds a worker holds a job without renewing its lease; a job whose worker stops renewing is handed back after it.',
          type: 'integer',
          minimum: 1000,
          maximum: 3_600_000,
          default: CONFIG_DEFAULTS.workers.leaseMs,
        },
        shutdownGraceMs: {
          description:
            'On shutdown, milliseconds running jobs get to finish before they are interrupted and handed back.',
          type: 'integer',
          minimum: 0,
          maximum: 3_600_000,
          default: CONFIG_DEFAULTS.workers.shutdownGraceMs,
        },
      },
    },
    pipelines: {
      description: 'Where pipeline files are found.',
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: {
          description:
            'Folder of pipeline files (*.yaml, *.yml). Relative paths start at the folder of the configuration file.',
          type: 'string',
          minLength: 1,
          default: CONFIG_DEFAULTS.pipelines.dir,
        },
      },
    },
    schemas: {
      description: 'JSON Schemas that event data must match, beyond the built-in catalog.',
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: {
          description:
            'Folder of JSON Schemas, one file per event type named <type>.json. Events of a type with a schema are refused when their data does not match it.',
          type: 'string',
          minLength: 1,
        },
      },
    },
    log: {
      description: 'What the server and workers log, and how.',
      type: 'object',
      additionalProperties: false,
      properties: {
        level: {
          description: 'Least severe level written.',
          type: 'string',
          enum: ['debug', 'info', 'warn', 'error'],
          default: CONFIG_DEFAULTS.log.level,
        },
        format: {
          description:
            "'json': one JSON object per line, for machines; 'pretty': readable lines, for a terminal.",
          type: 'string',
          enum: ['json', 'pretty'],
          default: CONFIG_DEFAULTS.log.format,
        },
      },
    },
    sources: {
      description:
        'Event sources with a receiver at /hooks/<name>. Options beyond those listed depend on the type.',
      type: 'array',
      default: [],
      items: {
        type: 'object',
        required: ['name', 'type'],
        additionalProperties: true,
        properties: {
          name: {
            description:
              'Unique name of the source, also its receiver path /hooks/<name>: lowercase letters, digits and dashes, at most 63.',
            type: 'string',
            pattern: SOURCE_NAME_PATTERN,
          },
          type: {
            description: "Kind of sender, such as 'github', 'gitlab', 'registry' or 'alertmanager'.",
            type: 'string',
            minLength: 1,
          },
          secret: {
            description:
              'Shared secret used to check request signatures. Write it as ${VAR} to keep it out of the file.',
            type: 'string',
            minLength: 1,
            'x-secret': true,
          },
          token: {
            description:
              'Token the sender presents with each request. Write it as ${VAR} to keep it out of the file.',
            type: 'string',
            minLength: 1,
            'x-secret': true,
          },
          username: {
            description: 'User name the sender presents with HTTP basic authentication (with password).',
            type: 'string',
            minLength: 1,
          },
          password: {
            description:
              'Password the sender presents with HTTP basic authentication. Write it as ${VAR} to keep it out of the file.',
            type: 'string',
            minLength: 1,
            'x-secret': true,
          },
          bodyLimit: {
            description:
              "Largest delivery this receiver accepts, as whole bytes or a size with a unit ('25MB', '32MiB'). Default: the provider's own cap where it has one (github 25MB, security-report 32MiB), otherwise server.bodyLimit. Larger deliveries get 413.",
            type: ['integer', 'string'],
            minimum: 1,
            format: 'byte-size',
          },
          rateLimit: {
            description:
              "Most deliveries this receiver accepts over time, as a token bucket: 'perSecond' sustained, 'burst' at once. Checked before authentication and before the body is read; over the limit gets 429 with Retry-After. Default: no limit.",
            type: 'object',
            required: ['perSecond', 'burst'],
            additionalProperties: false,
            properties: {
              perSecond: {
                description:
                  'Deliveries per second accepted over time (0.1 to 100000; 0.5 is one every two seconds).',
                type: 'number',
                minimum: 0.1,
                maximum: 100000,
              },
              burst: {
                description: 'Deliveries accepted at once after a quiet spell (whole number, 1 to 1000000).',
                type: 'integer',
                minimum: 1,
                maximum: 1000000,
              },
            },
          },
          auth: {
            description:
              "Set to 'none' to accept deliveries that carry no credential, for senders that cannot authenticate (such as 'dockerhub' and 'quay'). Junction warns about it at start-up.",
            type: 'string',
            enum: ['none'],
          },
        },
      },
    },
    notifiers: {
      description:
        'Where Junction reports the state of runs: commit statuses on GitHub or GitLab for the commit that started them (docs/notifiers.md).',
      type: 'array',
      default: [],
      items: {
        type: 'object',
        required: ['type', 'token'],
        additionalProperties: false,
        properties: {
          type: {
            description:
              "'github-status' (GitHub commit statuses) or 'gitlab-status' (GitLab commit status API). Each reports on events from sources of its provider.",
            type: 'string',
            enum: ['github-status', 'gitlab-status'],
          },
          token: {
            description:
              'Token the notifier authenticates with: a GitHub token allowed to write commit statuses, or a GitLab token with the api scope. Write it as ${VAR} to keep it out of the file.',
            type: 'string',
            minLength: 1,
            'x-secret': true,
          },
          apiUrl: {
            description:
              'Base URL of the API: default https://api.github.com or https://gitlab.com; for GitHub Enterprise Server https://<host>/api/v3, for self-managed GitLab https://<host>.',
            type: 'string',
            format: 'http-url',
          },
          context: {
            description:
              "Name of the status on the commit (GitHub 'context', GitLab 'name'). Default 'junction/<pipeline>'.",
            type: 'string',
            minLength: 1,
            maxLength: 255,
          },
          pipelines: {
            description: 'Report only runs of these pipelines. Default: every pipeline.',
            type: 'array',
            items: { type: 'string', minLength: 1 },
          },
          repositories: {
            description:
              "Report only on these repositories ('owner/name' on GitHub, the project path 'group/project' on GitLab). Default: every repository.",
            type: 'array',
            items: { type: 'string', minLength: 1 },
          },
        },
      },
    },
    environments: {
      description:
        'Deployment environments with rules of their own: approvals and freeze windows (docs/deployments.md). Environments not listed deploy without them.',
      type: 'array',
      default: [],
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: {
            description:
              "The environment's name, as jobs write it in 'environment.name': letters, digits, '.', '_' and '-', at most 63, starting with a letter or digit. Unique.",
            type: 'string',
            pattern: ENVIRONMENT_NAME_PATTERN,
          },
          protection: {
            description: 'Deployments to this environment wait until enough people approve them.',
            type: 'object',
            additionalProperties: false,
            properties: {
              approvals: {
                description: 'How many distinct approvers must approve a deployment (1 to 10).',
                type: 'integer',
                minimum: 1,
                maximum: 10,
                default: CONFIG_DEFAULTS.environment.approvals,
              },
              approvers: {
                description:
                  "Names of the API tokens (junction token create --name) allowed to approve. Default: any token with the 'approve' scope.",
                type: 'array',
                minItems: 1,
                uniqueItems: true,
                items: { type: 'string', minLength: 1, maxLength: 200 },
              },
              timeout: {
                description:
                  "How long a deployment may wait for approval before it is rejected: whole milliseconds or a duration ('30m', '24h'; at most 24.8 days).",
                type: ['integer', 'string'],
                minimum: 1,
                maximum: MAX_DURATION_MS,
                format: 'duration',
                default: '24h',
              },
            },
          },
          freeze: {
            description:
              'Freeze windows: from one cron slot to the next slot of another, deployments to this environment wait or are refused.',
            type: 'array',
            default: [],
            items: {
              type: 'object',
              required: ['from', 'to'],
              additionalProperties: false,
              properties: {
                from: {
                  description: "Cron expression of when a freeze starts ('0 18 * * 5': Fridays at 18:00).",
                  type: 'string',
                  minLength: 1,
                },
                to: {
                  description: "Cron expression of when it ends ('0 8 * * 1': Mondays at 08:00).",
                  type: 'string',
                  minLength: 1,
                },
                timezone: {
                  description: "IANA time zone both expressions are read in ('Europe/Berlin'). Default UTC.",
                  type: 'string',
                  minLength: 1,
                  default: CONFIG_DEFAULTS.environment.timezone,
                },
                mode: {
                  description:
                    "'wait': deployments wait until the window ends; 'refuse': deployments are refused while it lasts.",
                  type: 'string',
                  enum: ['wait', 'refuse'],
                  default: CONFIG_DEFAULTS.environment.freezeMode,
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

/** A schema node, loosely typed, for code that walks the schema. */
export interface SchemaNode {
  readonly description?: string;
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly additionalProperties?: boolean;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly 'x-secret'?: boolean | 'url-password';
  readonly 'x-shorthand'?: string;
}

export const rootSchema: SchemaNode = configJsonSchema;

/** The types a schema node allows, as a list. */
export function typesOf(node: SchemaNode): readonly string[] {
  if (node.type === undefined) return [];
  return typeof node.type === 'string' ? [node.type] : node.type;
}

/**
 * The schema node describing the value at `segments` (keys, or numbers for array items), or
 * undefined when the schema says nothing about it.
 */
export function schemaAt(
  segments: readonly (string | number)[],
  node: SchemaNode = rootSchema,
): SchemaNode | undefined {
  let current: SchemaNode | undefined = node;
  for (const segment of segments) {
    if (current === undefined) return undefined;
    current = typeof segment === 'number' ? current.items : current.properties?.[segment];
  }
  return current;
}

/** One documented key: its display path (`server.port`, `sources[].name`) and schema node. */
export interface SchemaProperty {
  readonly path: string;
  readonly segments: readonly string[];
  readonly node: SchemaNode;
}

/** Every property the schema names, depth first, in schema order. */
export function schemaProperties(
  node: SchemaNode = rootSchema,
  prefix: readonly string[] = [],
): SchemaProperty[] {
  const found: SchemaProperty[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const segments = [...prefix, key];
    found.push({ path: displaySchemaPath(segments), segments, node: child });
    found.push(...schemaProperties(child, segments));
    if (child.items) found.push(...schemaProperties(child.items, [...segments, '[]']));
  }
  return found;
}

function displaySchemaPath(segments: readonly string[]): string {
  return segments.reduce((path, s) => (s === '[]' ? `${path}[]` : path === '' ? s : `${path}.${s}`), '');
}
