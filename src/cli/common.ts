/**
 * Helpers shared by the client commands (those that talk to a running server): the `--url` and
 * `--token` options and the HTTP client they configure, with JUNCTION_URL and JUNCTION_TOKEN as
 * defaults.
 */
import type { Command } from 'commander';
import { createClient } from './client.ts';

export interface ClientFlags {
  url?: string;
  token?: string;
}

export type ClientFactory = (flags: ClientFlags) => ReturnType<typeof createClient>;

export const clientFrom: ClientFactory = (flags) => {
  const url = flags.url ?? process.env['JUNCTION_URL'] ?? 'http://127.0.0.1:8080';
  const token = flags.token ?? process.env['JUNCTION_TOKEN'];
  return createClient({ url, ...(token === undefined ? {} : { token }) });
};

export const clientOptions = (command: Command): Command =>
  command
    .option('--url <url>', 'server URL (default: $JUNCTION_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (default: $JUNCTION_TOKEN)');
