/**
 * The public face of the bus: the contract (see bus.ts), the outcome helpers, the embedded bus,
 * and `openBus`, which picks an implementation from a URL. Broker clients are loaded only when
 * their URL is configured, so a single-node Junction never loads the NATS client.
 */
import { JunctionError } from '../errors/index.ts';
import type { Bus } from './bus.ts';
import { createEmbeddedBus } from './embedded/embedded-bus.ts';

export type {
  Bus,
  BusCapabilities,
  BusMessage,
  Delivery,
  Handler,
  Outcome,
  SubscribeOptions,
  Subscription,
} from './bus.ts';
export { ack, retryAfter, reject } from './bus.ts';
export { createEmbeddedBus } from './embedded/embedded-bus.ts';

export interface OpenBusOptions {
  /** Names the broker's streams and subjects (NATS). Default `junction`. */
  readonly prefix?: string;
}

/**
 * Opens the bus a URL names: `embedded` (in-process) or `nats://host:port` (several separated by
 * commas). Rejects with `CONFIG_INVALID` for anything else and `BUS_UNAVAILABLE` when the broker
 * cannot be reached.
 */
export async function openBus(url: string, options: OpenBusOptions = {}): Promise<Bus> {
  const trimmed = url.trim();
  if (trimmed === 'embedded') return createEmbeddedBus();
  const servers = trimmed.split(',').map((s) => s.trim());
  if (servers.length > 0 && servers.every((s) => /^nats:\/\/[^\s/]+\/?$/.test(s))) {
    const { createNatsBus } = await import('./nats/nats-bus.ts');
    return createNatsBus(
      options.prefix === undefined ? { servers: trimmed } : { servers: trimmed, prefix: options.prefix },
    );
  }
  throw new JunctionError(
    'CONFIG_INVALID',
    `bus url '${redact(url)}' is not supported; expected 'embedded' or 'nats://host:port' (several separated by commas)`,
  );
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/,]*@/g, '//***@').slice(0, 200);
}
