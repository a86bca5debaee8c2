/**
 * The notifier service: reports the state of runs back to the git host as commit statuses. It
 * consumes `pipeline.started|succeeded|failed|cancelled` from the bus (topic `events`, group
 * `notifiers`), so it is never on a run's critical path.
 *
 * For each such event it reads the run, then the git event behind it: the run's triggering event
 * when that is a `git.push` or `git.pull_request`, else the first such event up the `causationid`
 * chain (a deploy pipeline chained on `pipeline.succeeded` reports on the pushed commit). Each
 * configured notifier whose provider matches the type of the source that received the git event
 * (github-status ↔ a `github` source, gitlab-status ↔ a `gitlab` source), and whose `pipelines`
 * and `repositories` filters allow it, sends one status.
 *
 * What callers may assume:
 * - Events of one run are reported in the order they arrive (pending before success), even with
 *   several deliveries in flight.
 * - A status that cannot be delivered after the retries (src/notifiers/delivery.ts), or that the
 *   host refuses, is kept as a dead letter (`NOTIFY_FAILED`, kind `delivery`) with the
 *   destination URL, the request body, the headers without credentials and every attempt; the
 *   bus message is then acknowledged.
 * - A store failure hands the message back to the bus (retry); a message that is not a stored
 *   event is rejected and logged with `BUS_MESSAGE_INVALID`.
 * - Tokens never appear in logs, errors or dead letters.
 * - `stop(graceMs)` stops taking deliveries, lets statuses in flight finish for up to `graceMs`,
 *   then aborts them; an aborted status is handed back to the bus, not dead-lettered.
 * - On the embedded bus, statuses of events published while no notifier ran are not sent.
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
import { decodeStoredEvent, EVENTS_TOPIC, TYPE_HEADER } from '../intake/index.ts';
import type { Logger } from '../observability/index.ts';
import { createMasker } from '../security/index.ts';
import type { Store } from '../store/index.ts';
import {
  commitOf,
  GIT_EVENT_TYPES,
  isWanted,
  redactHeaders,
  SOURCE_TYPE_OF,
  statusRequest,
  type NotifierSettings,
  type RunState,
} from './commit-status.ts';
import { DEFAULT_RETRY_POLICY, deliver, type RetryPolicy } from './delivery.ts';

export const NOTIFIERS_GROUP = 'notifiers';

/** How far up the causation chain the notifier looks for the git event. */
const MAX_CHAIN_HOPS = 20;

const RUN_STATES: Readonly<Record<string, RunState>> = {
  'pipeline.started': 'started',
  'pipeline.succeeded': 'succeeded',
  'pipeline.failed': 'failed',
  'pipeline.cancelled': 'cancelled',
};

export interface NotifierOptions {
  readonly store: Store;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly notifiers: readonly NotifierSettings[];
  /** The configured sources (name and type), to tell which host a git event came from. */
  readonly sources: readonly { readonly name: string; readonly type: string }[];
  /** Link to a run, for `target_url`. */
  readonly runUrl: (runId: string) => string;
  readonly retry?: Partial<RetryPolicy>;
  /** Deliveries handled at once. Default 8. */
  readonly maxInFlight?: number;
  /** Called once per status that ended. */
  readonly onOutcome?: (provider: string, outcome: 'delivered' | 'failed' | 'skipped') => void;
}

export interface Notifier {
  /** Subscribes to the events topic; call before the outbox relay starts. */
  start(): Promise<void>;
  /** Stops taking deliveries; statuses in flight get `graceMs` (default 5000) to finish. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

class Aborted extends Error {
  override readonly name = 'Aborted';
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { store, bus, logger, notifiers } = options;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const sourceTypes = new Map(options.sources.map((source) => [source.name, source.type]));
  const masker = createMasker(notifiers.map((n) => n.token));
  const mask = (text: string): string => masker.mask(text);
  const abort = new AbortController();
  /** The tail of each run's queue of statuses, so one run's statuses go out in order. */
  const queues = new Map<string, Promise<unknown>>();
  let subscription: Subscription | undefined;
  let stopping: Promise<void> | undefined;

  /** The git event behind the run's triggering event, if there is one. */
  async function gitEventOf(eventId: string): Promise<StoredEvent | undefined> {
    const seen = new Set<string>();
    let id: string | undefined = eventId;
    for (let hop = 0; id !== undefined && hop < MAX_CHAIN_HOPS && !seen.has(id); hop += 1) {
      seen.add(id);
      const stored = await store.getEvent(id);
      if (stored === undefined) return undefined;
      if (GIT_EVENT_TYPES.has(stored.event.type)) return stored;
      const cause: unknown = stored.event['causationid'];
      id = typeof cause === 'string' && cause !== '' ? cause : undefined;
    }
    return undefined;
  }

