/**
 * Cloud receivers through the real server: Azure Event Grid's subscription handshake is answered
 * with the validation code (and nothing is stored), the CloudEvents webhook OPTIONS handshake
 * echoes the allowed origin, and an authenticated image push from Event Grid starts a pipeline
 * listening for image.pushed. Uses the provider's documented payloads from ../shared/fixtures.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, repoRoot, startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const FIXTURES = join(repoRoot, '..', 'shared', 'fixtures', 'azure-eventgrid');
const skip = existsSync(FIXTURES) ? false : 'the shared fixtures folder is absent';
if (skip !== false) console.log(`# NOTICE: skipping Event Grid hook tests: ${skip}`);

const TOKEN = 'grid-token-123';

describe('cloud hooks through the server', { skip, timeout: 60_000 }, () => {
  let app: TestApp;
  const dir = tempDir();

  before(async () => {
    mkdirSync(join(dir.path, 'pipelines'));
    writeFileSync(
      join(dir.path, 'pipelines', 'images.yaml'),
      'name: images\non:\n  - event: image.pushed\njobs:\n  a:\n    steps:\n      - run: echo "image ${{ event.data.repository }}"\n',
    );
    app = await startTestApp({ sources: [{ name: 'grid', type: 'eventgrid', token: TOKEN }] }, dir.path);
  });

  after(async () => {
    await app.close();
    dir.remove();
  });

  const fixture = (name: string): { body: unknown; headers?: Record<string, string> } =>
    JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as {
      body: unknown;
      headers?: Record<string, string>;
    };

  test('the subscription validation is answered with its code and stores nothing', async () => {
    const { body, headers } = fixture('subscription-validation.eventgrid-schema.json');
    const before = (await app.app.store.listEvents({}, { limit: 100 })).items.length;
    const response = await app.post('/hooks/grid', JSON.stringify(body), {
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      ...headers,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const code = (body as { data: { validationCode: string } }[])[0]!.data.validationCode;
    assert.deepEqual(response.body, { validationResponse: code });
    assert.equal((await app.app.store.listEvents({}, { limit: 100 })).items.length, before);
  });

  test('without the token the handshake is refused', async () => {
    const { body } = fixture('subscription-validation.eventgrid-schema.json');
    const response = await app.post('/hooks/grid', JSON.stringify(body), {
      'content-type': 'application/json',
    });
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, 'SOURCE_UNAUTHENTICATED');
  });

  test('the CloudEvents OPTIONS handshake echoes the origin; an unknown hook is 404', async () => {
    const ok = await fetch(`${app.url}/hooks/grid`, {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('webhook-allowed-origin'), 'eventgrid.azure.net');
    const missing = await fetch(`${app.url}/hooks/nope`, { method: 'OPTIONS' });
    assert.equal(missing.status, 404);
  });

  test('an image push from Event Grid starts the pipeline that listens for image.pushed', async () => {
    const raw = JSON.parse(
      readFileSync(join(FIXTURES, 'acr.image-pushed.cloudevents-schema.json'), 'utf8'),
    ) as {
      body?: unknown;
    };
    const body = raw.body ?? raw;
    const response = await app.post('/hooks/grid', JSON.stringify(body), {
      'content-type': 'application/cloudevents+json',
      authorization: `Bearer ${TOKEN}`,
    });
    assert.ok(response.status === 202 || response.status === 200, JSON.stringify(response.body));
    const id = (response.body.id ?? response.body.ids?.[0]) as string;
    const run = await eventually(async () => {
      const [found] = (await app.app.store.listRuns({ eventId: id }, { limit: 1 })).items;
      return found?.status === 'succeeded' ? found : undefined;
    }, 15_000);
    assert.equal(run.pipeline, 'images');
  });
});

describe('a Pub/Sub push with a Google OIDC token through the server', { timeout: 60_000 }, () => {
  let app: TestApp;
  const dir = tempDir();
  const audience = 'https://junction.example.com/hooks/gcp';
  let sign: (aud: string) => Promise<string>;

  before(async () => {
    const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
    const pair = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
    writeFileSync(join(dir.path, 'certs.json'), JSON.stringify({ keys: [jwk] }));
    sign = (aud) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer('https://accounts.google.com')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(pair.privateKey);
    app = await startTestApp(
      { sources: [{ name: 'gcp', type: 'pubsub', audience, jwksFile: join(dir.path, 'certs.json') }] },
      dir.path,
    );
  });

  after(async () => {
    await app.close();
    dir.remove();
  });

  const push = (authorization: string): Promise<{ status: number; body: any }> =>
    app.post(
      '/hooks/gcp',
      JSON.stringify({
        message: {
          data: Buffer.from('{"x":1}').toString('base64'),
          messageId: 'm-1',
          publishTime: '2026-11-27T12:00:00Z',
        },
        subscription: 'projects/p/subscriptions/s',
      }),
      { 'content-type': 'application/json', authorization },
    );

  test('a token for this endpoint is accepted; one for another audience is refused and stores nothing', async () => {
    const refused = await push(`Bearer ${await sign('https://elsewhere.example.com')}`);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'SOURCE_UNAUTHENTICATED');
    assert.equal((await app.app.store.listEvents({ receiver: 'gcp' }, { limit: 10 })).items.length, 0);
    const accepted = await push(`Bearer ${await sign(audience)}`);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal((await app.app.store.listEvents({ receiver: 'gcp' }, { limit: 10 })).items.length, 1);
  });
});
