/**
 * The NATS JetStream bus: the broker-backed implementation of ../bus.ts for Junction spread over
 * several processes and hosts. Works with NATS server 2.9 and later (no 2.10+ features).
 *
 * Mapping (docs/decisions/0003-bus-nats-jetstream-mapping.md says why):
 * - topic → one stream `${PREFIX}_${topic}` (prefix upper-cased) holding the one subject
 *   `${prefix}.${topic}`; limits retention, file storage, a duplicate window keyed on
 *   `Nats-Msg-Id` = message id, messages kept at most `maxAgeMs`.
 * - group → one durable pull consumer named after the group on that stream: explicit acks,
 *   delivery of new messages only (from the moment the consumer was created), unlimited
 *   redeliveries, `ackWaitMs` to answer.
 * - outcome → `ack` acks, `retry` naks with the delay, `reject` terminates; a thrown handler naks
 *   with the subscription's `retryDelayMs`. A handler still running is reported as in progress
 *   every third of `ackWaitMs`, so it is not redelivered while it works.
 * - attempt → the server's delivery count.
 *
 * What callers may assume, beyond the contract:
 * - Streams and consumers are created on first use and never deleted by the bus; remove unused
 *   ones with `deleteNatsStreams` or the `nats` CLI.
 * - Each subscription asks the server for at most `maxInFlight - running` messages at a time, so
 *   nothing waits in a client buffer while other subscribers of the group are idle.
 * - Header names starting with `Nats-` are reserved (rejected on publish, hidden on delivery).
 * - The connection reconnects forever; while it is down, publish rejects with `BUS_UNAVAILABLE`
 *   after 5 s and ping after 2 s; subscriptions resume on their own once it is back.
 * - The bus owns its connection: `close()` stops fetching, waits for running handlers, sends
 *   their outcomes and drains the connection.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { connect, headers as natsHeaders, nanos, type NatsConnection } from '@nats-io/transport-node';
import { errorMessage, JunctionError } from '../../errors/index.ts';
import type {
  Bus,
  BusCapabilities,
  BusMessage,
  Delivery,
  Handler,
  Outcome,
  SubscribeOptions,
  Subscription,
} from '../bus.ts';
import {
  assertName,
  checkMessage,
  RESERVED_HEADER_PREFIX,
  retryDelay,
  subscribeSettings,
  type SubscribeSettings,
} from '../validate.ts';

export interface NatsBusOptions {
  /** `nats://host:port`, or several separated by commas. */
  readonly servers: string;
  /** Names streams and subjects, so several Junctions can share a server. Default `junction`. */
  readonly prefix?: string;
  /** Connection name shown by the server's monitoring. Default `junction`. */
  readonly name?: string;
  /** How long the server remembers a message id for dedupe. Default 120 000 ms. */
  readonly dedupeWindowMs?: number;
  /** How long a subscriber has to answer before the server redelivers. Default 30 000 ms. */
  readonly ackWaitMs?: number;
  /** How long a stream keeps a message, acknowledged or not. Default 7 days. */
  readonly maxAgeMs?: number;
}

const CAPABILITIES: BusCapabilities = Object.freeze({
  durable: true,
  publishDedupe: true,
  distributed: true,
});
const API_TIMEOUT_MS = 5_000;
const PING_TIMEOUT_MS = 2_000;
const FETCH_EXPIRES_MS = 30_000;
const FETCH_RETRY_MAX_MS = 5_000;
/** Messages delivered and not yet answered, per group, across all its subscribers. */
const MAX_ACK_PENDING = 10_000;
const STREAM_NAME_IN_USE = 10058;
const MSG_ID_HEADER = 'Nats-Msg-Id';

/** The stream that holds a topic. */
export function natsStreamName(prefix: string, topic: string): string {
  return `${prefix.toUpperCase()}_${topic}`;
}

/** The subject a topic's messages are published on. */
export function natsSubject(prefix: string, topic: string): string {
  return `${prefix}.${topic}`;
}

