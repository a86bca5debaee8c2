/**
 * Verifying the OIDC token an authenticated Google Pub/Sub push subscription sends in
 * `Authorization: Bearer <JWT>`: the signature against Google's keys (a JWKS file the operator
 * keeps, so nothing is fetched at run time), the algorithm (RS256 only), the audience, the
 * issuer (`https://accounts.google.com` or `accounts.google.com`), the expiry and not-before
 * times with 30 s of clock tolerance, and, when configured, the service account's `email`
 * (with `email_verified`). Built on `jose`, which is loaded when the first token is verified, so a
 * Junction without such a source does not hold it in memory (about 3 MB of heap).
 *
 * What callers may assume: `verify` rejects with `SOURCE_UNAUTHENTICATED` for every failure, with
 * one message that does not say which check failed; settings problems throw `CONFIG_INVALID`
 * naming the source entry when the source is created.
 */
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { JunctionError } from '../errors/index.ts';
import type { HookRequest, SourceSettings } from './source.ts';

export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_TOKEN_LENGTH = 8192;

export interface GoogleOidc {
  /** Throws unless the request carries a bearer token of a plausible size. */
  requireToken(request: HookRequest): void;
  verify(request: HookRequest): Promise<void>;
}

function configInvalid(settings: SourceSettings, message: string, cause?: unknown): JunctionError {
  return new JunctionError('CONFIG_INVALID', `sources[name=${settings.name}]: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The OIDC check when `audience` is set; undefined when the source uses no OIDC. */
export function googleOidcFromSettings(settings: SourceSettings): GoogleOidc | undefined {
  const audience = settings['audience'];
  if (audience === undefined) return undefined;
  if (typeof audience !== 'string' || audience.trim() === '') {
    throw configInvalid(settings, 'audience must be the push endpoint URL the subscription was given');
  }
  const file = settings['jwksFile'];
  if (typeof file !== 'string' || file === '') {
    throw configInvalid(
      settings,
      "jwksFile must name a file holding Google's signing keys (save https://www.googleapis.com/oauth2/v3/certs)",
    );
  }
  let keys: JSONWebKeySet;
  try {
    keys = JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
    if (!Array.isArray(keys.keys) || keys.keys.length === 0) throw new Error('no keys in the file');
    if (!keys.keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key))) {
      throw new Error('a key in the file is not a JSON object');
    }
  } catch (error) {
    throw configInvalid(settings, `jwksFile '${file}' is not a JSON Web Key Set`, error);
  }
  const email = settings['serviceAccountEmail'];
  if (email !== undefined && (typeof email !== 'string' || !email.includes('@'))) {
    throw configInvalid(settings, 'serviceAccountEmail must be the e-mail of the push service account');
  }
  /** Built with the first verification, when `jose` is loaded. */
  let keySet: JWTVerifyGetKey | undefined;
  const refused = (): JunctionError =>
    new JunctionError(
      'SOURCE_UNAUTHENTICATED',
      `the request to source '${settings.name}' does not carry a valid Google OIDC token for this endpoint`,
    );
  const tokenOf = (request: HookRequest): string => {
    const header = request.headers['authorization'];
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const token = match?.[1];
    if (token === undefined || token.length > MAX_TOKEN_LENGTH) throw refused();
    return token;
  };
  return {
    requireToken(request) {
      tokenOf(request);
    },
    async verify(request) {
      const token = tokenOf(request);
      try {
        // The module loader keeps the import: the first push loads it, later ones reuse it.
        const { createLocalJWKSet, jwtVerify } = await import('jose');
        keySet ??= createLocalJWKSet(keys);
        const { payload } = await jwtVerify(token, keySet, {
          algorithms: ['RS256'],
          audience,
          issuer: GOOGLE_ISSUERS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: request.receivedAt,
          requiredClaims: ['exp', 'iat'],
          // Google's tokens live an hour; one issued in the future or older is not Google's.
          maxTokenAge: '1h',
        });
        if (email !== undefined && (payload['email'] !== email || payload['email_verified'] !== true)) {
          throw refused();
        }
      } catch {
        throw refused();
      }
    },
  };
}
