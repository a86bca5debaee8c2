/**
 * Store: the durable state of Junction: the event log, the outbox, API tokens, and the records of
 * runs, jobs, steps, logs, trigger decisions, deployments and dead letters that later parts fill.
 *
 * What callers may assume, for every implementation (SQLite now, PostgreSQL later; both run
 * test/conformance/store.ts):
 * - When a write method's promise resolves, the write is committed with the durability the store
 *   was opened with (see `StoreDurability`). A rejected promise means nothing of that call was
 *   written: every method is one transaction.
 * - `appendEvents` writes each new event together with its outbox entry in the same transaction,
 *   so an event is never stored without being queued for publication, nor queued without being
 *   stored. A dedupe key already present stores nothing and returns the first event's id.
 * - Event `seq` values increase in commit order and are never reused; cursors built from them are
 *   stable under concurrent appends.
 * - Errors are `JunctionError`s: `STORE_UNAVAILABLE` (retryable: busy, disconnected) or a
 *   non-retryable code. Implementations never log payloads.
 * - The store owns its connections; `close()` releases them and is idempotent. Calls after
 *   `close()` reject with `STORE_UNAVAILABLE`.
 * - Methods are safe to call concurrently from one process; implementations serialise writes as
 *   their engine requires.
 * - `recordRouting` writes an event's trigger decisions and the runs they create in one
 *   transaction, and is idempotent: a decision is keyed by (event, pipeline, trigger index) and a
 *   run by its id and by (event, pipeline, trigger index), so routing an event again (a redelivery,
 *   concurrent routers) inserts nothing twice and keeps the first rows. `createdRuns` lists only
 *   the runs this call inserted. The event must be stored already: an unknown event id rejects
 *   with `EVENT_NOT_FOUND` and writes nothing.
 * - Run state (runs, jobs, steps, log lines, concurrency holders) is written by the scheduler and
 *   the workers. `updateRun` and `updateJob` are compare-and-set: with `expect`, the row changes
 *   only when its current status is one of `expect` (and, for jobs, its lease owner matches), and
 *   the call says whether it changed, so two writers never both move a row out of one state.
 * - `claimJob` hands each claimable job (status `queued`, `available_at` passed) to exactly one
 *   caller, oldest first, and sets its lease; `renewLease` extends it only for the lease's owner.
 * - Log lines get increasing ids in write order, across all runs; readers page with `afterId`.
 * - The chain queries (`listRunsOfEvent`, `listRerunsOf`, `listEventsLinkedTo`) answer from
 *   indexes, oldest first, and return at most `limit` rows, so a caller walking a causal chain
 *   bounds its own cost.
 * - Secrets are stored as given (sealed by the caller); the store never sees a plaintext value.
 * - A schedule's last slot only moves forward (`recordScheduleSlot` keeps the later time).
 * - Dead letters are kept as given (the caller removes credentials first), with ids that sort in
 *   creation order.
 */
import type { CloudEvent, StoredEvent } from '../events/index.ts';

/**
 * `normal`: survives a killed process (SIGKILL, crash); a power loss or kernel panic may lose the
 * last transactions. `full`: survives a power loss as well, at the cost of an fsync per commit.
 */
export type StoreDurability = 'normal' | 'full';

export interface NewEvent {
  readonly event: CloudEvent;
  /** Defaults to `dedupeKeyOf(event)`. */
  readonly dedupeKey?: string;
  /** `events` for POST /events, or a source's name. */
  readonly receiver: string;
  /** The stored event this one replays (`replay_of`); it must exist. */
  readonly replayOf?: string;
  /**
   * The JSON text `event.data` was parsed from, when the receiver has it: the store may write it
   * instead of serializing `data` again (`eventJson`).
   */
  readonly dataJson?: string;
}

export interface AppendResult {
  /** The stored id: the new event's, or the first event's when `duplicate` is true. */
  readonly id: string;
  readonly duplicate: boolean;
  /**
   * The outbox entry written with a new event (absent for a duplicate): what `pendingOutbox` would
   * read back, so the relay can publish a just-committed event without reading it from the store.
   */
  readonly outbox?: OutboxEntry;
}

export interface EventFilter {
  readonly type?: string;
  readonly source?: string;
  readonly receiver?: string;
  /** ISO 8601; events received at or after. */
  readonly since?: string;
  /** ISO 8601; events received before. */
  readonly until?: string;
  /** Only events with a `seq` greater than this (catching up from a checkpoint). */
  readonly afterSeq?: number;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Opaque cursor for the next page, or null at the end. */
  readonly next: string | null;
}

