import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJunctionError, type ErrorCode } from '../errors/index.ts';
import {
  isAbsoluteUri,
  isBase64,
  isJsonMediaType,
  isRfc3339Timestamp,
  isTextMediaType,
  isUriReference,
  parseMediaType,
  quote,
  validateCloudEvent,
} from './validate.ts';

const base = { specversion: '1.0', id: 'e-1', source: '/tests', type: 'test.happened' } as const;
const event = (extra: Record<string, unknown>, drop: string[] = []): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base, ...extra };
  for (const name of drop) delete out[name];
  return out;
};

function expectError(raw: unknown, code: ErrorCode, attribute?: string, message?: RegExp): void {
  assert.throws(
    () => validateCloudEvent(raw),
    (error: unknown) => {
      assert.ok(isJunctionError(error), String(error));
      assert.equal(error.code, code, error.message);
      if (attribute !== undefined) assert.equal(error.details?.attribute, attribute, error.message);
      if (message !== undefined) assert.match(error.message, message);
      assert.doesNotMatch(error.message, /^[A-Z]/);
      assert.doesNotMatch(error.message, /\.$/);
      return true;
    },
  );
}

void describe('validateCloudEvent: accepted events', { timeout: 30_000 }, () => {
  const accepted: [string, Record<string, unknown>][] = [
    ['the minimum', event({})],
    [
      'every optional attribute',
      event({
        subject: 'larger-context',
        time: '2018-04-05T17:31:00Z',
        datacontenttype: 'application/json; charset=utf-8',
        dataschema: 'https://example.com/schema.json#/defs/x',
        data: { a: 1 },
      }),
    ],
    [
      'string, integer and boolean extensions',
      event({ comexampleextension1: 'value', n: -2147483648, m: 2147483647, flag: false }),
    ],
    [
      'an extension name longer than 20 characters (a recommendation only)',
      event({ averyveryverylongextensionname: 'x' }),
    ],
    ['a digit-first extension name', event({ '1abc': 'x' })],
    ['explicit null data', event({ data: null })],
    ['data_base64', event({ datacontenttype: 'image/png', data_base64: 'iVBORw0KGgo=' })],
    ['empty data_base64', event({ data_base64: '' })],
    [
      'null attributes (treated as absent)',
      event({ subject: null, time: null, unsetextension: null, data_base64: null }),
    ],
    [
      'non-JSON datacontenttype with string data',
      event({ datacontenttype: 'text/xml', data: '<much wow="xml"/>' }),
    ],
    ['source as URN', event({ source: 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66' })],
    ['source as mailto', event({ source: 'mailto:cncf-wg-serverless@lists.cncf.io' })],
    ['source as phone-number-like relative ref', event({ source: '1-555-123-4567' })],
    ['source with IPv6 host and port', event({ source: 'https://[2001:db8::1]:8443/a?b=c#d' })],
    ['emoji and paired surrogates in subject', event({ subject: 'Euro € 😀 \ud800\udead' })],
  ];
  for (const [name, raw] of accepted) {
    void test(name, () => {
      const out = validateCloudEvent(raw);
      for (const [key, value] of Object.entries(raw)) {
        if (value === null && key !== 'data') assert.equal(Object.hasOwn(out, key), false, key);
        else assert.deepEqual(out[key], value, key);
      }
    });
  }

  void test('output key order: context attributes, extensions in arrival order, then data', () => {
    const out = validateCloudEvent({
      data: 1,
      zeta: 'z',
      type: 't',
      alpha: 'a',
      time: '2020-01-01T00:00:00Z',
      id: 'i',
      source: '/s',
      specversion: '1.0',
    });
    assert.deepEqual(Object.keys(out), [
      'specversion',
      'id',
      'source',
      'type',
      'time',
      'zeta',
      'alpha',
      'data',
    ]);
  });

  void test('does not invent a time, trim or re-case anything', () => {
    const out = validateCloudEvent(event({ subject: ' Mixed Case ' }));
    assert.equal(out.time, undefined);
    assert.equal(out.subject, ' Mixed Case ');
  });

  void test('returns a new object and ignores inherited properties', () => {
    const raw = Object.create({ id: 'inherited', extra: 'x' }) as Record<string, unknown>;
    Object.assign(raw, { specversion: '1.0', source: '/s', type: 't' });
    expectError(raw, 'EVENT_ATTRIBUTE_MISSING', 'id');
    const input = event({});
    assert.notEqual(validateCloudEvent(input), input);
  });
});

void describe('validateCloudEvent: refused events', { timeout: 30_000 }, () => {
  const refused: [string, unknown, ErrorCode, string | undefined][] = [
    ['null', null, 'EVENT_MALFORMED_JSON', undefined],
    ['an array', [base], 'EVENT_MALFORMED_JSON', undefined],
    ['a string', 'event', 'EVENT_MALFORMED_JSON', undefined],
    ['no specversion', event({}, ['specversion']), 'EVENT_ATTRIBUTE_MISSING', 'specversion'],
    ['null specversion', event({ specversion: null }), 'EVENT_ATTRIBUTE_MISSING', 'specversion'],
    ['specversion 0.3', event({ specversion: '0.3' }), 'EVENT_SPECVERSION_UNSUPPORTED', 'specversion'],
    ['specversion 1.0.2', event({ specversion: '1.0.2' }), 'EVENT_SPECVERSION_UNSUPPORTED', 'specversion'],
    ['specversion as a number', event({ specversion: 1.0 }), 'EVENT_SPECVERSION_UNSUPPORTED', 'specversion'],
    [
      '0.3 event is refused for its version, not its attributes',
      { specversion: '0.3', schemaurl: 'x' },
      'EVENT_SPECVERSION_UNSUPPORTED',
      'specversion',
    ],
    ['no id', event({}, ['id']), 'EVENT_ATTRIBUTE_MISSING', 'id'],
    ['empty id', event({ id: '' }), 'EVENT_ATTRIBUTE_MISSING', 'id'],
    ['null source', event({ source: null }), 'EVENT_ATTRIBUTE_MISSING', 'source'],
    ['no type', event({}, ['type']), 'EVENT_ATTRIBUTE_MISSING', 'type'],
    ['numeric id', event({ id: 42 }), 'EVENT_ATTRIBUTE_INVALID', 'id'],
    ['object type', event({ type: { a: 1 } }), 'EVENT_ATTRIBUTE_INVALID', 'type'],
    ['source with a space', event({ source: '/my source' }), 'EVENT_ATTRIBUTE_INVALID', 'source'],
    ['source with a bad percent-escape', event({ source: '/a%zz' }), 'EVENT_ATTRIBUTE_INVALID', 'source'],
    [
      'source with unicode (an IRI, not a URI)',
      event({ source: '/café' }),
      'EVENT_ATTRIBUTE_INVALID',
      'source',
    ],
    ['source with two fragments', event({ source: '/a#b#c' }), 'EVENT_ATTRIBUTE_INVALID', 'source'],
    [
      'relative source whose first segment has a colon',
      event({ source: ':a/b' }),
      'EVENT_ATTRIBUTE_INVALID',
      'source',
    ],
    ['source with a bad port', event({ source: 'http://host:80a/' }), 'EVENT_ATTRIBUTE_INVALID', 'source'],
    [
      'relative dataschema',
      event({ dataschema: '/schemas/x.json' }),
      'EVENT_ATTRIBUTE_INVALID',
      'dataschema',
    ],
    ['empty dataschema', event({ dataschema: '' }), 'EVENT_ATTRIBUTE_INVALID', 'dataschema'],
    ['time without zone', event({ time: '2018-04-05T17:31:00' }), 'EVENT_ATTRIBUTE_INVALID', 'time'],
    ['time with a space', event({ time: '2018-04-05 17:31:00Z' }), 'EVENT_ATTRIBUTE_INVALID', 'time'],
    ['time on 30 February', event({ time: '2018-02-30T00:00:00Z' }), 'EVENT_ATTRIBUTE_INVALID', 'time'],
    ['time as epoch number', event({ time: 1522949460 }), 'EVENT_ATTRIBUTE_INVALID', 'time'],
    ['empty subject', event({ subject: '' }), 'EVENT_ATTRIBUTE_INVALID', 'subject'],
    ['numeric subject', event({ subject: 5 }), 'EVENT_ATTRIBUTE_INVALID', 'subject'],
    [
      'datacontenttype that is not a media type',
      event({ datacontenttype: 'json' }),
      'EVENT_ATTRIBUTE_INVALID',
      'datacontenttype',
    ],
    ['uppercase extension name', event({ myExt: 'x' }), 'EVENT_ATTRIBUTE_INVALID', 'myExt'],
    ['extension name with underscore', event({ my_ext: 'x' }), 'EVENT_ATTRIBUTE_INVALID', 'my_ext'],
    ['extension name with dash', event({ 'my-ext': 'x' }), 'EVENT_ATTRIBUTE_INVALID', 'my-ext'],
    [
      '__proto__ as an attribute',
      JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":{"polluted":true}}'),
      'EVENT_ATTRIBUTE_INVALID',
      '__proto__',
    ],
    ['empty attribute name', event({ '': 'x' }), 'EVENT_ATTRIBUTE_INVALID', ''],
    ['object extension', event({ ext: { a: 1 } }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['array extension', event({ ext: ['a'] }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['fractional extension', event({ ext: 1.5 }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['extension above int32', event({ ext: 2147483648 }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['extension below int32', event({ ext: -2147483649 }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['huge number extension', event({ ext: 1e300 }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['LF in id', event({ id: 'a\nX-Evil: 1' }), 'EVENT_ATTRIBUTE_INVALID', 'id'],
    ['CR LF in subject', event({ subject: 'a\r\nb' }), 'EVENT_ATTRIBUTE_INVALID', 'subject'],
    ['NUL in type', event({ type: 't\u0000' }), 'EVENT_ATTRIBUTE_INVALID', 'type'],
    ['tab in an extension', event({ ext: 'a\tb' }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['C1 control in source', event({ source: '/a\u0085' }), 'EVENT_ATTRIBUTE_INVALID', 'source'],
    ['DEL in subject', event({ subject: 'a\u007f' }), 'EVENT_ATTRIBUTE_INVALID', 'subject'],
    ['noncharacter in subject', event({ subject: 'a\uFFFE' }), 'EVENT_ATTRIBUTE_INVALID', 'subject'],
    ['supplementary noncharacter', event({ ext: 'a\u{1FFFF}' }), 'EVENT_ATTRIBUTE_INVALID', 'ext'],
    ['lone high surrogate in subject', event({ subject: '\ud800' }), 'EVENT_ATTRIBUTE_INVALID', 'subject'],
    ['lone low surrogate in id', event({ id: 'x\udead' }), 'EVENT_ATTRIBUTE_INVALID', 'id'],
    [
      'data and data_base64 together',
      event({ data: 'x', data_base64: 'eA==' }),
      'EVENT_ATTRIBUTE_INVALID',
      'data_base64',
    ],
    [
      'null data with data_base64',
      event({ data: null, data_base64: 'eA==' }),
      'EVENT_ATTRIBUTE_INVALID',
      'data_base64',
    ],
    [
      'data_base64 not base64',
      event({ data_base64: 'not base64!' }),
      'EVENT_ATTRIBUTE_INVALID',
      'data_base64',
    ],
    ['data_base64 without padding', event({ data_base64: 'eA' }), 'EVENT_ATTRIBUTE_INVALID', 'data_base64'],
    ['data_base64 url alphabet', event({ data_base64: 'a-_b' }), 'EVENT_ATTRIBUTE_INVALID', 'data_base64'],
    ['data_base64 as a number', event({ data_base64: 5 }), 'EVENT_ATTRIBUTE_INVALID', 'data_base64'],
  ];
  for (const [name, raw, code, attribute] of refused) {
    void test(name, () => {
      expectError(raw, code, attribute);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  void test('messages quote the value safely and cut it short', () => {
    expectError(event({ time: 'x'.repeat(500) }), 'EVENT_ATTRIBUTE_INVALID', 'time', /^time 'x{64}…' is not/);
    assert.equal(quote("a'b\nc"), "'a\\u0027b\\u000ac'");
  });
});

void describe('attribute type helpers', { timeout: 30_000 }, () => {
  void test('isRfc3339Timestamp', () => {
    for (const ok of [
      '2018-04-05T17:31:00Z',
      '2018-04-05t17:31:00z',
      '2018-04-05T17:31:00.123456789+05:30',
      '2020-02-29T00:00:00Z',
      '2016-12-31T23:59:60Z',
      '0001-01-01T00:00:00-23:59',
      '2000-02-29T12:00:00+00:00',
      '2018-04-30T23:59:59.5z',
    ]) {
      assert.ok(isRfc3339Timestamp(ok), ok);
    }
    for (const bad of [
      '2019-02-29T00:00:00Z',
      '2018-13-01T00:00:00Z',
      '2018-04-05T24:00:00Z',
      '2018-04-05T17:31Z',
      '2018-04-05',
      '2018-04-05T17:31:00+0530',
      '2018-04-05T17:31:00.Z',
      ' 2018-04-05T17:31:00Z',
      '1900-02-29T00:00:00Z',
      '2018-04-31T00:00:00Z',
      '2018-04-05T17:60:00Z',
      '2018-04-05T17:31:61Z',
      '2018-04-05T17:31:00+24:00',
      '2018-04-05T17:31:00-05:60',
      '2018-00-05T17:31:00Z',
      '2018-04-00T17:31:00Z',
    ]) {
      assert.ok(!isRfc3339Timestamp(bad), bad);
    }
  });

  void test('isUriReference and isAbsoluteUri', () => {
    for (const ok of [
      '',
      '/',
      'a',
      './a:b',
      '?q',
      '#f',
      '//host',
      'https://u:p@h.example:8080/p/a%20b?x=1&y#frag',
      'urn:a:b',
      'http://[v1.fe]/',
    ]) {
      assert.ok(isUriReference(ok), ok);
    }
    for (const bad of [
      'a b',
      '/<x>',
      'http://h/[x]',
      'http://[::1/',
      '%',
      '%4',
      'a:b c',
      '\\a',
      'http://a@b@c/',
    ]) {
      assert.ok(!isUriReference(bad), bad);
    }
    assert.ok(isAbsoluteUri('https://example.com/x'));
    assert.ok(isAbsoluteUri('urn:x'));
    assert.ok(!isAbsoluteUri('//example.com/x'));
    assert.ok(!isAbsoluteUri('/x'));
  });

  void test('isBase64', () => {
    for (const ok of ['', 'Zg==', 'Zm8=', 'Zm9v', 'Zm9vYg==', '+/+/']) assert.ok(isBase64(ok), ok);
    for (const bad of ['Z', 'Zg=', 'Zg===', 'Zm9v\n', 'Zm 9v', '=Zg=', 'Zg==Zg=='])
      assert.ok(!isBase64(bad), bad);
  });

  void test('parseMediaType', () => {
    const json = parseMediaType('Application/JSON; Charset="UTF-8"; foo=bar;');
    assert.equal(json?.essence, 'application/json');
    assert.equal(json?.parameters.get('charset'), 'UTF-8');
    assert.equal(json?.parameters.get('foo'), 'bar');
    assert.equal(parseMediaType('text/plain;a="x\\"y"')?.parameters.get('a'), 'x"y');
    for (const bad of [
      '',
      'json',
      'application/',
      '/json',
      'a/b c',
      'a/b; =x',
      'a/b; x',
      'a/b; x="y',
      'a/b; x=y z',
      'a b/c',
    ]) {
      assert.equal(parseMediaType(bad), undefined, bad);
    }
  });

  void test('JSON and text media types', () => {
    const media = (text: string) => parseMediaType(text)!;
    for (const t of [
      'application/json',
      'text/json',
      'application/vnd.api+json',
      'application/cloudevents+json',
    ]) {
      assert.ok(isJsonMediaType(media(t)), t);
    }
    for (const t of ['application/jsonp', 'application/x-json-stream', 'text/plain'])
      assert.ok(!isJsonMediaType(media(t)), t);
    for (const t of [
      'text/plain',
      'text/csv',
      'application/xml',
      'image/svg+xml',
      'application/x-www-form-urlencoded',
      'application/yaml',
    ]) {
      assert.ok(isTextMediaType(media(t)), t);
    }
    for (const t of ['application/octet-stream', 'image/png', 'application/protobuf'])
      assert.ok(!isTextMediaType(media(t)), t);
  });
});

void describe('remembered answers', { timeout: 30_000 }, () => {
  test('a source or media type seen before gets the same answer, past the bound too', () => {
    const event = (source: string, datacontenttype: string): unknown => ({
      specversion: '1.0',
      id: '1',
      type: 't',
      source,
      datacontenttype,
    });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) {
        assert.equal(validateCloudEvent(event(`/s/${i}`, `application/x-${i}+json`)).source, `/s/${i}`);
      }
      for (const bad of ['http://a b', 'x:y:z/ /', '%zz']) {
        assert.throws(() => validateCloudEvent(event(bad, 'application/json')), /not a uri-reference/);
      }
      assert.throws(() => validateCloudEvent(event('/s/1', 'no-slash')), /not a media type/);
      assert.equal(parseMediaType('no-slash'), undefined);
      assert.equal(parseMediaType('Text/Plain; Charset="utf-8"')?.parameters.get('charset'), 'utf-8');
    }
  });
});
