/**
 * The embedded bus against the bus contract.
 */
import { createEmbeddedBus } from '../src/bus/index.ts';
import { runBusContract } from './conformance/bus.ts';

runBusContract('embedded', () => {
  const bus = createEmbeddedBus();
  return Promise.resolve({ bus, cleanup: () => bus.close() });
});
