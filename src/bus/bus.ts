/**
 * Bus: moves messages between the parts of Junction (events to the router, jobs to workers,
 * results to notifiers). Implementations: `embedded/` (in-process memory, the single-node
 * default) and `nats/` (NATS JetStream); later Redis Streams, RabbitMQ and Kafka. Each passes
 * test/conformance/bus.ts.
 *
 * What callers may assume:
 * - Delivery is at least once. A handler may see a message again (after a retry, a crash, a
 *   reconnect); consumers dedupe by `message.id`. Publishing the same `id` twice within the
 *   bus's dedupe window delivers it once where the bus declares `capabilities.publishDedupe`.
 * - `publish` resolves only when the bus has taken the message (for a broker: the server
 *   acknowledged it).
 * - Durability is the bus's own: a broker keeps messages across process restarts; the embedded bus
 *   keeps them in memory only, and Junction re-publishes from the store after a restart (the
 *   outbox), so the embedded bus is never the only copy of anything.
 * - A consumer group sees every message published to its topic after the group was first
 *   subscribed (the group is created on first subscribe). Within a group, each message goes to one
 *   subscriber at a time (shared work); different groups each get every message.
 * - The handler's outcome decides a message's fate: `ack` (done), `retry` (deliver again no
 *   sooner than `afterMs`, to any subscriber of the group), `reject` (never deliver again; the
 *   caller records it as a dead letter before rejecting). A handler that throws counts as
 *   `retry` with the subscription's default backoff.
 * - Per-group delivery order follows publish order for messages that are not retried, with at
 *   most `maxInFlight` handlers running at once per subscription.
 * - `close()` stops new deliveries, waits for running handlers to finish (drain), then releases
 *   connections. It is idempotent. `publish` after `close()` rejects with `BUS_CLOSED`.
 * - The bus owns its connections. Topic and group names are `[A-Za-z0-9_-]+`; anything else
 *   rejects with `BUS_TOPIC_INVALID`.
 * - Names are at most 100 characters. A message id is 1 to 1024 characters on one line; header
 *   names are printable ASCII without `:` and not starting with `Nats-` (reserved for brokers);
 *   header values are one line and arrive without surrounding whitespace. Anything else rejects
 *   with `BUS_MESSAGE_INVALID` (src/bus/validate.ts holds these checks, shared by all adapters).
 */

export interface BusMessage {
  /** Unique id of the message; the dedupe key. */
  readonly id: string;
  readonly data: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Delivery {
  readonly message: BusMessage;
  readonly topic: string;
  /** 1 on the first delivery, then counts redeliveries. */
  readonly attempt: number;
}

export type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly afterMs: number }
  | { readonly kind: 'reject'; readonly reason: string };

export const ack: Outcome = { kind: 'ack' };
export const retryAfter = (afterMs: number): Outcome => ({ kind: 'retry', afterMs });
export const reject = (reason: string): Outcome => ({ kind: 'reject', reason });

export type Handler = (delivery: Delivery) => Promise<Outcome>;

export interface SubscribeOptions {
  /** Handlers running at once for this subscription. Default 1. */
  readonly maxInFlight?: number;
  /** Backoff when a handler throws. Default 1000 ms. */
  readonly retryDelayMs?: number;
}

export interface Subscription {
  /** Stops deliveries to this subscriber and waits for its running handlers. */
  close(): Promise<void>;
}

export interface BusCapabilities {
  /** Messages survive a restart of the Junction process. */
  readonly durable: boolean;
  /** Publishing an id again within the dedupe window delivers it once. */
  readonly publishDedupe: boolean;
  /** Several processes can share one group. */
  readonly distributed: boolean;
}

export interface Bus {
  /** `embedded`, `nats`, … for logs and /readyz. */
  readonly kind: string;
  readonly capabilities: BusCapabilities;
  publish(topic: string, message: BusMessage): Promise<void>;
  subscribe(
    topic: string,
    group: string,
    handler: Handler,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Cheap check for /readyz; rejects with `BUS_UNAVAILABLE`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
