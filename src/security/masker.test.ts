import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MASK, createMasker, maskedForms } from './masker.ts';

const SECRET = 'hunter2-s3cr3t';

/** Asserts the masked text hides `secret` and equals `expected`. */
function assertMasked(masked: string, expected: string, secret = SECRET): void {
  assert.equal(masked, expected);
  assert.ok(!masked.includes(secret), 'the secret itself is gone');
}

describe('createMasker', { timeout: 30_000 }, () => {
  test('the value itself, every occurrence, and nothing else', () => {
    const masker = createMasker([SECRET]);
    assert.equal(masker.empty, false);
    assertMasked(
      masker.mask(`login ${SECRET} then ${SECRET}${SECRET}.`),
      `login ${MASK} then ${MASK}${MASK}.`,
    );
    const unrelated = 'hunter2 s3cr3t hunter2-s3cr3 nothing to hide here';
    assert.equal(masker.mask(unrelated), unrelated);
    assert.equal(masker.mask(''), '');
  });

  test('no values, or only values too short to mask: the empty masker returns its input', () => {
    for (const values of [[], ['abc'], ['', 'x'], ['    ', '\n\t\n']]) {
      const masker = createMasker(values);
      assert.equal(masker.empty, true, JSON.stringify(values));
      assert.equal(masker.mask('abc x    y'), 'abc x    y');
    }
    // Four characters is enough.
    assert.equal(createMasker(['abcd']).mask('xabcdx'), `x${MASK}x`);
  });

  test('each line of a multi-line value is masked on its own, trimmed, when long enough', () => {
    const pem = '-----BEGIN KEY-----\r\n  MIIEvQIBADANBgkq  \nab\n\n-----END KEY-----';
    const masker = createMasker([pem]);
    assert.equal(masker.mask('  MIIEvQIBADANBgkq'), `  ${MASK}`);
    assert.equal(masker.mask('-----END KEY-----'), MASK);
    assert.equal(masker.mask('-----BEGIN KEY-----'), MASK);
    assert.equal(masker.mask(pem), MASK, 'the whole value still matches as one');
    assert.equal(masker.mask('ab cd'), 'ab cd', 'a 2-character line is not masked');
  });

  test('standard and URL-safe base64, padded and not', () => {
    // Chosen so its base64 has '+' and '/' (and so '-' and '_' in base64url) and needs padding.
    const secret = 'sé>?>~~~k';
    const bytes = Buffer.from(secret, 'utf8');
    const standard = bytes.toString('base64');
    const url = bytes.toString('base64url');
    assert.match(standard, /[+/]/);
    assert.match(standard, /=$/);
    const masker = createMasker([secret]);
    const padding = /=*$/.exec(standard)![0];
    for (const form of [standard, standard.replace(/=+$/, ''), url, url + padding]) {
      assert.equal(masker.mask(`auth: ${form} end`), `auth: ${MASK} end`, form);
    }
  });

  test('base64 of a longer text holding the secret, at each of the three byte offsets', () => {
    const masker = createMasker([SECRET]);
    for (const prefix of ['user:', 'users:', 'userss:']) {
      for (const suffix of ['', '!', '!!', '!!!']) {
        for (const encoding of ['base64', 'base64url'] as const) {
          const encoded = Buffer.from(`${prefix}${SECRET}${suffix}`).toString(encoding);
          const masked = masker.mask(`Authorization: Basic ${encoded}`);
          assert.match(masked, /\*\*\*/, `${prefix}|${suffix}|${encoding}`);
          // What is left is the encoding of the prefix and suffix, a boundary character each and
          // padding: nothing that spells the secret.
          const left = masked.slice('Authorization: Basic '.length).split(MASK).join('');
          const bound = Math.ceil((prefix.length * 4) / 3) + Math.ceil((suffix.length * 4) / 3) + 4;
          assert.ok(left.length <= bound, `${prefix}|${suffix}|${encoding}: ${masked}`);
        }
      }
    }
  });

  test('embedded base64 is found for many lengths and surroundings', () => {
    for (let length = 4; length <= 30; length += 1) {
      const secret = randomBytes(length).toString('hex').slice(0, length);
      const masker = createMasker([secret]);
      for (let round = 0; round < 6; round += 1) {
        const before = randomBytes(round).toString('latin1');
        const after = randomBytes(5 - round).toString('latin1');
        const encoded = Buffer.from(`${before}${secret}${after}`, 'latin1').toString('base64');
        assert.ok(masker.mask(encoded).includes(MASK), `length ${length}, ${round} bytes before`);
      }
    }
  });

  test('URI-encoded, form-encoded and JSON-escaped forms', () => {
    const secret = 'p@ss word/"quoted"\\back\nline2 ~!';
    const masker = createMasker([secret]);
    const forms = {
      uri: encodeURIComponent(secret),
      plus: encodeURIComponent(secret).replaceAll('%20', '+'),
      form: new URLSearchParams({ v: secret }).toString().slice(2),
      json: JSON.stringify(secret).slice(1, -1),
      jsonSlash: JSON.stringify(secret).slice(1, -1).replaceAll('/', '\\/'),
    };
    assert.equal(new Set(Object.values(forms)).size, 5, 'the forms differ from each other');
    for (const [kind, form] of Object.entries(forms)) {
      assert.equal(masker.mask(`[${form}]`), `[${MASK}]`, kind);
    }
    assert.equal(masker.mask(JSON.stringify({ password: secret })), `{"password":"${MASK}"}`);
  });

  test('overlapping and nested secrets are merged into one mask', () => {
    const masker = createMasker(['password123', 'word12345', 'rd12']);
    assert.equal(masker.mask('x password12345 y'), `x ${MASK} y`);
    assert.equal(masker.mask('x word12345 y'), `x ${MASK} y`);
    assert.equal(masker.mask('x rd12 y'), `x ${MASK} y`);
    // Adjacent, not overlapping: two masks.
    assert.equal(masker.mask('password123word12345'), `${MASK}${MASK}`);
  });

  test('regular-expression metacharacters in values are taken literally', () => {
    const secrets = ['a.b*c+d?', '(x|y)[z]{2}', '^$\\d\\', '-/-/'];
    const masker = createMasker(secrets);
    for (const secret of secrets) assert.equal(masker.mask(`<${secret}>`), `<${MASK}>`, secret);
    assert.equal(masker.mask('aXbbbcdd x y z zz 1'), 'aXbbbcdd x y z zz 1');
    assert.equal(masker.mask('axb*c+d?'), 'axb*c+d?');
  });

  test('unicode values, including astral characters and lone surrogates', () => {
    const masker = createMasker(['пароль😀', '\ud800abcd']);
    assert.equal(masker.mask('pw=пароль😀;'), `pw=${MASK};`);
    assert.equal(masker.mask(`v=${encodeURIComponent('пароль😀')}`), `v=${MASK}`);
    assert.equal(masker.mask('x\ud800abcdx'), `x${MASK}x`);
  });

  test('maskedForms lists each form once, longest first', () => {
    const forms = maskedForms('a b/c"d');
    assert.equal(new Set(forms).size, forms.length);
    for (let i = 1; i < forms.length; i += 1) assert.ok(forms[i - 1]!.length >= forms[i]!.length);
    assert.deepEqual(maskedForms('abc'), []);
  });

  test('masking 10,000 log lines with 20 secrets stays fast (no quadratic behaviour)', () => {
    const secrets = Array.from({ length: 20 }, (_, i) => `secret-${i}-${randomBytes(12).toString('hex')}`);
    const masker = createMasker(secrets);
    const lines = Array.from(
      { length: 10_000 },
      (_, i) =>
        `2024-05-01T12:00:00.000Z step ${i} npm install --prefix /tmp/build-${i} ` +
        `${randomBytes(16).toString('base64')} ${i % 50 === 0 ? secrets[i % 20] : 'ok'}`,
    );
    const started = performance.now();
    let masked = 0;
    for (const line of lines) if (masker.mask(line) !== line) masked += 1;
    const elapsed = performance.now() - started;
    assert.equal(masked, 200);
    assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms`);
  });

  test('a long repetitive line and a large value are handled', () => {
    const big = randomBytes(48 * 1024).toString('base64');
    const masker = createMasker([big, 'aaaab']);
    const line = `${'a'.repeat(200_000)}b ${big}`;
    const started = performance.now();
    assert.equal(masker.mask(line), `${'a'.repeat(199_996)}${MASK} ${MASK}`);
    assert.ok(performance.now() - started < 1000);
  });
});
