import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hmacDigest, safeEqualStrings, verifyHexHmac, verifyPrefixedHmac } from './hmac.ts';

const vectorsFile = join(
  resolve(import.meta.dirname, '..', '..'),
  '..',
  'shared',
  'fixtures',
  'github',
  'signature-vectors',
  'github-and-octokit.vectors.json',
);

test("GitHub's documented vector", () => {
  const body = Buffer.from('Hello, World!');
  const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  assert.equal(verifyPrefixedHmac('sha256', 'sha256=', "It's a Secret to Everybody", body, header), true);
  assert.equal(
    verifyPrefixedHmac('sha256', 'sha256=', "It's a Secret to Everybody", body, header.toUpperCase()),
    false,
  );
  assert.equal(
    verifyPrefixedHmac(
      'sha256',
      'sha256=',
      "It's a Secret to Everybody",
      body,
      `sha256=${header.slice(7).toUpperCase()}`,
    ),
    true,
  );
});

test(
  'the published vectors in the shared fixtures',
  { skip: !existsSync(vectorsFile) && 'shared fixtures absent' },
  () => {
    const { vectors } = JSON.parse(readFileSync(vectorsFile, 'utf8')) as {
      vectors: { name: string; secret: string; payload: string; header_value: string }[];
    };
    assert.ok(vectors.length >= 4);
    for (const v of vectors) {
      const body = Buffer.from(v.payload, 'utf8');
      assert.equal(verifyPrefixedHmac('sha256', 'sha256=', v.secret, body, v.header_value), true, v.name);
      assert.equal(
        verifyPrefixedHmac('sha256', 'sha256=', `${v.secret}x`, body, v.header_value),
        false,
        v.name,
      );
    }
  },
);

test('hostile signatures are false, never a throw', () => {
  const body = Buffer.from('{"a":1}');
  const good = hmacDigest('sha256', 'k', body).toString('hex');
  assert.equal(verifyHexHmac('sha256', 'k', body, good), true);
  const cases: (string | undefined)[] = [
    undefined,
    '',
    good.slice(0, 63),
    `${good}0`,
    `${good.slice(0, 62)}zz`,
    `${good.slice(0, 63)}g`,
    ' '.repeat(64),
    good.replace(/./, (c) => (c === '0' ? '1' : '0')),
    'é'.repeat(32),
  ];
  for (const signature of cases)
    assert.equal(verifyHexHmac('sha256', 'k', body, signature), false, String(signature));
  assert.equal(verifyPrefixedHmac('sha256', 'sha256=', 'k', body, good), false, 'prefix required');
  assert.equal(verifyPrefixedHmac('sha256', 'sha256=', 'k', body, `sha1=${good}`), false);
  const sha1 = hmacDigest('sha1', 'k', body).toString('hex');
  assert.equal(verifyPrefixedHmac('sha1', 'sha1=', 'k', body, `sha1=${sha1}`), true);
  assert.equal(verifyPrefixedHmac('sha256', 'sha256=', 'k', body, `sha256=${sha1}`), false);
});

test('safeEqualStrings compares whole strings of any length', () => {
  assert.equal(safeEqualStrings('token', 'token'), true);
  assert.equal(safeEqualStrings('token ', 'token'), false);
  assert.equal(safeEqualStrings('toke', 'token'), false);
  assert.equal(safeEqualStrings('', 'token'), false);
  assert.equal(safeEqualStrings(undefined, 'token'), false);
  assert.equal(safeEqualStrings('Token', 'token'), false);
});
