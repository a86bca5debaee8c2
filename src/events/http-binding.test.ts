import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJunctionError, type ErrorCode, type JunctionError } from '../errors/index.ts';
import { eventJson, type CloudEvent } from './cloud-event.ts';
import {
  decodeHeaderValue,
  encodeHeaderValue,
  parseHttpEvents,
  toJsonFormat,
  type HttpEventInput,
  type ParsedHttpEvents,
} from './http-binding.ts';

const limits = { maxJsonDepth: 32, maxBatchEvents: 5 };
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
type Headers = HttpEventInput['headers'];

function parse(headers: Headers, body: string | Uint8Array = ''): ParsedHttpEvents {
  return parseHttpEvents({ headers, body: typeof body === 'string' ? utf8(body) : body, limits });
}

function one(headers: Headers, body: string | Uint8Array = ''): CloudEvent {
  const { events } = parse(headers, body);
  assert.equal(events.length, 1);
  return events[0]!;
}

function refused(headers: Headers, body: string | Uint8Array, code: ErrorCode, message?: RegExp) {
  let caught: unknown;
  assert.throws(
    () => parse(headers, body),
    (error: unknown) => {
      caught = error;
      assert.ok(isJunctionError(error), String(error));
      assert.equal(error.code, code, error.message);
      if (message !== undefined) assert.match(error.message, message);
      return true;
    },
  );
  return caught as JunctionError;
}

const binaryHeaders = {
  'ce-specversion': '1.0',
  'ce-id': 'b-1',
  'ce-source': '/tests/binary',
  'ce-type': 'test.binary',
} as const;
const STRUCTURED = { 'content-type': 'application/cloudevents+json' } as const;
const BATCH = { 'content-type': 'application/cloudevents-batch+json' } as const;
const structuredEvent = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    specversion: '1.0',
    id: 's-1',
    source: '/tests/structured',
    type: 'test.structured',
    ...extra,
  });

void describe('content mode', { timeout: 30_000 }, () => {
  const modes: [string, Headers, string, ParsedHttpEvents['mode']][] = [
    ['structured', STRUCTURED, structuredEvent(), 'structured'],
    [
      'structured, upper case with charset',
      { 'Content-Type': 'Application/CloudEvents+JSON; charset=UTF-8' },
      structuredEvent(),
      'structured',
    ],
    [
      'structured, quoted utf8 charset',
      { 'content-type': 'application/cloudevents+json;charset="utf8"' },
      structuredEvent(),
      'structured',
    ],
    ['batch', BATCH, `[${structuredEvent()}]`, 'batch'],
    ['binary', binaryHeaders, '', 'binary'],
    ['binary with JSON data', { ...binaryHeaders, 'content-type': 'application/json' }, '{}', 'binary'],
    [
      'structured wins over ce- headers',
      { ...binaryHeaders, ...STRUCTURED },
      structuredEvent(),
      'structured',
    ],
  ];
  for (const [name, headers, body, mode] of modes) {
    void test(name, () => {
      assert.equal(parse(headers, body).mode, mode);
    });
  }

  const refusals: [string, Headers, string, ErrorCode, RegExp][] = [
    [
      'cloudevents+xml',
      { 'content-type': 'application/cloudevents+xml' },
      '<x/>',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /'application\/cloudevents\+xml' is not supported.*application\/cloudevents\+json/,
    ],
    [
      'cloudevents+avro',
      { 'content-type': 'application/cloudevents+avro' },
      'x',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /not supported/,
    ],
    [
      'cloudevents+protobuf even with ce- headers',
      { ...binaryHeaders, 'content-type': 'application/cloudevents+protobuf' },
      'x',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /not supported/,
    ],
    [
      'cloudevents-batch+xml',
      { 'content-type': 'application/cloudevents-batch+xml' },
      'x',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /not supported/,
    ],
    [
      'plain JSON without ce- headers',
      { 'content-type': 'application/json' },
      '{}',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /structured mode.*batched mode.*binary mode/,
    ],
    ['no headers at all', {}, '', 'EVENT_UNSUPPORTED_MEDIA_TYPE', /no content-type/],
    [
      'ce- headers without ce-specversion',
      { 'ce-id': '1', 'ce-type': 't' },
      '',
      'EVENT_ATTRIBUTE_MISSING',
      /ce-specversion/,
    ],
    [
      'content-type that is not a media type',
      { 'content-type': 'cloudevents' },
      '',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /not a media type/,
    ],
    [
      'two content-type headers',
      { 'content-type': ['application/json', 'text/plain'] },
      '',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /more than one/,
    ],
    [
      'structured with charset=latin1',
      { 'content-type': 'application/cloudevents+json; charset=latin1' },
      structuredEvent(),
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /charset 'latin1'/,
    ],
    [
      'batch with charset=iso-8859-1',
      { 'content-type': 'application/cloudevents-batch+json; charset=ISO-8859-1' },
      '[]',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /expected utf-8/,
    ],
    [
      'binary JSON with charset=latin1',
      { ...binaryHeaders, 'content-type': 'application/json; charset=latin1' },
      '{}',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /charset/,
    ],
    [
      'binary text with charset=utf-16',
      { ...binaryHeaders, 'content-type': 'text/plain; charset=utf-16' },
      'x',
      'EVENT_UNSUPPORTED_MEDIA_TYPE',
      /charset/,
    ],
  ];
  for (const [name, headers, body, code, message] of refusals) {
    void test(`refuses ${name}`, () => {
      refused(headers, body, code, message);
    });
  }
});

