import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_CATALOG, eventCatalogTypes } from './catalog.ts';
import { createSchemaRegistry } from './schema-registry.ts';

const root = join(import.meta.dirname, '..', '..');

test('every catalog schema compiles in the strict schema registry', () => {
  const registry = createSchemaRegistry();
  for (const type of eventCatalogTypes()) registry.register(type, EVENT_CATALOG[type] ?? {});
  assert.equal(registry.types().length, 24);
});

test('schemas/events holds exactly the current catalog (fix: npm run generate)', () => {
  const files = readdirSync(join(root, 'schemas', 'events')).sort();
  assert.deepEqual(
    files,
    eventCatalogTypes().map((t) => `${t}.json`),
  );
  for (const type of eventCatalogTypes()) {
    const committed = readFileSync(join(root, 'schemas', 'events', `${type}.json`), 'utf8');
    assert.equal(
      committed,
      `${JSON.stringify(EVENT_CATALOG[type], null, 2)}\n`,
      `schemas/events/${type}.json is stale`,
    );
  }
});

test('schemas accept provider extras and any payload, refuse wrong canonical fields', () => {
  const registry = createSchemaRegistry();
  registry.register('image.pushed', EVENT_CATALOG['image.pushed'] ?? {});
  const event = (data: unknown) => ({
    specversion: '1.0' as const,
    id: '1',
    source: '/s',
    type: 'image.pushed',
    data,
  });
  assert.doesNotThrow(() =>
    registry.validateData(event({ registry: 'r', repository: 'a/b', extra: 1, payload: [null, 'x'] })),
  );
  for (const bad of [
    {},
    { registry: '', repository: 'a' },
    { registry: 'r', repository: 'a', size: 'big' },
    'x',
    null,
  ]) {
    assert.throws(() => registry.validateData(event(bad)), { code: 'EVENT_DATA_INVALID' });
  }
});