  async function sendOne(
    settings: NotifierSettings,
    git: StoredEvent,
    result: StoredEvent,
    state: RunState,
    data: Record<string, unknown>,
  ): Promise<void> {
    const pipeline = String(data['pipeline']);
    const runId = String(data['runId']);
    const provider = settings.type;
    const target = commitOf(git, settings.type);
    if (target === undefined) {
      logger.warn(
        { code: 'NOTIFY_FAILED', eventId: git.id, runId, pipeline },
        `notifier ${provider}: the git event names no commit or repository it can report on; skipped`,
      );
      options.onOutcome?.(provider, 'skipped');
      return;
    }
    if (!isWanted(settings, pipeline, target.repository)) return;
    const reason = typeof data['reason'] === 'string' ? data['reason'] : undefined;
    const durationMs = typeof data['durationMs'] === 'number' ? data['durationMs'] : undefined;
    const request = statusRequest(settings, target, {
      state,
      runId,
      pipeline,
      targetUrl: options.runUrl(runId),
      ...(reason === undefined ? {} : { reason: mask(reason) }),
      ...(durationMs === undefined ? {} : { durationMs }),
    });
    const outcome = await deliver(request, policy, { signal: abort.signal, mask });
    if (outcome.outcome === 'delivered') {
      logger.debug({ runId, pipeline, eventId: result.id }, `notifier ${provider}: ${state} reported`);
      options.onOutcome?.(provider, 'delivered');
      return;
    }
    if (outcome.outcome === 'aborted') throw new Aborted('stopped');
    const what =
      outcome.outcome === 'refused' ? 'refused' : `failed after ${String(outcome.attempts.length)} attempts`;
    const reasonLine = mask(`${provider}: ${what}: ${outcome.error}`);
    await store.addDeadLetter({
      kind: 'delivery',
      code: 'NOTIFY_FAILED',
      reason: reasonLine,
      attempts: outcome.attempts.length,
      payload: request.body,
      contentType: 'application/json',
      headers: redactHeaders(request.headers),
      destination: request.url,
      eventId: result.id,
      history: outcome.attempts,
    });
    options.onOutcome?.(provider, 'failed');
    logger.warn(
      { code: 'NOTIFY_FAILED', runId, pipeline, eventId: result.id, status: outcome.status },
      `notifier ${reasonLine}; kept as a dead letter`,
    );
  }

  async function notify(result: StoredEvent, state: RunState, data: Record<string, unknown>): Promise<void> {
    const pipeline = String(data['pipeline']);
    const runId = String(data['runId']);
    const wanted = notifiers.filter((settings) => isWanted(settings, pipeline));
    if (wanted.length === 0) return;
    const run = await store.getRunDetail(runId);
    if (run === undefined) {
      logger.warn(
        { runId, eventId: result.id },
        'notifier: the run of this result event is not stored; skipped',
      );
      return;
    }
    const git = await gitEventOf(run.eventId);
    if (git === undefined) return;
    const sourceType = sourceTypes.get(git.receiver);
    for (const settings of wanted) {
      if (SOURCE_TYPE_OF[settings.type] !== sourceType) continue;
      await sendOne(settings, git, result, state, data);
    }
  }

  /** Runs `work` after the statuses of the same run queued before it. */
  function inOrder(key: string, work: () => Promise<void>): Promise<void> {
    const previous = queues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    queues.set(key, tail);
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key);
    });
    return next;
  }

  async function handle(delivery: Delivery): Promise<Outcome> {
    // The relay's type header names the type: anything but a run's status needs no decoding.
    const headerType = delivery.message.headers?.[TYPE_HEADER];
    if (headerType !== undefined && !Object.hasOwn(RUN_STATES, headerType)) return ack;
    let stored: StoredEvent;
    try {
      stored = decodeStoredEvent(delivery.message.data);
    } catch {
      logger.error(
        { code: 'BUS_MESSAGE_INVALID', messageId: delivery.message.id.slice(0, 100) },
        'notifier: message is not a stored event; dropped',
      );
      return reject('not a stored event');
    }
    const type = typeof stored?.event?.type === 'string' ? stored.event.type : '';
    const state = Object.hasOwn(RUN_STATES, type) ? RUN_STATES[type] : undefined;
    if (state === undefined) return ack;
    const data = stored.event.data as Record<string, unknown> | null | undefined;
    if (typeof data?.['runId'] !== 'string' || typeof data['pipeline'] !== 'string') return ack;
    try {
      await inOrder(data['runId'], () => notify(stored, state, data));
      return ack;
    } catch (error) {
      if (error instanceof Aborted) return retryAfter(1000);
      const code = isJunctionError(error) ? error.code : 'INTERNAL';
      logger.warn(
        { code, eventId: stored.id, err: mask(errorMessage(error)) },
        'notifier: cannot report this run now; will retry',
      );
      return retryAfter(Math.min(30_000, 1000 * 2 ** Math.min(5, delivery.attempt - 1)));
    }
  }

  return {
    async start() {
      subscription = await bus.subscribe(EVENTS_TOPIC, NOTIFIERS_GROUP, handle, {
        maxInFlight: options.maxInFlight ?? 8,
      });
    },
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        const closing = subscription?.close() ?? Promise.resolve();
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            abort.abort();
            resolve();
          }, graceMs);
        });
        await Promise.race([closing, grace]);
        clearTimeout(timer);
        await closing;
      })();
      return stopping;
    },
  };
}
