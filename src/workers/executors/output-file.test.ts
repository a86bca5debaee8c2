import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJunctionError } from '../../errors/index.ts';
import { parseOutputFile, readOutputFile } from './output-file.ts';

const SECRET = 'hunter2-secret-value';

function invalid(pattern: RegExp, line?: number) {
  return (error: unknown): boolean => {
    assert.ok(
      isJunctionError(error, 'STEP_OUTPUT_INVALID'),
      `expected STEP_OUTPUT_INVALID, got ${String(error)}`,
    );
    assert.equal(error.httpStatus, 400);
    assert.equal(error.retryable, false);
    assert.match(error.message, pattern);
    if (line !== undefined) {
      assert.match(error.message, new RegExp(`line ${line}\\b`));
      assert.equal(error.details?.line, line);
    }
    assert.ok(!error.message.includes(SECRET), 'the message must not quote a value');
    return true;
  };
}

describe('parseOutputFile', () => {
  const valid: [string, string, Record<string, string>][] = [
    ['empty file', '', {}],
    ['only newlines', '\n\n\r\n', {}],
    ['one assignment', 'version=1.2.3\n', { version: '1.2.3' }],
    ['no final newline', 'a=1', { a: '1' }],
    ['empty value', 'a=\n', { a: '' }],
    ['value with = and <<', 'url=https://x/?a=b&c=<<d\n', { url: 'https://x/?a=b&c=<<d' }],
    ['value keeps spaces', 'msg=  padded  \n', { msg: '  padded  ' }],
    ['later assignment wins', 'a=1\nb=2\na=3\n', { a: '3', b: '2' }],
    ['names with _ and -', '_x=1\nA-b_9=2\n', { _x: '1', 'A-b_9': '2' }],
    ['CRLF lines', 'a=1\r\nb<<EOF\r\nx\r\ny\r\nEOF\r\n', { a: '1', b: 'x\ny' }],
    ['heredoc', 'notes<<EOF\nfirst\nsecond\nEOF\nafter=1\n', { notes: 'first\nsecond', after: '1' }],
    ['empty heredoc', 'a<<EOF\nEOF\n', { a: '' }],
    ['heredoc keeps empty lines', 'a<<EOF\n\nx\n\nEOF\n', { a: '\nx\n' }],
    [
      'delimiter as a substring of value lines does not end it',
      'a<<EOF\nEOF2\nxEOF\n EOF\nEOF \nEOF\n',
      { a: 'EOF2\nxEOF\n EOF\nEOF ' },
    ],
    ['heredoc value looks like assignments', 'a<<END\nb=2\nc<<X\nEND\n', { a: 'b=2\nc<<X' }],
    ['delimiter with odd characters', 'a<<ghadelimiter_$%=\nv\nghadelimiter_$%=\n', { a: 'v' }],
    ['heredoc overrides and is overridden', 'a=1\na<<E\n2\nE\n', { a: '2' }],
    ['unicode values', 'emoji=😀 café\n', { emoji: '😀 café' }],
  ];
  for (const [name, text, expected] of valid) {
    test(name, () => {
      assert.deepEqual(parseOutputFile(text), expected);
    });
  }

  test('__proto__ is an ordinary output, never the prototype', () => {
    const outputs = parseOutputFile('__proto__=x\nconstructor=y\n');
    assert.equal(Object.getPrototypeOf(outputs), Object.prototype);
    assert.deepEqual(Object.keys(outputs), ['__proto__', 'constructor']);
    assert.equal(Object.getOwnPropertyDescriptor(outputs, '__proto__')?.value, 'x');
  });

  const bad: [string, string, RegExp, number][] = [
    ['=value (empty name)', `=${SECRET}\n`, /name is empty/, 1],
    ['line without =', `a=1\n${SECRET}\n`, /expected 'name=value' or 'name<<DELIMITER'/, 2],
    ['name with a space', `my name=${SECRET}\n`, /" " at position 3/, 1],
    ['name starting with a digit', `1a=${SECRET}\n`, /"1" at position 1/, 1],
    ['name starting with -', `-a=${SECRET}\n`, /"-" at position 1/, 1],
    ['name with a dot', `\n\na.b=${SECRET}\n`, /"\." at position 2/, 3],
    ['secret-looking name', `${SECRET}:x=1\n`, /":" at position/, 1],
    ['heredoc never closed', `a=1\nb<<EOF\n${SECRET}\nEOFX\n`, /'b' is never closed/, 2],
    ['heredoc whose closing line only looks like the delimiter', 'b<<EOF\nEOF\u00a0\n', /never closed/, 1],
    ['heredoc without delimiter', `a<<\n${SECRET}\n`, /has no delimiter/, 1],
    ['heredoc with bad name', 'a b<<EOF\nx\nEOF\n', /" " at position 2/, 1],
    ['NUL byte', `a=1\nb=${SECRET}\0\n`, /NUL byte/, 2],
    ['NUL inside a heredoc', `a<<E\n\0\nE\n`, /NUL byte/, 2],
  ];
  for (const [name, text, pattern, line] of bad) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseOutputFile(text), invalid(pattern, line));
    });
  }

  test('refuses text over the cap, counted in UTF-8 bytes', () => {
    assert.deepEqual(parseOutputFile('a=1234', { maxBytes: 6 }), { a: '1234' });
    assert.throws(() => parseOutputFile('a=12345', { maxBytes: 6 }), invalid(/larger than 6 bytes/));
    assert.throws(() => parseOutputFile('a=éé', { maxBytes: 5 }), invalid(/larger than 5 bytes/));
    const huge = `a=${'x'.repeat(2 * 1024 * 1024)}\n`;
    assert.throws(() => parseOutputFile(huge), invalid(/larger than 1048576 bytes/));
  });

  test('many lines parse in bounded time', () => {
    const text = Array.from({ length: 50_000 }, (_, i) => `k${i % 100}=${i}`).join('\n');
    const outputs = parseOutputFile(text);
    assert.equal(Object.keys(outputs).length, 100);
    assert.equal(outputs.k99, '49999');
  });
});

