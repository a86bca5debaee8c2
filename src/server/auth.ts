/**
 * Who may call what. Every route names the scope it needs; this decides from the request:
 * - With a valid `Authorization: Bearer <token>` holding the scope: allowed.
 * - `emit` routes without a token: allowed only when `server.allowAnonymousEmit` is true.
 * - `read`/`operate`/`admin` routes without a token: allowed only in *local open mode*: the server
 *   listens on a loopback address, no API token exists yet, and the request's Host header names a
 *   loopback host (which blocks DNS-rebinding pages in a browser from reading the API). Creating
 *   the first token ends open mode.
 * Verified tokens are cached for a few seconds by hash, so a busy sender costs no store read per
 * request; a revoked token stops working within that time.
 */
import type { FastifyRequest } from 'fastify';
import type { ApiTokenRecord, Store, TokenScope } from '../store/index.ts';
import { bearerToken, hashToken, scopeAllows, verifyApiToken } from '../security/index.ts';
import { JunctionError } from '../errors/index.ts';
import type { Logger } from '../observability/index.ts';

export interface AuthOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly loopbackBound: boolean;
  readonly allowAnonymousEmit: boolean;
  /** How long a verified token, or the knowledge that no token exists, is trusted. Default 5 s. */
  readonly cacheMs?: number;
}

export interface Authorizer {
  authorize(request: FastifyRequest, scope: TokenScope): Promise<ApiTokenRecord | undefined>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function hostOf(header: string | undefined): string {
  if (header === undefined) return '';
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

export function createAuthorizer(options: AuthOptions): Authorizer {
  const { store, logger } = options;
  const cacheMs = options.cacheMs ?? 5000;
  const verified = new Map<string, { record: ApiTokenRecord; until: number }>();
  const lastTouched = new Map<string, number>();
  let tokensExist: { value: boolean; until: number } | undefined;

  async function hasTokens(now: number): Promise<boolean> {
    if (tokensExist === undefined || tokensExist.until < now) {
      tokensExist = { value: await store.hasTokens(), until: now + cacheMs };
    }
    return tokensExist.value;
  }

  async function lookup(token: string, now: number): Promise<ApiTokenRecord | undefined> {
    const hash = hashToken(token);
    const cached = verified.get(hash);
    if (cached !== undefined && cached.until >= now) return cached.record;
    const record = await verifyApiToken(store, token);
    if (record === undefined) {
      verified.delete(hash);
      return undefined;
    }
    if (verified.size > 1000) verified.clear();
    verified.set(hash, { record, until: now + cacheMs });
    const touched = lastTouched.get(record.id) ?? 0;
    if (now - touched > 60_000) {
      lastTouched.set(record.id, now);
      store.touchToken(record.id, new Date(now).toISOString()).catch((error: unknown) => {
        logger.warn({ err: String(error) }, 'could not record token use');
      });
    }
    return record;
  }

  return {
    async authorize(request, scope) {
      const now = Date.now();
      const header = request.headers.authorization;
      const presented = bearerToken(header);
      if (header !== undefined && presented === undefined) {
        throw new JunctionError('API_UNAUTHENTICATED', 'the authorization header must read "Bearer <token>"');
      }
      if (presented !== undefined) {
        const record = await lookup(presented, now);
        if (record === undefined) {
          throw new JunctionError(
            'API_UNAUTHENTICATED',
            'the API token is unknown or revoked; create one with `junction token create`',
          );
        }
        if (!scopeAllows(record.scopes, scope)) {
          throw new JunctionError(
            'API_FORBIDDEN',
            `token '${record.id}' lacks the '${scope}' scope (it has: ${record.scopes.join(', ')})`,
          );
        }
        return record;
      }
      if (scope === 'emit') {
        if (options.allowAnonymousEmit) return undefined;
        throw new JunctionError(
          'API_UNAUTHENTICATED',
          "sending events needs a token with the 'emit' scope (junction token create --scope emit), or server.allowAnonymousEmit: true",
        );
      }
      if (options.loopbackBound && !(await hasTokens(now))) {
        if (LOOPBACK_HOSTS.has(hostOf(request.headers.host))) return undefined;
        throw new JunctionError(
          'API_FORBIDDEN',
          'without API tokens the API answers only requests addressed to a loopback host name',
        );
      }
      throw new JunctionError('API_UNAUTHENTICATED', `this request needs a token with the '${scope}' scope`);
    },
  };
}
