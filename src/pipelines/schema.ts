/**
 * The JSON Schema (draft-07) of a pipeline file. It is the single description of every key: the
 * loader validates with ajv against it (then adds the checks a schema cannot express, in
 * `check-pipeline.ts`), editors with the YAML language server complete and check with it, and
 * docs/pipelines.md is checked against it. Every property carries a `description`. The schema
 * uses standard keywords only, so any JSON Schema validator accepts it.
 */

/** Pipeline names: lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export const PIPELINE_NAME_PATTERN = '^[a-z0-9][a-z0-9-_]{0,62}$';
/** Job ids, step ids and output names. */
export const ID_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_-]*$';
/** Environment variable and secret names. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
/** `500ms`, `30s`, `10m`, `2h`; bounded by `MAX_DURATION_MS` in the loader. */
export const DURATION_PATTERN = '^[0-9]{1,9}(ms|s|m|h)$';

export const BUILTIN_ACTIONS = ['checkout', 'emit', 'rollback', 'http'] as const;
/** Methods the `http` built-in may send. */
export const HTTP_STEP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** Most tries of one `http` step. */
export const MAX_HTTP_STEP_ATTEMPTS = 10;
export const CONCURRENCY_MODES = ['queue', 'cancel-previous', 'skip-if-running', 'latest'] as const;
export const WORKER_LOST_POLICIES = ['retry', 'fail'] as const;
export const MISSED_POLICIES = ['skip', 'latest', 'all'] as const;
/** The keys a `schedule` trigger may have besides `schedule`. */
export const SCHEDULE_KEYS = ['timezone', 'missed', 'if'] as const;
/** The CloudEvents source of every `schedule.tick`. */
export const SCHEDULE_SOURCE = '/junction/schedule';
/** The event type of a schedule's ticks. */
export const SCHEDULE_EVENT_TYPE = 'schedule.tick';

/** Most job instances one matrix may expand to, after `exclude` and `include`. */
export const MAX_MATRIX_COMBINATIONS = 256;
/** Longest duration accepted anywhere in a pipeline file (24 hours). */
export const MAX_DURATION_MS = 24 * 3_600_000;
/** Longest cron expression accepted in a `schedule` trigger. */
export const MAX_CRON_LENGTH = 200;
/** Longest time zone name accepted (the longest IANA names are about 30). */
export const MAX_TIMEZONE_LENGTH = 100;
/** Most retries of one step. */
export const MAX_RETRIES = 10;

export const PIPELINE_DEFAULTS = {
  jobTimeout: '1h',
  concurrencyMode: 'queue',
  retryBackoff: '1s',
  retryMaxBackoff: '1m',
  failFast: true,
  onWorkerLost: 'fail',
  timezone: 'UTC',
  missed: 'latest',
} as const;

/** A schema node, loosely typed, for code that walks the schema. */
export interface SchemaNode {
  readonly description?: string;
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
  readonly enum?: readonly unknown[];
  readonly default?: unknown;
  readonly [keyword: string]: unknown;
}

const duration = (description: string, extra: Record<string, unknown> = {}): SchemaNode => ({
  description: `${description} A duration: '500ms', '30s', '10m' or '2h' (at most 24h).`,
  type: 'string',
  pattern: DURATION_PATTERN,
  ...extra,
});

const condition = (description: string): SchemaNode => ({
  description: `${description} A CEL expression (no \${{ }} around it); true and false are allowed too.`,
  type: ['string', 'boolean'],
});

const template = (description: string): SchemaNode => ({
  description: `${description} May hold \${{ expression }} templates.`,
  type: 'string',
});

const env = (description: string): SchemaNode => ({
  description: `${description} Names are letters, digits and '_'; values are text (numbers and booleans are written as text) and may hold \${{ }} templates.`,
  type: 'object',
  propertyNames: { pattern: ENV_NAME_PATTERN },
  additionalProperties: { type: ['string', 'number', 'boolean'] },
});

const outputs = (description: string): SchemaNode => ({
  description,
  type: 'object',
  propertyNames: { pattern: ID_PATTERN },
  additionalProperties: { type: 'string', description: 'A ${{ }} template giving the value.' },
});

const patterns = (description: string): SchemaNode => ({
  description: `${description} One glob or a list; see docs/triggers.md for the glob and '!' rules.`,
  type: ['string', 'array'],
  minLength: 1,
  minItems: 1,
  items: { type: 'string', minLength: 1 },
});