export async function createNatsBus(options: NatsBusOptions): Promise<Bus> {
  const prefix = options.prefix ?? 'junction';
  assertName('prefix', prefix);
  const dedupeWindowMs = positive(options.dedupeWindowMs, 120_000, 'dedupeWindowMs');
  const ackWaitMs = positive(options.ackWaitMs, 30_000, 'ackWaitMs');
  const maxAgeMs = positive(options.maxAgeMs, 7 * 24 * 3_600_000, 'maxAgeMs');
  if (maxAgeMs < dedupeWindowMs) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `nats bus maxAgeMs ${maxAgeMs} is shorter than dedupeWindowMs ${dedupeWindowMs}; expected at least as long`,
    );
  }
  const shown = redactServers(options.servers);
  const nc = await openConnection(options.servers, options.name ?? 'junction');
  let jsm: JetStreamManager;
  let pingJsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS });
    pingJsm = await jetstreamManager(nc, { timeout: PING_TIMEOUT_MS, checkAPI: false });
  } catch (error) {
    await nc.close();
    throw new JunctionError(
      'BUS_UNAVAILABLE',
      `nats at '${shown}' does not offer JetStream: ${errorMessage(error)} (start nats-server with -js)`,
      { cause: error },
    );
  }
  const js = jsm.jetstream();
  const streams = new Map<string, Promise<void>>();
  const pullers = new Set<Puller>();
  let closed = false;
  let closing: Promise<void> | undefined;

  function assertOpen(): void {
    if (closed) throw new JunctionError('BUS_CLOSED', `the nats bus for '${shown}' is closed`);
  }

  function ensureStream(topic: string): Promise<void> {
    let ready = streams.get(topic);
    if (ready === undefined) {
      ready = createStream(jsm, prefix, topic, dedupeWindowMs, maxAgeMs);
      streams.set(topic, ready);
      ready.catch(() => streams.delete(topic)); // the caller sees the error; the next call tries again
    }
    return ready;
  }

  async function publishOnce(
    topic: string,
    message: BusMessage,
    headers: Readonly<Record<string, string>> | undefined,
  ) {
    const h = natsHeaders();
    if (headers !== undefined) for (const [key, value] of Object.entries(headers)) h.set(key, value);
    await js.publish(natsSubject(prefix, topic), message.data, { msgID: message.id, headers: h });
  }

  return {
    kind: 'nats',
    capabilities: CAPABILITIES,

    async publish(topic: string, message: BusMessage): Promise<void> {
      assertOpen();
      assertName('topic', topic);
      const headers = checkMessage(message);
      await ensureStream(topic);
      try {
        await publishOnce(topic, message, headers);
      } catch (error) {
        if (closed)
          throw new JunctionError('BUS_CLOSED', `the nats bus for '${shown}' is closed`, { cause: error });
        if (isPayloadTooLarge(error)) {
          throw new JunctionError(
            'BUS_MESSAGE_INVALID',
            `message '${message.id}' of ${message.data.byteLength} bytes exceeds the nats server's max_payload of ${nc.info?.max_payload ?? '?'} bytes`,
            { cause: error },
          );
        }
        if (!isNoResponders(error))
          throw unavailable(`cannot publish to nats subject '${natsSubject(prefix, topic)}'`, error);
        // The stream went away behind our back (deleted by an operator): create it again, once.
        streams.delete(topic);
        await ensureStream(topic);
        try {
          await publishOnce(topic, message, headers);
        } catch (again) {
          throw unavailable(`cannot publish to nats subject '${natsSubject(prefix, topic)}'`, again);
        }
      }
    },

    async subscribe(
      topic: string,
      group: string,
      handler: Handler,
      subscribeOptions?: SubscribeOptions,
    ): Promise<Subscription> {
      assertOpen();
      assertName('topic', topic);
      assertName('group', group);
      const settings = subscribeSettings(subscribeOptions);
      await ensureStream(topic);
      const stream = natsStreamName(prefix, topic);
      const consumer = await openConsumer(jsm, js, stream, group, natsSubject(prefix, topic), ackWaitMs);
      assertOpen();
      const puller = startPuller({ nc, consumer, stream, topic, handler, settings, ackWaitMs });
      pullers.add(puller);
      return {
        close: async () => {
          await puller.close();
          pullers.delete(puller);
        },
      };
    },

    async ping(): Promise<void> {
      assertOpen();
      if (nc.isClosed())
        throw new JunctionError('BUS_UNAVAILABLE', `the connection to nats at '${shown}' is closed`);
      try {
        await pingJsm.getAccountInfo();
      } catch (error) {
        throw unavailable(`nats at '${shown}' did not answer`, error);
      }
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        await Promise.all([...pullers].map((puller) => puller.close()));
        pullers.clear();
        if (nc.isClosed()) return;
        try {
          await nc.drain();
        } catch {
          // Draining failed (the connection was lost meanwhile): close it outright.
          await nc.close();
        }
      })();
      return closing;
    },
  };
}

/**
 * Deletes every stream (with its consumers and messages) that a bus with this prefix created.
 * For tests and for operators retiring a prefix. Returns the names deleted.
 */
