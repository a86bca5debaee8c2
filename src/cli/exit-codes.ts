/**
 * Exit codes of the `junction` command. Scripts may rely on them; docs/cli.md lists them.
 */
import type { ErrorCode } from '../errors/index.ts';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  notFound: 5,
  refused: 6,
  serverError: 7,
  /** `validate`: an input file has problems (sysexits EX_DATAERR). */
  invalid: 65,
  config: 78,
  /** `serve`, `run`: stopped by SIGINT or SIGTERM (128 + SIGINT). */
  interrupted: 130,
} as const;

export function exitCodeFor(code: ErrorCode | undefined, httpStatus?: number): number {
  if (code !== undefined) {
    if (code === 'CLI_USAGE') return EXIT.usage;
    if (code === 'CLI_SERVER_UNREACHABLE') return EXIT.unreachable;
    if (code.startsWith('CONFIG_')) return EXIT.config;
  }
  if (httpStatus === 401 || httpStatus === 403) return EXIT.auth;
  if (httpStatus === 404) return EXIT.notFound;
  if (httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500) return EXIT.refused;
  if (httpStatus !== undefined && httpStatus >= 500) return EXIT.serverError;
  return EXIT.failure;
}
