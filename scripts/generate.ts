/**
 * Regenerates the committed generated files: the JSON Schemas under schemas/. Run with
 * `npm run generate`; `test/generated.test.ts` fails when a committed copy is stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMAS, eventSchemaText, schemaText } from '../src/cli/commands/schema.ts';
import { eventCatalogTypes } from '../src/events/index.ts';

const root = join(import.meta.dirname, '..');
for (const [name, { file }] of Object.entries(SCHEMAS)) {
  const target = join(root, 'schemas', file);
  writeFileSync(target, schemaText(name));
  process.stdout.write(`wrote schemas/${file}\n`);
}
mkdirSync(join(root, 'schemas', 'events'), { recursive: true });
for (const type of eventCatalogTypes()) {
  writeFileSync(join(root, 'schemas', 'events', `${type}.json`), eventSchemaText(type));
  process.stdout.write(`wrote schemas/events/${type}.json\n`);
}
