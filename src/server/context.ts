/** What route modules receive from the server. */
import type { Authorizer } from './auth.ts';
import type { ServerDeps } from './server.ts';

export interface RouteContext extends ServerDeps {
  readonly authorizer: Authorizer;
  readonly state: { draining: boolean };
}
