/**
 * The CLI's HTTP client for a running Junction server: `JUNCTION_URL` (default
 * http://127.0.0.1:8080) and `JUNCTION_TOKEN`, or `--url` / `--token`. Error answers become
 * `JunctionError`s carrying the server's code, message and status.
 */
import { JunctionError, type ErrorCode, ERROR_CODES } from '../errors/index.ts';

export interface ClientOptions {
  readonly url: string;
  readonly token?: string;
}

export interface Client {
  request<T>(
    method: string,
    path: string,
    init?: { body?: string | Uint8Array; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T }>;
}

export function createClient(options: ClientOptions): Client {
  const base = options.url.replace(/\/+$/, '');
  return {
    async request<T>(
      method: string,
      path: string,
      init: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
    ) {
      const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
      if (options.token !== undefined && options.token !== '')
        headers['authorization'] = `Bearer ${options.token}`;
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers,
          ...(init.body === undefined ? {} : { body: init.body }),
        });
      } catch (error) {
        const reason =
          error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
        throw new JunctionError(
          'CLI_SERVER_UNREACHABLE',
          `cannot reach junction at ${base} (${reason}); is \`junction serve\` running? set JUNCTION_URL or --url`,
          { cause: error },
        );
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = text;
      }
      if (!response.ok) {
        const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
          ?.error;
        const code =
          error?.code !== undefined && error.code in ERROR_CODES ? (error.code as ErrorCode) : 'INTERNAL';
        throw new JunctionError(code, error?.message ?? `server answered ${response.status}`, {
          httpStatus: response.status,
          ...(error?.details === undefined ? {} : { details: { server: error.details } }),
        });
      }
      return { status: response.status, body: body as T };
    },
  };
}