const secretNames = (description: string): SchemaNode => ({
  description,
  type: 'array',
  items: { type: 'string', pattern: ENV_NAME_PATTERN },
});

const matrixValue: SchemaNode = { type: ['string', 'number', 'boolean'] };
const matrixRow = (description: string): SchemaNode => ({
  description,
  type: 'array',
  items: { type: 'object', minProperties: 1, additionalProperties: matrixValue },
});

const trigger: SchemaNode = {
  description:
    "One trigger: the pipeline runs once for each event that matches every clause given. Either 'event' (with filters) or 'schedule' (with 'timezone', 'missed' and 'if').",
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['event'] }, { required: ['schedule'] }],
  properties: {
    schedule: {
      description:
        "A cron expression: 5 fields (minute hour day month weekday), 6 with seconds first, or a nickname such as '@daily'. The pipeline runs at each time it names (a 'schedule.tick' event). Not together with 'event'.",
      type: 'string',
      minLength: 1,
      maxLength: MAX_CRON_LENGTH,
    },
    timezone: {
      description: `IANA time zone the schedule is read in, e.g. 'Europe/Berlin'; '${PIPELINE_DEFAULTS.timezone}' when absent. Only with 'schedule'.`,
      type: 'string',
      minLength: 1,
      maxLength: MAX_TIMEZONE_LENGTH,
      default: PIPELINE_DEFAULTS.timezone,
    },
    missed: {
      description:
        "Times that passed while Junction was down: 'skip' fires none, 'latest' fires the most recent one, 'all' fires each (at most 100). Only with 'schedule'.",
      type: 'string',
      enum: [...MISSED_POLICIES],
      default: PIPELINE_DEFAULTS.missed,
    },
    event: {
      description: "Event type to match, exactly or as a glob ('git.push', 'image.*').",
      type: 'string',
      minLength: 1,
    },
    source: {
      description: "The event's CloudEvents source, exactly or as a glob.",
      type: 'string',
      minLength: 1,
    },
    subject: {
      description: "The event's CloudEvents subject, exactly or as a glob.",
      type: 'string',
      minLength: 1,
    },
    branches: patterns('Branches the event must be on. Not together with branches-ignore.'),
    'branches-ignore': patterns('Branches that never match. Not together with branches.'),
    tags: patterns('Tags the event must be for. Not together with tags-ignore.'),
    'tags-ignore': patterns('Tags that never match. Not together with tags.'),
    paths: patterns('At least one changed file must match. Not together with paths-ignore.'),
    'paths-ignore': patterns('Matches unless every changed file is ignored. Not together with paths.'),
    if: condition("A further condition over 'event'."),
  },
};

const retry: SchemaNode = {
  description: `Retries of a failed step: a number (the most retries, 0-${MAX_RETRIES}) or a mapping.`,
  type: ['integer', 'object'],
  minimum: 0,
  maximum: MAX_RETRIES,
  additionalProperties: false,
  required: ['max'],
  properties: {
    max: {
      description: 'Most retries after the first attempt.',
      type: 'integer',
      minimum: 0,
      maximum: MAX_RETRIES,
    },
    backoff: duration('Wait before the first retry; doubles each time, with jitter.', {
      default: PIPELINE_DEFAULTS.retryBackoff,
    }),
    'max-backoff': duration('Longest wait between two attempts.', {
      default: PIPELINE_DEFAULTS.retryMaxBackoff,
    }),
    'on-exit-codes': {
      description: 'Retry only when the step exits with one of these codes; any failure when absent.',
      type: 'array',
      minItems: 1,
      items: { type: 'integer', minimum: 0, maximum: 255 },
    },
  },
};

