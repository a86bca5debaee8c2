import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertName, checkMessage, retryDelay, subscribeSettings } from './validate.ts';

const data = new Uint8Array(0);

void describe('bus validation', { timeout: 10_000 }, () => {
  void it('accepts names of [A-Za-z0-9_-], 1 to 100 long', () => {
    for (const name of ['a', 'A-b_9', 'x'.repeat(100)]) assertName('topic', name);
  });

  void it('rejects other names with BUS_TOPIC_INVALID quoting the name', () => {
    for (const name of ['', 'a.b', 'a>', 'é', 'x'.repeat(101), 7]) {
      assert.throws(() => assertName('group', name), { code: 'BUS_TOPIC_INVALID' });
    }
    assert.throws(() => assertName('topic', 'a.b'), { message: /topic name 'a\.b' is invalid/ });
  });

  void it('returns trimmed headers, or undefined when there are none', () => {
    assert.equal(checkMessage({ id: 'a', data }), undefined);
    assert.equal(checkMessage({ id: 'a', data, headers: {} }), undefined);
    assert.deepEqual(checkMessage({ id: 'a', data, headers: { 'X-Y': ' v ', e: '' } }), {
      'X-Y': 'v',
      e: '',
    });
  });

  void it('rejects ids, data and headers no bus can carry with BUS_MESSAGE_INVALID', () => {
    const bad = [
      { id: '', data },
      { id: 'x'.repeat(1025), data },
      { id: 'a\rb', data },
      { id: 'a', data: 'text' },
      { id: 'a', data, headers: { '': 'v' } },
      { id: 'a', data, headers: { 'a b': 'v' } },
      { id: 'a', data, headers: { 'nats-expected-stream': 'v' } },
      { id: 'a', data, headers: { h: 'a\nb' } },
      { id: 'a', data, headers: { h: 5 } },
    ];
    for (const message of bad) {
      assert.throws(
        () => checkMessage(message as never),
        { code: 'BUS_MESSAGE_INVALID' },
        JSON.stringify(message),
      );
    }
  });

  void it('applies subscribe defaults and ignores nonsense', () => {
    assert.deepEqual(subscribeSettings(undefined), { maxInFlight: 1, retryDelayMs: 1000 });
    assert.deepEqual(subscribeSettings({ maxInFlight: 4.7, retryDelayMs: 5 }), {
      maxInFlight: 4,
      retryDelayMs: 5,
    });
    assert.deepEqual(subscribeSettings({ maxInFlight: 0, retryDelayMs: -1 }), {
      maxInFlight: 1,
      retryDelayMs: 1000,
    });
    assert.equal(retryDelay(1.2, 9), 2);
    assert.equal(retryDelay(-1, 9), 9);
    assert.equal(retryDelay(Infinity, 9), 9);
  });
});
