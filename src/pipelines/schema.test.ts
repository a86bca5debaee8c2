import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { parsePipeline, pipelineJsonSchema } from './index.ts';
import type { SchemaNode } from './schema.ts';

const root = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(root, 'test/fixtures/pipelines');
const yamlFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(dir, f));

/** Every property the schema names, with its key. */
function properties(node: SchemaNode, found: [string, SchemaNode][] = []): [string, SchemaNode][] {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    found.push([key, child]);
    properties(child, found);
  }
  for (const child of [node.items, node.additionalProperties]) {
    if (child !== undefined && typeof child === 'object') properties(child, found);
  }
  for (const branch of (node['allOf'] as { then?: SchemaNode }[] | undefined) ?? []) {
    if (branch.then) properties(branch.then, found);
  }
  return found;
}

void describe('pipeline JSON Schema', { timeout: 30_000 }, () => {
  // An editor's validator knows nothing of Junction: a plain ajv with no custom formats.
  const editorValidate = new Ajv({ allErrors: true, strict: false }).compile(pipelineJsonSchema);

  void test('every property has a description', () => {
    const missing = properties(pipelineJsonSchema)
      .filter(([key, node]) => key !== 'with' && (node.description ?? '').length < 10)
      .map(([key]) => key);
    assert.deepEqual(missing, []);
  });

  void test('accepts every valid sample and every example, which the loader also accepts', () => {
    const files = yamlFiles(path.join(fixtures, 'valid'));
    const examples = path.join(root, 'examples');
    for (const dir of readdirSync(examples, { withFileTypes: true })) {
      const pipelines = path.join(examples, dir.name, 'pipelines');
      if (dir.isDirectory() && readdirSync(path.join(examples, dir.name)).includes('pipelines'))
        files.push(...yamlFiles(pipelines));
    }
    assert.ok(files.length >= 2);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      assert.equal(editorValidate(parse(text)), true, `${file}: ${JSON.stringify(editorValidate.errors)}`);
      assert.deepEqual(parsePipeline(text, file).problems, [], file);
    }
  });

  void test('rejects the broken samples, as the loader does', () => {
    for (const file of yamlFiles(path.join(fixtures, 'broken'))) {
      const text = readFileSync(file, 'utf8');
      assert.equal(editorValidate(parse(text)), false, file);
      assert.ok(parsePipeline(text, file).problems.length > 0, file);
    }
  });

  void test('a step with both run and uses is refused by the editor schema too', () => {
    const value = { name: 'x', jobs: { a: { steps: [{ run: 'x', uses: 'checkout' }] } } };
    assert.equal(editorValidate(value), false);
    assert.equal(editorValidate({ name: 'x', jobs: { a: { steps: [{ run: 'x' }] } } }), true);
  });

  void test('schedule triggers: the editor schema and the loader agree', () => {
    const pipeline = (trigger: Record<string, unknown>) => ({
      name: 'nightly',
      on: [trigger],
      jobs: { a: { steps: [{ run: 'x' }] } },
    });
    const valid = [
      { schedule: '30 2 * * *', timezone: 'Europe/Berlin', missed: 'all' },
      { schedule: '@hourly', if: 'event.data.missed != true' },
      { event: 'schedule.tick', subject: 'nightly/0' },
    ];
    for (const trigger of valid) {
      assert.equal(editorValidate(pipeline(trigger)), true, JSON.stringify(editorValidate.errors));
      assert.deepEqual(parsePipeline(JSON.stringify(pipeline(trigger)), 'p.yaml').problems, []);
    }
    const broken = [
      { schedule: '*/15 * * * *', event: 'git.push' },
      { schedule: '*/15 * * * *', missed: 'sometimes' },
      { schedule: '' },
      { timezone: 'UTC' },
      { schedule: 5 },
      { schedule: '* * * * *', timezone: 'x'.repeat(101) },
    ];
    for (const trigger of broken) {
      assert.equal(editorValidate(pipeline(trigger)), false, JSON.stringify(trigger));
      assert.ok(parsePipeline(JSON.stringify(pipeline(trigger)), 'p.yaml').problems.length > 0);
    }
  });

  void test('docs/pipelines.md documents every key', () => {
    const doc = readFileSync(path.join(root, 'docs/pipelines.md'), 'utf8');
    const undocumented = [...new Set(properties(pipelineJsonSchema).map(([key]) => key))].filter(
      (key) => !doc.includes(`\`${key}\``),
    );
    assert.deepEqual(undocumented, []);
  });
});
