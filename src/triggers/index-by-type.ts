/**
 * An index of triggers by event type, so the router only evaluates triggers that could match an
 * event's type and the cost of routing does not grow with triggers for other types.
 *
 * - Exact types (`git.push`) sit in a map: one lookup.
 * - Type patterns whose first segment is literal (`git.*`, `pipeline.**`) sit in buckets by that
 *   segment and are tested only for types starting with it.
 * - Patterns starting with a wildcard (`*.succeeded`, `**`) are tested on every lookup.
 *
 * `candidates(type)` returns the entries whose `event` matches the type, in the order the entries
 * were given (so decisions list triggers in pipeline order). The index is immutable: build a new
 * one when pipelines change. Entries carry whatever the caller needs besides `key` and `trigger`.
 */
import { isTypePattern, matchEventType, type TriggerSpec } from './trigger.ts';

export interface TriggerIndexEntry {
  /** The caller's name for the trigger, e.g. `ci#0` (pipeline and trigger index). */
  readonly key: string;
  readonly trigger: TriggerSpec;
}

export interface TriggerIndex<E extends TriggerIndexEntry = TriggerIndexEntry> {
  /** Entries whose `event` matches the type, in insertion order. Other clauses are not checked. */
  candidates(type: string): readonly E[];
  /** Number of entries indexed. */
  readonly size: number;
}

interface Slot<E> {
  readonly order: number;
  readonly entry: E;
}

function firstSegment(type: string): string {
  const dot = type.indexOf('.');
  return dot === -1 ? type : type.slice(0, dot);
}

function push<E>(map: Map<string, Slot<E>[]>, key: string, slot: Slot<E>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [slot]);
  else list.push(slot);
}

export function createTriggerIndex<E extends TriggerIndexEntry>(entries: readonly E[]): TriggerIndex<E> {
  const exact = new Map<string, Slot<E>[]>();
  const byFirstSegment = new Map<string, Slot<E>[]>();
  const anywhere: Slot<E>[] = [];
  entries.forEach((entry, order) => {
    const pattern = entry.trigger.event;
    const slot = { order, entry };
    if (!isTypePattern(pattern)) push(exact, pattern, slot);
    else {
      const first = firstSegment(pattern);
      if (first.includes('*')) anywhere.push(slot);
      else push(byFirstSegment, first, slot);
    }
  });

  function candidates(type: string): readonly E[] {
    const found: Slot<E>[][] = [];
    const direct = exact.get(type);
    if (direct !== undefined) found.push(direct);
    const bucket = byFirstSegment.get(firstSegment(type));
    if (bucket !== undefined) found.push(bucket.filter((s) => matchEventType(s.entry.trigger.event, type)));
    if (anywhere.length > 0) found.push(anywhere.filter((s) => matchEventType(s.entry.trigger.event, type)));
    const nonEmpty = found.filter((list) => list.length > 0);
    if (nonEmpty.length === 0) return [];
    if (nonEmpty.length === 1) return (nonEmpty[0] ?? []).map((s) => s.entry);
    return nonEmpty
      .flat()
      .sort((a, b) => a.order - b.order)
      .map((s) => s.entry);
  }

  return { candidates, size: entries.length };
}
