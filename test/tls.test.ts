/** TLS: with `server.tls` naming a certificate and key, Junction serves HTTPS only. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { cloudEvent, startTestApp, tempDir, type TestApp } from './helpers/app.ts';
import { isJunctionError } from '../src/errors/index.ts';

describe('TLS', { timeout: 60_000 }, () => {
  const dir = tempDir();
  const cert = join(dir.path, 'cert.pem');
  const key = join(dir.path, 'key.pem');
  let t: TestApp;

  before(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    t = await startTestApp({ server: { tls: { cert, key } } }, dir.path);
  });
  after(async () => {
    await t.close();
    dir.remove();
  });

  function post(body: string, ca?: Buffer): Promise<{ status: number; body: string }> {
    const url = new URL(t.url);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/events',
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          ...(ca === undefined ? {} : { ca }),
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  test('serves https with the configured certificate', async () => {
    assert.match(t.url, /^https:\/\//);
    const answer = await post(JSON.stringify(cloudEvent()), readFileSync(cert));
    assert.equal(answer.status, 202, answer.body);
  });

  test('a client that does not trust the certificate fails the handshake', async () => {
    await assert.rejects(post(JSON.stringify(cloudEvent())), /self[- ]signed|unable to verify|certificate/i);
  });

  test('a missing key file is a clear start-up error', async () => {
    const other = tempDir();
    try {
      await assert.rejects(
        startTestApp({ server: { tls: { cert, key: join(other.path, 'missing.pem') } } }, other.path),
        (error: unknown) => isJunctionError(error, 'CONFIG_TLS_INVALID'),
      );
    } finally {
      other.remove();
    }
  });
});
