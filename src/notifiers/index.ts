export {
  GITHUB_API_VERSION,
  MAX_DESCRIPTION,
  SOURCE_TYPE_OF,
  USER_AGENT,
  commitOf,
  contextFor,
  describeRun,
  isWanted,
  redactHeaders,
  statusRequest,
  truncate,
} from './commit-status.ts';
export type { CommitTarget, NotifierSettings, NotifierType, RunReport, RunState } from './commit-status.ts';
export { DEFAULT_RETRY_POLICY, backoffMs, deliver, isRetryableStatus, parseRetryAfter } from './delivery.ts';
export type { DeliverOptions, DeliveryResult, OutboundRequest, RetryPolicy } from './delivery.ts';
export { NOTIFIERS_GROUP, createNotifier } from './notifier.ts';
export type { Notifier, NotifierOptions } from './notifier.ts';
