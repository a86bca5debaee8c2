import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { isJunctionError } from '../errors/index.ts';
import { createPubSubSource } from './pubsub.ts';
import type { HookRequest, Source } from './source.ts';

const AUDIENCE = 'https://junction.example.com/hooks/gcp';
const EMAIL = 'push@project.iam.gserviceaccount.com';
const NOW = new Date('2026-11-27T12:00:00Z');
const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

describe('pubsub with Google OIDC tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'junction-oidc-'));
  const jwksFile = join(dir, 'certs.json');
  let google: { privateKey: CryptoKey; publicJwk: JWK };
  let stranger: CryptoKey;
  let source: Source;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    google = {
      privateKey: pair.privateKey,
      publicJwk: { ...(await exportJWK(pair.publicKey)), kid: 'g1', alg: 'RS256', use: 'sig' },
    };
    stranger = (await generateKeyPair('RS256')).privateKey;
    writeFileSync(jwksFile, JSON.stringify({ keys: [google.publicJwk] }));
    source = createPubSubSource({
      name: 'gcp',
      type: 'pubsub',
      audience: AUDIENCE,
      jwksFile,
      serviceAccountEmail: EMAIL,
    });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  async function token(
    claims: Record<string, unknown> = {},
    options: { key?: CryptoKey; kid?: string; iat?: number; exp?: number; aud?: string; iss?: string } = {},
  ): Promise<string> {
    return new SignJWT({ email: EMAIL, email_verified: true, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'g1' })
      .setIssuer(options.iss ?? 'https://accounts.google.com')
      .setAudience(options.aud ?? AUDIENCE)
      .setIssuedAt(options.iat ?? seconds(NOW) - 60)
      .setExpirationTime(options.exp ?? seconds(NOW) + 3000)
      .sign(options.key ?? google.privateKey);
  }

  const request = (authorization?: string): HookRequest => ({
    headers: authorization === undefined ? {} : { authorization },
    body: Buffer.from('{}'),
    receivedAt: NOW,
  });

  const refused = async (authorization?: string): Promise<void> => {
    await assert.rejects(
      Promise.resolve().then(async () => {
        source.authenticate(request(authorization));
        await source.verify?.(request(authorization));
      }),
      (error) =>
        isJunctionError(error, 'SOURCE_UNAUTHENTICATED') &&
        !/expired|audience|issuer|signature/i.test(error.message),
    );
  };

  test('a token Google signed for this audience and service account is accepted', async () => {
    assert.ok(source.verify !== undefined, 'an OIDC source verifies asynchronously');
    await source.verify(request(`Bearer ${await token()}`));
    await source.verify(request(`bearer ${await token({}, { iss: 'accounts.google.com' })}`));
  });

  test('expired, future, wrong audience, wrong issuer and another account are refused alike', async () => {
    await refused(`Bearer ${await token({}, { exp: seconds(NOW) - 120, iat: seconds(NOW) - 4000 })}`);
    await refused(`Bearer ${await token({}, { iat: seconds(NOW) + 600, exp: seconds(NOW) + 4000 })}`);
    await refused(`Bearer ${await token({}, { aud: 'https://elsewhere.example.com/hook' })}`);
    await refused(`Bearer ${await token({}, { iss: 'https://evil.example.com' })}`);
    await refused(`Bearer ${await token({ email: 'other@project.iam.gserviceaccount.com' })}`);
    await refused(`Bearer ${await token({ email_verified: false })}`);
  });

  test('signatures by another key, alg none and HS256 with the public key are refused', async () => {
    await refused(`Bearer ${await token({}, { key: stranger })}`);
    const [header, payload] = (await token()).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'g1' })).toString('base64url')}.${payload}.`;
    await refused(`Bearer ${none}`);
    const hs = await new SignJWT({ email: EMAIL, email_verified: true })
      .setProtectedHeader({ alg: 'HS256', kid: 'g1' })
      .setIssuer('https://accounts.google.com')
      .setAudience(AUDIENCE)
      .setIssuedAt(seconds(NOW) - 60)
      .setExpirationTime(seconds(NOW) + 3000)
      .sign(Buffer.from(JSON.stringify(google.publicJwk)));
    await refused(`Bearer ${hs}`);
    await refused(`Bearer ${header}.${payload}.AAAA`);
  });

  test('missing, malformed and oversized headers are refused', async () => {
    await refused();
    await refused('Basic dXNlcjpwYXNz');
    await refused('Bearer');
    await refused('Bearer not.a.jwt');
    await refused(`Bearer ${'a'.repeat(10_000)}`);
  });

  test('bad settings stop the source at creation, naming the entry', () => {
    const bad = (settings: Record<string, unknown>): void =>
      assert.throws(
        () => createPubSubSource({ name: 'gcp', type: 'pubsub', ...settings }),
        (error) => isJunctionError(error, 'CONFIG_INVALID') && /sources\[name=gcp\]/.test(error.message),
      );
    bad({ audience: AUDIENCE });
    bad({ audience: AUDIENCE, jwksFile: join(dir, 'missing.json') });
    bad({ audience: '', jwksFile });
    bad({ audience: AUDIENCE, jwksFile, token: 'also-a-token' });
    bad({ audience: AUDIENCE, jwksFile, serviceAccountEmail: 'not-an-email' });
    writeFileSync(join(dir, 'empty.json'), '{"keys":[]}');
    bad({ audience: AUDIENCE, jwksFile: join(dir, 'empty.json') });
    writeFileSync(join(dir, 'strings.json'), '{"keys":["not a key"]}');
    bad({ audience: AUDIENCE, jwksFile: join(dir, 'strings.json') });
    writeFileSync(join(dir, 'nulls.json'), '{"keys":[null]}');
    bad({ audience: AUDIENCE, jwksFile: join(dir, 'nulls.json') });
  });
});
