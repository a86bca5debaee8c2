import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isJunctionError, JunctionError } from '../errors/index.ts';
import { configFromSource, loadConfig } from './load-config.ts';
import { configProblemsOf, formatConfigProblems } from './problems.ts';
import type { ConfigProblem, JunctionConfig } from './types.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'junction-config-load-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh folder holding `junction.yaml` with `text` (or no file when text is undefined). */
function project(text?: string): string {
  counter += 1;
  const dir = path.join(root, `p${counter}`);
  mkdirSync(dir, { recursive: true });
  if (text !== undefined) writeFileSync(path.join(dir, 'junction.yaml'), text);
  return dir;
}

/** The problems of a load that must fail with `code`. */
async function problemsOf(
  promise: Promise<unknown>,
  code: 'CONFIG_INVALID' | 'CONFIG_ENV_MISSING' = 'CONFIG_INVALID',
): Promise<readonly ConfigProblem[]> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isJunctionError(err, code), `expected ${code}, got ${String(err)}`);
    return configProblemsOf(err);
  }
  assert.fail('expected the configuration to be refused');
}

/** Problems as `line:column path: message` for compact assertions. */
const brief = (problems: readonly ConfigProblem[]): string[] =>
  problems.map((p) => `${p.line ?? '-'}:${p.column ?? '-'} ${p.path}: ${p.message}`);

