import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJunctionError, type ErrorCode } from '../errors/index.ts';
import {
  decodeUtf8,
  findInvalidUtf8,
  jsonDepth,
  locateJsonSyntaxError,
  parseJsonBytes,
  scanJson,
} from './json-limits.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isJunctionError(error), `expected a JunctionError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

void describe('scanJson depth', { timeout: 30_000 }, () => {
  const cases: [string, number][] = [
    ['1', 0],
    ['"a"', 0],
    ['{}', 1],
    ['[]', 1],
    ['[[]]', 2],
    ['{"a":{"b":[1,2,{"c":null}]}}', 4],
    ['"[[[[{{{{"', 0], // brackets inside strings do not count
    ['["\\"[[["]', 1], // an escaped quote does not end the string
    ['["\\\\", [[]]]', 3], // an escaped backslash does
    ['{"k\\u0022[":[]}', 2],
    [`["${'\\\\'.repeat(1000)}", [[]]]`, 3], // a long run of escaped backslashes
    [`["${'\\\\'.repeat(3)}\\"[", []]`, 2], // backslashes, then an escaped quote
  ];
  for (const [json, depth] of cases) {
    void test(`${json} → ${depth}`, () => {
      assert.equal(jsonDepth(bytes(json)), depth);
    });
  }

  void test('stops at the first level past the limit', () => {
    throwsCode(() => jsonDepth(bytes('[[[1]]]'), 2), 'EVENT_TOO_DEEP', /limit of 2 levels/);
    assert.equal(jsonDepth(bytes('[[[1]]]'), 3), 3);
  });

  void test('10,000 and 1,000,000 nested arrays are refused fast without recursion', () => {
    for (const n of [10_000, 1_000_000]) {
      const body = bytes('['.repeat(n) + ']'.repeat(n));
      const started = performance.now();
      throwsCode(() => parseJsonBytes(body, { maxDepth: 64 }), 'EVENT_TOO_DEEP');
      assert.ok(performance.now() - started < 1_000, 'depth refusal took too long');
    }
  });

  void test('10 MB of spaces is scanned in one quick pass', () => {
    const body = new Uint8Array(10 * 1024 * 1024 + 2).fill(0x20);
    body[body.length - 2] = 0x7b;
    body[body.length - 1] = 0x7d;
    const started = performance.now();
    assert.equal(jsonDepth(body, 64), 1);
    assert.deepEqual(parseJsonBytes(body, { maxDepth: 64 }).value, {});
    assert.ok(performance.now() - started < 5_000);
  });

  void test('multi-byte UTF-8 never looks like structure', () => {
    // U+5B5B and friends: no byte of a multi-byte sequence is ASCII.
    assert.equal(jsonDepth(bytes('["嵛嵛", "𝄞[", {"é": "}"}]')), 2);
  });
});

void describe('scanJson duplicate keys', { timeout: 30_000 }, () => {
  const cases: [string, number, string | undefined, number | undefined][] = [
    ['{"a":1,"b":2}', 1, undefined, undefined],
    ['{"a":1,"a":2}', 1, 'a', -1],
    ['{"id":"x","\\u0069d":"y"}', 1, 'id', -1], // escapes are unescaped before comparing
    ['{"a":{"b":1,"b":2}}', 1, undefined, undefined], // deeper than checked
    ['{"a":{"b":1,"b":2}}', 2, 'b', -1],
    ['{"a":[{"x":1}],"b":{"x":2}}', 1, undefined, undefined],
    ['{"a":"a","b":"a"}', 1, undefined, undefined], // values are not keys
    ['[{"id":1},{"id":2,"type":"t","id":3}]', 2, 'id', 1],
    ['[{"id":1,"data":{"id":1,"id":2}}]', 2, undefined, undefined],
    ['{"é":1,"\\u00e9":2}', 1, 'é', -1],
    // Names longer than the short-name fast path, plain and escaped.
    [`{"${'k'.repeat(40)}":1,"${'k'.repeat(40)}":2}`, 1, 'k'.repeat(40), -1],
    [`{"${'k'.repeat(40)}":1,"${'k'.repeat(39)}\\u006b":2}`, 1, 'k'.repeat(40), -1],
    [`{"${'k'.repeat(40)}":1,"${'k'.repeat(39)}":2}`, 1, undefined, undefined],
  ];
  for (const [json, depthChecked, name, element] of cases) {
    void test(`${json} (depth ${depthChecked})`, () => {
      const found = scanJson(bytes(json), { maxDepth: 10, duplicateKeyDepth: depthChecked }).duplicateKey;
      assert.equal(found?.name, name);
      assert.equal(found?.element, element);
      // parseJsonBytes counts members first and looks for the name only when one is missing.
      const parsed = parseJsonBytes(bytes(json), { maxDepth: 10, duplicateKeyDepth: depthChecked });
      assert.deepEqual(parsed.duplicateKey, found);
    });
  }
  void test('members are counted in objects inside arrays and objects within the depth', () => {
    const json = '{"a":{"b":1,"b":2},"c":[{"x":1,"x":2}],"d":[[{"y":1}]]}';
    assert.equal(
      scanJson(bytes(json), { maxDepth: 10, duplicateKeyDepth: 2, countMembers: true }).members,
      5,
    );
    assert.equal(parseJsonBytes(bytes(json), { maxDepth: 10, duplicateKeyDepth: 2 }).duplicateKey?.name, 'b');
    assert.equal(parseJsonBytes(bytes(json), { maxDepth: 10, duplicateKeyDepth: 3 }).duplicateKey?.name, 'b');
    const batch = '[{"id":1,"__proto__":{"id":2},"type":"t"},{"id":2,"type":"t","id":3}]';
    assert.deepEqual(parseJsonBytes(bytes(batch), { maxDepth: 10, duplicateKeyDepth: 2 }).duplicateKey, {
      name: 'id',
      depth: 2,
      element: 1,
    });
  });
});

