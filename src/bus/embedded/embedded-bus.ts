/**
 * The embedded bus: the in-process, in-memory bus of the single-node default. Every event of a
 * one-process Junction goes through it, so the hot path allocates little and sets no timers: a
 * publish appends to one ring-buffer queue per consumer group and schedules one dispatch per group
 * in a microtask; timers exist only for messages waiting to be retried.
 *
 * What callers may assume, beyond the contract in ../bus.ts:
 * - Nothing survives the process (`durable: false`); Junction re-publishes from its store.
 * - The bus keeps the data it is given, without a copy: the publisher must not change it after
 *   publishing, and handlers share it and must not change it either. (The relay, the one
 *   publisher, encodes a fresh buffer for every message.)
 * - A retried message goes back to the front of its group's queue once its delay has passed.
 * - Within a group, free subscribers take turns (round robin).
 * - Ids are remembered for `dedupeWindowMs` (default 2 minutes, at most `dedupeMaxIds` ids) and a
 *   publish of a remembered id is accepted and dropped (`publishDedupe: true`).
 * - Handlers run on the caller's event loop: a handler that blocks the loop blocks the bus.
 */
import { JunctionError } from '../../errors/index.ts';
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
import { assertName, checkMessage, retryDelay, subscribeSettings } from '../validate.ts';
import { Deque } from './deque.ts';

export interface EmbeddedBusOptions {
  /** How long a published id is remembered for dedupe. Default 120 000 ms. */
  readonly dedupeWindowMs?: number;
  /** Most ids remembered at once; the oldest are forgotten first. Default 100 000. */
  readonly dedupeMaxIds?: number;
}

const CAPABILITIES: BusCapabilities = Object.freeze({
  durable: false,
  publishDedupe: true,
  distributed: false,
});

interface Pending {
  readonly message: BusMessage;
  readonly attempt: number;
}

interface Group {
  readonly topic: string;
  readonly queue: Deque<Pending>;
  readonly members: Member[];
  /** Round-robin cursor into `members`. */
  cursor: number;
  dispatchScheduled: boolean;
}

interface Member {
  readonly group: Group;
  readonly handler: Handler;
  readonly maxInFlight: number;
  readonly retryDelayMs: number;
  running: number;
  closed: boolean;
  /** Resolved when `running` drops to 0 after close. */
  readonly idle: (() => void)[];
}

