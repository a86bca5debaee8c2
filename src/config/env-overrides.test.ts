import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { envOverrideKeys, readEnvOverrides, RESERVED_ENV_NAMES, screamingSnake } from './env-overrides.ts';

void describe('environment overrides', { timeout: 30_000 }, () => {
  void test('screamingSnake splits camelCase', () => {
    assert.equal(screamingSnake('port'), 'PORT');
    assert.equal(screamingSnake('dataDir'), 'DATA_DIR');
    assert.equal(screamingSnake('maxPendingEvents'), 'MAX_PENDING_EVENTS');
    assert.equal(screamingSnake('publicUrl'), 'PUBLIC_URL');
    assert.equal(screamingSnake('maxJsonDepth'), 'MAX_JSON_DEPTH');
  });

  void test('the table covers the scalar keys and the shorthands, each variable once', () => {
    const table = new Map(envOverrideKeys().map((k) => [k.variable, k.segments.join('.')]));
    assert.equal(table.size, envOverrideKeys().length, 'no variable is listed twice');
    const expected: Record<string, string> = {
      JUNCTION_DATA_DIR: 'dataDir',
      JUNCTION_SERVER_HOST: 'server.host',
      JUNCTION_SERVER_PORT: 'server.port',
      JUNCTION_SERVER_PUBLIC_URL: 'server.publicUrl',
      JUNCTION_SERVER_TLS_CERT: 'server.tls.cert',
      JUNCTION_SERVER_TLS_KEY: 'server.tls.key',
      JUNCTION_SERVER_BODY_LIMIT: 'server.bodyLimit',
      JUNCTION_SERVER_MAX_JSON_DEPTH: 'server.maxJsonDepth',
      JUNCTION_SERVER_MAX_BATCH_EVENTS: 'server.maxBatchEvents',
      JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT: 'server.allowAnonymousEmit',
      JUNCTION_SERVER_REQUEST_TIMEOUT: 'server.requestTimeout',
      JUNCTION_STORE: 'store.url',
      JUNCTION_STORE_URL: 'store.url',
      JUNCTION_STORE_DURABILITY: 'store.durability',
      JUNCTION_BUS: 'bus.url',
      JUNCTION_BUS_URL: 'bus.url',
      JUNCTION_BUS_PREFIX: 'bus.prefix',
      JUNCTION_INTAKE_MAX_PENDING_EVENTS: 'intake.maxPendingEvents',
      JUNCTION_INTAKE_MAX_BATCH_WAIT_MS: 'intake.maxBatchWaitMs',
      JUNCTION_WORKERS_CONCURRENCY: 'workers.concurrency',
      JUNCTION_WORKERS_WORKSPACE_DIR: 'workers.workspaceDir',
      JUNCTION_WORKERS_KEEP_WORKSPACES: 'workers.keepWorkspaces',
      JUNCTION_WORKERS_LEASE_MS: 'workers.leaseMs',
      JUNCTION_WORKERS_SHUTDOWN_GRACE_MS: 'workers.shutdownGraceMs',
      JUNCTION_PIPELINES_DIR: 'pipelines.dir',
      JUNCTION_SCHEMAS_DIR: 'schemas.dir',
      JUNCTION_LOG_LEVEL: 'log.level',
      JUNCTION_LOG_FORMAT: 'log.format',
    };
    assert.deepEqual(Object.fromEntries(table), expected);
    for (const reserved of RESERVED_ENV_NAMES) assert.equal(table.has(reserved), false);
  });

  void test('values are converted by the schema type', () => {
    const { overrides, problems } = readEnvOverrides({
      JUNCTION_SERVER_PORT: '9090',
      JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT: 'true',
      JUNCTION_SERVER_BODY_LIMIT: '2MiB',
      JUNCTION_SERVER_REQUEST_TIMEOUT: '1500',
      JUNCTION_LOG_LEVEL: 'debug',
      JUNCTION_SERVER_HOST: '',
      JUNCTION_URL: 'http://elsewhere',
      JUNCTION_TOKEN: 'jct_x',
      JUNCTION_CONFIG: 'x.yaml',
      JUNCTION_SOMETHING_ELSE: 'ignored',
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      overrides.map((o) => [o.variable, o.value]),
      [
        ['JUNCTION_SERVER_PORT', 9090],
        ['JUNCTION_SERVER_BODY_LIMIT', '2MiB'],
        ['JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT', true],
        ['JUNCTION_SERVER_REQUEST_TIMEOUT', 1500],
        ['JUNCTION_LOG_LEVEL', 'debug'],
      ],
    );
  });

  void test('a value that cannot be converted is a problem naming the variable', () => {
    const { overrides, problems } = readEnvOverrides({
      JUNCTION_SERVER_PORT: '80a',
      JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT: 'yes',
    });
    assert.deepEqual(overrides, []);
    assert.deepEqual(problems, [
      {
        path: 'server.port',
        message: "must be an integer, got '80a' (from JUNCTION_SERVER_PORT)",
        origin: 'env JUNCTION_SERVER_PORT',
      },
      {
        path: 'server.allowAnonymousEmit',
        message: "must be 'true' or 'false', got 'yes' (from JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT)",
        origin: 'env JUNCTION_SERVER_ALLOW_ANONYMOUS_EMIT',
      },
    ]);
  });
});