const step: SchemaNode = {
  description: "One step of a job: a shell command ('run') or a built-in action ('uses').",
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['run'] }, { required: ['uses'] }],
  properties: {
    id: {
      description: "Names the step for 'steps.<id>.outputs'; unique in its job.",
      type: 'string',
      pattern: ID_PATTERN,
    },
    name: { description: 'Shown in logs and the UI; the command or action when absent.', type: 'string' },
    run: {
      description:
        'Shell command(s), run by /bin/sh -e in the workspace. ${{ }} values reach the shell as environment variables, never as command text.',
      type: 'string',
      minLength: 1,
    },
    uses: { description: 'A built-in action.', type: 'string', enum: [...BUILTIN_ACTIONS] },
    with: { description: "Inputs of the action named by 'uses'.", type: 'object' },
    env: env('Environment variables of this step, over those of the job and pipeline.'),
    if: condition(
      'Run the step only when this holds; success() is implied unless a status function is used.',
    ),
    timeout: duration("Longest the step may run before it is stopped; the job's remaining time when absent."),
    retry,
    'continue-on-error': {
      description: 'When true, a failure of this step does not fail the job.',
      type: 'boolean',
      default: false,
    },
    'working-directory': template(
      "Folder the command runs in, relative to the workspace; the job's when absent.",
    ),
    secrets: secretNames(
      "Secrets given to this step as environment variables; each must be in the pipeline's 'secrets'.",
    ),
    'on-worker-lost': {
      description:
        "What happens to the step when its worker disappears: 'retry' it on another worker, or 'fail'.",
      type: 'string',
      enum: [...WORKER_LOST_POLICIES],
      default: PIPELINE_DEFAULTS.onWorkerLost,
    },
  },
  allOf: [
    {
      if: { required: ['uses'], properties: { uses: { const: 'checkout' } } },
      then: {
        properties: {
          with: {
            type: 'object',
            additionalProperties: false,
            properties: {
              repository: template(
                "Clone URL or path of the repository; the event's repository when absent.",
              ),
              ref: template("Commit, branch or tag to check out; the event's commit when absent."),
              path: template(
                'Folder inside the workspace to check out into; the workspace itself when absent.',
              ),
              depth: {
                description: 'How many commits of history to fetch; 0 fetches all.',
                type: 'integer',
                minimum: 0,
                default: 1,
              },
            },
          },
        },
      },
    },
    {
      if: { required: ['uses'], properties: { uses: { const: 'emit' } } },
      then: {
        required: ['with'],
        properties: {
          with: {
            type: 'object',
            additionalProperties: false,
            required: ['type'],
            properties: {
              type: template('Type of the event to publish.'),
              subject: template('CloudEvents subject of the event.'),
              data: {
                description:
                  'Data of the event: a mapping, list or value; strings may hold ${{ }} templates.',
              },
            },
          },
        },
      },
    },
    {
      if: { required: ['uses'], properties: { uses: { const: 'rollback' } } },
      then: {
        properties: {
          with: {
            type: 'object',
            additionalProperties: false,
            properties: {
              environment: template(
                "Environment to roll back; the alert's environment (labels.environment or labels.env) when absent.",
              ),
              service: template("Service to roll back; the alert's service (labels.service) when absent."),
              to: template('Version to go back to; the last successful one before the current when absent.'),
              window: {
                description:
                  "One automatic rollback per alert (fingerprint) within this time, such as '30m' or '2h'. Default '1h'.",
                type: 'string',
                pattern: '^[0-9]+(ms|s|m|h|d)$',
                default: '1h',
              },
            },
          },
        },
      },
    },
    {
      if: { required: ['uses'], properties: { uses: { const: 'http' } } },
      then: {
        required: ['with'],
        properties: {
          with: {
            type: 'object',
            additionalProperties: false,
            required: ['url'],
            properties: {
              url: template(
                'http(s) URL to send the request to. Event data in it is your responsibility: it can steer the request anywhere.',
              ),
              method: {
                description: 'HTTP method.',
                type: 'string',
                enum: [...HTTP_STEP_METHODS],
                default: 'POST',
              },
              headers: {
                description: 'Request headers: name → text; values may hold ${{ }} templates (secrets too).',
                type: 'object',
                propertyNames: { pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
                additionalProperties: { type: ['string', 'number', 'boolean'] },
              },
              body: {
                description:
                  'Request body: a mapping, list or value is sent as JSON; a string is sent as it is. Strings inside may hold ${{ }} templates.',
              },
              timeout: duration('Longest one try may take, until the answer is read.', { default: '10s' }),
              attempts: {
                description:
                  'Tries in all; network errors, timeouts and 404, 408, 409, 429 and 5xx answers are tried again.',
                type: 'integer',
                minimum: 1,
                maximum: MAX_HTTP_STEP_ATTEMPTS,
                default: 5,
              },
              expect: {
                description: 'Status codes that count as success; any 2xx when absent.',
                type: 'array',
                minItems: 1,
                items: { type: 'integer', minimum: 100, maximum: 599 },
              },
            },
          },
        },
      },
    },
  ],
};