void describe('decodeUtf8 and findInvalidUtf8', { timeout: 30_000 }, () => {
  const invalid: [string, number[], number][] = [
    ['C3 28 (bad continuation)', [0x41, 0xc3, 0x28], 1],
    ['overlong slash C0 AF', [0xc0, 0xaf], 0],
    ['overlong E0 80 AF', [0x20, 0xe0, 0x80, 0xaf], 1],
    ['overlong F0 80 80 AF', [0xf0, 0x80, 0x80, 0xaf], 0],
    ['UTF-8 encoded surrogate ED A0 80', [0x61, 0x62, 0xed, 0xa0, 0x80], 2],
    ['beyond U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80], 0],
    ['F5 lead byte', [0xf5, 0x80, 0x80, 0x80], 0],
    ['lone continuation', [0x80], 0],
    ['truncated', [0x7b, 0xe2, 0x82], 1],
  ];
  for (const [name, input, offset] of invalid) {
    void test(`refuses ${name} at offset ${offset}`, () => {
      const data = new Uint8Array(input);
      assert.equal(findInvalidUtf8(data), offset);
      assert.throws(
        () => decodeUtf8(data),
        (e: unknown) => isJunctionError(e, 'EVENT_INVALID_UTF8') && e.details?.offset === offset,
      );
    });
  }

  void test('accepts every well-formed sequence length and drops a BOM', () => {
    const text = 'a é € 𝄞 \u{10FFFF}';
    assert.equal(findInvalidUtf8(bytes(text)), -1);
    assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(text)])), text);
  });
});

void describe('parseJsonBytes', { timeout: 30_000 }, () => {
  const malformed: [string, string, number][] = [
    ['NaN', 'NaN', 0],
    ['Infinity', '{"a": Infinity}', 6],
    ['-Infinity', '[-Infinity]', 1],
    ['trailing comma', '[1,2,]', 5],
    ['single quotes', "{'a':1}", 1],
    ['unquoted key', '{a:1}', 1],
    ['missing colon', '{"a" 1}', 5],
    ['leading zero', '[01]', 2],
    ['raw newline in string', '["a\nb"]', 3],
    ['bad escape', '["\\x41"]', 2],
    ['short unicode escape', '["\\u12"]', 2],
    ['unterminated string', '{"a": "abc', 6],
    ['unexpected end', '{"a": [1, 2', 11],
    ['garbage after value', '{} {}', 3],
    ['comment', '{"a":1 /* c */}', 7],
    ['whitespace only', '   ', 3],
  ];
  for (const [name, json, offset] of malformed) {
    void test(`refuses ${name} with its position and without echoing the payload`, () => {
      assert.throws(
        () => parseJsonBytes(bytes(json), { maxDepth: 10 }),
        (e: unknown) => {
          assert.ok(isJunctionError(e, 'EVENT_MALFORMED_JSON'), String(e));
          assert.equal(e.details?.offset, offset, e.message);
          assert.match(e.message, /at line \d+, column \d+/);
          return true;
        },
      );
    });
  }

  void test('the message never carries payload text', () => {
    const secret = 'hunter2-do-not-echo';
    for (const json of [`{"password": "${secret}" oops}`, `${secret}`, `{"${secret}"}`]) {
      assert.throws(
        () => parseJsonBytes(bytes(json), { maxDepth: 10 }),
        (e: unknown) => isJunctionError(e, 'EVENT_MALFORMED_JSON') && !e.message.includes('hunter2'),
      );
    }
  });

  void test('multi-line positions count lines and columns', () => {
    assert.throws(
      () => parseJsonBytes(bytes('{\n  "a": 1,\n  "b": ]\n}'), { maxDepth: 10 }),
      (e: unknown) => isJunctionError(e) && e.details?.line === 3 && e.details.column === 8,
    );
  });

  void test('empty body', () => {
    throwsCode(() => parseJsonBytes(new Uint8Array(0), { maxDepth: 10 }), 'EVENT_MALFORMED_JSON', /empty/);
  });

  void test('numbers too large for a double are refused, large but finite ones kept', () => {
    for (const json of ['1e400', '{"a":[-1E309]}', `[${'9'.repeat(400)}]`]) {
      throwsCode(() => parseJsonBytes(bytes(json), { maxDepth: 10 }), 'EVENT_MALFORMED_JSON', /too large/);
    }
    assert.equal(parseJsonBytes(bytes('1.7976931348623157e308'), { maxDepth: 10 }).value, Number.MAX_VALUE);
    assert.equal(parseJsonBytes(bytes('1e-400'), { maxDepth: 10 }).value, 0);
    assert.deepEqual(parseJsonBytes(bytes('[true, false, 12345]'), { maxDepth: 10 }).value, [
      true,
      false,
      12345,
    ]);
  });

  void test('duplicate keys keep the last value', () => {
    const parsed = parseJsonBytes(bytes('{"a":1,"a":2}'), { maxDepth: 10, duplicateKeyDepth: 1 });
    assert.deepEqual(parsed.value, { a: 2 });
    assert.equal(parsed.duplicateKey?.name, 'a');
  });

  void test('__proto__ keys become own properties and pollute nothing', () => {
    const { value } = parseJsonBytes(
      bytes('{"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": 1}}}'),
      {
        maxDepth: 10,
      },
    );
    const obj = value as Record<string, unknown>;
    assert.ok(Object.hasOwn(obj, '__proto__'));
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(obj.polluted, undefined);
  });

  void test('lone surrogate escapes are valid JSON and survive a round trip', () => {
    const { value } = parseJsonBytes(bytes('{"s":"\\ud800x"}'), { maxDepth: 10 });
    assert.equal((value as { s: string }).s, '\ud800x');
    assert.equal(JSON.stringify(value), '{"s":"\\ud800x"}');
  });

  void test('invalid UTF-8 is reported before JSON', () => {
    throwsCode(
      () => parseJsonBytes(new Uint8Array([0x22, 0xc3, 0x28, 0x22]), { maxDepth: 10 }),
      'EVENT_INVALID_UTF8',
    );
  });
});

