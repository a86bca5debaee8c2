/**
 * HTTP `Authorization` checking for sources whose providers send a static credential (Prometheus
 * Alertmanager, Grafana): either a bearer token (`Authorization: Bearer <token>`, RFC 6750) or
 * basic auth (`Authorization: Basic base64(user:password)`, RFC 7617).
 *
 * What callers may assume:
 * - `httpAuthFromSettings` accepts exactly one scheme: `token`, or `username` + `password`. Anything
 *   else (neither, both, half of basic, empty values, a token with surrounding whitespace that no
 *   HTTP header could ever carry, a username with ':') throws CONFIG_INVALID naming the entry as
 *   `sources[name=…]`, and every problem is listed together.
 * - `checkHttpAuth` throws SOURCE_UNAUTHENTICATED for a missing, malformed or wrong credential,
 *   with the same message whichever part failed. Values are compared as SHA-256 digests with
 *   `crypto.timingSafeEqual`, so neither the content nor the length of a secret leaks through
 *   timing; for basic auth both halves are always compared.
 * - The scheme name is matched case-insensitively; surrounding whitespace of the header value is
 *   ignored (HTTP strips it anyway). A basic password may contain ':' (the user name may not).
 * - No secret ever appears in an error message or in `details`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { JunctionError } from '../errors/index.ts';
import type { HookRequest, SourceSettings } from './source.ts';

export type HttpAuth =
  | { readonly scheme: 'bearer'; readonly token: Buffer }
  | { readonly scheme: 'basic'; readonly username: Buffer; readonly password: Buffer };

/** Base64 as RFC 4648 §4 writes it (padding optional, as some clients omit it). */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the credential settings of one source entry; throws CONFIG_INVALID naming it. */
export function httpAuthFromSettings(settings: SourceSettings): HttpAuth {
  const where = `sources[name=${settings.name}]`;
  const problems: string[] = [];
  const token = optionalString(settings, 'token', problems);
  const username = optionalString(settings, 'username', problems);
  const password = optionalString(settings, 'password', problems);
  const hasBasic = username !== undefined || password !== undefined;

  if (token !== undefined && hasBasic) {
    problems.push("set either 'token' (bearer) or 'username' + 'password' (basic), not both");
  } else if (token === undefined && !hasBasic && problems.length === 0) {
    problems.push("needs credentials: 'token' (bearer) or 'username' + 'password' (basic)");
  }
  if (hasBasic && username === undefined) problems.push("'password' is set without 'username'");
  if (hasBasic && password === undefined) problems.push("'username' is set without 'password'");
  if (username?.includes(':') === true) problems.push("'username' must not contain ':' (rfc 7617)");
  if (token !== undefined && token.trim() !== token) {
    problems.push("'token' has leading or trailing whitespace, which an http header cannot carry");
  }

  if (problems.length > 0) {
    throw new JunctionError('CONFIG_INVALID', `${where}: ${problems.join('; ')}`, {
      details: { source: settings.name, problems },
    });
  }
  if (token !== undefined) return { scheme: 'bearer', token: digest(token) };
  return { scheme: 'basic', username: digest(username ?? ''), password: digest(password ?? '') };
}

function optionalString(settings: SourceSettings, key: string, problems: string[]): string | undefined {
  const value = settings[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    problems.push(`'${key}' must be a string (got ${Array.isArray(value) ? 'array' : typeof value})`);
    return undefined;
  }
  if (value === '') {
    problems.push(`'${key}' is empty`);
    return undefined;
  }
  return value;
}

/** Throws SOURCE_UNAUTHENTICATED unless the request carries the configured credential. */
export function checkHttpAuth(auth: HttpAuth, request: HookRequest, sourceName: string): void {
  const header = request.headers.authorization;
  const ok = header !== undefined && matches(auth, header);
  if (!ok) {
    throw new JunctionError(
      'SOURCE_UNAUTHENTICATED',
      `source '${sourceName}' refused the request: missing or wrong ${auth.scheme} credentials in the authorization header`,
      { details: { source: sourceName, scheme: auth.scheme } },
    );
  }
}

function matches(auth: HttpAuth, header: string): boolean {
  const value = header.trim();
  const space = value.search(/[ \t]/);
  if (space <= 0) return false;
  const scheme = value.slice(0, space).toLowerCase();
  const credentials = value.slice(space).trim();
  if (credentials === '' || scheme !== auth.scheme) return false;
  if (auth.scheme === 'bearer') return sameDigest(auth.token, digest(credentials));

  if (!BASE64.test(credentials)) return false;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(credentials, 'base64'));
  } catch {
    return false; // not UTF-8: cannot be the configured (string) credentials
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both halves are always compared, so timing does not tell which one was wrong.
  const userOk = sameDigest(auth.username, digest(decoded.slice(0, colon)));
  const passwordOk = sameDigest(auth.password, digest(decoded.slice(colon + 1)));
  return userOk && passwordOk;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function sameDigest(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}
