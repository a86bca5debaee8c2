/** Generated files are committed; this fails when one is stale (fix: npm run generate). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMAS, schemaText } from '../src/cli/commands/schema.ts';
import { repoRoot, runCli } from './helpers/app.ts';

test('schemas/ holds the current JSON Schemas', { timeout: 10_000 }, () => {
  for (const [name, { file }] of Object.entries(SCHEMAS)) {
    const committed = readFileSync(join(repoRoot, 'schemas', file), 'utf8');
    assert.equal(committed, schemaText(name), `schemas/${file} is stale: run npm run generate`);
  }
});

test('junction schema prints the schema; an unknown kind is a usage error', { timeout: 30_000 }, async () => {
  const printed = await runCli(['schema', 'pipeline']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.deepEqual(JSON.parse(printed.stdout), JSON.parse(schemaText('pipeline')));
  const unknown = await runCli(['schema', 'nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown schema 'nope'/);
});