export interface PageRequest {
  readonly limit: number;
  readonly cursor?: string;
  /** `desc` (default): newest first. */
  readonly order?: 'asc' | 'desc';
}

export interface OutboxEntry {
  readonly seq: number;
  readonly eventId: string;
  readonly topic: string;
  readonly attempts: number;
  readonly event: StoredEvent;
  /** `event.event` as the JSON text the store holds, so publishing need not serialize it again. */
  readonly body: string;
}

export interface OutboxStats {
  readonly pending: number;
  /** Seconds since the oldest unpublished entry was written; 0 when none is pending. */
  readonly oldestAgeSeconds: number;
}

export type TokenScope = 'emit' | 'read' | 'operate' | 'approve' | 'admin';

export interface ApiTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly TokenScope[];
  /** SHA-256 hex of the secret part; the secret itself is never stored. */
  readonly hash: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** One trigger's verdict for one event, as recorded (see docs/triggers.md). */
export interface DecisionRecord {
  readonly eventId: string;
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly matched: boolean;
  /** `matched`, `matched (<note>)`, or the first failing clause in words. */
  readonly reason: string;
  /** sha256 of the pipeline spec that decided, when known. */
  readonly pipelineDigest: string | null;
  /** The run created by a match; null when not matched. */
  readonly runId: string | null;
  /** ISO 8601; when the decision was recorded. Ignored on input (the store sets it). */
  readonly decidedAt: string;
}

export type NewDecision = Omit<DecisionRecord, 'decidedAt' | 'eventId'>;

export interface NewRun {
  readonly id: string;
  readonly pipeline: string;
  readonly triggerIndex: number;
  /** `queued` when created by routing. */
  readonly status: string;
  readonly pipelineDigest: string | null;
  /** The pipeline spec as JSON when the run was created, or null. */
  readonly spec: string | null;
}

export interface RunRecord {
  readonly id: string;
  readonly eventId: string;
  readonly pipeline: string;
  readonly triggerIndex: number;
  readonly status: string;
  readonly pipelineDigest: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly reason: string | null;
}

/** A run with everything the scheduler needs. */
export interface RunDetail extends RunRecord {
  /** The `seq` of the run's event: runs of one concurrency group are ordered by it. */
  readonly eventSeq: number;
  /** The pipeline spec as JSON when the run was created. */
  readonly spec: string | null;
  readonly concurrencyGroup: string | null;
  readonly concurrencyMode: string | null;
  readonly outputs: Readonly<Record<string, string>> | null;
  readonly cancelRequested: boolean;
  readonly rerunOf: string | null;
  /** ISO 8601; a `waiting` run fails after this time. */
  readonly waitUntil: string | null;
}

/** Fields of a run to change; absent fields are left as they are. */
export interface RunPatch {
  readonly status?: string;
  readonly startedAt?: string | null;
  readonly finishedAt?: string | null;
  readonly reason?: string | null;
  readonly outputs?: Readonly<Record<string, string>> | null;
  readonly concurrencyGroup?: string | null;
  readonly concurrencyMode?: string | null;
  readonly cancelRequested?: boolean;
  readonly waitUntil?: string | null;
}

export interface NewJob {
  readonly id: string;
  readonly runId: string;
  /** The job id in the pipeline file. */
  readonly name: string;
  /** '' without a matrix. */
  readonly matrixKey: string;
  readonly matrix: Readonly<Record<string, unknown>> | null;
  readonly status: string;
  readonly needs: readonly string[];
  readonly reason?: string | null;
  /** ISO 8601; not claimable before. Null: at once. */
  readonly availableAt?: string | null;
  /** ISO 8601; set for terminal jobs created already decided (skipped, cancelled). */
  readonly finishedAt?: string | null;
}

export interface JobRecord {
  readonly id: string;
  readonly runId: string;
  readonly name: string;
  readonly matrixKey: string;
  readonly matrix: Readonly<Record<string, unknown>> | null;
  readonly status: string;
  readonly needs: readonly string[];
  readonly attempt: number;
  readonly availableAt: string | null;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: string | null;
  readonly createdAt: string;
  readonly queuedAt: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly outputs: Readonly<Record<string, string>> | null;
}

