import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger } from '../observability/index.ts';
import { lazyRequestLogger } from './request-logger.ts';

void describe('the request logger', { timeout: 30_000 }, () => {
  test('becomes pino’s child on first use, with the bindings, and not before', async () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').trim().split('\n')));
    const parent = createLogger({ level: 'info', format: 'json', destination });
    let children = 0;
    const counting = Object.assign(Object.create(parent) as typeof parent, {
      child: (...args: Parameters<typeof parent.child>) => {
        children += 1;
        return parent.child(...args);
      },
    });
    const loggers = Array.from({ length: 100 }, (_, i) =>
      lazyRequestLogger(counting, { reqId: `r${i}` }, {}),
    );
    assert.equal(children, 0, 'no child until something logs');

    const log = loggers[7]!;
    log.error({ code: 'X' }, 'request failed');
    log.info('second line');
    log.debug('below the level');
    assert.equal(children, 1);
    assert.equal(log.level, 'info');
    log.child({ extra: 1 }).warn('from a grandchild');
    await new Promise((resolve) => setImmediate(resolve));
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      records.map((r) => [r['reqId'], r['msg'], r['code'] ?? r['extra']]),
      [
        ['r7', 'request failed', 'X'],
        ['r7', 'second line', undefined],
        ['r7', 'from a grandchild', 1],
      ],
    );
  });
});
