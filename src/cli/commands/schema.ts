/**
 * `junction schema pipeline|config`: prints a JSON Schema for editors (the YAML language server
 * completes and checks files against it). The schemas are the ones the validators themselves use,
 * so an editor and `junction validate` never disagree.
 */
import type { Command } from 'commander';
import { configJsonSchema } from '../../config/index.ts';
import { pipelineJsonSchema } from '../../pipelines/index.ts';
import { JunctionError } from '../../errors/index.ts';
import { EVENT_CATALOG, eventCatalogTypes } from '../../events/index.ts';

export const SCHEMAS: Readonly<Record<string, { readonly schema: object; readonly file: string }>> = {
  pipeline: { schema: pipelineJsonSchema, file: 'pipeline.schema.json' },
  config: { schema: configJsonSchema, file: 'junction.schema.json' },
};

export function schemaText(name: string): string {
  const entry = SCHEMAS[name];
  if (entry === undefined) {
    throw new JunctionError(
      'CLI_USAGE',
      `unknown schema '${name}' (expected one of ${[...Object.keys(SCHEMAS), 'events'].join(', ')})`,
    );
  }
  return `${JSON.stringify(entry.schema, null, 2)}\n`;
}

/** `schemas/events/<type>.json` text of one catalog type; CLI_USAGE naming the types otherwise. */
export function eventSchemaText(type?: string): string {
  if (type === undefined) {
    const all = Object.fromEntries(eventCatalogTypes().map((t) => [t, EVENT_CATALOG[t]]));
    return `${JSON.stringify(all, null, 2)}\n`;
  }
  const schema = Object.hasOwn(EVENT_CATALOG, type) ? EVENT_CATALOG[type] : undefined;
  if (schema === undefined) {
    throw new JunctionError(
      'CLI_USAGE',
      `unknown event type '${type}' (expected one of ${eventCatalogTypes().join(', ')})`,
    );
  }
  return `${JSON.stringify(schema, null, 2)}\n`;
}

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of pipeline files, junction.yaml or event data (events [TYPE])')
    .argument('<kind>', `one of: ${[...Object.keys(SCHEMAS), 'events'].join(', ')}`)
    .argument('[type]', 'with events: one canonical event type (default: all, keyed by type)')
    .action((kind: string, type: string | undefined) => {
      process.stdout.write(kind === 'events' ? eventSchemaText(type) : schemaText(kind));
    });
}
