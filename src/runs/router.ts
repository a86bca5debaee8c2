/**
 * The router: takes each stored event off the bus (topic `events`, group `router`), decides which
 * pipeline triggers it matches (`decideEvent`), and records the decisions and one `queued` run per
 * match in the store in one idempotent transaction, then hands the new runs to the scheduler
 * (`onRunsCreated`). The decisions let `junction explain` and the API show why an event did or did
 * not start a pipeline.
 *
 * What callers may assume:
 * - One delivery at a time (`maxInFlight` 1), so events are routed in publish order.
 * - Redelivery is harmless: run ids are derived from (event id, pipeline, trigger index) and the
 *   store ignores rows it already has.
 * - A failure (of the store, or of deciding) is retried with exponential backoff (capped at
 *   `maxBackoffMs`). After `maxAttempts` deliveries (`ROUTING_MAX_ATTEMPTS`, 5) the event is kept
 *   as a `routing` dead letter naming it, and acknowledged, so one event cannot hold up the ones
 *   behind it; `junction dlq replay` routes it again. When even the dead letter cannot be written
 *   the delivery is retried, so nothing is lost. A message that is not a stored event is rejected
 *   at once and logged with `BUS_MESSAGE_INVALID`.
 * - `route(stored)` routes one stored event straight away (a replayed dead letter) with the
 *   pipelines loaded now, and resolves to the runs it created.
 * - Each delivery uses the pipelines `getPipelines()` returns at that moment, so a reload takes
 *   effect from the next event on.
 * - The seq of the last event routed is saved as the checkpoint `router.events` (at most once a
 *   second, and on stop). With `catchUp` (set when the bus keeps nothing across restarts, as the
 *   embedded bus), `start()` first routes every stored event after that checkpoint straight from
 *   the store, so an event that was published but not yet routed when the process died is routed
 *   after the restart. Routing again what was already routed changes nothing.
 */
import {
  ack,
  reject,
  retryAfter,
  type Bus,
  type Delivery,
  type Outcome,
  type Subscription,
} from '../bus/index.ts';
import type { StoredEvent } from '../events/index.ts';
import { errorMessage, isJunctionError } from '../errors/index.ts';
import { decodeStoredEvent, EVENTS_TOPIC, SEQ_HEADER, TYPE_HEADER } from '../intake/index.ts';
import type { Logger } from '../observability/index.ts';
import type { NewDecision, NewRun, Store } from '../store/index.ts';
import { decideEvent, runIdFor, type RoutablePipelines } from '../triggers/index.ts';

export const ROUTER_GROUP = 'router';

/** Deliveries of an event whose routing keeps failing before it becomes a dead letter. */
export const ROUTING_MAX_ATTEMPTS = 5;

export interface RouterOptions {
  readonly store: Store;
  readonly bus: Bus;
  readonly logger: Logger;
  /** The pipelines to route against, read once per event. */
  readonly getPipelines: () => RoutablePipelines;
  /** Longest wait before a failed event is tried again. Default 30 s. */
  readonly maxBackoffMs?: number;
  /** Deliveries after which a failing event becomes a dead letter. Default `ROUTING_MAX_ATTEMPTS`. */
  readonly maxAttempts?: number;
  /** Route stored events after the checkpoint before subscribing. Default false. */
  readonly catchUp?: boolean;
  /** How often the checkpoint is saved while events flow. Default 1000 ms. */
  readonly checkpointEveryMs?: number;
  /** Runs were created (the scheduler's cue to start them). */
  readonly onRunsCreated?: (runIds: readonly string[]) => void;
}

export const ROUTER_CHECKPOINT = 'router.events';

export interface Router {
  /** Subscribes to the events topic; routing starts with the next delivery. */
  start(): Promise<void>;
  /** Stops taking deliveries and waits for the one in progress. Idempotent. */
  stop(): Promise<void>;
  /** Routes one stored event now with the current pipelines; resolves to the runs created. */
  route(stored: StoredEvent): Promise<string[]>;
}

