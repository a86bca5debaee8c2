export { EVENTS_TOPIC, createIntake } from './intake.ts';
export type { Intake, IntakeOptions, SubmitOptions } from './intake.ts';
export {
  createOutboxRelay,
  decodeStoredEvent,
  encodeOutboxEntry,
  SEQ_HEADER,
  TYPE_HEADER,
  encodeStoredEvent,
} from './outbox-relay.ts';
export type { OutboxRelay, OutboxRelayOptions } from './outbox-relay.ts';