void describe('loadConfig', { timeout: 30_000 }, () => {
  void test('no file and nothing named: defaults, relative to the working folder', async () => {
    const cwd = project();
    const loaded = await loadConfig({ cwd, env: {} });
    assert.equal(loaded.path, undefined);
    assert.deepEqual(loaded.secrets, new Set());
    const expected: JunctionConfig = {
      dataDir: path.join(cwd, '.junction'),
      server: {
        host: '127.0.0.1',
        port: 8080,
        bodyLimitBytes: 1024 * 1024,
        maxJsonDepth: 64,
        maxBatchEvents: 1000,
        allowAnonymousEmit: false,
        requestTimeoutMs: 30_000,
      },
      store: { url: `sqlite:${path.join(cwd, '.junction', 'junction.db')}`, durability: 'normal' },
      bus: { url: 'embedded', prefix: 'junction' },
      intake: { maxPendingEvents: 10_000, maxBatchWaitMs: 2 },
      pipelines: { dir: path.join(cwd, 'pipelines') },
      workers: {
        concurrency: 4,
        workspaceDir: path.join(cwd, '.junction', 'workspaces'),
        keepWorkspaces: false,
        leaseMs: 30_000,
        shutdownGraceMs: 10_000,
      },
      schemas: {},
      log: { level: 'info', format: 'json' },
      sources: [],
      notifiers: [],
      environments: [],
    };
    assert.deepEqual(loaded.config, expected);
  });

  void test('an empty file gives the defaults', async () => {
    const cwd = project('# nothing here\n');
    const loaded = await loadConfig({ cwd, env: {} });
    assert.equal(loaded.path, path.join(cwd, 'junction.yaml'));
    assert.equal(loaded.config.server.port, 8080);
  });

  void test('a full valid file', async () => {
    const cwd = project(`
dataDir: /var/lib/junction
server:
  host: 0.0.0.0
  port: 9443
  publicUrl: https://junction.example.com
  tls:
    cert: tls/cert.pem
    key: /etc/junction/key.pem
  bodyLimit: 512KiB
  maxJsonDepth: 32
  maxBatchEvents: 50
  allowAnonymousEmit: true
  requestTimeout: 2m
store:
  url: postgres://junction:pw@db.internal:5432/junction
  durability: full
bus:
  url: nats://a:4222,nats://b:4222
  prefix: prod
intake:
  maxPendingEvents: 500
  maxBatchWaitMs: 0
pipelines:
  dir: ../shared-pipelines
schemas:
  dir: schemas
log:
  level: debug
  format: pretty
sources:
  - name: github
    type: github
    secret: hush
    events: [push]
  - name: registry
    type: registry
    token: tok
`);
    const loaded = await loadConfig({ cwd, env: {} });
    const expected: JunctionConfig = {
      dataDir: '/var/lib/junction',
      server: {
        host: '0.0.0.0',
        port: 9443,
        publicUrl: 'https://junction.example.com',
        tls: { cert: path.join(cwd, 'tls', 'cert.pem'), key: '/etc/junction/key.pem' },
        bodyLimitBytes: 512 * 1024,
        maxJsonDepth: 32,
        maxBatchEvents: 50,
        allowAnonymousEmit: true,
        requestTimeoutMs: 120_000,
      },
      store: { url: 'postgres://junction:pw@db.internal:5432/junction', durability: 'full' },
      bus: { url: 'nats://a:4222,nats://b:4222', prefix: 'prod' },
      intake: { maxPendingEvents: 500, maxBatchWaitMs: 0 },
      pipelines: { dir: path.join(path.dirname(cwd), 'shared-pipelines') },
      workers: {
        concurrency: 4,
        workspaceDir: path.join('/var/lib/junction', 'workspaces'),
        keepWorkspaces: false,
        leaseMs: 30_000,
        shutdownGraceMs: 10_000,
      },
      schemas: { dir: path.join(cwd, 'schemas') },
      log: { level: 'debug', format: 'pretty' },
      sources: [
        { name: 'github', type: 'github', secret: 'hush', events: ['push'] },
        { name: 'registry', type: 'registry', token: 'tok' },
      ],
      notifiers: [],
      environments: [],
    };
    assert.deepEqual(loaded.config, expected);
    assert.deepEqual(loaded.secrets, new Set(['pw', 'hush', 'tok']));
  });

  void test('string shorthands for store and bus', async () => {
    const cwd = project('store: sqlite:data/j.db\nbus: nats://127.0.0.1:4222\n');
    const { config } = await loadConfig({ cwd, env: {} });
    assert.deepEqual(config.store, { url: `sqlite:${path.join(cwd, 'data', 'j.db')}`, durability: 'normal' });
    assert.deepEqual(config.bus, { url: 'nats://127.0.0.1:4222', prefix: 'junction' });
  });

  void test('every problem is reported at once, with line and column', async () => {
    const cwd = project(
      [
        'server:', //                 1
        '  prot: 8080', //            2
        '  port: 70000', //           3
        '  bodyLimit: 2XB', //        4
        'log:', //                    5
        '  level: verbose', //        6
        '  colour: red', //           7
        'pipeline:', //               8
        '  dir: p', //                9
      ].join('\n'),
    );
    let caught: unknown;
    try {
      await loadConfig({ cwd, env: {} });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof JunctionError);
    assert.equal(caught.code, 'CONFIG_INVALID');
    assert.equal(caught.message, 'junction.yaml has 6 problems');
    assert.deepEqual(brief(configProblemsOf(caught)), [
      "2:3 server.prot: unknown key 'prot' (did you mean 'port'?)",
      '3:9 server.port: must be <= 65535',
      "4:14 server.bodyLimit: must be a size such as '512KiB', '1MiB' or '2MB' (units B, KB, MB, GB, KiB, MiB, GiB) or whole bytes, got '2XB'",
      "6:10 log.level: must be one of 'debug', 'info', 'warn', 'error', got 'verbose'",
      "7:3 log.colour: unknown key 'colour' (valid keys: level, format)",
      "8:1 pipeline: unknown key 'pipeline' (did you mean 'pipelines'?)",
    ]);
    assert.ok(configProblemsOf(caught).every((p) => p.file === 'junction.yaml'));
    assert.equal(
      formatConfigProblems(caught).split('\n')[1],
      'junction.yaml:3:9 server.port: must be <= 65535',
    );
  });

  void test('wrong types name what was expected and what was found', async () => {
    const cwd = project('server:\n  port: "eighty"\n  allowAnonymousEmit: 1\nsources: {}\nbus: 5\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.deepEqual(brief(problems), [
      "2:9 server.port: must be an integer, got 'eighty'",
      '3:23 server.allowAnonymousEmit: must be true or false, got 1',
      '4:10 sources: must be a list, got a mapping',
      '5:6 bus: must be a string or a mapping, got 5',
    ]);
  });

  void test('a secret is never quoted in a message', async () => {
    const cwd = project('sources:\n  - name: a\n    type: github\n    secret: 123456789\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.deepEqual(brief(problems), ['4:13 sources[0].secret: must be a string']);
    const urlCwd = project('store: postgres://u:topsecret@db:x/y\nbus: nats://u:topsecret@\n');
    const urlProblems = await problemsOf(loadConfig({ cwd: urlCwd, env: {} }));
    assert.equal(urlProblems.length, 2);
    for (const p of urlProblems) assert.doesNotMatch(p.message, /topsecret/);
  });

  void test('${VAR}, ${VAR:-default} and $${ in values', async () => {
    const cwd = project(
      [
        'server:',
        '  host: ${HOST}',
        '  port: ${PORT}',
        '  allowAnonymousEmit: ${OPEN:-false}',
        '  publicUrl: "https://${DOMAIN:-localhost}/x"',
        'bus:',
        "  prefix: 'p${SUFFIX:-1}'",
        'sources:',
        '  - name: hook',
        '    type: generic',
        '    secret: ${HOOK_SECRET}',
        '    template: $${{ event.id }}',
      ].join('\n'),
    );
    const loaded = await loadConfig({ cwd, env: { HOST: '0.0.0.0', PORT: '9090', HOOK_SECRET: 's3' } });
    assert.equal(loaded.config.server.host, '0.0.0.0');
    assert.equal(loaded.config.server.port, 9090);
    assert.equal(loaded.config.server.allowAnonymousEmit, false);
    assert.equal(loaded.config.server.publicUrl, 'https://localhost/x');
    assert.equal(loaded.config.bus.prefix, 'p1');
    assert.equal(loaded.config.sources[0]!.secret, 's3');
    assert.equal(loaded.config.sources[0]!['template'], '${{ event.id }}');
    assert.ok(loaded.secrets.has('s3'));
  });

  void test('an unset variable is a problem at its position; only such problems give CONFIG_ENV_MISSING', async () => {
    const text = 'server:\n  host: ${HOST}\n  publicUrl: "https://x/${NOPE}"\n';
    const cwd = project(text);
    const problems = await problemsOf(loadConfig({ cwd, env: {} }), 'CONFIG_ENV_MISSING');
    assert.deepEqual(brief(problems), [
      "2:9 server.host: environment variable 'HOST' is not set (write ${HOST:-default} for a fallback)",
      "3:25 server.publicUrl: environment variable 'NOPE' is not set (write ${NOPE:-default} for a fallback)",
    ]);
    const mixed = project(`${text}  port: -1\n`);
    const all = await problemsOf(loadConfig({ cwd: mixed, env: {} }), 'CONFIG_INVALID');
    assert.equal(all.length, 3);
  });

  void test('a malformed reference is a problem', async () => {
    const cwd = project('server:\n  host: "${{ nope }}"\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /invalid reference/);
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [2, 10]);
  });

  void test('references in keys and comments are left alone', async () => {
    const cwd = project('# ${NOT_A_VAR}\nsources:\n  - name: a\n    type: t\n    ${KEY}: 1\n');
    const { config } = await loadConfig({ cwd, env: {} });
    assert.equal(config.sources[0]!['${KEY}'], 1);
  });

  void test('environment overrides beat the file', async () => {
    const cwd = project('server:\n  port: 8081\nstore:\n  url: sqlite:file.db\n  durability: normal\n');
    const { config } = await loadConfig({
      cwd,
      env: {
        JUNCTION_SERVER_PORT: '9090',
        JUNCTION_SERVER_BODY_LIMIT: '2MiB',
        JUNCTION_SERVER_REQUEST_TIMEOUT: '500ms',
        JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT: 'true',
        JUNCTION_BUS: 'nats://127.0.0.1:4222',
        JUNCTION_STORE_DURABILITY: 'full',
        JUNCTION_LOG_LEVEL: 'debug',
        JUNCTION_DATA_DIR: 'state',
        JUNCTION_URL: 'http://ignored',
        JUNCTION_TOKEN: 'ignored',
      },
    });
    assert.equal(config.server.port, 9090);
    assert.equal(config.server.bodyLimitBytes, 2 * 1024 * 1024);
    assert.equal(config.server.requestTimeoutMs, 500);
    assert.equal(config.server.allowAnonymousEmit, true);
    assert.deepEqual(config.bus, { url: 'nats://127.0.0.1:4222', prefix: 'junction' });
    assert.deepEqual(config.store, { url: `sqlite:${path.join(cwd, 'file.db')}`, durability: 'full' });
    assert.equal(config.log.level, 'debug');
    assert.equal(config.dataDir, path.join(cwd, 'state'));
  });

  void test('JUNCTION_STORE replaces the url of a store given as a mapping', async () => {
    const cwd = project('store:\n  durability: full\n');
    const { config } = await loadConfig({ cwd, env: { JUNCTION_STORE: 'postgres://u:pw@db/j' } });
    assert.deepEqual(config.store, { url: 'postgres://u:pw@db/j', durability: 'full' });
  });

  void test('bad environment overrides are problems naming the variable, with the file problems', async () => {
    const cwd = project('server:\n  hots: x\n');
    const problems = await problemsOf(
      loadConfig({
        cwd,
        env: {
          JUNCTION_SERVER_PORT: '70000',
          JUNCTION_SERVER_MAX_JSON_DEPTH: 'deep',
          JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT: 'yes',
          JUNCTION_SERVER_BODY_LIMIT: '2 parsecs',
          JUNCTION_LOG_LEVEL: 'loud',
        },
      }),
    );
    assert.deepEqual(brief(problems), [
      "2:3 server.hots: unknown key 'hots' (did you mean 'host'?)",
      "-:- log.level: must be one of 'debug', 'info', 'warn', 'error', got 'loud' (from JUNCTION_LOG_LEVEL)",
      "-:- server.allowAnonymousEmit: must be 'true' or 'false', got 'yes' (from JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT)",
      "-:- server.bodyLimit: must be a size such as '512KiB', '1MiB' or '2MB' (units B, KB, MB, GB, KiB, MiB, GiB) or whole bytes, got '2 parsecs' (from JUNCTION_SERVER_BODY_LIMIT)",
      "-:- server.maxJsonDepth: must be an integer, got 'deep' (from JUNCTION_SERVER_MAX_JSON_DEPTH)",
      '-:- server.port: must be <= 65535 (from JUNCTION_SERVER_PORT)',
    ]);
    const fromEnv = problems.find((p) => p.path === 'server.port')!;
    assert.equal(fromEnv.origin, 'env JUNCTION_SERVER_PORT');
    assert.equal(fromEnv.file, undefined);
    assert.equal(fromEnv.line, undefined);
  });

  void test('command-line overrides beat the environment, which beats the file', async () => {
    const cwd = project('server:\n  host: 10.0.0.1\n  port: 1111\nlog:\n  level: warn\n');
    const env = { JUNCTION_SERVER_PORT: '2222', JUNCTION_SERVER_HOST: '10.0.0.2' };
    const { config } = await loadConfig({
      cwd,
      env,
      overrides: { server: { port: 3333, host: undefined } },
    });
    assert.equal(config.server.port, 3333);
    assert.equal(config.server.host, '10.0.0.2');
    assert.equal(config.log.level, 'warn');
  });

  void test('bad command-line overrides are problems from the command line', async () => {
    const cwd = project();
    const problems = await problemsOf(
      loadConfig({ cwd, env: {}, overrides: { server: { port: -1, prot: 1 } } }),
    );
    assert.deepEqual(
      problems.map((p) => [p.path, p.message, p.origin]),
      [
        ['server.port', 'must be >= 0 (from the command line)', 'command line'],
        ['server.prot', "unknown key 'prot' (did you mean 'port'?) (from the command line)", 'command line'],
      ],
    );
  });

  void test('bodyLimit and requestTimeout accept numbers and units, and refuse bad units', async () => {
    const good = project('server:\n  bodyLimit: 2MB\n  requestTimeout: 1.5s\n');
    const { config } = await loadConfig({ cwd: good, env: {} });
    assert.equal(config.server.bodyLimitBytes, 2_000_000);
    assert.equal(config.server.requestTimeoutMs, 1500);
    const numbers = project('server:\n  bodyLimit: 4096\n  requestTimeout: 250\n');
    const numeric = await loadConfig({ cwd: numbers, env: {} });
    assert.equal(numeric.config.server.bodyLimitBytes, 4096);
    assert.equal(numeric.config.server.requestTimeoutMs, 250);
    const bad = project('server:\n  bodyLimit: 1MeB\n  requestTimeout: 3 days\n');
    const problems = await problemsOf(loadConfig({ cwd: bad, env: {} }));
    assert.deepEqual(
      problems.map((p) => p.path),
      ['server.bodyLimit', 'server.requestTimeout'],
    );
    assert.match(problems[1]!.message, /must be a duration such as '500ms', '30s'.*got '3 days'/);
    const zero = project('server:\n  bodyLimit: 0\n  requestTimeout: 0\n');
    assert.equal((await problemsOf(loadConfig({ cwd: zero, env: {} }))).length, 2);
  });

  void test("relative paths start at the file's folder; overrides from outside start at the working folder", async () => {
    const cwd = project();
    const confDir = path.join(cwd, 'deploy', 'conf');
    mkdirSync(confDir, { recursive: true });
    writeFileSync(
      path.join(confDir, 'custom.yaml'),
      'dataDir: state\npipelines:\n  dir: ../pipelines\nschemas:\n  dir: schemas\nserver:\n  tls:\n    cert: c.pem\n    key: k.pem\n',
    );
    const loaded = await loadConfig({
      cwd,
      path: 'deploy/conf/custom.yaml',
      env: { JUNCTION_SCHEMAS_DIR: 'my-schemas' },
    });
    assert.equal(loaded.path, path.join(confDir, 'custom.yaml'));
    assert.equal(loaded.config.dataDir, path.join(confDir, 'state'));
    assert.equal(loaded.config.store.url, `sqlite:${path.join(confDir, 'state', 'junction.db')}`);
    assert.equal(loaded.config.pipelines.dir, path.join(cwd, 'deploy', 'pipelines'));
    assert.deepEqual(loaded.config.server.tls, {
      cert: path.join(confDir, 'c.pem'),
      key: path.join(confDir, 'k.pem'),
    });
    assert.equal(loaded.config.schemas.dir, path.join(cwd, 'my-schemas'));
  });

  void test('JUNCTION_CONFIG names the file; a named file that does not exist is CONFIG_NOT_FOUND', async () => {
    const cwd = project();
    writeFileSync(path.join(cwd, 'other.yaml'), 'server:\n  port: 1234\n');
    const loaded = await loadConfig({ cwd, env: { JUNCTION_CONFIG: 'other.yaml' } });
    assert.equal(loaded.config.server.port, 1234);
    assert.equal(loaded.path, path.join(cwd, 'other.yaml'));
    await assert.rejects(loadConfig({ cwd, env: { JUNCTION_CONFIG: 'missing.yaml' } }), (err: unknown) => {
      assert.ok(isJunctionError(err, 'CONFIG_NOT_FOUND'));
      assert.equal(err.message, "configuration file 'missing.yaml' does not exist");
      return true;
    });
    await assert.rejects(loadConfig({ cwd, path: 'nope/junction.yaml', env: {} }), (err: unknown) =>
      isJunctionError(err, 'CONFIG_NOT_FOUND'),
    );
    mkdirSync(path.join(cwd, 'adir'));
    await assert.rejects(loadConfig({ cwd, path: 'adir', env: {} }), /is not a file/);
  });

  void test('the result is frozen all the way down', async () => {
    const cwd = project('sources:\n  - name: a\n    type: t\n    events: [push]\n');
    const loaded = await loadConfig({ cwd, env: {} });
    assert.ok(Object.isFrozen(loaded));
    assert.ok(Object.isFrozen(loaded.config));
    assert.ok(Object.isFrozen(loaded.config.server));
    assert.ok(Object.isFrozen(loaded.config.sources));
    assert.ok(Object.isFrozen(loaded.config.sources[0]));
    assert.ok(Object.isFrozen(loaded.config.sources[0]!['events']));
    assert.throws(() => {
      (loaded.config.server as { port: number }).port = 1;
    }, TypeError);
  });

  void test('a YAML syntax error is a problem with its position', async () => {
    const cwd = project('server:\n  port: 8080\n  host: [unclosed\nlog:\n  level: info\n');
    const problems = await problemsOf(loadConfig({ cwd, env: { JUNCTION_SERVER_PORT: 'x' } }));
    assert.ok(problems.length >= 2);
    assert.equal(
      problems.at(-1)!.origin,
      'env JUNCTION_SERVER_PORT',
      'environment problems are reported too',
    );
    assert.equal(problems[0]!.file, 'junction.yaml');
    assert.equal(typeof problems[0]!.line, 'number');
    assert.ok(problems[0]!.line! >= 3, `line ${problems[0]!.line}`);
    assert.match(formatConfigProblems(problems), /^junction\.yaml:\d+:\d+ \(top level\): /);
  });

  void test('a second YAML document is a problem', async () => {
    const problems = await problemsOf(
      loadConfig({ cwd: project('log:\n  level: info\n---\nlog: {}\n'), env: {} }),
    );
    assert.deepEqual(brief(problems), [
      "3:1 : the file holds more than one YAML document (a second '---'); expected one mapping",
    ]);
  });

  void test('a duplicate key is a problem at the second key', async () => {
    const cwd = project('server:\n  port: 1\n  port: 2\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /unique/);
    assert.deepEqual([problems[0]!.line, problems[0]!.column], [3, 3]);
  });

  void test('a billion-laughs alias bomb is refused cleanly', async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const cwd = project(lines.join('\n'));
    const started = Date.now();
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.ok(Date.now() - started < 5000);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /alias bomb/);
    assert.equal(problems[0]!.line, 2);
  });

  void test('an anchor that contains its own alias is a problem, not a stack overflow', async () => {
    const cwd = project('server: &s\n  port: 8080\n  again: *s\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /recursive anchor/);
    assert.equal(problems[0]!.path, 'server.again');
  });

  void test('a few ordinary aliases are fine', async () => {
    const cwd = project('x-defaults: &d\n  type: generic\nsources:\n  - name: a\n    type: generic\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.deepEqual(
      problems.map((p) => p.path),
      ['x-defaults'],
    );
    const ok = project(
      'sources:\n  - &s { name: a, type: generic }\n  - { name: b, type: generic, like: *s }\n',
    );
    const { config } = await loadConfig({ cwd: ok, env: {} });
    assert.deepEqual(config.sources[1]!['like'], { name: 'a', type: 'generic' });
  });

  void test('a top level that is not a mapping is a problem', async () => {
    for (const text of ['- a\n- b\n', 'just text\n', '42\n']) {
      const problems = await problemsOf(loadConfig({ cwd: project(text), env: {} }));
      assert.equal(problems.length, 1, text);
      assert.equal(problems[0]!.path, '');
      assert.match(problems[0]!.message, /^must be a mapping of configuration keys, got /);
      assert.deepEqual([problems[0]!.line, problems[0]!.column], [1, 1]);
    }
  });

  void test('source names must match the pattern and be unique; name and type are required', async () => {
    const cwd = project(
      [
        'sources:',
        '  - name: github',
        '    type: github',
        '  - name: GitHub Main',
        '    type: github',
        '  - name: github',
        '    type: gitlab',
        '  - type: registry',
        `  - name: ${'a'.repeat(64)}`,
        '    type: x',
      ].join('\n'),
    );
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.deepEqual(brief(problems), [
      "4:11 sources[1].name: must be lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters, got 'GitHub Main'",
      "6:11 sources[2].name: duplicate source name 'github' (already used by sources[0])",
      '8:5 sources[3].name: is required',
      `9:11 sources[4].name: must be lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters, got '${'a'.repeat(57)}...'`,
    ]);
  });

  void test('tls needs both cert and key', async () => {
    const cwd = project('server:\n  tls:\n    cert: c.pem\n');
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.deepEqual(brief(problems), ['3:5 server.tls.key: is required']);
  });

  void test('a file larger than 1 MiB is refused', async () => {
    const cwd = project(`# ${'x'.repeat(1024 * 1024)}\n`);
    const problems = await problemsOf(loadConfig({ cwd, env: {} }));
    assert.match(problems[0]!.message, /larger than/);
  });

  void test('configFromSource works on text without touching the disk', () => {
    const loaded = configFromSource({
      text: 'log:\n  format: pretty\n',
      filePath: '/etc/junction/junction.yaml',
      cwd: '/',
      env: {},
    });
    assert.equal(loaded.config.log.format, 'pretty');
    assert.equal(loaded.config.dataDir, '/etc/junction/.junction');
    assert.throws(
      () => configFromSource({ text: 'log: [', filePath: '/srv/j.yaml', cwd: '/home/x', env: {} }),
      (err: unknown) => isJunctionError(err, 'CONFIG_INVALID') && err.message === '/srv/j.yaml has 1 problem',
    );
  });
});
