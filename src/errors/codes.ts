/**
 * The catalogue of error codes. A released code is never reused or renamed; docs/errors.md lists
 * every code with what to do about it, and `codes.test.ts` fails when the two disagree.
 */
export interface ErrorCodeEntry {
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly summary: string;
}

export const ERROR_CODES = {
  CONFIG_INVALID: {
    httpStatus: 500,
    retryable: false,
    summary: 'junction.yaml does not match the configuration schema',
  },
  CONFIG_NOT_FOUND: {
    httpStatus: 500,
    retryable: false,
    summary: 'the configuration file named does not exist',
  },
  CONFIG_ENV_MISSING: {
    httpStatus: 500,
    retryable: false,
    summary: 'a ${VAR} reference names an unset environment variable',
  },
  CONFIG_INSECURE_BIND: {
    httpStatus: 500,
    retryable: false,
    summary: 'a non-loopback address was configured without API tokens',
  },
  CONFIG_TLS_INVALID: {
    httpStatus: 500,
    retryable: false,
    summary: 'the TLS certificate or key cannot be read or used',
  },

  EVENT_MALFORMED_JSON: { httpStatus: 400, retryable: false, summary: 'the body is not valid JSON' },
  EVENT_INVALID_UTF8: { httpStatus: 400, retryable: false, summary: 'the body is not valid UTF-8' },
  EVENT_TOO_DEEP: {
    httpStatus: 400,
    retryable: false,
    summary: 'the JSON nests deeper than the configured limit',
  },
  EVENT_SOURCE_RESERVED: {
    httpStatus: 403,
    retryable: false,
    summary: 'sources under /junction/ are reserved for the events Junction produces itself',
  },
  EVENT_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    summary: 'the body is larger than the configured limit',
  },
  EVENT_UNSUPPORTED_MEDIA_TYPE: {
    httpStatus: 415,
    retryable: false,
    summary: 'the content type is not one the CloudEvents HTTP binding allows here',
  },
  EVENT_ATTRIBUTE_MISSING: {
    httpStatus: 400,
    retryable: false,
    summary: 'a required CloudEvents attribute is missing',
  },
  EVENT_ATTRIBUTE_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a CloudEvents attribute has an invalid name or value',
  },
  EVENT_SPECVERSION_UNSUPPORTED: { httpStatus: 400, retryable: false, summary: 'the specversion is not 1.0' },
  EVENT_DATA_INVALID: {
    httpStatus: 422,
    retryable: false,
    summary: "the event's data does not match the JSON Schema registered for its type",
  },
  EVENT_BATCH_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a batch is not a JSON array of CloudEvents, or one of its events is invalid',
  },
  EVENT_BATCH_TOO_LARGE: {
    httpStatus: 413,
    retryable: false,
    summary: 'a batch holds more events than the configured limit',
  },
  EVENT_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'no stored event has that id' },
  RUN_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'no run has that id' },
  ROLLBACK_NO_TARGET: {
    httpStatus: 409,
    retryable: false,
    summary: 'there is no deployment to roll back, or no earlier version to roll back to',
  },
  ROLLBACK_TARGET_MISSING: {
    httpStatus: 400,
    retryable: false,
    summary: 'a rollback needs an environment and a service, given or named by the alert',
  },
  ROLLBACK_VERSION_UNKNOWN: {
    httpStatus: 404,
    retryable: false,
    summary: 'the version named was never deployed successfully to that environment',
  },
  ROLLBACK_IN_PROGRESS: {
    httpStatus: 409,
    retryable: true,
    summary: 'a rollback of the service in the environment is already waiting or running',
  },
  ROLLBACK_OF_ROLLBACK: {
    httpStatus: 409,
    retryable: false,
    summary: 'an automatic rollback does not roll back a deployment that is itself a rollback',
  },
  ROLLBACK_ALREADY_DONE: {
    httpStatus: 409,
    retryable: false,
    summary: 'the same cause already rolled back within the window',
  },
  RUN_NOT_FINISHED: {
    httpStatus: 409,
    retryable: false,
    summary: 'a run cannot be re-run while it is still queued, waiting or running',
  },
  RUN_ALREADY_FINISHED: {
    httpStatus: 409,
    retryable: false,
    summary: 'a run that has ended cannot be cancelled',
  },
  APPROVAL_NOT_WAITING: {
    httpStatus: 409,
    retryable: false,
    summary: 'the job is not a deployment waiting for approval',
  },
  APPROVAL_DUPLICATE: {
    httpStatus: 409,
    retryable: false,
    summary: 'this approver has already decided on the deployment',
  },

  API_UNAUTHENTICATED: {
    httpStatus: 401,
    retryable: false,
    summary: 'the request carries no API token, or one Junction does not know',
  },
  API_FORBIDDEN: {
    httpStatus: 403,
    retryable: false,
    summary: 'the API token lacks the scope the request needs',
  },
  API_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'no route matches the method and path' },
  API_BAD_REQUEST: {
    httpStatus: 400,
    retryable: false,
    summary: 'a query parameter or request header is invalid',
  },
  API_CURSOR_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'the pagination cursor was not issued by this server',
  },

  SECRET_KEY_MISSING: {
    httpStatus: 500,
    retryable: false,
    summary: 'no secret key: JUNCTION_SECRET_KEY is not set and the key file does not exist',
  },
  SECRET_KEY_INVALID: {
    httpStatus: 500,
    retryable: false,
    summary: 'the secret key is not 32 bytes in base64 or hex, or its file cannot be read or created',
  },
  SECRET_KEY_INSECURE: {
    httpStatus: 500,
    retryable: false,
    summary: 'the secret key file may be read by other users',
  },
  SECRET_DECRYPT_FAILED: {
    httpStatus: 500,
    retryable: false,
    summary: 'a stored secret does not decrypt with this key under its name',
  },
  SECRET_NAME_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a secret name is not an upper-case environment variable name',
  },
  SECRET_VALUE_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a secret value is empty, too short to mask, only whitespace, holds NUL or is too large',
  },
  SECRET_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'no secret has that name' },

  STORE_UNAVAILABLE: { httpStatus: 503, retryable: true, summary: 'the store cannot be reached or is busy' },
  STORE_MIGRATION_FAILED: {
    httpStatus: 500,
    retryable: false,
    summary: 'a schema migration failed; the store was left at its previous version',
  },
  STORE_VERSION_TOO_NEW: {
    httpStatus: 500,
    retryable: false,
    summary: 'the store was written by a newer Junction',
  },
  SOURCE_UNAUTHENTICATED: {
    httpStatus: 401,
    retryable: false,
    summary: 'a hook request has no valid signature or token for its source',
  },
  SOURCE_PAYLOAD_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a hook payload cannot be read or lacks what its source needs',
  },
  SOURCE_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'no source in sources: has that name' },
  SOURCE_RATE_LIMITED: {
    httpStatus: 429,
    retryable: true,
    summary: "a hook request came faster than its source's rateLimit allows",
  },

  INTAKE_OVERLOADED: {
    httpStatus: 503,
    retryable: true,
    summary: 'intake has more events waiting to be stored than its bound',
  },
  INTAKE_SHUTTING_DOWN: {
    httpStatus: 503,
    retryable: true,
    summary: 'the server is shutting down and takes no new events',
  },

  BUS_UNAVAILABLE: { httpStatus: 503, retryable: true, summary: 'the message bus cannot be reached' },
  BUS_CLOSED: { httpStatus: 503, retryable: false, summary: 'the bus was closed and accepts no more work' },
  BUS_TOPIC_INVALID: {
    httpStatus: 500,
    retryable: false,
    summary: 'a topic or group name has characters the bus cannot carry',
  },
  BUS_MESSAGE_INVALID: {
    httpStatus: 500,
    retryable: false,
    summary: 'a message id, header or payload is one the bus cannot carry',
  },
  BUS_PUBLISH_FAILED: {
    httpStatus: 503,
    retryable: false,
    summary: 'an outbox entry failed to publish too many times and was dead-lettered',
  },

  EXPR_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a CEL expression or ${{ }} template does not compile',
  },
  EXPR_UNKNOWN_VARIABLE: {
    httpStatus: 400,
    retryable: false,
    summary: 'a CEL expression names a variable that is not available where it is used',
  },
  EXPR_EVAL_FAILED: {
    httpStatus: 422,
    retryable: false,
    summary: 'a CEL expression failed while it was evaluated',
  },

  TRIGGER_PATTERN_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: 'a branch, tag, path, source, subject or event type pattern of a trigger is not valid',
  },

  PIPELINE_CYCLE: {
    httpStatus: 422,
    retryable: false,
    summary: "jobs' needs form a cycle, so no job in it could ever start",
  },
  PIPELINE_INVALID_GRAPH: {
    httpStatus: 422,
    retryable: false,
    summary: 'the job graph has a duplicate job, an unknown need, or a job that needs a finally job',
  },
  PIPELINE_MATRIX_TOO_LARGE: {
    httpStatus: 422,
    retryable: false,
    summary: 'a strategy.matrix expands to more combinations than the cap',
  },
  PIPELINE_INVALID: {
    httpStatus: 422,
    retryable: false,
    summary: 'a pipeline file has problems (YAML syntax, schema, needs, ids or secrets)',
  },
  PIPELINE_NOT_FOUND: {
    httpStatus: 404,
    retryable: false,
    summary: 'no pipeline file or loaded pipeline has that name',
  },

  STEP_SPAWN_FAILED: {
    httpStatus: 500,
    retryable: false,
    summary: "a step's shell could not be started (missing shell, bad working directory or environment)",
  },
  STEP_LAUNCHER_FAILED: {
    httpStatus: 500,
    retryable: true,
    summary: 'the step launcher process exited while it was starting or relaying a step',
  },
  STEP_OUTPUT_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: "a step's JUNCTION_OUTPUT file is too large or not in the name=value / name<<DELIMITER format",
  },

  STEP_INPUT_INVALID: {
    httpStatus: 400,
    retryable: false,
    summary: "a step's `with` inputs are missing or invalid",
  },
  STEP_CHECKOUT_FAILED: {
    httpStatus: 500,
    retryable: true,
    summary: 'the checkout action could not fetch or check out the commit',
  },
  HTTP_STEP_FAILED: {
    httpStatus: 502,
    retryable: false,
    summary: 'an http step was refused or kept failing until its attempts ran out; kept as a dead letter',
  },

  DEAD_LETTER_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'no dead letter has that id' },
  DEAD_LETTER_NOT_REPLAYABLE: {
    httpStatus: 409,
    retryable: false,
    summary: 'the dead letter cannot be replayed here (an outbound delivery, no router, or done)',
  },

  NOTIFY_FAILED: {
    httpStatus: 502,
    retryable: false,
    summary: 'a commit status could not be delivered to the git host; kept as a dead letter',
  },

  CLI_USAGE: {
    httpStatus: 400,
    retryable: false,
    summary: 'the command line is incomplete or contradictory',
  },
  CLI_SERVER_UNREACHABLE: {
    httpStatus: 503,
    retryable: true,
    summary: 'the CLI could not reach the Junction server',
  },
  INTERNAL: {
    httpStatus: 500,
    retryable: false,
    summary: 'an unexpected failure inside Junction; the log has the details',
  },
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;