export interface JobPatch {
  readonly status?: string;
  readonly attempt?: number;
  readonly availableAt?: string | null;
  readonly leaseOwner?: string | null;
  readonly leaseExpiresAt?: string | null;
  readonly queuedAt?: string | null;
  readonly startedAt?: string | null;
  readonly finishedAt?: string | null;
  readonly exitCode?: number | null;
  readonly reason?: string | null;
  readonly outputs?: Readonly<Record<string, string>> | null;
}

export interface JobExpectation {
  /** The job's current status must be one of these. */
  readonly status?: readonly string[];
  /** The job's current lease owner must be this. */
  readonly leaseOwner?: string;
}

export interface StepRecord {
  readonly id: string;
  readonly jobId: string;
  readonly attempt: number;
  /** Position in the job's steps. */
  readonly index: number;
  /** 1 for the first try, 2 for the first retry… */
  readonly try: number;
  readonly name: string;
  readonly status: string;
  readonly exitCode: number | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly reason: string | null;
  readonly outputs: Readonly<Record<string, string>> | null;
}

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface NewLogLine {
  readonly stepId: string | null;
  readonly attempt: number;
  readonly stream: LogStream;
  /** ISO 8601. */
  readonly ts: string;
  readonly text: string;
}

export interface LogLine extends NewLogLine {
  readonly id: number;
  readonly runId: string;
  readonly jobId: string;
}

export interface LogFilter {
  readonly runId: string;
  readonly jobId?: string;
  readonly stepId?: string;
  /** Only lines with a greater id (following a log). */
  readonly afterId?: number;
}

export interface ConcurrencyGroupState {
  readonly name: string;
  /** The run holding the group, with its event's seq. */
  readonly holder: { readonly runId: string; readonly seq: number; readonly since: string } | null;
  /** Runs waiting for the group, in event order. */
  readonly waiting: readonly { readonly runId: string; readonly seq: number }[];
}

export interface SecretInfo {
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface RunFilter {
  readonly pipeline?: string;
  readonly status?: string;
  readonly eventId?: string;
}

export interface RoutingResult {
  /** Ids of the runs this call inserted (empty on a repeat). */
  readonly createdRuns: string[];
}

/** One schedule trigger of one pipeline, as its slots are kept: a changed cron starts afresh. */
export interface ScheduleKey {
  readonly pipeline: string;
  readonly triggerIndex: number;
  /** The cron expression as written. */
  readonly cron: string;
}

/**
 * A deployment: one run of a job that declares an `environment`. Its life: `waiting` (gated:
 * another deployment of the service runs, an approval or a freeze window holds it), `running`,
 * then `succeeded` or `failed`; `refused` when a guard stopped it (outdated version, rejected
 * approval, freeze window that refuses), `cancelled` with its run.
 */
export interface DeploymentRecord {
  /** Insertion order: the queue order of deployments waiting for one (environment, service). */
  readonly seq: number;
  readonly id: string;
  readonly environment: string;
  readonly service: string;
  readonly version: string;
  readonly url: string | null;
  readonly runId: string;
  readonly jobId: string;
  /** The event that started the run. */
  readonly eventId: string;
  /** That event's position in the event log: "newer" for the outdated-version guard. */
  readonly eventSeq: number;
  readonly pipeline: string;
  readonly jobName: string;
  readonly status: string;
  readonly reason: string | null;
  readonly isRollback: boolean;
  /** The deployment a rollback replaces. */
  readonly rollbackOf: string | null;
  /** What asked for it beyond its trigger: `alert:<fingerprint>`, `manual`, `step:<run id>`. */
  readonly cause: string | null;
  readonly actor: string | null;
  /** The run whose `rollback` step asked for this rollback. */
  readonly requestedByRun: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface NewDeployment {
  readonly id: string;
  readonly environment: string;
  readonly service: string;
  readonly version: string;
  readonly url?: string | null;
  readonly runId: string;
  readonly jobId: string;
  readonly eventId: string;
  readonly pipeline: string;
  readonly jobName: string;
  readonly status: string;
  readonly reason?: string | null;
  readonly isRollback?: boolean;
  readonly rollbackOf?: string | null;
  readonly cause?: string | null;
  readonly actor?: string | null;
  readonly requestedByRun?: string | null;
  readonly createdAt?: string;
}

export interface DeploymentPatch {
  readonly status?: string;
  readonly reason?: string | null;
  readonly version?: string;
  readonly url?: string | null;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export interface DeploymentFilter {
  readonly environment?: string;
  readonly service?: string;
  readonly status?: readonly string[];
  /** Only `waiting` and `running` ones. */
  readonly active?: boolean;
  readonly cause?: string;
  readonly requestedByRun?: string;
  readonly isRollback?: boolean;
  /** Recorded at or after this time (ISO 8601). */
  readonly since?: string;
  /** Default `desc`: newest first. */
  readonly order?: 'asc' | 'desc';
}

export interface ApprovalRecord {
  readonly id: number;
  readonly runId: string;
  readonly jobId: string | null;
  readonly decision: 'approved' | 'rejected';
  readonly author: string;
  readonly comment: string | null;
  readonly at: string;
}

export interface NewApproval {
  readonly runId: string;
  readonly jobId: string | null;
  readonly decision: 'approved' | 'rejected';
  readonly author: string;
  readonly comment?: string | null;
  readonly at?: string;
}

export interface Store {
  /** Which engine this is (`sqlite`, `postgres`), for logs and /readyz. */
  readonly kind: string;

