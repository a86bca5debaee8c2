/**
 * `junction schema pipeline|config`: prints a JSON Schema for editors (the YAML language server
 * completes and checks files against it). The schemas are the ones the validators themselves use,
 * so an editor and `junction validate` never disagree.
 */
import type { Command } from 'commander';
import { configJsonSchema } from '../../config/index.ts';
import { pipelineJsonSchema } from '../../pipelines/index.ts';
import { JunctionError } from '../../errors/index.ts';

export const SCHEMAS: Readonly<Record<string, { readonly schema: object; readonly file: string }>> = {
  pipeline: { schema: pipelineJsonSchema, file: 'pipeline.schema.json' },
  config: { schema: configJsonSchema, file: 'junction.schema.json' },
};

export function schemaText(name: string): string {
  const entry = SCHEMAS[name];
  if (entry === undefined) {
    throw new JunctionError(
      'CLI_USAGE',
      `unknown schema '${name}' (expected one of ${Object.keys(SCHEMAS).join(', ')})`,
    );
  }
  return `${JSON.stringify(entry.schema, null, 2)}\n`;
}

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of pipeline files or junction.yaml, for editors')
    .argument('<kind>', `one of: ${Object.keys(SCHEMAS).join(', ')}`)
    .action((kind: string) => {
      process.stdout.write(schemaText(kind));
    });
}
