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
}

export interface AppendResult {
  /** The stored id: the new event's, or the first event's when `duplicate` is true. */
  readonly id: string;
  readonly duplicate: boolean;
}

export interface EventFilter {
  readonly type?: string;
  readonly source?: string;
  readonly receiver?: string;
  /** ISO 8601; events received at or after. */
  readonly since?: string;
  /** ISO 8601; events received before. */
  readonly until?: string;
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
}

export interface OutboxStats {
  readonly pending: number;
  /** Seconds since the oldest unpublished entry was written; 0 when none is pending. */
  readonly oldestAgeSeconds: number;
}

export type TokenScope = 'emit' | 'read' | 'operate' | 'admin';

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
  getEvent(id: string): Promise<StoredEvent | undefined>;
  listEvents(filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>>;

  /** Unpublished outbox entries, oldest first. Does not lock; the relay is the only reader. */
  pendingOutbox(limit: number): Promise<OutboxEntry[]>;
  markOutboxPublished(seqs: readonly number[]): Promise<void>;
  markOutboxFailed(seq: number, error: string): Promise<void>;
  outboxStats(): Promise<OutboxStats>;

  createToken(record: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void>;
  findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  listTokens(): Promise<ApiTokenRecord[]>;
  revokeToken(id: string): Promise<boolean>;
  touchToken(id: string, at: string): Promise<void>;
  /** True when at least one unrevoked token exists. */
  hasTokens(): Promise<boolean>;
}
