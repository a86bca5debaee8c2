export { createLogger, prettyLine } from './logger.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createMetrics } from './metrics.ts';
export type { IntakeMetrics, Metrics, MetricsOptions } from './metrics.ts';