void describe('locateJsonSyntaxError', { timeout: 30_000 }, () => {
  void test('finds nothing in valid JSON, including deep nesting', () => {
    for (const json of [
      '0',
      '-0.5e+3',
      '"\\u00e9\\n"',
      '{"a":[1,{"b":null}],"c":true}',
      ' [ ] ',
      '[[[[[[[[]]]]]]]]',
    ]) {
      assert.equal(locateJsonSyntaxError(json), undefined, json);
    }
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    assert.equal(locateJsonSyntaxError(deep), undefined);
  });
});

void describe('parseJsonBytes findData', { timeout: 30_000 }, () => {
  const dataText = (text: string | Uint8Array): string | undefined =>
    parseJsonBytes(typeof text === 'string' ? bytes(text) : text, {
      maxDepth: 64,
      duplicateKeyDepth: 1,
      findData: true,
    }).dataText;

  test('gives the top-level data value exactly as received, wherever it stands', () => {
    const cases: [string, string | undefined][] = [
      ['{"id":"1","data":{"a":1}}', '{"a":1}'],
      ['{"data": {"b" : [1, 2.50, "x,}"]} ,"id":"1"}', '{"b" : [1, 2.50, "x,}"]}'],
      [
        '{\n  "id": "1",\n  "data":\t"text with \\"quotes\\" and , }"\n}\n',
        '"text with \\"quotes\\" and , }"',
      ],
      ['{"data":null}', 'null'],
      ['{"data":-1.5e3,"x":true}', '-1.5e3'],
      ['{"data":[{"data":2}]}', '[{"data":2}]'],
      // A name spelled with escapes is not looked for: the data is then serialized anew.
      ['{"d\\u0061ta":{"k":"v"}}', undefined],
      ['{"id":"1","nested":{"data":1}}', undefined],
      ['{"id":"1"}', undefined],
      ['[{"data":1}]', undefined],
    ];
    for (const [text, expected] of cases) {
      const got = dataText(text);
      assert.equal(got, expected, text);
      if (got !== undefined) {
        const parsed = JSON.parse(text) as { data: unknown };
        assert.deepEqual(JSON.parse(got), parsed.data, text);
      }
    }
  });

  test('is right for text that is not ASCII, before and inside data, and after a byte order mark', () => {
    const text = '{"subject":"größe ✓","data":{"name":"café 🚀","n":1}}';
    assert.equal(dataText(text), '{"name":"café 🚀","n":1}');
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(text)]);
    assert.equal(dataText(withBom), '{"name":"café 🚀","n":1}');
  });

  test('gives nothing when data is repeated, or when not asked', () => {
    assert.equal(dataText('{"data":1,"data":2}'), undefined);
    assert.equal(
      parseJsonBytes(bytes('{"data":1}'), { maxDepth: 8, duplicateKeyDepth: 1 }).dataText,
      undefined,
    );
  });
});