export async function deleteNatsStreams(servers: string, prefix: string): Promise<string[]> {
  assertName('prefix', prefix);
  const nc = await openConnection(servers, 'junction-cleanup');
  try {
    const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS });
    const namePrefix = `${prefix.toUpperCase()}_`;
    const subjectPrefix = `${prefix}.`;
    const deleted: string[] = [];
    for await (const info of jsm.streams.list()) {
      const { name, subjects = [] } = info.config;
      const ours = subjects.length > 0 && subjects.every((s) => s.startsWith(subjectPrefix));
      if (name.startsWith(namePrefix) && ours) {
        await jsm.streams.delete(name);
        deleted.push(name);
      }
    }
    return deleted;
  } catch (error) {
    throw unavailable(`cannot delete the nats streams of prefix '${prefix}'`, error);
  } finally {
    await nc.close();
  }
}

async function openConnection(servers: string, name: string): Promise<NatsConnection> {
  const list = servers
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `nats servers '${servers}' is empty; expected nats://host:port[,…]`,
    );
  }
  try {
    return await connect({
      servers: list,
      name,
      timeout: API_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
    });
  } catch (error) {
    throw new JunctionError(
      'BUS_UNAVAILABLE',
      `cannot connect to nats at '${redactServers(servers)}': ${errorMessage(error)} (is nats-server running there with JetStream, e.g. 'nats-server -js'?)`,
      { cause: error },
    );
  }
}

async function createStream(
  jsm: JetStreamManager,
  prefix: string,
  topic: string,
  dedupeWindowMs: number,
  maxAgeMs: number,
): Promise<void> {
  const name = natsStreamName(prefix, topic);
  const subject = natsSubject(prefix, topic);
  try {
    await jsm.streams.add({
      name,
      subjects: [subject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(dedupeWindowMs),
      max_age: nanos(maxAgeMs),
      num_replicas: 1,
    });
    return;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) {
      throw unavailable(`cannot create nats stream '${name}'`, error);
    }
  }
  // The stream exists with other settings (an operator's edits, another Junction version):
  // use it as it is, as long as it carries this topic's subject.
  let subjects: string[];
  try {
    subjects = (await jsm.streams.info(name)).config.subjects ?? [];
  } catch (error) {
    throw unavailable(`cannot read nats stream '${name}'`, error);
  }
  if (!subjects.includes(subject)) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `nats stream '${name}' exists with subjects [${subjects.join(', ')}]; expected '${subject}' (choose another bus prefix)`,
    );
  }
}

async function openConsumer(
  jsm: JetStreamManager,
  js: JetStreamClient,
  stream: string,
  group: string,
  subject: string,
  ackWaitMs: number,
): Promise<Consumer> {
  try {
    try {
      await jsm.consumers.info(stream, group);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound))
        throw error;
      await jsm.consumers.add(stream, {
        durable_name: group,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        ack_wait: nanos(ackWaitMs),
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
      });
    }
    return await js.consumers.get(stream, group);
  } catch (error) {
    throw unavailable(`cannot open nats consumer '${group}' on stream '${stream}'`, error);
  }
}

interface PullerContext {
  readonly nc: NatsConnection;
  readonly consumer: Consumer;
  readonly stream: string;
  readonly topic: string;
  readonly handler: Handler;
  readonly settings: SubscribeSettings;
  readonly ackWaitMs: number;
}

interface Puller {
  close(): Promise<void>;
}

/**
 * Fetches messages for one subscription and runs its handler on them. At any time, running
 * handlers plus messages asked for but not yet received never exceed `maxInFlight`.
 */
