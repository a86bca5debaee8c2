/**
 * The event catalog is the contract of what sources produce: every shared provider fixture is
 * mapped by its source (through SOURCE_FACTORIES, as junction.yaml would build it) and every
 * canonical event's data is checked against the catalog schema of its type, with the same schema
 * registry intake uses. `pipeline.*` events built by `runEvent` are checked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudEvent, StoredEvent } from '../src/events/index.ts';
import { EVENT_CATALOG, createSchemaRegistry, eventCatalogTypes } from '../src/events/index.ts';
import { runEvent } from '../src/runs/result-events.ts';
import { deploymentEvent, type DeploymentEventKind } from '../src/runs/index.ts';
import type { DeploymentRecord } from '../src/store/index.ts';
import type { HookRequest, SourceSettings } from '../src/sources/index.ts';
import { SOURCE_FACTORIES } from '../src/sources/index.ts';
import { repoRoot, runCli } from './helpers/app.ts';

const fixtures = join(repoRoot, '..', 'shared', 'fixtures');
const present = existsSync(fixtures);
const skip = present ? false : `shared fixtures absent at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping catalog fixture checks: ${fixtures} is absent`);

/** Canonical types start with one of these; anything else is a provider's foreign type. */
const CANONICAL_PREFIXES = ['git.', 'image.', 'alert.', 'security.', 'infra.', 'pipeline.'];
const isCanonical = (type: string): boolean => CANONICAL_PREFIXES.some((p) => type.startsWith(p));
/** Types Junction produces itself, not sources: checked by their builders' tests, not fixtures. */
const JUNCTION_PRODUCED = ['pipeline.', 'deployment.', 'schedule.'];

/** Fixtures that are not deliveries (a fragment, a schema, a handshake); their sources refuse them. */
const NOT_DELIVERIES = [
  'eventgrid: azure-eventgrid/subscription-validation.eventgrid-schema.json',
  'registry: registry-distribution/payloads/delete-target.fragment.docs.json',
  'security-report: sarif/sarif-schema-2.1.0.json',
];

interface Delivery {
  readonly source: string;
  readonly file: string;
  readonly headers: Record<string, string>;
  /** A body derived from the fixture (a tag push, a branch deletion); default: the file. */
  readonly body?: Buffer;
}

function registry(): ReturnType<typeof createSchemaRegistry> {
  const schemas = createSchemaRegistry();
  for (const type of eventCatalogTypes()) schemas.register(type, EVENT_CATALOG[type] ?? {});
  return schemas;
}

function jsonFiles(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => join(dir, f))
    : [];
}

const GITLAB_HOOKS: Record<string, string> = {
  push: 'Push Hook',
  tag_push: 'Tag Push Hook',
  merge_request: 'Merge Request Hook',
  pipeline: 'Pipeline Hook',
  deployment: 'Deployment Hook',
};

