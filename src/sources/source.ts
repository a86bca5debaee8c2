/**
 * A source: a receiver for one provider's webhooks (GitHub, Alertmanager, …), configured under
 * `sources:` in junction.yaml and mounted at `POST /hooks/<name>`. A source authenticates the raw
 * request the provider's way and maps its payload to canonical CloudEvents (DESIGN.md §2),
 * keeping the provider's original payload under `data.payload`. A source never stores or
 * publishes: the server hands what it returns to intake, so a hook is answered like
 * `POST /events` (202 with the stored ids, 200 for duplicates).
 *
 * What callers may assume of every source:
 * - `authenticate` runs first, on the raw bytes, before anything is parsed; it compares secrets
 *   in constant time and throws `SOURCE_UNAUTHENTICATED` (401) without saying which part failed.
 * - `map` is pure: the same request maps to the same events, with the same CloudEvent ids and
 *   dedupe keys, so a provider's redelivery is stored once. It throws `SOURCE_PAYLOAD_INVALID`
 *   (400) for a payload it cannot read, never anything else, and never echoes secrets.
 * - A delivery the source understands but that carries no event (a ping, an event type the source
 *   does not map) returns no events and a `note` saying why; the server answers 200 with it.
 */
import type { CloudEvent } from '../events/index.ts';

export interface HookRequest {
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received. */
  readonly body: Buffer;
  readonly receivedAt: Date;
}

export interface MappedEvent {
  readonly event: CloudEvent;
  /** The provider's delivery id (or another stable key); default: source + id. */
  readonly dedupeKey?: string;
}

export interface SourceResult {
  readonly events: readonly MappedEvent[];
  /** Why nothing was mapped (a ping, an event type this source ignores). */
  readonly note?: string;
}

export interface Source {
  readonly name: string;
  readonly type: string;
  authenticate(request: HookRequest): void;
  /**
   * A further check that needs to wait (verifying a signed token), run after `authenticate` and
   * before `map` when the source has one; rejects with SOURCE_UNAUTHENTICATED.
   */
  verify?(request: HookRequest): Promise<void>;
  map(request: HookRequest): SourceResult;
}

/** The settings of one entry of `sources:` (credentials already resolved from `${ENV}`). */
export interface SourceSettings {
  readonly name: string;
  readonly type: string;
  readonly secret?: string;
  readonly token?: string;
  readonly [option: string]: unknown;
}

/** Makes a source from its settings; throws `CONFIG_INVALID` naming the entry for bad settings. */
export type SourceFactory = (settings: SourceSettings) => Source;