void describe('binary mode', { timeout: 30_000 }, () => {
  void test('attributes come from ce- headers in any case, datacontenttype from content-type verbatim', () => {
    const ev = one(
      {
        'CE-SpecVersion': '1.0',
        'Ce-Id': 'b-1',
        'ce-source': '/s',
        'ce-type': 't',
        'ce-time': '2018-04-05T03:56:24Z',
        'ce-comexampleextension1': 'value',
        'ce-comexampleothervalue': '5',
        'Content-Type': 'application/json; charset=utf-8',
        'user-agent': 'test',
      },
      '{"message":"Hello World!"}',
    );
    assert.deepEqual(ev, {
      specversion: '1.0',
      id: 'b-1',
      source: '/s',
      type: 't',
      time: '2018-04-05T03:56:24Z',
      datacontenttype: 'application/json; charset=utf-8',
      comexampleextension1: 'value',
      comexampleothervalue: '5',
      data: { message: 'Hello World!' },
    });
  });

  const data: [string, string | undefined, string | Uint8Array, Record<string, unknown>][] = [
    ['empty body, JSON type', 'application/json', '', {}],
    ['empty body, no type', undefined, '', {}],
    ['JSON null', 'application/json', 'null', { data: null }],
    ['JSON string', 'application/json', '"I\'m just a string"', { data: "I'm just a string" }],
    ['JSON number', 'text/json', '1.5\n', { data: 1.5 }],
    ['+json suffix', 'application/vnd.github+json', '{"a":[1]}', { data: { a: [1] } }],
    ['text/plain', 'text/plain', 'hello\nworld', { data: 'hello\nworld' }],
    ['application/xml', 'application/xml', '<much wow="xml"/>\n', { data: '<much wow="xml"/>\n' }],
    [
      'text with BOM',
      'text/plain; charset=utf-8',
      new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]),
      { data: 'hi' },
    ],
    [
      'octet-stream',
      'application/octet-stream',
      new Uint8Array([0, 1, 2, 0xff]),
      { data_base64: 'AAEC/w==' },
    ],
    ['png', 'image/png', new Uint8Array([0x89, 0x50, 0x4e, 0x47]), { data_base64: 'iVBORw==' }],
    [
      'octet-stream with an irrelevant charset',
      'application/octet-stream; charset=latin1',
      'x',
      { data_base64: 'eA==' },
    ],
    [
      'invalid UTF-8 in opaque data is fine',
      'application/octet-stream',
      new Uint8Array([0xc3, 0x28]),
      { data_base64: 'wyg=' },
    ],
    ['no content-type, JSON body', undefined, ' {"a":1}', { data: { a: 1 } }],
    ['no content-type, text body', undefined, 'hello', { data_base64: 'aGVsbG8=' }],
    ['no content-type, JSON-looking text', undefined, '{not json', { data_base64: 'e25vdCBqc29u' }],
    [
      'no content-type, invalid UTF-8',
      undefined,
      new Uint8Array([0x7b, 0xc3, 0x28]),
      { data_base64: 'e8Mo' },
    ],
  ];
  for (const [name, contentType, body, expected] of data) {
    void test(`data: ${name}`, () => {
      const headers =
        contentType === undefined ? binaryHeaders : { ...binaryHeaders, 'content-type': contentType };
      const ev = one(headers, body);
      assert.equal(ev.datacontenttype, contentType);
      assert.deepEqual(
        { data: ev.data, data_base64: ev.data_base64 },
        { data: expected.data, data_base64: expected.data_base64 },
      );
      assert.equal(Object.hasOwn(ev, 'data'), Object.hasOwn(expected, 'data'));
    });
  }

  const dataRefusals: [string, string | undefined, string | Uint8Array, ErrorCode][] = [
    ['malformed JSON', 'application/json', '{"a":', 'EVENT_MALFORMED_JSON'],
    ['NaN as JSON', 'application/json', 'NaN', 'EVENT_MALFORMED_JSON'],
    ['JSON too deep', 'application/json', '['.repeat(40) + ']'.repeat(40), 'EVENT_TOO_DEEP'],
    ['no content-type, JSON too deep', undefined, '['.repeat(10_000), 'EVENT_TOO_DEEP'],
    ['JSON with a number too large', 'application/json', '{"n":1e999}', 'EVENT_MALFORMED_JSON'],
    [
      'invalid UTF-8 in JSON',
      'application/json',
      new Uint8Array([0x22, 0xc3, 0x28, 0x22]),
      'EVENT_INVALID_UTF8',
    ],
    ['invalid UTF-8 in text', 'text/plain', new Uint8Array([0xc3, 0x28]), 'EVENT_INVALID_UTF8'],
    ['overlong UTF-8 in text', 'text/plain', new Uint8Array([0xc0, 0xaf]), 'EVENT_INVALID_UTF8'],
  ];
  for (const [name, contentType, body, code] of dataRefusals) {
    void test(`refuses data: ${name}`, () => {
      const headers =
        contentType === undefined ? binaryHeaders : { ...binaryHeaders, 'content-type': contentType };
      refused(headers, body, code);
    });
  }

  void test('the JSON error names the data and its position, not the payload', () => {
    const error = refused(
      { ...binaryHeaders, 'content-type': 'application/json' },
      '{"token": "s3cr3t" x}',
      'EVENT_MALFORMED_JSON',
    );
    assert.match(error.message, /^data is not valid json: .* at line 1, column 20/);
    assert.doesNotMatch(error.message, /s3cr3t/);
  });

  const headerRefusals: [string, Record<string, string | string[]>, ErrorCode, RegExp][] = [
    [
      'CR LF injection in ce-id',
      { 'ce-id': 'a\r\nX-Evil: 1' },
      'EVENT_ATTRIBUTE_INVALID',
      /'ce-id' contains a control character \(U\+000D\)/,
    ],
    [
      'bare LF in ce-source',
      { 'ce-source': '/a\nb' },
      'EVENT_ATTRIBUTE_INVALID',
      /control character \(U\+000A\)/,
    ],
    ['NUL in ce-type', { 'ce-type': 't\u0000' }, 'EVENT_ATTRIBUTE_INVALID', /U\+0000/],
    ['tab inside a value', { 'ce-subject': 'a\tb' }, 'EVENT_ATTRIBUTE_INVALID', /U\+0009/],
    ['DEL in an extension', { 'ce-ext': 'a\u007f' }, 'EVENT_ATTRIBUTE_INVALID', /U\+007F/],
    [
      'raw non-ASCII (latin1-decoded UTF-8)',
      { 'ce-subject': 'caf\u00c3\u00a9' },
      'EVENT_ATTRIBUTE_INVALID',
      /non-ascii/,
    ],
    [
      'percent-encoded CR LF',
      { 'ce-subject': 'a%0D%0AX-Evil:%201' },
      'EVENT_ATTRIBUTE_INVALID',
      /control character/,
    ],
    ['percent-encoded NUL', { 'ce-id': '%00' }, 'EVENT_ATTRIBUTE_INVALID', /control character/],
    [
      'overlong percent-encoding %C0%A0',
      { 'ce-subject': 'a%C0%A0b' },
      'EVENT_ATTRIBUTE_INVALID',
      /not valid utf-8/,
    ],
    [
      'percent-encoded lone surrogate',
      { 'ce-subject': '%ED%A0%80' },
      'EVENT_ATTRIBUTE_INVALID',
      /not valid utf-8/,
    ],
    [
      'truncated percent-encoding',
      { 'ce-subject': 'abc%4' },
      'EVENT_ATTRIBUTE_INVALID',
      /invalid percent-encoding at index 3/,
    ],
    [
      'non-hex percent-encoding',
      { 'ce-subject': '%zz' },
      'EVENT_ATTRIBUTE_INVALID',
      /invalid percent-encoding/,
    ],
    ['unterminated quoted string', { 'ce-subject': '"abc' }, 'EVENT_ATTRIBUTE_INVALID', /unterminated/],
    [
      'text after a quoted string',
      { 'ce-subject': '"abc"def' },
      'EVENT_ATTRIBUTE_INVALID',
      /after its closing/,
    ],
    [
      'ce-datacontenttype',
      { 'ce-datacontenttype': 'application/json' },
      'EVENT_ATTRIBUTE_INVALID',
      /not allowed in binary mode/,
    ],
    ['ce-data', { 'ce-data': 'x' }, 'EVENT_ATTRIBUTE_INVALID', /reserved/],
    [
      'invalid attribute name',
      { 'ce-my_ext': 'x' },
      'EVENT_ATTRIBUTE_INVALID',
      /does not name a valid attribute/,
    ],
    ['empty attribute name', { 'ce-': 'x' }, 'EVENT_ATTRIBUTE_INVALID', /does not name a valid attribute/],
    ['repeated header', { 'ce-ext': ['a', 'b'] }, 'EVENT_ATTRIBUTE_INVALID', /more than once/],
    [
      'same header in two cases',
      { 'ce-ext': 'a', 'CE-EXT': 'b' },
      'EVENT_ATTRIBUTE_INVALID',
      /more than once/,
    ],
    ['missing ce-id', { 'ce-id': '' }, 'EVENT_ATTRIBUTE_MISSING', /'ce-id'/],
    ['invalid ce-time', { 'ce-time': 'yesterday' }, 'EVENT_ATTRIBUTE_INVALID', /rfc 3339/],
    [
      'ce-specversion 0.3',
      { 'ce-specversion': '0.3', 'ce-schemaurl': 'x', 'ce-bad_name': 'y' },
      'EVENT_SPECVERSION_UNSUPPORTED',
      /'0\.3'/,
    ],
  ];
  for (const [name, headers, code, message] of headerRefusals) {
    void test(`refuses header: ${name}`, () => {
      refused({ ...binaryHeaders, ...headers }, '', code, message);
    });
  }

  void test('a missing ce-source is refused by name', () => {
    const { 'ce-source': _omitted, ...rest } = binaryHeaders;
    refused(rest, '', 'EVENT_ATTRIBUTE_MISSING', /'ce-source'/);
  });

  const decoded: [string, string][] = [
    ['Euro%20%E2%82%AC%20%F0%9F%98%80', 'Euro € 😀'],
    ['euro%20%e2%82%ac', 'euro €'], // lower-case hex is accepted
    ['%41%42C', 'ABC'], // unnecessary encoding is accepted
    ['  padded  ', 'padded'],
    ['"quoted value"', 'quoted value'],
    ['"with \\"escaped\\" quote"', 'with "escaped" quote'],
    ['"%22percent%22 after unquote"', '"percent" after unquote'],
    ['{"othervalue": 5}', '{"othervalue": 5}'], // older senders: raw space and quotes
    ['a"b', 'a"b'],
    ['100%25', '100%'],
  ];
  for (const [raw, value] of decoded) {
    void test(`header value ${raw} → ${value}`, () => {
      assert.equal(decodeHeaderValue(raw, 'ce-subject'), value);
      assert.equal(one({ ...binaryHeaders, 'ce-subject': raw }).subject, value);
    });
  }

  void test('encodeHeaderValue follows the spec example and round-trips', () => {
    assert.equal(encodeHeaderValue('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80');
    assert.equal(encodeHeaderValue('a "b" 100%'), 'a%20%22b%22%20100%25');
    for (const value of ['plain', 'Euro € 😀', '"%\u00e9', 'tab\there', 'x'.repeat(300), '/path?q=1&r=2#f']) {
      const encoded = encodeHeaderValue(value);
      assert.match(encoded, /^[\x21-\x7e]*$/);
      assert.equal(decodeHeaderValue(encoded, 'ce-x'), value);
    }
  });
});