/** Every shared fixture, with the headers its provider would send naming the event kind. */
function deliveries(): Delivery[] {
  const found: Delivery[] = [];
  const add = (source: string, dir: string, headers: (file: string) => Record<string, string>): void => {
    for (const file of jsonFiles(join(fixtures, dir))) found.push({ source, file, headers: headers(file) });
  };
  const base = (file: string): string => file.slice(file.lastIndexOf('/') + 1, -'.json'.length);
  add('github', 'github/payloads', (f) => ({
    'content-type': 'application/json',
    'x-github-event': base(f).split('.')[0] ?? '',
    'x-github-delivery': `d-${base(f)}`,
  }));
  add('gitlab', 'gitlab/payloads', (f) => {
    const kind = String((JSON.parse(readFileSync(f, 'utf8')) as { object_kind?: unknown }).object_kind);
    return {
      'content-type': 'application/json',
      'x-gitlab-event': GITLAB_HOOKS[kind] ?? `${kind} Hook`,
      'x-gitlab-event-uuid': `d-${base(f)}`,
    };
  });
  add('gitea', 'gitea/payloads', (f) => ({
    'content-type': 'application/json',
    'x-gitea-event': (
      base(f)
        .replace(/^gogs\./, '')
        .replace(/-event$/, '') || ''
    ).replaceAll('-', '_'),
    'x-gitea-delivery': `d-${base(f)}`,
  }));
  add('bitbucket', 'bitbucket/payloads', (f) => ({
    'content-type': 'application/json',
    'x-event-key': base(f)
      .replace(/^cloud\./, '')
      .replace(/^(repo|pullrequest)-/, '$1:'),
    'x-request-uuid': `d-${base(f)}`,
  }));
  add('registry', 'registry-distribution/payloads', () => ({
    'content-type': 'application/vnd.docker.distribution.events.v1+json',
  }));
  add('dockerhub', 'dockerhub/payloads', () => ({ 'content-type': 'application/json' }));
  add('harbor', 'harbor/payloads', () => ({ 'content-type': 'application/json' }));
  add('alertmanager', 'alertmanager/payloads', () => ({}));
  add('grafana', 'grafana', () => ({}));
  for (const dir of ['sarif', 'trivy/reports', 'grype']) add('security-report', dir, () => ({}));
  add('eventbridge', 'aws-eventbridge', () => ({}));
  add('pubsub', 'gcp-pubsub', () => ({}));
  add('eventgrid', 'azure-eventgrid', () => ({}));
  found.push(...refVariants(found));
  return found;
}

const ZERO = '0'.repeat(40);

/** Push fixtures rewritten into a tag push and a branch deletion, which no fixture shows. */
function refVariants(found: readonly Delivery[]): Delivery[] {
  const pushes = found.filter((d) =>
    /(github\/payloads\/push\.branch-created|gitea\/payloads\/push-event|gitlab\/payloads\/push)\.json$/.test(
      d.file,
    ),
  );
  const variants: Delivery[] = [];
  for (const push of pushes) {
    const raw = JSON.parse(readFileSync(push.file, 'utf8')) as Record<string, unknown>;
    const tag = { ...raw, ref: 'refs/tags/v9.9.9', deleted: false };
    const gone = {
      ...raw,
      ref: 'refs/heads/gone',
      deleted: true,
      after: ZERO,
      commits: [],
      total_commits_count: 0,
    };
    const tagHeaders =
      push.source === 'gitlab' ? { ...push.headers, 'x-gitlab-event': 'Tag Push Hook' } : push.headers;
    variants.push(
      { ...push, file: `${push.file}#tag`, headers: tagHeaders, body: Buffer.from(JSON.stringify(tag)) },
      { ...push, file: `${push.file}#deleted`, body: Buffer.from(JSON.stringify(gone)) },
    );
  }
  return variants;
}

const SETTINGS: Record<string, SourceSettings> = {
  github: { name: 'gh', type: 'github', secret: 's' },
  gitlab: { name: 'gl', type: 'gitlab', token: 't' },
  gitea: { name: 'tea', type: 'gitea', secret: 's' },
  bitbucket: { name: 'bb', type: 'bitbucket', secret: 's' },
  registry: { name: 'reg', type: 'registry', token: 't' },
  dockerhub: { name: 'hub', type: 'dockerhub', auth: 'none' },
  harbor: { name: 'harbor', type: 'harbor', token: 't' },
  alertmanager: { name: 'am', type: 'alertmanager', token: 't' },
  grafana: { name: 'grafana', type: 'grafana', token: 't' },
  'security-report': { name: 'ci', type: 'security-report', token: 't' },
  eventbridge: { name: 'aws', type: 'eventbridge', token: 't' },
  pubsub: { name: 'gcp', type: 'pubsub', token: 't' },
  eventgrid: { name: 'azure', type: 'eventgrid', token: 't' },
};