const job: SchemaNode = {
  description: 'One job: steps run in order on one worker, after the jobs it needs.',
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    name: { description: 'Shown in logs and the UI; the job id when absent.', type: 'string' },
    needs: {
      description: 'Jobs that must finish first: one job id or a list.',
      type: ['string', 'array'],
      pattern: ID_PATTERN,
      items: { type: 'string', pattern: ID_PATTERN },
    },
    if: condition('Run the job only when this holds; success() is implied unless a status function is used.'),
    env: env('Environment variables of every step of this job, over those of the pipeline.'),
    timeout: duration('Longest the whole job may run.', { default: PIPELINE_DEFAULTS.jobTimeout }),
    'working-directory': template('Folder steps run in, relative to the workspace.'),
    steps: { description: 'The steps, run in order.', type: 'array', minItems: 1, items: step },
    outputs: outputs("Values later jobs read as 'jobs.<id>.outputs.<name>': name → ${{ }} template."),
    strategy: {
      description: 'Run the job once per combination of matrix values.',
      type: 'object',
      additionalProperties: false,
      required: ['matrix'],
      properties: {
        matrix: {
          description: `Axis name → list of values; the job runs once per combination (at most ${MAX_MATRIX_COMBINATIONS}).`,
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: ID_PATTERN },
          properties: {
            include: matrixRow(
              'Combinations to extend (when their axis values match) or to add (when they match none).',
            ),
            exclude: matrixRow('Combinations to leave out; a row matches every combination with its values.'),
          },
          additionalProperties: { type: 'array', minItems: 1, items: matrixValue },
        },
        'max-parallel': { description: 'Most combinations running at once.', type: 'integer', minimum: 1 },
        'fail-fast': {
          description: 'When true, the first failing combination cancels the others.',
          type: 'boolean',
          default: PIPELINE_DEFAULTS.failFast,
        },
      },
    },
    environment: {
      description: 'The job deploys: a deployment of this service and version is recorded when it succeeds.',
      type: 'object',
      additionalProperties: false,
      required: ['name', 'service', 'version'],
      properties: {
        name: template("Environment deployed to ('staging', 'production')."),
        service: template('Service deployed.'),
        version: template('Version deployed.'),
        url: template('Where the deployed service can be reached.'),
      },
    },
  },
};

const jobs = (description: string, minProperties: number): SchemaNode => ({
  description,
  type: 'object',
  minProperties,
  propertyNames: { pattern: ID_PATTERN },
  additionalProperties: job,
});

export const pipelineJsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Junction pipeline',
  description: 'A Junction pipeline file: the triggers that start it and the jobs it runs.',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'jobs'],
  properties: {
    name: {
      description:
        'Unique name of the pipeline: lowercase letters, digits, - and _, starting with a letter or digit, at most 63.',
      type: 'string',
      pattern: PIPELINE_NAME_PATTERN,
    },
    description: { description: 'What the pipeline is for, shown in listings.', type: 'string' },
    on: {
      description: 'Triggers: the pipeline runs for events that match any of them.',
      type: 'array',
      items: trigger,
    },
    env: env('Environment variables of every step.'),
    concurrency: {
      description:
        "Runs with the same group run one at a time, ordered as their events. A string is short for 'group'.",
      type: ['string', 'object'],
      minLength: 1,
      additionalProperties: false,
      required: ['group'],
      properties: {
        group: template('Key of the group.'),
        mode: {
          description:
            "'queue': wait in event order; 'cancel-previous': cancel the running one; 'skip-if-running': drop the new one; 'latest': keep only the newest waiting run.",
          type: 'string',
          enum: [...CONCURRENCY_MODES],
          default: PIPELINE_DEFAULTS.concurrencyMode,
        },
        'max-wait': duration('Longest a run waits for its group before it fails; no limit when absent.'),
      },
    },
    secrets: secretNames('Secrets the pipeline may give to its steps (set with junction secret set NAME).'),
    jobs: jobs('The jobs, by id (letters, digits, - and _).', 1),
    finally: jobs(
      "Jobs that run after all other jobs have finished, whatever their outcome; 'needs' may name only other finally jobs.",
      0,
    ),
    outputs: outputs('Values the run publishes in its result event: name → ${{ }} template.'),
  },
} as const satisfies SchemaNode;