/** What one event's routing writes: decisions, and a run per matched trigger. */
export function routingRecords(
  stored: StoredEvent,
  routable: RoutablePipelines,
): { decisions: NewDecision[]; runs: NewRun[] } {
  const decisions: NewDecision[] = [];
  const runs: NewRun[] = [];
  for (const decision of decideEvent(stored, routable)) {
    const pipeline = routable.pipelines.get(decision.pipeline);
    const digest = pipeline?.digest ?? null;
    const runId = decision.matched ? runIdFor(stored.id, decision.pipeline, decision.triggerIndex) : null;
    decisions.push({ ...decision, pipelineDigest: digest, runId });
    if (runId !== null) {
      runs.push({
        id: runId,
        pipeline: decision.pipeline,
        triggerIndex: decision.triggerIndex,
        status: 'queued',
        pipelineDigest: digest,
        spec: pipeline === undefined ? null : JSON.stringify(pipeline.spec),
      });
    }
  }
  return { decisions, runs };
}

/**
 * The seq of an event that no loaded trigger can match, read from the headers the outbox relay
 * sets (`ce-type`, `junction-seq`) without decoding the body: most events on a busy bus are such
 * events, and decoding one costs more than the rest of routing it. Undefined when the headers are
 * missing or malformed (the body decides) or when some trigger listens for the type.
 */
function seqWithoutListeners(delivery: Delivery, routable: RoutablePipelines): number | undefined {
  const headers = delivery.message.headers;
  const type = headers?.[TYPE_HEADER];
  const seqText = headers?.[SEQ_HEADER];
  if (type === undefined || seqText === undefined || !/^[1-9][0-9]{0,15}$/.test(seqText)) return undefined;
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq)) return undefined;
  return routable.index.candidates(type).length === 0 ? seq : undefined;
}

function decodeDelivery(delivery: Delivery): StoredEvent | undefined {
  try {
    const stored = decodeStoredEvent(delivery.message.data) as Partial<StoredEvent> | null;
    const event = stored?.event as { type?: unknown } | undefined;
    if (typeof stored?.id !== 'string' || typeof event !== 'object' || typeof event.type !== 'string') {
      return undefined;
    }
    return stored as StoredEvent;
  } catch {
    return undefined;
  }
}

