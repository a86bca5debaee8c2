import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openBus } from './index.ts';

void describe('openBus', { timeout: 30_000 }, () => {
  void it('opens the embedded bus for "embedded"', async () => {
    const bus = await openBus('embedded');
    assert.equal(bus.kind, 'embedded');
    await bus.close();
  });

  void it('refuses other urls with CONFIG_INVALID naming the accepted forms', async () => {
    for (const url of ['', 'redis://127.0.0.1:6379', 'nats:/x', 'nats://a:1,redis://b', 'memory']) {
      await assert.rejects(openBus(url), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'CONFIG_INVALID');
        assert.match((error as Error).message, /expected 'embedded' or 'nats:\/\/host:port'/);
        return true;
      });
    }
  });

  void it('does not show credentials of a refused url', async () => {
    await assert.rejects(openBus('amqp://user:secret@host'), (error: unknown) => {
      assert.doesNotMatch((error as Error).message, /secret/);
      return true;
    });
  });

  void it('does not load the NATS client for the embedded bus', () => {
    const index = fileURLToPath(new URL('./index.ts', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const { openBus } = await import(${JSON.stringify(index)});
      const bus = await openBus('embedded');
      await bus.close();
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('@nats-io'));
      process.stdout.write(String(loaded.length));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(out, '0');
  });
});