void describe('structured mode', { timeout: 30_000 }, () => {
  void test('one event with JSON data', () => {
    const ev = one(
      STRUCTURED,
      structuredEvent({ datacontenttype: 'application/json', data: { message: 'Hello World!' } }),
    );
    assert.deepEqual(ev.data, { message: 'Hello World!' });
    assert.equal(ev.datacontenttype, 'application/json');
  });

  void test('data_base64 is kept as sent', () => {
    const ev = one(
      STRUCTURED,
      structuredEvent({ datacontenttype: 'image/png', data_base64: 'iVBORw0KGgo=' }),
    );
    assert.equal(ev.data_base64, 'iVBORw0KGgo=');
    assert.equal(Object.hasOwn(ev, 'data'), false);
  });

  void test('ce- headers are ignored in structured mode', () => {
    const ev = one({ ...STRUCTURED, 'ce-id': 'header-id', 'ce-extra': 'x' }, structuredEvent());
    assert.equal(ev.id, 's-1');
    assert.equal(ev.extra, undefined);
  });

  void test('__proto__ in data is kept as data and pollutes nothing', () => {
    const body = structuredEvent().replace(
      /}$/,
      ',"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
    );
    const ev = one(STRUCTURED, body);
    const data = ev.data as Record<string, unknown>;
    assert.ok(Object.hasOwn(data, '__proto__'));
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(JSON.parse(JSON.stringify(toJsonFormat(ev))).data, JSON.parse(body).data);
  });

  void test('__proto__ as an attribute is refused and pollutes nothing', () => {
    refused(
      STRUCTURED,
      structuredEvent().replace(/}$/, ',"__proto__":{"polluted":true}}'),
      'EVENT_ATTRIBUTE_INVALID',
      /'__proto__'/,
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  void test('duplicate keys inside data keep the last value', () => {
    const ev = one(STRUCTURED, structuredEvent().replace(/}$/, ',"data":{"a":1,"a":2}}'));
    assert.deepEqual(ev.data, { a: 2 });
  });

  void test('lone surrogate escapes: accepted in data, refused in attributes', () => {
    const ev = one(STRUCTURED, structuredEvent().replace(/}$/, ',"data":"\\ud800"}'));
    assert.equal(ev.data, '\ud800');
    refused(
      STRUCTURED,
      structuredEvent().replace(/}$/, ',"subject":"\\ud800"}'),
      'EVENT_ATTRIBUTE_INVALID',
      /unpaired surrogate/,
    );
  });

  const refusals: [string, string | Uint8Array, ErrorCode, RegExp?][] = [
    ['empty body', '', 'EVENT_MALFORMED_JSON', /empty/],
    ['an array', `[${structuredEvent()}]`, 'EVENT_MALFORMED_JSON', /cloudevents-batch\+json/],
    ['a string', '"event"', 'EVENT_MALFORMED_JSON', /got a string/],
    [
      'invalid UTF-8 C3 28',
      new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
      'EVENT_INVALID_UTF8',
      /byte offset 2/,
    ],
    ['overlong encoding', new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d]), 'EVENT_INVALID_UTF8'],
    [
      'NaN',
      structuredEvent().replace(/}$/, ',"data":NaN}'),
      'EVENT_MALFORMED_JSON',
      /unexpected character 'N'/,
    ],
    ['Infinity', structuredEvent().replace(/}$/, ',"data":Infinity}'), 'EVENT_MALFORMED_JSON'],
    [
      'a number too large',
      structuredEvent().replace(/}$/, ',"data":{"n":1e400}}'),
      'EVENT_MALFORMED_JSON',
      /too large/,
    ],
    [
      'an integer extension too large',
      structuredEvent().replace(/}$/, ',"ext":99999999999}'),
      'EVENT_ATTRIBUTE_INVALID',
      /not an integer between/,
    ],
    [
      'duplicate id',
      structuredEvent().replace(/}$/, ',"id":"other"}'),
      'EVENT_ATTRIBUTE_INVALID',
      /'id' appears more than once/,
    ],
    [
      'duplicate type via escape',
      structuredEvent().replace(/}$/, ',"\\u0074ype":"other"}'),
      'EVENT_ATTRIBUTE_INVALID',
      /'type' appears more than once/,
    ],
    [
      '10,000-deep data',
      structuredEvent().replace(/}$/, `,"data":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
      'EVENT_TOO_DEEP',
    ],
    ['invalid data_base64', structuredEvent({ data_base64: '***' }), 'EVENT_ATTRIBUTE_INVALID', /base64/],
    [
      'data and data_base64',
      structuredEvent({ data: 1, data_base64: 'eA==' }),
      'EVENT_ATTRIBUTE_INVALID',
      /not both/,
    ],
    ['specversion 0.3', structuredEvent({ specversion: '0.3' }), 'EVENT_SPECVERSION_UNSUPPORTED'],
    ['missing type', structuredEvent({ type: null }), 'EVENT_ATTRIBUTE_MISSING', /'type'/],
  ];
  for (const [name, body, code, message] of refusals) {
    void test(`refuses ${name}`, () => {
      refused(STRUCTURED, body, code, message);
    });
  }

  void test('10,000-deep nesting is refused fast', () => {
    const started = performance.now();
    refused(STRUCTURED, '['.repeat(10_000) + ']'.repeat(10_000), 'EVENT_TOO_DEEP');
    assert.ok(performance.now() - started < 1_000);
  });

  void test('10 MB of whitespace around an event parses', () => {
    const padding = ' '.repeat(5 * 1024 * 1024);
    const ev = one(STRUCTURED, `${padding}${structuredEvent()}${padding}`);
    assert.equal(ev.id, 's-1');
  });
});

void describe('batched mode', { timeout: 30_000 }, () => {
  const batchOf = (...events: string[]) => `[${events.join(',')}]`;

  void test('several events, in order', () => {
    const { events } = parse(
      BATCH,
      batchOf(structuredEvent({ id: 'a' }), structuredEvent({ id: 'b', data: [1] })),
    );
    assert.deepEqual(
      events.map((e) => e.id),
      ['a', 'b'],
    );
    assert.deepEqual(events[1]!.data, [1]);
  });

  void test('an empty batch is zero events', () => {
    assert.deepEqual(parse(BATCH, ' [ ] '), { mode: 'batch', events: [] });
  });

  void test('exactly the limit is accepted, one more is refused', () => {
    const five = Array.from({ length: 5 }, (_, i) => structuredEvent({ id: `e${i}` }));
    assert.equal(parse(BATCH, batchOf(...five)).events.length, 5);
    const error = refused(
      BATCH,
      batchOf(...five, structuredEvent()),
      'EVENT_BATCH_TOO_LARGE',
      /6 events \(limit 5\)/,
    );
    assert.deepEqual(error.details, { count: 6, limit: 5 });
  });

  const invalid: [string, string, number, ErrorCode][] = [
    ['a missing id', batchOf(structuredEvent(), structuredEvent({ id: null })), 1, 'EVENT_ATTRIBUTE_MISSING'],
    ['a non-object element', batchOf(structuredEvent(), structuredEvent(), '42'), 2, 'EVENT_MALFORMED_JSON'],
    ['a nested array', batchOf(`[${structuredEvent()}]`), 0, 'EVENT_MALFORMED_JSON'],
    [
      'a duplicate attribute',
      batchOf(structuredEvent(), structuredEvent().replace(/}$/, ',"source":"/x"}')),
      1,
      'EVENT_ATTRIBUTE_INVALID',
    ],
    [
      'a bad specversion',
      batchOf(structuredEvent({ specversion: '0.3' })),
      0,
      'EVENT_SPECVERSION_UNSUPPORTED',
    ],
    [
      'the first of two bad events',
      batchOf(structuredEvent(), structuredEvent({ time: 'x' }), structuredEvent({ id: '' })),
      1,
      'EVENT_ATTRIBUTE_INVALID',
    ],
  ];
  for (const [name, body, index, code] of invalid) {
    void test(`one invalid event refuses the whole batch: ${name}`, () => {
      const error = refused(BATCH, body, 'EVENT_BATCH_INVALID', new RegExp(`index ${index}`));
      assert.equal(error.details?.index, index);
      assert.equal(error.details?.code, code);
      assert.equal(typeof error.details?.message, 'string');
      assert.ok(error.message.includes(error.details?.message as string));
    });
  }

  void test('a duplicate key in a later element is reported at that element, after earlier problems', () => {
    const body = batchOf(structuredEvent({ id: '' }), structuredEvent().replace(/}$/, ',"id":"x"}'));
    const error = refused(BATCH, body, 'EVENT_BATCH_INVALID');
    assert.equal(error.details?.index, 0);
  });

  const refusals: [string, string, ErrorCode][] = [
    ['an object', structuredEvent(), 'EVENT_BATCH_INVALID'],
    ['a number', '1', 'EVENT_BATCH_INVALID'],
    ['null', 'null', 'EVENT_BATCH_INVALID'],
    ['malformed JSON', '[{]', 'EVENT_MALFORMED_JSON'],
    ['an empty body', '', 'EVENT_MALFORMED_JSON'],
    ['too deep', `[${'['.repeat(40)}${']'.repeat(40)}]`, 'EVENT_TOO_DEEP'],
  ];
  for (const [name, body, code] of refusals) {
    void test(`refuses ${name}`, () => {
      refused(BATCH, body, code);
    });
  }
});

void describe('toJsonFormat', { timeout: 30_000 }, () => {
  void test('stable key order: context attributes, sorted extensions, data', () => {
    const ev = one(
      STRUCTURED,
      JSON.stringify({
        data: { z: 1 },
        zext: 'z',
        type: 't',
        aext: 1,
        datacontenttype: 'application/json',
        source: '/s',
        time: '2020-01-01T00:00:00Z',
        id: 'i',
        specversion: '1.0',
        subject: 'sub',
        dataschema: 'https://example.com/s',
      }),
    );
    assert.deepEqual(Object.keys(toJsonFormat(ev)), [
      'specversion',
      'id',
      'source',
      'type',
      'subject',
      'time',
      'datacontenttype',
      'dataschema',
      'aext',
      'zext',
      'data',
    ]);
  });

  void test('keeps explicit null data, writes data_base64 for binary data, omits absent attributes', () => {
    assert.deepEqual(toJsonFormat(one(STRUCTURED, structuredEvent({ data: null }))), {
      specversion: '1.0',
      id: 's-1',
      source: '/tests/structured',
      type: 'test.structured',
      data: null,
    });
    const binary = toJsonFormat(
      one({ ...binaryHeaders, 'content-type': 'image/png' }, new Uint8Array([1, 2])),
    );
    assert.equal(binary.data_base64, 'AQI=');
    assert.equal(Object.hasOwn(binary, 'data'), false);
  });

  void test('drops keys that are not attribute names', () => {
    const hand = JSON.parse(
      '{"specversion":"1.0","id":"i","source":"/s","type":"t","__proto__":{"x":1},"Bad":1}',
    ) as CloudEvent;
    const out = toJsonFormat(hand);
    assert.deepEqual(Object.keys(out), ['specversion', 'id', 'source', 'type']);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });

  void test('round trip: structured output parses back to the same event', () => {
    const ev = one(
      { ...binaryHeaders, 'ce-subject': 'Euro%20%E2%82%AC', 'ce-n': '5', 'content-type': 'application/json' },
      '{"a":[1,"x",null]}',
    );
    const again = one(STRUCTURED, JSON.stringify(toJsonFormat(ev)));
    assert.deepEqual(again, ev);
  });
});

void describe('the stored JSON of a parsed event', { timeout: 30_000 }, () => {
  const structured = { 'content-type': 'application/cloudevents+json' };
  /** What the store writes for each event the binding parsed from `body`. */
  const stored = (headers: Headers, body: string): { events: CloudEvent[]; json: string[] } => {
    const parsed = parse(headers, body);
    return {
      events: parsed.events,
      json: parsed.events.map((event, i) => eventJson(event, parsed.dataJson?.[i])),
    };
  };

  test("keeps a structured event's data as it arrived, and parses to the same event", () => {
    const body =
      '{ "data" : {"n": 1.50, "list": [ 1,2 ], "s": "caf\\u00e9"},\n' +
      '  "source": "/s", "ext": "x", "id": "1", "type": "t", "specversion": "1.0", "nothing": null }';
    const { events, json } = stored(structured, body);
    const [event] = events;
    assert.equal(
      json[0],
      '{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":"x","data":{"n": 1.50, "list": [ 1,2 ], "s": "caf\\u00e9"}}',
    );
    assert.deepEqual(JSON.parse(json[0]), JSON.parse(JSON.stringify(event)));
    assert.deepEqual(Object.keys(JSON.parse(json[0]) as object), Object.keys(event!));
    const nullData = stored(
      structured,
      '{"specversion":"1.0","id":"1","source":"/s","type":"t","data" : null }',
    );
    assert.equal(nullData.json[0], '{"specversion":"1.0","id":"1","source":"/s","type":"t","data":null}');
  });

  test('is JSON.stringify of the event for batches, binary mode and events without data', () => {
    const cases: [Headers, string][] = [
      [
        { 'content-type': 'application/cloudevents-batch+json' },
        '[{"specversion":"1.0","id":"1","source":"/s","type":"t","data": {"a" : 1}}]',
      ],
      [
        {
          'ce-specversion': '1.0',
          'ce-id': '1',
          'ce-source': '/s',
          'ce-type': 't',
          'content-type': 'application/json',
        },
        '{"a" : 1}',
      ],
      [structured, '{"specversion":"1.0","id":"1","source":"/s","type":"t"}'],
      [structured, '{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AQI="}'],
    ];
    for (const [headers, body] of cases) {
      const { events, json } = stored(headers, body);
      assert.equal(json[0], JSON.stringify(events[0]), body);
    }
  });
});
