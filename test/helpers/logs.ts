/**
 * A logger whose JSON lines a test can read back, to check what was logged and with which code.
 */
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/observability/index.ts';

export interface LogCapture {
  readonly logger: ReturnType<typeof createLogger>;
  /** Every line logged so far, parsed. */
  lines(): Record<string, unknown>[];
}

export function logCapture(): LogCapture {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const logger = createLogger({ level: 'debug', format: 'json', destination: stream });
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