export function createRouter(options: RouterOptions): Router {
  const { store, bus, logger, getPipelines } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const maxAttempts = options.maxAttempts ?? ROUTING_MAX_ATTEMPTS;
  const checkpointEveryMs = options.checkpointEveryMs ?? 1000;
  let subscription: Subscription | undefined;
  let stopping: Promise<void> | undefined;
  let routedSeq = 0;
  let savedSeq = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Events waiting for a retry: the checkpoint must not pass them. */
  const retrying = new Set<number>();

  async function saveCheckpoint(): Promise<void> {
    const seq = retrying.size === 0 ? routedSeq : Math.min(routedSeq, Math.min(...retrying) - 1);
    if (seq <= savedSeq) return;
    try {
      await store.setCheckpoint(ROUTER_CHECKPOINT, String(seq));
      savedSeq = Math.max(savedSeq, seq);
    } catch (error) {
      logger.warn(
        { code: isJunctionError(error) ? error.code : 'INTERNAL', err: errorMessage(error) },
        'router: cannot save its checkpoint; will retry',
      );
    }
  }

  function routed(seq: number): void {
    retrying.delete(seq);
    if (seq > routedSeq) routedSeq = seq;
    timer ??= setTimeout(() => {
      timer = undefined;
      void saveCheckpoint();
    }, checkpointEveryMs);
  }

  /** Routes stored events after the checkpoint directly from the store, oldest first. */
  async function catchUp(): Promise<number> {
    const saved = Number((await store.getCheckpoint(ROUTER_CHECKPOINT)) ?? '0');
    routedSeq = savedSeq = Number.isFinite(saved) ? saved : 0;
    let count = 0;
    for (;;) {
      const page = await store.listEvents({ afterSeq: routedSeq }, { limit: 500, order: 'asc' });
      for (const stored of page.items) {
        try {
          const { decisions, runs } = routingRecords(stored, getPipelines());
          if (decisions.length > 0) {
            const { createdRuns } = await store.recordRouting(stored.id, decisions, runs);
            if (createdRuns.length > 0) options.onRunsCreated?.(createdRuns);
          }
        } catch (error) {
          // Catching up has no redelivery to wait for: keep the event as a dead letter now.
          const code = isJunctionError(error) ? error.code : 'INTERNAL';
          if (!(await keepDeadLetter(stored, code, error, 1))) throw error;
        }
        routed(stored.seq);
        count += 1;
      }
      if (page.items.length < 500) break;
    }
    await saveCheckpoint();
    return count;
  }

  async function handle(delivery: Delivery): Promise<Outcome> {
    const passing = seqWithoutListeners(delivery, getPipelines());
    if (passing !== undefined) {
      routed(passing);
      return ack;
    }
    const stored = decodeDelivery(delivery);
    if (stored === undefined) {
      logger.error(
        { code: 'BUS_MESSAGE_INVALID', messageId: delivery.message.id.slice(0, 100) },
        'router: message is not a stored event; dropped',
      );
      return reject('not a stored event');
    }
    try {
      const createdRuns = await routeOne(stored);
      if (createdRuns === undefined) {
        logger.debug({ eventId: stored.id }, 'router: no pipeline listens for this event type');
      }
      routed(stored.seq);
      return ack;
    } catch (error) {
      const code = isJunctionError(error) ? error.code : 'INTERNAL';
      if (delivery.attempt >= maxAttempts) {
        const kept = await keepDeadLetter(stored, code, error, delivery.attempt);
        if (kept) {
          // Acknowledged: the dead letter holds it now, and the events behind it may pass.
          routed(stored.seq);
          return ack;
        }
      }
      retrying.add(stored.seq);
      const backoff =
        Math.min(maxBackoffMs, 100 * 2 ** Math.min(delivery.attempt, 16)) * (0.5 + Math.random() / 2);
      logger.warn(
        { code, eventId: stored.id, err: errorMessage(error), retryInMs: Math.round(backoff) },
        'router: recording the routing failed; retrying',
      );
      return retryAfter(Math.round(backoff));
    }
  }

  /** Decides and records one event; undefined when no pipeline listens for its type. */
  async function routeOne(stored: StoredEvent): Promise<string[] | undefined> {
    const { decisions, runs } = routingRecords(stored, getPipelines());
    if (decisions.length === 0) return undefined;
    const { createdRuns } = await store.recordRouting(stored.id, decisions, runs);
    if (createdRuns.length > 0) options.onRunsCreated?.(createdRuns);
    for (const runId of createdRuns) {
      const run = runs.find((r) => r.id === runId);
      logger.info({ eventId: stored.id, runId, pipeline: run?.pipeline }, 'run queued');
    }
    return createdRuns;
  }

  /** Keeps an event that could not be routed as a dead letter; false when that failed too. */
  async function keepDeadLetter(
    stored: StoredEvent,
    code: string,
    error: unknown,
    attempts: number,
  ): Promise<boolean> {
    try {
      await store.addDeadLetter({
        kind: 'routing',
        code,
        reason: `routing failed ${String(attempts)} times: ${errorMessage(error)}`,
        attempts,
        eventId: stored.id,
        receiver: stored.receiver,
      });
      logger.error(
        { code, eventId: stored.id, err: errorMessage(error), attempts },
        'router: cannot route this event; kept as a dead letter',
      );
      return true;
    } catch (storeError) {
      logger.error(
        {
          code: isJunctionError(storeError) ? storeError.code : 'INTERNAL',
          eventId: stored.id,
          err: errorMessage(storeError),
        },
        'router: cannot keep the unroutable event as a dead letter; retrying',
      );
      return false;
    }
  }

  return {
    async start() {
      if (subscription !== undefined) return;
      if (options.catchUp === true) {
        const count = await catchUp();
        if (count > 0)
          logger.info({ events: count }, 'router: routed stored events left unrouted at the last stop');
      }
      subscription = await bus.subscribe(EVENTS_TOPIC, ROUTER_GROUP, handle, { maxInFlight: 1 });
    },
    stop() {
      stopping ??= (async () => {
        if (subscription !== undefined) await subscription.close();
        clearTimeout(timer);
        timer = undefined;
        await saveCheckpoint();
      })();
      return stopping;
    },
    async route(stored) {
      return (await routeOne(stored)) ?? [];
    },
  };
}