describe('readOutputFile', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'junction-output-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a missing file means no outputs', async () => {
    assert.deepEqual(await readOutputFile(join(dir, 'never-written')), {});
  });

  test('reads what a real step appended', async () => {
    const file = join(dir, 'from-step');
    const script = [
      'echo "version=1.2.3" >> "$JUNCTION_OUTPUT"',
      '{ echo "notes<<EOF"; printf "line 1\\nline 2\\n"; echo EOF; } >> "$JUNCTION_OUTPUT"',
      'printf "win=1\\r\\n" >> "$JUNCTION_OUTPUT"',
    ].join('\n');
    const result = spawnSync('/bin/sh', ['-e', '-c', script], { env: { JUNCTION_OUTPUT: file } });
    assert.equal(result.status, 0, result.stderr.toString());
    assert.deepEqual(await readOutputFile(file), {
      version: '1.2.3',
      notes: 'line 1\nline 2',
      win: '1',
    });
  });

  test('an empty file and a BOM are fine', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    assert.deepEqual(await readOutputFile(empty), {});
    const bom = join(dir, 'bom');
    writeFileSync(bom, '\ufeffa=1\n');
    assert.deepEqual(await readOutputFile(bom), { a: '1' });
  });

  test('a huge sparse file is refused after reading at most the cap', async () => {
    const file = join(dir, 'huge');
    const fd = openSync(file, 'w');
    try {
      // 4 GiB apparent size, no disk used: reading it all would take long and exhaust memory.
      writeSync(fd, 'a=1\n', 4 * 1024 * 1024 * 1024 - 4);
    } finally {
      closeSync(fd);
    }
    const started = performance.now();
    await assert.rejects(readOutputFile(file), invalid(/larger than 1048576 bytes/));
    assert.ok(performance.now() - started < 2_000);
  });

  test('the cap is exact', async () => {
    const file = join(dir, 'at-cap');
    writeFileSync(file, 'a=12345678');
    assert.deepEqual(await readOutputFile(file, 10), { a: '12345678' });
    await assert.rejects(readOutputFile(file, 9), invalid(/larger than 9 bytes/));
  });

  test('invalid UTF-8 is refused with its line', async () => {
    const file = join(dir, 'binary');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from('a=1\nb=2\nc='), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]),
    );
    await assert.rejects(readOutputFile(file), invalid(/line 3: not valid UTF-8/, 3));
  });

  test('parse errors carry the line number', async () => {
    const file = join(dir, 'unclosed');
    writeFileSync(file, `a=1\r\nb<<EOF\r\n${SECRET}\r\n`);
    await assert.rejects(readOutputFile(file), invalid(/line 2: the value of 'b' is never closed/, 2));
  });

  test('a directory, a FIFO and a symlink are refused without blocking', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    await assert.rejects(readOutputFile(sub), invalid(/not a regular file/));

    const fifo = join(dir, 'a-fifo');
    const made = spawnSync('mkfifo', [fifo]);
    assert.equal(made.status, 0, 'mkfifo is needed for this test');
    await assert.rejects(readOutputFile(fifo), invalid(/not a regular file/));

    const target = join(dir, 'target');
    writeFileSync(target, `token=${SECRET}\n`);
    const link = join(dir, 'a-link');
    symlinkSync(target, link);
    await assert.rejects(readOutputFile(link), invalid(/is a symbolic link/));
  });
});
