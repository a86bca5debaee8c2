import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configFromSource } from './load-config.ts';
import { collectSecrets, printConfigYaml, redactConfig } from './redact.ts';
import type { JunctionConfig } from './types.ts';

const text = `
store: postgres://junction:db%2Fpass@db.internal:5432/junction
bus: nats://nats:natspass@a:4222,nats://b:4222
server:
  publicUrl: https://user:webpass@junction.example.com
sources:
  - name: github
    type: github
    secret: gh-secret
  - name: registry
    type: registry
    token: reg-token
    apiKey: reg-key
    login:
      password: nested-pass
      username: bot
  - name: plain
    type: generic
    events: [push]
`;

function load() {
  return configFromSource({ text, filePath: '/srv/junction/junction.yaml', cwd: '/srv', env: {} });
}

void describe('redaction', { timeout: 30_000 }, () => {
  void test('redactConfig replaces secrets and URL passwords with ***', () => {
    const { config } = load();
    const redacted = redactConfig(config) as JunctionConfig;
    assert.equal(redacted.store.url, 'postgres://junction:***@db.internal:5432/junction');
    assert.equal(redacted.bus.url, 'nats://nats:***@a:4222,nats://b:4222');
    assert.equal(redacted.server.publicUrl, 'https://user:***@junction.example.com');
    assert.deepEqual(redacted.sources, [
      { name: 'github', type: 'github', secret: '***' },
      {
        name: 'registry',
        type: 'registry',
        token: '***',
        apiKey: '***',
        login: { password: '***', username: 'bot' },
      },
      { name: 'plain', type: 'generic', events: ['push'] },
    ]);
    assert.equal(redacted.server.port, 8080);
    assert.equal(Object.isFrozen(redacted), false, 'a plain copy');
    const json = JSON.stringify(redacted);
    for (const secret of [
      'db%2Fpass',
      'natspass',
      'webpass',
      'gh-secret',
      'reg-token',
      'reg-key',
      'nested-pass',
    ]) {
      assert.equal(json.includes(secret), false, secret);
    }
  });

  void test('the secrets set holds every secret value, URL passwords also decoded', () => {
    const { config, secrets } = load();
    const expected = [
      'db%2Fpass',
      'db/pass',
      'natspass',
      'webpass',
      'gh-secret',
      'reg-token',
      'reg-key',
      'nested-pass',
    ];
    assert.deepEqual([...secrets].sort(), expected.sort());
    assert.deepEqual(collectSecrets(config), secrets);
  });

  void test('printConfigYaml prints redacted YAML in the shape of junction.yaml, which loads again', () => {
    const { config } = load();
    const yaml = printConfigYaml(config);
    assert.doesNotMatch(yaml, /gh-secret|natspass|reg-token/);
    const printed = parse(yaml) as { server: Record<string, unknown> };
    assert.equal(printed.server.bodyLimit, 1024 * 1024);
    assert.equal(printed.server.requestTimeout, 30_000);
    assert.equal(printed.server.bodyLimitBytes, undefined);
    const again = configFromSource({ text: yaml, filePath: '/elsewhere/junction.yaml', cwd: '/', env: {} });
    assert.deepEqual(again.config, {
      ...config,
      store: { ...config.store, url: 'postgres://junction:***@db.internal:5432/junction' },
      bus: { ...config.bus, url: 'nats://nats:***@a:4222,nats://b:4222' },
      server: { ...config.server, publicUrl: 'https://user:***@junction.example.com' },
      sources: (redactConfig(config) as { sources: unknown }).sources,
    });
  });
});
