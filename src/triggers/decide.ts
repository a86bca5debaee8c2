/**
 * The routing decision for one event: every trigger whose event type pattern matches the event's
 * type (found through the type index, so pipelines listening for other types cost nothing) is
 * matched in full, and each gives one decision: matched, or the first failing clause in words.
 * Pure and deterministic: the same event and pipelines always give the same decisions, in
 * pipeline order, then trigger order.
 *
 * Callers may assume:
 * - a pipeline none of whose triggers listens for the event's type gets no decision at all;
 * - a trigger whose `if` throws or is not a bool fails its `if` clause; `decideEvent` never throws
 *   for anything an event carries;
 * - `runIdFor` is stable across processes and versions: `run_` and the first 26 characters of the
 *   lowercase base32 (RFC 4648) of sha256(`eventId` LF `pipeline` LF `triggerIndex`), 130 bits.
 */
import { createHash } from 'node:crypto';
import type { CloudEvent, StoredEvent } from '../events/index.ts';
import type { RoutablePipelines } from './routable.ts';
import { evaluateTriggerIf } from './routable.ts';
import { matchTrigger } from './trigger.ts';

export interface Decision {
  readonly pipeline: string;
  /** Position of the trigger in the pipeline's `on` list. */
  readonly triggerIndex: number;
  readonly matched: boolean;
  /** `matched`, `matched (<note>)`, or the first failing clause in words. */
  readonly reason: string;
}

/** Decides which triggers an event matches. Accepts the CloudEvent or the stored event around it. */
export function decideEvent(input: CloudEvent | StoredEvent, routable: RoutablePipelines): Decision[] {
  const event = isStoredEvent(input) ? input.event : input;
  return routable.index.candidates(event.type).map((entry): Decision => {
    const { condition } = entry;
    const verdict = matchTrigger(entry.trigger, event, {
      evaluateIf: (source) => {
        if (condition === undefined) throw new Error(`if '${source}' was not compiled`);
        return evaluateTriggerIf(condition, event);
      },
    });
    const reason = verdict.matched
      ? verdict.note === undefined
        ? 'matched'
        : `matched (${verdict.note})`
      : verdict.reason;
    return { pipeline: entry.pipeline, triggerIndex: entry.triggerIndex, matched: verdict.matched, reason };
  });
}

function isStoredEvent(input: CloudEvent | StoredEvent): input is StoredEvent {
  const candidate = input as Partial<StoredEvent>;
  return typeof candidate.seq === 'number' && typeof candidate.event === 'object' && candidate.event !== null;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31] ?? '';
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31] ?? '';
  return out;
}

/** The id of the run an event creates through one trigger; the same inputs give the same id. */
export function runIdFor(eventId: string, pipeline: string, triggerIndex: number): string {
  const digest = createHash('sha256')
    .update(`${eventId}\n${pipeline}\n${String(triggerIndex)}`)
    .digest();
  return `run_${base32(digest).slice(0, 26)}`;
}
