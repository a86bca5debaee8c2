/**
 * The SQLite schema as an ordered list of migrations, and the runner that applies them.
 *
 * Callers may assume: `schema_migrations` records every applied migration (version, name,
 * applied_at); each migration runs in its own transaction, so a failure leaves the store at the
 * previous version (`STORE_MIGRATION_FAILED`); a store written by a newer Junction is refused with
 * `STORE_VERSION_TOO_NEW` before anything is touched; two processes migrating the same file at
 * once apply each migration exactly once.
 *
 * A released migration is never edited: change the schema by appending a new one. Until the first
 * release (see CHANGELOG.md) migration 1 is the whole schema and is still completed in place.
 *
 * Conventions of the schema: times are TEXT in UTC ISO 8601 with milliseconds
 * (`2024-05-01T12:00:00.000Z`), so they sort and compare as strings; JSON is TEXT; booleans are
 * INTEGER 0/1. Enumerations that will grow (statuses, kinds, streams) are checked in code, not by
 * CHECK constraints, so a new value needs no table rebuild.
 */
import type { DatabaseSync } from 'node:sqlite';
import { JunctionError } from '../../errors/index.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const INITIAL_SCHEMA = `
-- The event log: one row per stored CloudEvent, in commit order.
CREATE TABLE events (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT    NOT NULL UNIQUE,            -- Junction's id, UUIDv7
  dedupe_key     TEXT    NOT NULL UNIQUE,
  receiver       TEXT    NOT NULL,                   -- 'events' or a source's name
  type           TEXT    NOT NULL,
  source         TEXT    NOT NULL,
  subject        TEXT,
  event_time     TEXT,                               -- the CloudEvent's own 'time', as sent
  received_at    TEXT    NOT NULL,
  replay_of      TEXT    REFERENCES events (id),     -- the stored event this one replays
  causation_id   TEXT,                               -- the 'causationid' extension
  correlation_id TEXT,                               -- the 'correlationid' extension
  body           TEXT    NOT NULL                    -- the CloudEvent, JSON structured mode
);
CREATE INDEX events_type_seq ON events (type, seq);
CREATE INDEX events_source_seq ON events (source, seq);
CREATE INDEX events_receiver_seq ON events (receiver, seq);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_subject ON events (subject) WHERE subject IS NOT NULL;
CREATE INDEX events_correlation ON events (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX events_replay_of ON events (replay_of) WHERE replay_of IS NOT NULL;

-- Events waiting to be published to the bus; written in the same transaction as the event.
CREATE TABLE outbox (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id     TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  topic        TEXT    NOT NULL,
  created_at   TEXT    NOT NULL,
  published_at TEXT,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_event ON outbox (event_id);

-- API tokens: only the SHA-256 of the secret part is kept.
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  scopes       TEXT NOT NULL,                        -- JSON array of scope names
  hash         TEXT NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
);

-- One decision per (event, pipeline, trigger): what 'junction explain' shows.
CREATE TABLE trigger_decisions (
  event_id         TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  pipeline         TEXT    NOT NULL,
  trigger_index    INTEGER NOT NULL,
  matched          INTEGER NOT NULL CHECK (matched IN (0, 1)),
  reason           TEXT,                             -- the first clause that failed
  pipeline_digest  TEXT,                             -- which version of the pipeline file decided
  run_id           TEXT,                             -- the run created when matched
  created_at       TEXT    NOT NULL,
  PRIMARY KEY (event_id, pipeline, trigger_index)
) WITHOUT ROWID;
CREATE INDEX trigger_decisions_pipeline ON trigger_decisions (pipeline, created_at);

-- Runs: the id is derived from (event_id, pipeline, trigger_index), so redelivery creates nothing
-- twice. A re-run (rerun_of set) repeats the same (event, pipeline, trigger) under a new id; a run
-- started by hand has trigger_index -1.
CREATE TABLE runs (
  id                TEXT    PRIMARY KEY,
  event_id          TEXT    NOT NULL REFERENCES events (id),
  pipeline          TEXT    NOT NULL,
  trigger_index     INTEGER NOT NULL,
  status            TEXT    NOT NULL,                -- queued, waiting, running, succeeded, failed, cancelled, skipped, timed-out
  concurrency_group TEXT,
  concurrency_mode  TEXT,                            -- queue, cancel-previous, skip-if-running, latest
  pipeline_digest   TEXT,
  spec              TEXT,                            -- JSON: the pipeline as it was when the run was created
  created_at        TEXT    NOT NULL,
  started_at        TEXT,
  finished_at       TEXT,
  reason            TEXT,
  outputs           TEXT,                            -- JSON object
  rerun_of          TEXT    REFERENCES runs (id),
  cancel_requested  INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
  wait_until        TEXT                             -- a waiting run fails after this time (max-wait)
);
CREATE UNIQUE INDEX runs_origin ON runs (event_id, pipeline, trigger_index) WHERE rerun_of IS NULL;
CREATE INDEX runs_status ON runs (status, created_at);
CREATE INDEX runs_pipeline ON runs (pipeline, created_at);
CREATE INDEX runs_concurrency ON runs (concurrency_group, created_at) WHERE concurrency_group IS NOT NULL;
CREATE INDEX runs_rerun_of ON runs (rerun_of) WHERE rerun_of IS NOT NULL;

-- Jobs of a run; one row per job (per matrix combination); 'attempt' counts retries.
CREATE TABLE jobs (
  id               TEXT    PRIMARY KEY,
  run_id           TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name             TEXT    NOT NULL,
  matrix_key       TEXT    NOT NULL DEFAULT '',      -- '' without a matrix
  matrix           TEXT,                             -- JSON object: the combination's values
  status           TEXT    NOT NULL,                 -- queued, waiting, running, succeeded, failed, cancelled, skipped, timed-out
  needs            TEXT    NOT NULL DEFAULT '[]',    -- JSON array of job names
  attempt          INTEGER NOT NULL DEFAULT 1,
  available_at     TEXT,                             -- not to be claimed before (retry backoff)
  lease_owner      TEXT,                             -- the worker holding the job
  lease_expires_at TEXT,
  created_at       TEXT    NOT NULL,
  queued_at        TEXT,
  started_at       TEXT,
  finished_at      TEXT,
  exit_code        INTEGER,
  reason           TEXT,
  outputs          TEXT,                             -- JSON object
  UNIQUE (run_id, name, matrix_key)
);
CREATE INDEX jobs_status ON jobs (status, created_at);
CREATE INDEX jobs_run ON jobs (run_id);
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE lease_owner IS NOT NULL;

-- Steps of one attempt of a job; a step retried by its retry policy has one row per try.
CREATE TABLE steps (
  id          TEXT    PRIMARY KEY,
  job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL DEFAULT 1,            -- the job's attempt
  idx         INTEGER NOT NULL,
  try_number  INTEGER NOT NULL DEFAULT 1,            -- 1, then 2… for each retry of the step
  name        TEXT    NOT NULL,
  status      TEXT    NOT NULL,
  exit_code   INTEGER,
  started_at  TEXT,
  finished_at TEXT,
  reason      TEXT,
  outputs     TEXT,                                  -- JSON object
  UNIQUE (job_id, attempt, idx, try_number)
);

-- Masked log lines in the order they were written; step_id is null for lines outside any step.
CREATE TABLE log_chunks (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id  TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  step_id TEXT    REFERENCES steps (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL DEFAULT 1,
  stream  TEXT    NOT NULL,                          -- stdout, stderr, system
  ts      TEXT    NOT NULL,
  text    TEXT    NOT NULL
);
CREATE INDEX log_chunks_run ON log_chunks (run_id, id);
CREATE INDEX log_chunks_job ON log_chunks (job_id, id);

-- Deployments recorded by jobs that declare an environment; at most one per job.
CREATE TABLE deployments (
  id          TEXT    PRIMARY KEY,
  environment TEXT    NOT NULL,
  service     TEXT    NOT NULL,
  version     TEXT    NOT NULL,
  run_id      TEXT    REFERENCES runs (id),
  job_id      TEXT    UNIQUE REFERENCES jobs (id),
  event_id    TEXT    REFERENCES events (id),        -- the event that caused it
  status      TEXT    NOT NULL,                      -- running, succeeded, failed
  is_rollback INTEGER NOT NULL DEFAULT 0 CHECK (is_rollback IN (0, 1)),
  rollback_of TEXT    REFERENCES deployments (id),
  actor       TEXT,
  created_at  TEXT    NOT NULL,
  finished_at TEXT
);
CREATE INDEX deployments_target ON deployments (environment, service, created_at);

-- Approval decisions on gated jobs.
CREATE TABLE approvals (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id   TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id   TEXT    REFERENCES jobs (id) ON DELETE CASCADE,
  decision TEXT    NOT NULL,                         -- approved, rejected
  author   TEXT    NOT NULL,
  comment  TEXT,
  at       TEXT    NOT NULL
);
CREATE INDEX approvals_run ON approvals (run_id);
CREATE INDEX approvals_job ON approvals (job_id) WHERE job_id IS NOT NULL;

-- What could not be taken in, routed or delivered, kept for inspection and replay.
CREATE TABLE dead_letters (
  id              TEXT    PRIMARY KEY,
  kind            TEXT    NOT NULL,                  -- intake, routing, delivery
  reason          TEXT    NOT NULL,
  code            TEXT    NOT NULL,                  -- a JunctionError code
  attempts        INTEGER NOT NULL DEFAULT 0,
  payload         BLOB,                              -- the raw bytes as received
  content_type    TEXT,
  headers         TEXT,                              -- JSON object, credentials removed
  receiver        TEXT,
  destination     TEXT,
  event_id        TEXT,                              -- the stored event, for routing and delivery
  created_at      TEXT    NOT NULL,
  replayed_at     TEXT,
  replay_event_id TEXT    REFERENCES events (id)
);
CREATE INDEX dead_letters_kind ON dead_letters (kind, created_at);
CREATE INDEX dead_letters_pending ON dead_letters (created_at) WHERE replayed_at IS NULL;

-- The run currently holding each concurrency group.
CREATE TABLE concurrency_holders (
  group_name  TEXT PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  acquired_at TEXT NOT NULL
);

-- Named leases with expiry: router and scheduler partitions, singleton duties.
CREATE TABLE leases (
  name        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  expires_at  TEXT NOT NULL
);

-- Durable positions of consumers and schedules (last routed seq, last cron tick).
CREATE TABLE checkpoints (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Secrets for pipeline steps, sealed with AES-256-GCM (the key is never stored here).
CREATE TABLE secrets (
  name       TEXT PRIMARY KEY,
  sealed     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Who did what through the API or CLI (token created, run cancelled, rollback forced).
CREATE TABLE audit_log (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  at      TEXT    NOT NULL,
  actor   TEXT    NOT NULL,
  action  TEXT    NOT NULL,
  target  TEXT,
  details TEXT                                       -- JSON object, never a secret
);
CREATE INDEX audit_log_at ON audit_log (at);
`;

const SCHEDULE_SLOTS = `
-- The last slot each cron schedule handled (fired, or skipped by its missed policy), so a restart
-- neither fires a slot twice nor forgets the ones it missed. Keyed by the cron text as well: a
-- changed schedule starts afresh.
CREATE TABLE schedule_slots (
  pipeline      TEXT    NOT NULL,
  trigger_index INTEGER NOT NULL,
  cron          TEXT    NOT NULL,
  last_slot     TEXT    NOT NULL,                    -- UTC ISO 8601 with milliseconds
  updated_at    TEXT    NOT NULL,
  PRIMARY KEY (pipeline, trigger_index, cron)
);
`;

const DEPLOYMENT_DETAILS = `
-- What a deployment needs beyond migration 1: where it is served, why it ended as it did, which
-- pipeline job made it, what caused it (a person, a pipeline step, an alert), when it started.
ALTER TABLE deployments ADD COLUMN url TEXT;
ALTER TABLE deployments ADD COLUMN reason TEXT;
ALTER TABLE deployments ADD COLUMN pipeline TEXT;
ALTER TABLE deployments ADD COLUMN job_name TEXT;
ALTER TABLE deployments ADD COLUMN cause TEXT;                 -- 'alert:<fingerprint>', 'manual', …
ALTER TABLE deployments ADD COLUMN started_at TEXT;
ALTER TABLE deployments ADD COLUMN requested_by_run TEXT;    -- the run whose rollback step asked for it
CREATE INDEX deployments_active ON deployments (environment, service, status);
CREATE INDEX deployments_cause ON deployments (cause, created_at) WHERE cause IS NOT NULL;
CREATE INDEX deployments_requested_by ON deployments (requested_by_run) WHERE requested_by_run IS NOT NULL;
`;

const DEAD_LETTER_ATTEMPTS = `
-- Every try of an outbound delivery that gave up (time, HTTP status, error), as a JSON array.
ALTER TABLE dead_letters ADD COLUMN attempt_log TEXT;
`;

const OUTBOX_DEAD_LETTERS = `
-- An outbox entry that failed too often is held by the dead letter that keeps it, and is no
-- longer pending; replaying the dead letter clears this and makes the entry pending again.
ALTER TABLE outbox ADD COLUMN dead_letter_id TEXT;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL AND dead_letter_id IS NULL;
CREATE INDEX outbox_dead_letter ON outbox (dead_letter_id) WHERE dead_letter_id IS NOT NULL;
`;

/** Every migration, in order. Versions start at 1 and increase by 1. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: INITIAL_SCHEMA },
  { version: 2, name: 'schedule slots', sql: SCHEDULE_SLOTS },
  { version: 3, name: 'deployment details', sql: DEPLOYMENT_DETAILS },
  { version: 4, name: 'dead letter attempts', sql: DEAD_LETTER_ATTEMPTS },
  { version: 5, name: 'outbox dead letters', sql: OUTBOX_DEAD_LETTERS },
];

export const LATEST_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

const BOOTSTRAP = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

/** The highest applied version; 0 for an empty database. */
export function currentVersion(db: DatabaseSync): number {
  db.exec(BOOTSTRAP);
  const row = db.prepare('SELECT coalesce(max(version), 0) AS version FROM schema_migrations').get();
  const version = row?.['version'];
  return typeof version === 'number' ? version : 0;
}

/**
 * Applies the migrations the database lacks, each in its own transaction, and returns the version
 * reached. `migrations` is a parameter so the runner itself can be tested; the store passes
 * `MIGRATIONS`.
 */
export function applyMigrations(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number {
  checkOrder(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  let version = currentVersion(db);
  refuseNewer(version, latest);
  for (const migration of migrations) {
    if (migration.version <= version) continue;
    version = applyOne(db, migration, latest);
  }
  return version;
}

function applyOne(db: DatabaseSync, migration: Migration, latest: number): number {
  db.exec('BEGIN IMMEDIATE');
  try {
    // Another process may have migrated while this one waited for the write lock.
    const version = currentVersion(db);
    refuseNewer(version, latest);
    if (migration.version > version) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
    }
    db.exec('COMMIT');
    return Math.max(version, migration.version);
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    if (error instanceof JunctionError) throw error;
    throw new JunctionError(
      'STORE_MIGRATION_FAILED',
      `migration ${String(migration.version)} '${migration.name}' failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, details: { version: migration.version } },
    );
  }
}

function refuseNewer(version: number, latest: number): void {
  if (version > latest) {
    throw new JunctionError(
      'STORE_VERSION_TOO_NEW',
      `store schema version ${String(version)} is newer than ${String(latest)}, the latest this junction knows; upgrade junction`,
      { details: { version, latest } },
    );
  }
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new JunctionError(
        'INTERNAL',
        `migration '${migration.name}' has version ${String(migration.version)}, expected ${String(index + 1)}`,
      );
    }
  });
}