function startPuller(ctx: PullerContext): Puller {
  const { consumer, settings } = ctx;
  let closed = false;
  let running = 0;
  let current: ConsumerMessages | undefined;
  let wakeUp: (() => void) | undefined;
  const idle: (() => void)[] = [];
  /** Messages being handled → when the server last heard that we are working on them. */
  const inFlight = new Map<JsMsg, number>();
  const workEveryMs = Math.max(100, Math.floor(ctx.ackWaitMs / 3));

  const workTimer = setInterval(() => {
    const now = Date.now();
    for (const [msg, at] of inFlight) {
      if (now - at < workEveryMs) continue;
      inFlight.set(msg, now);
      ignoreClosed(() => msg.working());
    }
  }, workEveryMs);
  workTimer.unref();

  function wake(): void {
    const resolve = wakeUp;
    wakeUp = undefined;
    resolve?.();
  }

  function waitForWake(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(wake, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async function handle(msg: JsMsg): Promise<void> {
    let outcome: Outcome | undefined;
    try {
      outcome = await ctx.handler(toDelivery(msg, ctx.stream, ctx.topic));
    } catch {
      outcome = undefined; // a thrown handler is a retry with the subscription's delay
    }
    inFlight.delete(msg);
    ignoreClosed(() => answer(msg, outcome, settings.retryDelayMs));
    running--;
    if (closed && running === 0) for (const resolve of idle.splice(0)) resolve();
    wake();
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (!closed) {
      const free = settings.maxInFlight - running;
      if (free <= 0) {
        await waitForWake();
        continue;
      }
      const started = Date.now();
      let received = 0;
      try {
        const messages = await consumer.fetch({ max_messages: free, expires: FETCH_EXPIRES_MS });
        current = messages;
        if (closed) messages.stop();
        for await (const msg of messages) {
          if (closed || received >= free) {
            // Arrived while stopping, or beyond what was asked for (after a reconnect): hand it back.
            ignoreClosed(() => msg.nak());
            continue;
          }
          received++;
          running++;
          inFlight.set(msg, Date.now());
          void handle(msg);
          if (received >= free) messages.stop();
        }
        if (received === 0 && Date.now() - started < 100) throw new Error('fetch ended at once');
        failures = 0;
      } catch {
        // The fetch failed (server restarting, consumer deleted, connection closing): try again
        // with a growing pause; the connection reconnects on its own.
        if (closed) break;
        failures++;
        await waitForWake(Math.min(FETCH_RETRY_MAX_MS, 100 * 2 ** Math.min(failures, 6)));
      } finally {
        current = undefined;
      }
    }
  }

  const looping = loop();
  let closing: Promise<void> | undefined;

  return {
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        current?.stop();
        wake();
        await looping;
        if (running > 0) await new Promise<void>((resolve) => idle.push(resolve));
        clearInterval(workTimer);
        // Outcomes are buffered on the connection; make sure the server has them.
        if (!ctx.nc.isClosed()) {
          try {
            await ctx.nc.flush();
          } catch {
            // The connection was lost: unanswered messages are redelivered after ackWaitMs.
          }
        }
      })();
      return closing;
    },
  };
}

function answer(msg: JsMsg, outcome: Outcome | undefined, retryDelayMs: number): void {
  switch (outcome?.kind) {
    case 'ack':
      msg.ack();
      return;
    case 'reject':
      // No reason on the wire: servers before 2.11 do not understand a reason and would ignore the term.
      msg.term();
      return;
    case 'retry':
      msg.nak(retryDelay(outcome.afterMs, retryDelayMs));
      return;
    case undefined:
      msg.nak(retryDelayMs);
      return;
  }
}

function toDelivery(msg: JsMsg, stream: string, topic: string): Delivery {
  let id: string | undefined;
  let headers: Record<string, string> | undefined;
  if (msg.headers !== undefined) {
    for (const [key, values] of msg.headers) {
      if (key === MSG_ID_HEADER) id = values[0];
      else if (!key.toLowerCase().startsWith(RESERVED_HEADER_PREFIX))
        (headers ??= {})[key] = values.at(-1) ?? '';
    }
  }
  const { data } = msg;
  const message: BusMessage = {
    // A message published without an id (by a foreign publisher) gets its stream position.
    id: id ?? `${stream}-${msg.seq}`,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    ...(headers === undefined ? {} : { headers: Object.freeze(headers) }),
  };
  return { message, topic, attempt: msg.info.deliveryCount };
}

/** Acks and naks are fire-and-forget; on a closed connection the server redelivers after ack wait. */
function ignoreClosed(send: () => void): void {
  try {
    send();
  } catch {
    // Only a closed connection makes these throw; see above.
  }
}

function isNoResponders(error: unknown): boolean {
  return error instanceof Error && (error.name === 'JetStreamNotEnabled' || error.name === 'NoResponders');
}

function isPayloadTooLarge(error: unknown): boolean {
  return error instanceof Error && error.message.includes('max_payload');
}

function unavailable(what: string, error: unknown): JunctionError {
  if (error instanceof JunctionError) return error;
  return new JunctionError('BUS_UNAVAILABLE', `${what}: ${errorMessage(error)}`, { cause: error });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `nats bus ${name} '${value}' is invalid; expected a positive number`,
    );
  }
  return value;
}

/** The server list as it may be shown: without user names, passwords or tokens. */
function redactServers(servers: string): string {
  return servers.replace(/\/\/[^@/,]*@/g, '//***@');
}
