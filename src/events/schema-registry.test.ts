import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isJunctionError, type JunctionError } from '../errors/index.ts';
import type { CloudEvent } from './cloud-event.ts';
import { MAX_PROBLEMS, createSchemaRegistry, loadSchemaDir } from './schema-registry.ts';

const pushSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['repository', 'ref', 'after'],
  additionalProperties: false,
  properties: {
    repository: { type: 'string', minLength: 1 },
    ref: { type: 'string', pattern: '^refs/' },
    after: { type: 'string', pattern: '^[0-9a-f]{40}$' },
    pushedAt: { type: 'string', format: 'date-time' },
    commits: { type: 'array', items: { type: 'object', required: ['id'] } },
  },
};

const ev = (type: string, extra: Record<string, unknown>): CloudEvent => ({
  specversion: '1.0',
  id: 'e1',
  source: '/tests',
  type,
  ...extra,
});

function dataInvalid(fn: () => void): JunctionError {
  let caught: JunctionError | undefined;
  assert.throws(fn, (error: unknown) => {
    assert.ok(isJunctionError(error, 'EVENT_DATA_INVALID'), String(error));
    caught = error;
    return true;
  });
  return caught!;
}

void describe('schema registry', { timeout: 30_000 }, () => {
  const registry = createSchemaRegistry();
  registry.register('git.push', pushSchema);

  void test('types without a schema pass, whatever their data', () => {
    registry.validateData(ev('other.type', { data_base64: 'AAAA' }));
    registry.validateData(ev('other.type', {}));
    assert.equal(registry.has('other.type'), false);
    assert.deepEqual(registry.types(), ['git.push']);
  });

  void test('matching data passes', () => {
    registry.validateData(
      ev('git.push', {
        datacontenttype: 'application/json; charset=utf-8',
        data: {
          repository: 'acme/app',
          ref: 'refs/heads/main',
          after: 'a'.repeat(40),
          pushedAt: '2024-01-01T00:00:00Z',
        },
      }),
    );
  });

  void test('problems carry JSON Pointer paths and schema messages, never payload values', () => {
    const secret = 'hunter2-super-secret-token';
    const error = dataInvalid(() =>
      registry.validateData(
        ev('git.push', {
          data: {
            ref: secret,
            after: 42,
            pushedAt: secret,
            commits: [{ id: 1, note: secret }, {}],
            'a/b~c': secret,
          },
        }),
      ),
    );
    const problems = error.details?.problems as { path: string; message: string }[];
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    assert.equal(byPath.get('/repository'), 'is required');
    assert.match(byPath.get('/ref')!, /must match pattern/);
    assert.equal(byPath.get('/after'), 'must be string');
    assert.match(byPath.get('/pushedAt')!, /format "date-time"/);
    assert.equal(byPath.get('/a~1b~0c'), 'is not allowed by the schema');
    assert.equal(byPath.get('/commits/1/id'), 'is required');
    assert.doesNotMatch(`${error.message} ${JSON.stringify(error.details)}`, /hunter2/);
    assert.match(error.message, /^data of event type 'git\.push' does not match its schema: /);
    assert.equal(error.httpStatus, 422);
  });

  void test('problems are capped', () => {
    const registry2 = createSchemaRegistry();
    registry2.register('many', { type: 'object', additionalProperties: { type: 'integer' } });
    const data = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x']));
    const error = dataInvalid(() => registry2.validateData(ev('many', { data })));
    assert.equal((error.details?.problems as unknown[]).length, MAX_PROBLEMS);
    assert.equal(error.details?.problemCount, 50);
    assert.match(error.message, /and 47 more/);
  });

  const notJson: [string, Record<string, unknown>, RegExp][] = [
    ['binary data', { data_base64: 'AAAA' }, /binary data/],
    [
      'a non-JSON content type',
      { datacontenttype: 'text/plain', data: 'x' },
      /datacontenttype is 'text\/plain'/,
    ],
    ['no data', {}, /has no data/],
  ];
  for (const [name, extra, message] of notJson) {
    void test(`a registered type with ${name} is refused`, () => {
      const error = dataInvalid(() => registry.validateData(ev('git.push', extra)));
      assert.match(error.message, message);
    });
  }

  void test('explicit null data is validated as null', () => {
    const error = dataInvalid(() => registry.validateData(ev('git.push', { data: null })));
    assert.deepEqual(error.details?.problems, [{ path: '', message: 'must be object' }]);
  });

  void test('draft 2020-12 and 2019-09 schemas are honoured', () => {
    const r = createSchemaRegistry();
    r.register('new', {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [{ type: 'string' }],
      items: false,
    });
    r.register('mid', {
      $schema: 'https://json-schema.org/draft/2019-09/schema',
      type: 'object',
      properties: { a: { type: 'integer' } },
      unevaluatedProperties: false,
    });
    r.validateData(ev('new', { data: ['x'] }));
    dataInvalid(() => r.validateData(ev('new', { data: ['x', 'y'] })));
    r.validateData(ev('mid', { data: { a: 1 } }));
    dataInvalid(() => r.validateData(ev('mid', { data: { a: 1, b: 2 } })));
  });

  const badSchemas: [string, object, RegExp][] = [
    ['an unknown type name', { type: 'strin' }, /is invalid/],
    ['an unknown format', { type: 'string', format: 'no-such-format' }, /unknown format/],
    ['a misspelt keyword', { type: 'object', requried: ['a'] }, /unknown keyword/],
    ['a bad pattern', { type: 'string', pattern: '(' }, /is invalid/],
    ['an unresolvable $ref', { $ref: '#/definitions/missing' }, /is invalid/],
    ['an array', [], /must be a json object/],
  ];
  for (const [name, schema, message] of badSchemas) {
    void test(`a schema with ${name} is CONFIG_INVALID`, () => {
      assert.throws(
        () => createSchemaRegistry().register('bad.type', schema),
        (e: unknown) =>
          isJunctionError(e, 'CONFIG_INVALID') && message.test(e.message) && e.message.includes("'bad.type'"),
      );
    });
  }

  void test('vendor x- keywords and annotations are accepted', () => {
    const r = createSchemaRegistry();
    r.register('annotated', {
      title: 't',
      description: 'd',
      $comment: 'c',
      examples: [{}],
      'x-junction-owner': 'ci',
      type: 'object',
      properties: { a: { type: 'string', 'x-go-type': 'string', deprecated: true, default: 'x' } },
    });
    r.validateData(ev('annotated', { data: { a: 'x' } }));
  });

  void test('a second schema for a type is refused', () => {
    assert.throws(
      () => registry.register('git.push', {}),
      (e: unknown) => isJunctionError(e, 'CONFIG_INVALID'),
    );
  });
});

