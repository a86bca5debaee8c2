/**
 * Prometheus metrics of one Junction process, on a registry of its own (so several instances can
 * live in one test process). Names carry the `junction_` prefix and base units; labels are
 * low-cardinality only: `receiver` is the configured receiver name (`events` or a source's name),
 * and `type` is the CloudEvent type, capped at `maxTypeLabels` distinct values per process, after
 * which further types count under `other` (a sender cannot grow the series without bound).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface IntakeMetrics {
  received(receiver: string, type: string, count?: number): void;
  accepted(receiver: string, type: string, count?: number): void;
  duplicate(receiver: string, type: string, count?: number): void;
  rejected(receiver: string, code: string): void;
  observeIngest(receiver: string, seconds: number): void;
}

export interface Metrics {
  readonly registry: Registry;
  readonly intake: IntakeMetrics;
  /** A commit status or other notification ended: `delivered`, `failed` (dead-lettered) or `skipped`. */
  notification(provider: string, outcome: 'delivered' | 'failed' | 'skipped'): void;
  /** A gauge whose value is read when Prometheus scrapes. */
  gaugeFrom(name: string, help: string, read: () => Promise<number> | number): void;
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  readonly maxTypeLabels?: number;
  /** Process metrics (CPU, RSS, event loop lag). Default true. */
  readonly processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'junction_' });
  const maxTypes = options.maxTypeLabels ?? 200;
  const seenTypes = new Set<string>();
  const typeLabel = (type: string): string => {
    if (seenTypes.has(type)) return type;
    if (seenTypes.size >= maxTypes) return 'other';
    seenTypes.add(type);
    return type;
  };

  const counter = (name: string, help: string, labelNames: string[]): Counter =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const received = eventCounter(
    registry,
    'junction_events_received_total',
    'Events received, before validation and dedupe.',
  );
  const accepted = eventCounter(
    registry,
    'junction_events_accepted_total',
    'Events stored for the first time.',
  );
  const duplicates = eventCounter(
    registry,
    'junction_events_duplicate_total',
    'Events answered as duplicates of a stored event.',
  );
  const rejected = counter('junction_events_rejected_total', 'Requests refused, by error code.', [
    'receiver',
    'code',
  ]);
  const ingest = new Histogram({
    name: 'junction_ingest_duration_seconds',
    help: 'Time from a request being read to its events being durable.',
    labelNames: ['receiver'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  const notifications = counter(
    'junction_notifications_total',
    'Notifications sent by notifiers (commit statuses), by provider and outcome.',
    ['provider', 'outcome'],
  );

  return {
    registry,
    contentType: registry.contentType,
    notification: (provider, outcome) => notifications.inc({ provider, outcome }),
    intake: {
      received: (receiver, type, count = 1) => received.add(receiver, typeLabel(type), count),
      accepted: (receiver, type, count = 1) => accepted.add(receiver, typeLabel(type), count),
      duplicate: (receiver, type, count = 1) => duplicates.add(receiver, typeLabel(type), count),
      rejected: (receiver, code) => rejected.inc({ receiver, code }),
      observeIngest: (receiver, seconds) => ingest.observe({ receiver }, seconds),
    },
    gaugeFrom(name, help, read) {
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          this.set(await read());
        },
      });
    },
    render: () => registry.metrics(),
  };
}

/**
 * A counter by `receiver` and `type` that intake bumps once per event: counts add up in plain maps
 * and reach the prom-client counter when it is read (a scrape), which is exact at every read and
 * spares each event prom-client's label checks and hashing.
 */
function eventCounter(
  registry: Registry,
  name: string,
  help: string,
): { add(receiver: string, type: string, count: number): void } {
  let pending = new Map<string, Map<string, number>>();
  new Counter({
    name,
    help,
    labelNames: ['receiver', 'type'],
    registers: [registry],
    collect() {
      const counts = pending;
      pending = new Map<string, Map<string, number>>();
      for (const [receiver, byType] of counts) {
        for (const [type, count] of byType) this.inc({ receiver, type }, count);
      }
    },
  });
  return {
    add(receiver, type, count) {
      let byType = pending.get(receiver);
      if (byType === undefined) pending.set(receiver, (byType = new Map<string, number>()));
      byType.set(type, (byType.get(type) ?? 0) + count);
    },
  };
}