  /** Brings the schema to the latest version; safe to call on every start. */
  migrate(): Promise<void>;
  /** The schema version after `migrate()`. */
  schemaVersion(): Promise<number>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /**
   * Appends events in one transaction (group commit: callers pass many at once). Each new event
   * gets an outbox entry on `topic`. Results are in input order; a dedupe key repeated inside the
   * batch is stored once and reported as a duplicate the second time.
   */
  appendEvents(events: readonly NewEvent[], topic: string): Promise<AppendResult[]>;
  /**
   * Whether `appendEvents` commits off the event loop now (the embedded store's append thread).
   * Intake then hands over a batch as soon as it fills and keeps two in flight, so that one batch
   * is committed while the next is read and parsed. A store that commits on the event loop gains
   * nothing from that and leaves this out.
   */
  appendsOffEventLoop?(): boolean;
  getEvent(id: string): Promise<StoredEvent | undefined>;
  listEvents(filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>>;

  /** Unpublished outbox entries, oldest first. Does not lock; the relay is the only reader. */
  pendingOutbox(limit: number): Promise<OutboxEntry[]>;
  /** Marks the entries published in one transaction; runs of consecutive seqs cost one statement. */
  markOutboxPublished(seqs: readonly number[]): Promise<void>;
  markOutboxFailed(seq: number, error: string): Promise<void>;
  /**
   * Gives up on a pending outbox entry: counts the failed attempt, records `error`, adds `letter`
   * and holds the entry by it, all in one transaction; resolves to the dead letter's id. The entry
   * is no longer pending (nor counted by `outboxStats`); the event stays stored. Rejects with
   * `API_BAD_REQUEST`, writing nothing, when the entry is not pending.
   */
  markOutboxDeadLettered(seq: number, error: string, letter: NewDeadLetter): Promise<string>;
  /**
   * Makes the outbox entry held by dead letter `deadLetterId` pending again with its attempts reset,
   * and marks the dead letter replayed, in one transaction; false when no entry is held by it.
   */
  requeueOutbox(deadLetterId: string): Promise<boolean>;
  outboxStats(): Promise<OutboxStats>;

  createToken(record: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void>;
  findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  listTokens(): Promise<ApiTokenRecord[]>;
  revokeToken(id: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;
  /** True when at least one unrevoked token exists. */
  hasTokens(): Promise<boolean>;

  /** Records an event's decisions and the runs they create, in one idempotent transaction. */
  recordRouting(
    eventId: string,
    decisions: readonly NewDecision[],
    runs: readonly NewRun[],
  ): Promise<RoutingResult>;
  /** The event's decisions in pipeline name, then trigger index order; empty when none. */
  listDecisions(eventId: string): Promise<DecisionRecord[]>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Runs in creation order, newest first by default; `next` is the cursor of the next page. */
  listRuns(filter: RunFilter, page: PageRequest): Promise<Page<RunRecord>>;

  /** Runs the event started (re-runs excluded), oldest first, at most `limit`. */
  listRunsOfEvent(eventId: string, limit: number): Promise<LinkedRun[]>;
  /** Runs that re-run `runId` (their `rerunOf` is it), oldest first, at most `limit`. */
  listRerunsOf(runId: string, limit: number): Promise<LinkedRun[]>;
  /**
   * Events whose `source` equals `link.source`, or whose `subject` equals `link.subject`, each
   * once, in `seq` order, at most `limit`. An absent field matches nothing.
   */
  listEventsLinkedTo(link: EventLink, limit: number): Promise<StoredEvent[]>;

  /** Inserts a run outside routing (a re-run, a run started by hand); false when the id exists. */
  createRun(eventId: string, run: NewRun & { readonly rerunOf?: string | null }): Promise<boolean>;
  getRunDetail(id: string): Promise<RunDetail | undefined>;
  /** Runs not yet terminal (queued, waiting, running), in event order. */
  listActiveRuns(limit: number): Promise<RunDetail[]>;
  /** Changes a run; with `expect`, only when its status is one of them. True when it changed. */
  updateRun(id: string, patch: RunPatch, expect?: readonly string[]): Promise<boolean>;

  /** Inserts jobs, keeping rows that exist (same id, or same run, name and matrix key); returns the ids inserted. */
  createJobs(jobs: readonly NewJob[]): Promise<string[]>;
  getJob(id: string): Promise<JobRecord | undefined>;
  /** A run's jobs in creation order. */
  listJobs(runId: string): Promise<JobRecord[]>;
  updateJob(id: string, patch: JobPatch, expect?: JobExpectation): Promise<boolean>;
  /** Takes the oldest claimable job for `owner` with a lease of `leaseMs`; undefined when none. */
  claimJob(owner: string, leaseMs: number, now?: Date): Promise<JobRecord | undefined>;
  /** Extends `owner`'s lease on a running job; false when the job is no longer theirs. */
  renewLease(jobId: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Running jobs whose lease expired before `now`. */
  listExpiredLeases(now: Date): Promise<JobRecord[]>;

  /** Inserts or replaces a step record (by id). */
  saveStep(step: StepRecord): Promise<void>;
  /** The steps of a run's jobs, by job, attempt and index. */
  listSteps(runId: string): Promise<StepRecord[]>;

  /** Appends a job's log lines in order; returns the id of the last one (0 when none given). */
  appendLogs(runId: string, jobId: string, lines: readonly NewLogLine[]): Promise<number>;
  /** Log lines in write order, at most `limit`. */
  readLogs(filter: LogFilter, limit: number): Promise<LogLine[]>;

  getConcurrencyGroup(name: string): Promise<ConcurrencyGroupState>;
  /** Makes `runId` the group's holder, or releases the group with null. */
  setConcurrencyHolder(name: string, runId: string | null): Promise<void>;
  /** Groups that have a holder or waiting runs. */
  listConcurrencyGroups(): Promise<ConcurrencyGroupState[]>;

  /** Stores a sealed secret under `name`. */
  putSecret(name: string, sealed: string): Promise<'created' | 'updated'>;
  /** Sealed values of the named secrets that exist. */
  getSecrets(names: readonly string[]): Promise<Map<string, string>>;
  listSecrets(): Promise<SecretInfo[]>;
  deleteSecret(name: string): Promise<boolean>;

  /** A named position a consumer has reached (the router's last routed event seq), if any. */
  getCheckpoint(name: string): Promise<string | undefined>;
  setCheckpoint(name: string, value: string): Promise<void>;

  /** The last slot the schedule handled (UTC ISO 8601 with milliseconds), if any. */
  getScheduleSlot(key: ScheduleKey): Promise<string | undefined>;
  /**
   * Records that the schedule handled `slot` (ISO 8601). Keeps the later of the stored and the
   * given slot, so two nodes recording the same schedule never move it back. Rejects with
   * `API_BAD_REQUEST` when `slot` is not an ISO 8601 time with a zone.
   */
  recordScheduleSlot(key: ScheduleKey, slot: string): Promise<void>;

  /** Records a deployment; a second call with the same id changes nothing. Resolves to the row. */
  createDeployment(deployment: NewDeployment): Promise<DeploymentRecord>;
  getDeployment(id: string): Promise<DeploymentRecord | undefined>;
  /** Compare-and-set on `status` when `expect` is given; true when a row changed. */
  updateDeployment(id: string, patch: DeploymentPatch, expect?: readonly string[]): Promise<boolean>;
  /**
   * Moves a `waiting` deployment to `running` when no other deployment of its (environment,
   * service) runs and none waiting was recorded before it. `behind` names the one ahead.
   * A deployment already running answers `started: true`.
   */
  startDeployment(id: string, at: string): Promise<{ readonly started: boolean; readonly behind?: string }>;
  /** Deployments, newest first unless `order: 'asc'`, at most `limit` (1–10000). */
  listDeployments(filter: DeploymentFilter, limit: number): Promise<DeploymentRecord[]>;
  /** The last deployment of the service into the environment that succeeded, by finishing time. */
  currentDeployment(environment: string, service: string): Promise<DeploymentRecord | undefined>;
  addApproval(approval: NewApproval): Promise<ApprovalRecord>;
  /** A run's approval decisions, oldest first. */
  listApprovals(runId: string): Promise<ApprovalRecord[]>;

  /** Keeps what could not be taken in, routed or delivered; resolves to the new dead letter's id. */
  addDeadLetter(letter: NewDeadLetter): Promise<string>;
  /** Dead letters oldest first, at most `limit` (1–10000). */
  listDeadLetters(filter: DeadLetterFilter, limit: number): Promise<DeadLetterRecord[]>;
  getDeadLetter(id: string): Promise<DeadLetterRecord | undefined>;
  /** Removes a dead letter; false when none has that id. */
  deleteDeadLetter(id: string): Promise<boolean>;
  /**
   * Records that a dead letter was replayed (now), with the event the replay stored, if any;
   * false when none has that id.
   */
  markDeadLetterReplayed(id: string, replayEventId: string | null): Promise<boolean>;
}

/** A run as one link of a causal chain: its record and the run it re-runs. */
export interface LinkedRun extends RunRecord {
  readonly rerunOf: string | null;
}

/** What `listEventsLinkedTo` matches: an exact `source`, an exact `subject`, or either. */
export interface EventLink {
  readonly source?: string;
  readonly subject?: string;
}

/** One try at an outbound delivery, as a dead letter keeps it. */
export interface DeliveryAttempt {
  /** ISO 8601; when the try started. */
  readonly at: string;
  /** The HTTP status answered, or null when no answer came (network error, timeout). */
  readonly status: number | null;
  /** What went wrong, short and without secrets; null when the status says it all. */
  readonly error: string | null;
  readonly durationMs: number;
}

/**
 * Where a dead letter comes from: taking an event in, routing it, delivering something out, or
 * publishing a stored event from the outbox to the bus.
 */
export type DeadLetterKind = 'intake' | 'routing' | 'delivery' | 'outbox';

export interface NewDeadLetter {
  readonly kind: DeadLetterKind;
  /** A JunctionError code. */
  readonly code: string;
  /** One line saying what failed. */
  readonly reason: string;
  readonly attempts: number;
  /** The bytes as received (intake), as sent (delivery), or the stored event as JSON (outbox). */
  readonly payload?: Uint8Array | string | null;
  readonly contentType?: string | null;
  /** Headers with credentials removed. */
  readonly headers?: Readonly<Record<string, string>> | null;
  readonly receiver?: string | null;
  /** Where a delivery went (a URL without credentials), or the bus topic (outbox). */
  readonly destination?: string | null;
  /** The stored event concerned, for routing, delivery and outbox. */
  readonly eventId?: string | null;
  /** Every try of a delivery, oldest first. */
  readonly history?: readonly DeliveryAttempt[];
}

export interface DeadLetterRecord {
  readonly id: string;
  readonly kind: DeadLetterKind;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly payload: Uint8Array | null;
  readonly contentType: string | null;
  readonly headers: Readonly<Record<string, string>> | null;
  readonly receiver: string | null;
  readonly destination: string | null;
  readonly eventId: string | null;
  readonly history: readonly DeliveryAttempt[];
  readonly createdAt: string;
  readonly replayedAt: string | null;
  /** The first event a successful replay stored; null before, or when the replay stored none. */
  readonly replayEventId: string | null;
}

/**
 * How many dead letters of each kind a store keeps by default; adding one beyond drops the oldest
 * of that kind, so a flood of bad deliveries cannot grow the store without bound.
 */
export const DEAD_LETTER_CAP = 10_000;

export interface DeadLetterFilter {
  readonly kind?: DeadLetterKind;
  readonly eventId?: string;
  readonly receiver?: string;
  /** Only dead letters with an id greater than this (paging, oldest first). */
  readonly afterId?: string;
}
