import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from './codes.ts';
import { JunctionError } from './junction-error.ts';

const docPath = join(import.meta.dirname, '..', '..', 'docs', 'errors.md');

test('docs/errors.md documents exactly the codes in the catalogue', () => {
  const doc = readFileSync(docPath, 'utf8');
  const documented = [...doc.matchAll(/^### `([A-Z0-9_]+)`/gm)].map((m) => m[1]);
  const missing = Object.keys(ERROR_CODES).filter((code) => !documented.includes(code));
  const stale = documented.filter((code) => !(code! in ERROR_CODES));
  assert.deepEqual(missing, [], `codes missing from docs/errors.md: ${missing.join(', ')}`);
  assert.deepEqual(stale, [], `docs/errors.md lists unknown codes: ${stale.join(', ')}`);
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    const section = doc.split(`### \`${code}\``)[1]?.split('\n### ')[0] ?? '';
    assert.match(
      section,
      new RegExp(`HTTP ${entry.httpStatus}\\b`),
      `${code}: docs must give HTTP ${entry.httpStatus}`,
    );
    assert.match(
      section,
      entry.retryable ? /retryable: yes/ : /retryable: no/,
      `${code}: docs must say whether it is retryable`,
    );
  }
});

test('codes follow AREA_WHAT and errors carry the catalogue defaults', () => {
  for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^[A-Z]+(_[A-Z0-9]+)+$|^INTERNAL$/);
  const error = new JunctionError('INTAKE_OVERLOADED', 'busy', { cause: new Error('x') });
  assert.equal(error.httpStatus, 503);
  assert.equal(error.retryable, true);
  assert.equal(error.name, 'JunctionError');
  assert.ok(error.cause instanceof Error);
});