export function createEmbeddedBus(options: EmbeddedBusOptions = {}): Bus {
  const dedupeWindowMs = Math.max(0, options.dedupeWindowMs ?? 120_000);
  const dedupeMaxIds = Math.max(1, Math.floor(options.dedupeMaxIds ?? 100_000));
  const topics = new Map<string, Map<string, Group>>();
  const members = new Set<Member>();
  const retryTimers = new Set<NodeJS.Timeout>();
  // Ids published recently: a set to look up, and a queue (oldest first) to forget them in order.
  // (Deleting from the front of a Map would make each later iteration skip the deleted slots.)
  const seenIds = new Set<string>();
  const seenOrder = new Deque<{ readonly id: string; readonly at: number }>();
  let closed = false;
  let closing: Promise<void> | undefined;

  function isDuplicate(id: string): boolean {
    const now = Date.now();
    for (let oldest = seenOrder.peek(); oldest !== undefined; oldest = seenOrder.peek()) {
      if (now - oldest.at < dedupeWindowMs) break;
      seenOrder.shift();
      seenIds.delete(oldest.id);
    }
    if (seenIds.has(id)) return true;
    while (seenIds.size >= dedupeMaxIds) seenIds.delete(seenOrder.shift()!.id);
    seenIds.add(id);
    seenOrder.push({ id, at: now });
    return false;
  }

  function scheduleDispatch(group: Group): void {
    if (group.dispatchScheduled) return;
    group.dispatchScheduled = true;
    queueMicrotask(() => {
      group.dispatchScheduled = false;
      dispatch(group);
    });
  }

  function dispatch(group: Group): void {
    while (!closed && group.queue.length > 0) {
      const member = nextFreeMember(group);
      if (member === undefined) return;
      run(member, group.queue.shift()!);
    }
  }

  function run(member: Member, pending: Pending): void {
    member.running++;
    const delivery: Delivery = {
      message: pending.message,
      topic: member.group.topic,
      attempt: pending.attempt,
    };
    let result: Promise<Outcome>;
    try {
      result = member.handler(delivery);
    } catch {
      // A handler that throws before returning its promise: settle later, not inside this loop.
      queueMicrotask(() => settle(member, pending, undefined));
      return;
    }
    Promise.resolve(result).then(
      (outcome) => settle(member, pending, outcome),
      () => settle(member, pending, undefined),
    );
  }

  /** Applies a handler's outcome; `undefined` (a throw or no outcome) means retry with the default delay. */
  function settle(member: Member, pending: Pending, outcome: Outcome | undefined): void {
    member.running--;
    const kind = outcome?.kind;
    if (kind !== 'ack' && kind !== 'reject') {
      const afterMs =
        kind === 'retry' ? retryDelay(outcome?.afterMs, member.retryDelayMs) : member.retryDelayMs;
      scheduleRetry(member.group, pending, afterMs);
    }
    if (member.closed) {
      if (member.running === 0) for (const resolve of member.idle.splice(0)) resolve();
    }
    dispatch(member.group);
  }

  function scheduleRetry(group: Group, pending: Pending, afterMs: number): void {
    if (closed) return;
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      group.queue.unshift({ message: pending.message, attempt: pending.attempt + 1 });
      dispatch(group);
    }, afterMs);
    retryTimers.add(timer);
  }

  function assertOpen(): void {
    if (closed) throw new JunctionError('BUS_CLOSED', 'the embedded bus is closed');
  }

  async function closeMember(member: Member): Promise<void> {
    if (!member.closed) {
      member.closed = true;
      members.delete(member);
      const list = member.group.members;
      const index = list.indexOf(member);
      if (index !== -1) list.splice(index, 1);
      if (member.group.cursor >= list.length) member.group.cursor = 0;
      // Work this member could not take goes to the others.
      scheduleDispatch(member.group);
    }
    if (member.running > 0) await new Promise<void>((resolve) => member.idle.push(resolve));
  }

  return {
    kind: 'embedded',
    capabilities: CAPABILITIES,

    // eslint-disable-next-line @typescript-eslint/require-await -- errors must reject, not throw
    async publish(topic: string, message: BusMessage): Promise<void> {
      assertOpen();
      assertName('topic', topic);
      const headers = checkMessage(message);
      if (isDuplicate(message.id)) return;
      const groups = topics.get(topic);
      if (groups === undefined || groups.size === 0) return;
      const kept: BusMessage =
        headers === undefined
          ? { id: message.id, data: message.data }
          : { id: message.id, data: message.data, headers };
      for (const group of groups.values()) {
        group.queue.push({ message: kept, attempt: 1 });
        scheduleDispatch(group);
      }
    },

    // eslint-disable-next-line @typescript-eslint/require-await -- errors must reject, not throw
    async subscribe(
      topic: string,
      groupName: string,
      handler: Handler,
      subscribeOptions?: SubscribeOptions,
    ): Promise<Subscription> {
      assertOpen();
      assertName('topic', topic);
      assertName('group', groupName);
      const { maxInFlight, retryDelayMs } = subscribeSettings(subscribeOptions);
      let groups = topics.get(topic);
      if (groups === undefined) {
        groups = new Map();
        topics.set(topic, groups);
      }
      let group = groups.get(groupName);
      if (group === undefined) {
        group = { topic, queue: new Deque(), members: [], cursor: 0, dispatchScheduled: false };
        groups.set(groupName, group);
      }
      const member: Member = {
        group,
        handler,
        maxInFlight,
        retryDelayMs,
        running: 0,
        closed: false,
        idle: [],
      };
      group.members.push(member);
      members.add(member);
      scheduleDispatch(group);
      return { close: () => closeMember(member) };
    },

    // eslint-disable-next-line @typescript-eslint/require-await -- errors must reject, not throw
    async ping(): Promise<void> {
      assertOpen();
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        for (const timer of retryTimers) clearTimeout(timer);
        retryTimers.clear();
        await Promise.all([...members].map(closeMember));
        topics.clear();
        seenIds.clear();
        seenOrder.clear();
      })();
      return closing;
    },
  };
}

function nextFreeMember(group: Group): Member | undefined {
  const list = group.members;
  for (let i = 0; i < list.length; i++) {
    const index = (group.cursor + i) % list.length;
    const member = list[index]!;
    if (member.running < member.maxInFlight) {
      group.cursor = (index + 1) % list.length;
      return member;
    }
  }
  return undefined;
}
