export { createServer } from './server.ts';
export type { JunctionServer, ServerDeps, ServerSettings } from './server.ts';
export { isLoopbackAddress } from './auth.ts';