void describe('loadSchemaDir', { timeout: 30_000 }, () => {
  const dirs: string[] = [];
  const tempDir = (files: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'junction-schemas-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    return dir;
  };
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  void test('registers every <type>.json and ignores other files', async () => {
    const dir = tempDir({
      'git.push.json': JSON.stringify(pushSchema),
      'alert.firing.json': '{"type":"object"}',
      'README.md': '# not a schema',
    });
    fs.mkdirSync(path.join(dir, 'nested.json'));
    const registry = createSchemaRegistry();
    assert.deepEqual(await loadSchemaDir(registry, dir), ['alert.firing', 'git.push']);
    assert.deepEqual(registry.types(), ['alert.firing', 'git.push']);
  });

  void test('reports every bad file by name in one error', async () => {
    const dir = tempDir({
      'good.json': '{"type":"object"}',
      'broken.json': '{\n  "type": "object",\n}',
      'wrong.json': '{"type":"objct"}',
      'list.json': '[]',
      '.json': '{}',
    });
    const registry = createSchemaRegistry();
    await assert.rejects(loadSchemaDir(registry, dir), (e: unknown) => {
      assert.ok(isJunctionError(e, 'CONFIG_INVALID'), String(e));
      const files = (e.details?.problems as { file: string }[]).map((p) => p.file);
      assert.deepEqual(files, ['.json', 'broken.json', 'list.json', 'wrong.json']);
      assert.match(e.message, /4 bad files/);
      assert.match(e.message, /broken\.json: not valid json: .* at line 3, column 1/);
      assert.match(e.message, /wrong\.json: the data schema for event type 'wrong' is invalid/);
      return true;
    });
    assert.deepEqual(registry.types(), ['good']);
  });

  void test('a missing folder is CONFIG_NOT_FOUND', async () => {
    await assert.rejects(
      loadSchemaDir(createSchemaRegistry(), path.join(os.tmpdir(), 'junction-no-such-dir-' + process.pid)),
      (e: unknown) => isJunctionError(e, 'CONFIG_NOT_FOUND'),
    );
  });
});
