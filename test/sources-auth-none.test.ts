import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { startApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { isJunctionError } from '../src/errors/index.ts';
import { createLogger } from '../src/observability/index.ts';
import { tempDir } from './helpers/app.ts';

const SOURCES = [
  { name: 'hub', type: 'dockerhub', auth: 'none' },
  { name: 'quay', type: 'quay', auth: 'none' },
  { name: 'gh', type: 'github', secret: 'gh-secret' },
];

async function configWith(cwd: string, sources: unknown) {
  const server = { host: '127.0.0.1', port: 0 };
  return (await loadConfig({ cwd, env: {}, overrides: { server, sources } })).config;
}

void describe('auth: none', { timeout: 60_000 }, () => {
  void test('start-up warns once per unauthenticated source, and a quay push is stored', async () => {
    const temp = tempDir();
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        );
        done();
      },
    });
    const app = await startApp(await configWith(temp.path, SOURCES), {
      logger: createLogger({ level: 'warn', format: 'json', destination }),
    });
    try {
      const warnings = lines
        .map((line) => JSON.parse(line) as { msg?: string; source?: string })
        .filter((record) => record.msg?.includes('without authentication'));
      assert.deepEqual(
        warnings.map((w) => w.msg),
        [
          "source 'hub' accepts deliveries without authentication (auth: none)",
          "source 'quay' accepts deliveries without authentication (auth: none)",
        ],
      );
      assert.ok(!lines.some((line) => line.includes('gh-secret')));

      const body = JSON.stringify({
        repository: 'acme/api',
        namespace: 'acme',
        name: 'api',
        docker_url: 'quay.io/acme/api',
        updated_tags: ['v1'],
      });
      const response = await fetch(`${app.url}/hooks/quay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(response.status, 202, await response.clone().text());
      const forged = await fetch(`${app.url}/hooks/quay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body.replace('quay.io/', 'evil.example/'),
      });
      assert.equal(forged.status, 400);
    } finally {
      await app.stop();
      temp.remove();
    }
  });

  void test('an entry of a type that cannot authenticate, without auth: none, stops start-up', async () => {
    const temp = tempDir();
    try {
      const config = await configWith(temp.path, [{ name: 'quay', type: 'quay' }]);
      await assert.rejects(
        startApp(config, { logger: createLogger({ level: 'silent', format: 'json' }) }),
        (error) => isJunctionError(error, 'CONFIG_INVALID') && /add `auth: none`/.test(error.message),
      );
      await assert.rejects(
        configWith(temp.path, [{ name: 'hub', type: 'dockerhub', auth: 'off' }]),
        (error) => isJunctionError(error, 'CONFIG_INVALID'),
      );
    } finally {
      temp.remove();
    }
  });
});
