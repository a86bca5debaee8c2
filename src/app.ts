/**
 * The composition root: the only place that turns configuration into concrete adapters (which
 * store, which bus), wires intake, the outbox relay and the HTTP server together, and takes them
 * apart again in order on shutdown.
 */
import type { JunctionConfig } from './config/index.ts';
import { openStore, type Store } from './store/index.ts';
import { openBus, type Bus } from './bus/index.ts';
import { createSchemaRegistry, loadSchemaDir } from './events/index.ts';
import { createIntake, createOutboxRelay, type Intake, type OutboxRelay } from './intake/index.ts';
import { createLogger, createMetrics, type Logger, type Metrics } from './observability/index.ts';
import { createServer, isLoopbackAddress, type JunctionServer } from './server/index.ts';
import { JunctionError, errorMessage } from './errors/index.ts';

export interface App {
  /** Base URL the server listens on. */
  readonly url: string;
  readonly config: JunctionConfig;
  readonly store: Store;
  readonly bus: Bus;
  readonly intake: Intake;
  readonly relay: OutboxRelay;
  readonly server: JunctionServer;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Stops intake, finishes requests in flight, publishes the outbox, closes bus and store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
}

export async function startApp(config: JunctionConfig, options: StartOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log);
  const store = await openStore(config.store.url, {
    durability: config.store.durability,
    baseDir: config.dataDir,
  });
  const opened: { close(): Promise<void> }[] = [store];
  try {
    if (!isLoopbackAddress(config.server.host) && !(await store.hasTokens())) {
      throw new JunctionError(
        'CONFIG_INSECURE_BIND',
        `refusing to listen on '${config.server.host}' without API tokens; create one first with \`junction token create --scope admin\`, or listen on 127.0.0.1`,
      );
    }
    const bus = await openBus(config.bus.url, { prefix: config.bus.prefix });
    opened.unshift(bus);

    const schemas = createSchemaRegistry();
    if (config.schemas.dir !== undefined) await loadSchemaDir(schemas, config.schemas.dir);

    const metrics = createMetrics();
    const relay = createOutboxRelay({ store, bus, logger });
    const intake = createIntake({
      store,
      maxPendingEvents: config.intake.maxPendingEvents,
      maxBatchWaitMs: config.intake.maxBatchWaitMs,
      validateData: (event) => schemas.validateData(event),
      metrics: metrics.intake,
      onStored: () => relay.notify(),
    });
    metrics.gaugeFrom(
      'junction_outbox_pending',
      'Stored events not yet published to the bus.',
      async () => (await store.outboxStats()).pending,
    );
    metrics.gaugeFrom(
      'junction_outbox_lag_seconds',
      'Age of the oldest stored event not yet published to the bus.',
      async () => (await store.outboxStats()).oldestAgeSeconds,
    );
    metrics.gaugeFrom('junction_intake_pending_events', 'Events waiting for a store write.', () =>
      intake.pending(),
    );

    const server = createServer({ settings: config.server, store, bus, intake, metrics, logger });
    relay.start();
    const url = await server.listen().catch(async (error: unknown) => {
      await relay.stop(1000);
      throw error;
    });
    logger.info({ url, store: store.kind, bus: bus.kind }, 'junction is listening');

    let stopping: Promise<void> | undefined;
    const stop = async (): Promise<void> => {
      server.drain();
      await server.close();
      await intake.close();
      await relay.stop();
      await bus.close();
      await store.close();
      logger.info('junction stopped');
    };
    return {
      url,
      config,
      store,
      bus,
      intake,
      relay,
      server,
      metrics,
      logger,
      stop: () => (stopping ??= stop()),
    };
  } catch (error) {
    for (const resource of opened) {
      await resource
        .close()
        .catch((closeError: unknown) =>
          logger.warn({ err: errorMessage(closeError) }, 'close failed during start-up'),
        );
    }
    throw error;
  }
}