/** Maps every delivery; a fixture its source refuses is recorded, not thrown. */
function mapAll(): { events: { event: CloudEvent; from: string }[]; refused: string[] } {
  const events: { event: CloudEvent; from: string }[] = [];
  const refused: string[] = [];
  for (const delivery of deliveries()) {
    const factory = SOURCE_FACTORIES[delivery.source];
    const settings = SETTINGS[delivery.source];
    assert.ok(factory !== undefined && settings !== undefined, delivery.source);
    const source = factory(settings);
    const request: HookRequest = {
      headers: delivery.headers,
      body: delivery.body ?? readFileSync(delivery.file),
      receivedAt: new Date('2026-11-27T12:00:00Z'),
    };
    const from = `${delivery.source}: ${delivery.file.slice(fixtures.length + 1)}`;
    try {
      for (const mapped of source.map(request).events) events.push({ event: mapped.event, from });
    } catch {
      refused.push(from);
    }
  }
  return { events, refused };
}

test('every source checked here is a registered source type', () => {
  for (const type of Object.keys(SETTINGS)) assert.ok(Object.hasOwn(SOURCE_FACTORIES, type), type);
  const unchecked = Object.keys(SOURCE_FACTORIES).filter((type) => !Object.hasOwn(SETTINGS, type));
  if (unchecked.length > 0) console.log(`# NOTICE: no shared fixtures checked for: ${unchecked.join(', ')}`);
});

