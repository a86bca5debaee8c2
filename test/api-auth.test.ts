/**
 * API tokens end to end: the emit scope on POST /events, local open mode for reads until the first
 * token exists, scopes, revocation, the Host check in open mode, and refusing a non-loopback bind
 * without tokens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { cloudEvent, eventually, startTestApp, tempDir, type TestApp } from './helpers/app.ts';
import { createApiToken } from '../src/security/index.ts';
import { isJunctionError } from '../src/errors/index.ts';

const CE_JSON = { 'content-type': 'application/cloudevents+json' };

function rawGet(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('API auth', { timeout: 60_000 }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ server: { allowAnonymousEmit: false } });
  });
  after(async () => t.close());

  test('without tokens: emit needs a token, reads are open on loopback for loopback Host names only', async () => {
    const emit = await t.post('/events', JSON.stringify(cloudEvent()), CE_JSON);
    assert.equal(emit.status, 401);
    assert.equal(emit.body.error.code, 'API_UNAUTHENTICATED');
    assert.match(emit.body.error.message, /emit/);
    assert.equal((await t.get('/api/v1/events')).status, 200);
    // fetch cannot set Host; a raw request can, as a DNS-rebinding page's browser would.
    const rebound = await rawGet(t.url, '/api/v1/events', 'attacker.example:8080');
    assert.equal(rebound.status, 403);
    assert.equal(JSON.parse(rebound.body).error.code, 'API_FORBIDDEN');
    assert.equal((await rawGet(t.url, '/api/v1/events', 'localhost:8080')).status, 200);
  });

  test('with tokens: scopes decide, unknown and revoked tokens are refused', async () => {
    const emitter = await createApiToken(t.app.store, 'ci', ['emit']);
    const reader = await createApiToken(t.app.store, 'dash', ['read']);
    const admin = await createApiToken(t.app.store, 'ops', ['admin']);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    const ok = await t.post('/events', JSON.stringify(cloudEvent()), {
      ...CE_JSON,
      ...bearer(emitter.token),
    });
    assert.equal(ok.status, 202);
    const readerEmit = await t.post('/events', JSON.stringify(cloudEvent()), {
      ...CE_JSON,
      ...bearer(reader.token),
    });
    assert.equal(readerEmit.status, 403);
    assert.equal(readerEmit.body.error.code, 'API_FORBIDDEN');
    assert.equal(
      (await t.post('/events', JSON.stringify(cloudEvent()), { ...CE_JSON, ...bearer(admin.token) })).status,
      202,
    );

    // Open mode ends once a token exists (the cache may hold the old answer for a few seconds).
    await eventually(
      async () => ((await t.get('/api/v1/events')).status === 401 ? true : undefined),
      10_000,
      'open mode to end',
    );
    assert.equal((await t.get('/api/v1/events', bearer(reader.token))).status, 200);
    assert.equal((await t.get('/api/v1/events', bearer(emitter.token))).status, 403);
    assert.equal((await t.get('/metrics', bearer(reader.token))).status, 200);

    const wrong = await t.get('/api/v1/events', bearer(`jct_000000000000_${'A'.repeat(43)}`));
    assert.equal(wrong.status, 401);
    const garbage = await t.get('/api/v1/events', { authorization: 'Basic dXNlcjpwYXNz' });
    assert.equal(garbage.status, 401);

    assert.equal(await t.app.store.revokeToken(reader.record.id), true);
    await eventually(
      async () => ((await t.get('/api/v1/events', bearer(reader.token))).status === 401 ? true : undefined),
      10_000,
      'revocation',
    );
    const tokens = await t.app.store.listTokens();
    assert.ok(tokens.find((r) => r.id === emitter.record.id)?.lastUsedAt, 'last use recorded');
    assert.ok(
      tokens.every((r) => !JSON.stringify(r).includes(emitter.token)),
      'the token itself is never stored',
    );
  });

  test('health endpoints need no token', async () => {
    assert.equal((await t.get('/healthz')).status, 200);
    const ready = await t.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.store.kind, 'sqlite');
  });
});

describe('binding', { timeout: 30_000 }, () => {
  test('a non-loopback address without tokens is refused at start', async () => {
    const dir = tempDir();
    try {
      await assert.rejects(startTestApp({ server: { host: '0.0.0.0' } }, dir.path), (error: unknown) => {
        assert.ok(isJunctionError(error, 'CONFIG_INSECURE_BIND'), String(error));
        assert.match((error as Error).message, /junction token create/);
        return true;
      });
    } finally {
      dir.remove();
    }
  });
});
