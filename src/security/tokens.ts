/**
 * API tokens. A token reads `jct_<id>_<secret>`: the id names the token in listings and logs, the
 * secret is 32 random bytes in base64url. Only the SHA-256 of the whole token is stored, so a
 * copy of the database gives no usable token. The token is shown once, when created.
 *
 * Scopes nest: `admin` ⊇ `operate` ⊇ `read`; `emit` (sending events) is separate so a sender's
 * token cannot read anything, and only `admin` implies it. `approve` (deciding deployments that
 * wait for approval) is separate too: `operate` does not imply it, only `admin` does, and it does
 * not imply `read`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiTokenRecord, Store, TokenScope } from '../store/index.ts';
import { JunctionError } from '../errors/index.ts';

export const TOKEN_SCOPES: readonly TokenScope[] = ['emit', 'read', 'operate', 'approve', 'admin'];

const TOKEN_PATTERN = /^jct_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function isTokenScope(value: string): value is TokenScope {
  return (TOKEN_SCOPES as readonly string[]).includes(value);
}

/** True when a token holding `held` may do what needs `needed`. */
export function scopeAllows(held: readonly TokenScope[], needed: TokenScope): boolean {
  if (held.includes('admin')) return true;
  switch (needed) {
    case 'admin':
      return false;
    case 'operate':
      return held.includes('operate');
    case 'read':
      return held.includes('read') || held.includes('operate');
    case 'emit':
      return held.includes('emit');
    case 'approve':
      return held.includes('approve');
  }
}

export interface CreatedToken {
  readonly token: string;
  readonly record: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>;
}

export async function createApiToken(
  store: Store,
  name: string,
  scopes: readonly TokenScope[],
): Promise<CreatedToken> {
  if (scopes.length === 0) {
    throw new JunctionError(
      'CLI_USAGE',
      `a token needs at least one scope (one of ${TOKEN_SCOPES.join(', ')})`,
    );
  }
  for (const scope of scopes) {
    if (!isTokenScope(scope)) {
      throw new JunctionError(
        'CLI_USAGE',
        `unknown scope '${String(scope)}' (expected one of ${TOKEN_SCOPES.join(', ')})`,
      );
    }
  }
  const id = randomBytes(6).toString('hex');
  const token = `jct_${id}_${randomBytes(32).toString('base64url')}`;
  const record = {
    id,
    name,
    scopes: [...new Set(scopes)],
    hash: hashToken(token),
    createdAt: new Date().toISOString(),
  };
  await store.createToken(record);
  return { token, record };
}

/**
 * The token record for a presented token, or undefined when it is malformed, unknown or revoked.
 * The lookup is by hash, so no secret is ever compared byte by byte.
 */
export async function verifyApiToken(store: Store, presented: string): Promise<ApiTokenRecord | undefined> {
  if (!TOKEN_PATTERN.test(presented)) return undefined;
  const record = await store.findTokenByHash(hashToken(presented));
  if (record === undefined || record.revokedAt !== null) return undefined;
  return record;
}

/** The token from `Authorization: Bearer …`, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