test(
  'every event mapped from the shared fixtures matches the catalog schema of its type',
  { skip, timeout: 30_000 },
  () => {
    const schemas = registry();
    const { events, refused } = mapAll();
    assert.ok(
      events.length >= 40,
      `expected many mapped events, got ${events.length} (refused: ${refused.join(', ')})`,
    );
    const seen = new Set<string>();
    const failures: string[] = [];
    for (const { event, from } of events) {
      seen.add(event.type);
      if (!isCanonical(event.type)) continue;
      if (!schemas.has(event.type)) {
        failures.push(`${from}: type '${event.type}' is not in the catalog`);
        continue;
      }
      try {
        schemas.validateData(event);
      } catch (error) {
        failures.push(`${from}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(refused.sort(), NOT_DELIVERIES);
    const missing = eventCatalogTypes().filter(
      (t) => !seen.has(t) && !JUNCTION_PRODUCED.some((prefix) => t.startsWith(prefix)),
    );
    assert.deepEqual(missing, [], 'every source-produced catalog type is exercised by a fixture');
  },
);

function trigger(data: unknown): StoredEvent {
  return {
    id: '0192f0c1-0000-7000-8000-000000000001',
    event: { specversion: '1.0', id: 'd-1', source: '/hooks/gh', type: 'git.push', data },
  } as unknown as StoredEvent;
}

test('pipeline.* events built by runEvent match their catalog schemas', () => {
  const schemas = registry();
  const triggers = [
    trigger({ repository: { full_name: 'acme/api' }, branch: 'main', after: 'a'.repeat(40) }),
    trigger({ repository: 'acme/api', tag: 'v1.2.0', ref: 'refs/tags/v1.2.0' }),
    trigger('not an object'),
    trigger(null),
  ];
  for (const kind of ['started', 'succeeded', 'failed', 'cancelled'] as const) {
    for (const t of triggers) {
      const event = runEvent(kind, {
        runId: '0192f0c1-0000-7000-8000-0000000000aa',
        pipeline: 'deploy',
        status: kind === 'started' ? 'running' : kind,
        trigger: t,
        reason: kind === 'failed' ? "step 'test' exited with 1" : null,
        outputs: kind === 'succeeded' ? { version: '1.2.0' } : null,
        startedAt: '2026-11-27T12:00:00.000Z',
        finishedAt: kind === 'started' ? null : '2026-11-27T12:01:30.000Z',
        rerunOf: null,
      });
      assert.doesNotThrow(() => schemas.validateData(event), `${event.type}`);
    }
  }
});

function deploymentRecord(fields: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    seq: 3,
    id: 'dep_job_0192f0c1',
    environment: 'prod',
    service: 'api',
    version: '2.0.0',
    url: null,
    runId: 'run_0192f0c1',
    jobId: 'job_0192f0c1',
    eventId: '0192f0c1-0000-7000-8000-000000000001',
    eventSeq: 7,
    pipeline: 'deploy',
    jobName: 'deploy',
    status: 'running',
    reason: null,
    isRollback: false,
    rollbackOf: null,
    cause: null,
    actor: null,
    requestedByRun: null,
    createdAt: '2026-11-27T12:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    ...fields,
  };
}

test('deployment.* events built by deploymentEvent match their catalog schemas', () => {
  const schemas = registry();
  const records = [
    deploymentRecord(),
    deploymentRecord({ status: 'failed', reason: "step 'apply' exited with 1", url: 'https://api.acme.io' }),
    deploymentRecord({
      status: 'succeeded',
      isRollback: true,
      rollbackOf: 'dep_job_0192f0c2',
      cause: 'alert:3f1c9a0e5b7d2c4a',
      actor: 'run run_0192f0c3',
    }),
  ];
  const kinds: DeploymentEventKind[] = [
    'started',
    'succeeded',
    'failed',
    'cancelled',
    'refused',
    'rolled_back',
  ];
  for (const kind of kinds) {
    for (const record of records) {
      for (const previousVersion of [undefined, null, '2.1.0']) {
        const extra = previousVersion === undefined ? {} : { previousVersion };
        const event = deploymentEvent(kind, record, trigger({ version: '2.0.0' }), extra);
        assert.equal(event.type, `deployment.${kind}`);
        assert.doesNotThrow(() => schemas.validateData(event), `${event.type} ${JSON.stringify(event.data)}`);
      }
    }
  }
  // The check can fail: a field the schema requires, broken.
  const event = deploymentEvent('succeeded', deploymentRecord(), trigger({}));
  for (const broken of [
    { ...(event.data as object), isRollback: 'no' },
    { ...(event.data as object), deploymentId: '' },
    { ...(event.data as object), job: undefined },
  ]) {
    assert.throws(() => schemas.validateData({ ...event, data: broken }), { code: 'EVENT_DATA_INVALID' });
  }
});

test('a schema refuses data that breaks the catalog (the check can fail)', () => {
  const schemas = registry();
  const bad: CloudEvent = {
    specversion: '1.0',
    id: 'x',
    source: '/hooks/gh',
    type: 'git.push',
    data: { repository: 42, ref: ['refs/heads/main'] },
  };
  assert.throws(() => schemas.validateData(bad), { code: 'EVENT_DATA_INVALID' });
  const failed = runEvent('failed', {
    runId: 'r',
    pipeline: 'p',
    status: 'failed',
    trigger: trigger({}),
  });
  const broken = { ...failed, data: { ...(failed.data as object), runId: 7 } };
  assert.throws(() => schemas.validateData(broken), { code: 'EVENT_DATA_INVALID' });
});

test('junction schema events prints the catalog; an unknown type exits 2', { timeout: 30_000 }, async () => {
  const all = await runCli(['schema', 'events']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(Object.keys(JSON.parse(all.stdout) as object), eventCatalogTypes());
  const one = await runCli(['schema', 'events', 'git.push']);
  assert.deepEqual(JSON.parse(one.stdout), EVENT_CATALOG['git.push']);
  const unknown = await runCli(['schema', 'events', 'git.nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown event type 'git\.nope'.*git\.push/);
});

test('every example in docs/events.md is valid and matches its schema', () => {
  const schemas = registry();
  const text = readFileSync(join(repoRoot, 'docs', 'events.md'), 'utf8');
  const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map(
    (m) => JSON.parse(m[1] ?? '') as CloudEvent,
  );
  assert.deepEqual(blocks.map((e) => e.type).sort(), eventCatalogTypes());
  for (const event of blocks) assert.doesNotThrow(() => schemas.validateData(event), event.type);
});
