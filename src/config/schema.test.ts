import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { envOverrideKeys } from './env-overrides.ts';
import { CONFIG_DEFAULTS, configJsonSchema, schemaProperties } from './schema.ts';
import { parseByteSize, parseDuration } from './units.ts';

const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

void describe('configuration schema', { timeout: 30_000 }, () => {
  void test('every property has a description', () => {
    const missing = schemaProperties().filter(
      (p) => typeof p.node.description !== 'string' || p.node.description === '',
    );
    assert.deepEqual(
      missing.map((p) => p.path),
      [],
    );
  });

  void test('every object forbids unknown keys, except a source (whose options depend on its type)', () => {
    const open = schemaProperties()
      .filter((p) => p.node.properties !== undefined && p.node.additionalProperties !== false)
      .map((p) => p.path);
    assert.deepEqual(open, []);
    assert.equal(configJsonSchema.additionalProperties, false);
    assert.equal(configJsonSchema.properties.sources.items.additionalProperties, true);
  });

  void test('schema defaults agree with the defaults applied', () => {
    const s = configJsonSchema.properties;
    assert.equal(parseByteSize(s.server.properties.bodyLimit.default), CONFIG_DEFAULTS.server.bodyLimitBytes);
    assert.equal(
      parseDuration(s.server.properties.requestTimeout.default),
      CONFIG_DEFAULTS.server.requestTimeoutMs,
    );
    assert.equal(s.server.properties.port.default, CONFIG_DEFAULTS.server.port);
  });

  void test('secret-bearing properties are marked', () => {
    const marked = schemaProperties()
      .filter((p) => p.node['x-secret'] !== undefined)
      .map((p) => `${p.path}=${String(p.node['x-secret'])}`);
    assert.deepEqual(marked, [
      'store.url=url-password',
      'bus.url=url-password',
      'sources[].secret=true',
      'sources[].token=true',
      'sources[].password=true',
      'notifiers[].token=true',
    ]);
  });

  void test('docs/configuration.md names every key', () => {
    const missing = schemaProperties()
      .map((p) => p.path)
      .filter((path) => !docs.includes(`\`${path}\``));
    assert.deepEqual(missing, [], 'add these keys to docs/configuration.md');
  });

  void test('docs/configuration.md names every environment override', () => {
    const missing = envOverrideKeys()
      .map((k) => k.variable)
      .filter((variable) => !docs.includes(`\`${variable}\``));
    assert.deepEqual(missing, [], 'add these variables to docs/configuration.md');
  });
});
