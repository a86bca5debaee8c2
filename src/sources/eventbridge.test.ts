import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import { EVENTBRIDGE_MAX_RESOURCES, createEventBridgeSource } from './eventbridge.ts';
import type { HookRequest, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/aws-eventbridge');
const present = fs.existsSync(fixtures);
const skip = present ? false : `eventbridge fixtures not found at ${fixtures}`;
if (!present) console.log(`# NOTICE: skipping eventbridge fixture tests: ${fixtures} is absent`);

const source = createEventBridgeSource({ name: 'aws', type: 'eventbridge', token: 's3cret-key' });

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers, body: bytes, receivedAt: new Date(0) };
}

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8')) as Record<string, unknown>;
}

function only(result: SourceResult): { event: CloudEvent; data: Record<string, unknown>; key: string } {
  assert.equal(result.events.length, 1);
  const mapped = result.events[0];
  assert.ok(mapped !== undefined);
  validateCloudEvent(mapped.event);
  return {
    event: mapped.event,
    data: mapped.event.data as Record<string, unknown>,
    key: mapped.dedupeKey ?? '',
  };
}

function refused(body: unknown, pattern: RegExp): void {
  assert.throws(
    () => source.map(req(body)),
    (error: unknown) => {
      assert.ok(isJunctionError(error, 'SOURCE_PAYLOAD_INVALID'), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

function envelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '0',
    id: 'e-1',
    'detail-type': 'Thing Changed',
    source: 'custom.app',
    account: '123456789012',
    time: '2026-11-27T10:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: { a: 1 },
    ...extra,
  };
}

void test('the api key header is checked in constant time; wrong or missing keys are refused', () => {
  assert.doesNotThrow(() => source.authenticate(req('{}', { 'x-api-key': 's3cret-key' })));
  for (const headers of [
    {},
    { 'x-api-key': 's3cret-ke' },
    { 'x-api-key': 's3cret-key2' },
    { authorization: 's3cret-key' },
  ]) {
    assert.throws(
      () => source.authenticate(req('{}', headers)),
      (error: unknown) => {
        assert.ok(isJunctionError(error, 'SOURCE_UNAUTHENTICATED'));
        assert.equal(error.httpStatus, 401);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
  }
  const custom = createEventBridgeSource({
    name: 'c',
    type: 'eventbridge',
    token: 't',
    header: 'X-Junction-Key',
  });
  assert.doesNotThrow(() => custom.authenticate(req('{}', { 'x-junction-key': 't' })));
  assert.throws(() => custom.authenticate(req('{}', { 'x-api-key': 't' })), /x-junction-key/);
});

void test('settings: token is required and the header must be a header name', () => {
  for (const settings of [
    { name: 'x', type: 'eventbridge' },
    { name: 'x', type: 'eventbridge', token: '' },
    { name: 'x', type: 'eventbridge', token: ' padded ' },
    { name: 'x', type: 'eventbridge', token: 't', header: 'bad header' },
    { name: 'x', type: 'eventbridge', token: 't', header: 42 },
  ]) {
    assert.throws(
      () => createEventBridgeSource(settings),
      (error: unknown) => isJunctionError(error, 'CONFIG_INVALID') && /sources\[name=x\]/.test(error.message),
    );
  }
});

void test('every fixture maps to one valid event keeping the original under data.payload', { skip }, () => {
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 5);
  for (const file of files) {
    const raw = fixture(file);
    const { event, data, key } = only(source.map(req(fs.readFileSync(path.join(fixtures, file)))));
    assert.equal(event.id, raw['id'], file);
    assert.equal(event.source, `aws/${String(raw['region'])}/${String(raw['source'])}`);
    assert.equal(event.time, raw['time']);
    assert.equal(key, `eventbridge:${event.source}:${event.id}`);
    assert.deepEqual(data['payload'], raw);
  }
});

void test('ECR push → image.pushed with the ECR registry host', { skip }, () => {
  const { event, data } = only(source.map(req(fixture('ecr.image-action.push.json'))));
  assert.equal(event.type, 'image.pushed');
  assert.equal(event.subject, 'my-repository-name:latest');
  assert.equal(data['registry'], '123456789012.dkr.ecr.us-west-2.amazonaws.com');
  assert.equal(data['repository'], 'my-repository-name');
  assert.equal(data['tag'], 'latest');
  assert.equal(data['digest'], 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234');
});

void test('ECR push that failed, and ECR delete, are infra.changed', { skip }, () => {
  const raw = fixture('ecr.image-action.push.json');
  const detail = raw['detail'] as Record<string, unknown>;
  for (const change of [{ result: 'FAILURE' }, { 'action-type': 'DELETE' }]) {
    const { event, data } = only(source.map(req({ ...raw, detail: { ...detail, ...change } })));
    assert.equal(event.type, 'infra.changed');
    assert.equal(data['kind'], 'ECR Image Action');
  }
});

void test('ECR scan → security.scan.completed with severity counts', { skip }, () => {
  const { event, data } = only(source.map(req(fixture('ecr.image-scan.json'))));
  assert.equal(event.type, 'security.scan.completed');
  assert.deepEqual(data['severity_counts'], {
    CRITICAL: 10,
    HIGH: 2,
    MEDIUM: 9,
    LOW: 3,
    INFORMATIONAL: 0,
    UNDEFINED: 0,
  });
  assert.equal(data['repository'], 'tribble-image-scan-test');
  assert.deepEqual(data['tags'], ['1572471135']);
  assert.equal(data['status'], 'COMPLETE');
  const bad = fixture('ecr.image-scan.json');
  refused(
    { ...bad, detail: { ...(bad['detail'] as object), 'finding-severity-counts': { HIGH: -1 } } },
    /count/,
  );
});

void test('CodeCommit branch updates and creations → git.push', { skip }, () => {
  const updated = only(source.map(req(fixture('codecommit.referenceUpdated.json'))));
  assert.equal(updated.event.type, 'git.push');
  assert.equal(updated.data['branch'], 'myBranch');
  assert.equal(updated.data['ref'], 'refs/heads/myBranch');
  assert.equal(updated.data['after'], '7f0103fMERGE');
  assert.equal(updated.data['before'], '3e5983DESTINATION');
  assert.deepEqual(updated.data['repository'], {
    name: 'MyDemoRepo',
    full_name: 'MyDemoRepo',
    id: '12345678-1234-5678-abcd-12345678abcd',
    arn: 'arn:aws:codecommit:us-east-2:123456789012:MyDemoRepo',
    clone_url: 'https://git-codecommit.us-east-2.amazonaws.com/v1/repos/MyDemoRepo',
  });
  const created = only(source.map(req(fixture('codecommit.referenceCreated.json'))));
  assert.equal(created.event.type, 'git.push');
  assert.equal(created.data['created'], true);
  assert.equal(created.data['before'], null);
  assert.equal(created.data['after'], '3e5983DESTINATION');
  assert.equal(created.data['changed_files'], undefined);
});

void test('CodeCommit deletions and tags', { skip }, () => {
  const raw = fixture('codecommit.referenceCreated.json');
  const detail = raw['detail'] as Record<string, unknown>;
  const { commitId: _commit, ...rest } = detail;
  const deleted = only(
    source.map(req({ ...raw, detail: { ...rest, event: 'referenceDeleted', oldCommitId: 'abc' } })),
  );
  assert.equal(deleted.event.type, 'git.branch.deleted');
  assert.equal(deleted.data['before'], 'abc');
  assert.equal(deleted.data['after'], null);
  const tagDetail = {
    ...detail,
    referenceType: 'tag',
    referenceName: 'v1',
    referenceFullName: 'refs/tags/v1',
  };
  const tag = only(source.map(req({ ...raw, detail: tagDetail })));
  assert.equal(tag.event.type, 'git.tag');
  assert.equal(tag.data['tag'], 'v1');
  const tagDeleted = source.map(req({ ...raw, detail: { ...tagDetail, event: 'referenceDeleted' } }));
  assert.equal(tagDeleted.events.length, 0);
  assert.match(tagDeleted.note ?? '', /tag 'v1'/);
  refused({ ...raw, detail: { ...detail, commitId: 7 } }, /detail\.commitId/);
  refused({ ...raw, detail: { ...detail, repositoryName: '' } }, /detail\.repositoryName/);
});

void test('anything else → infra.changed with provider aws', { skip }, () => {
  const ec2 = only(source.map(req(fixture('ec2.instance-state-change.docs.json'))));
  assert.equal(ec2.event.type, 'infra.changed');
  assert.equal(ec2.data['provider'], 'aws');
  assert.equal(ec2.data['resource'], 'arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0');
  assert.equal(ec2.data['kind'], 'EC2 Instance State-change Notification');
  assert.deepEqual(ec2.data['detail'], { 'instance-id': ' i-1234567890abcdef0', state: 'terminated' });
  const merge = only(source.map(req(fixture('codecommit.unreferencedMergeCommitCreated.json'))));
  assert.equal(merge.event.type, 'infra.changed');
  const none = only(source.map(req(envelope())));
  assert.equal(none.data['resource'], 'custom.app');
});

void test('replays map to the same id and dedupe key', () => {
  const a = only(source.map(req(envelope())));
  const b = only(source.map(req({ ...envelope(), 'replay-name': 'r1' })));
  assert.equal(a.event.id, b.event.id);
  assert.equal(a.key, b.key);
  assert.equal(a.key, 'eventbridge:aws/eu-west-1/custom.app:e-1');
});

void test('hostile and malformed bodies are refused with SOURCE_PAYLOAD_INVALID', () => {
  refused('{not json', /not valid JSON/);
  refused('', /not valid JSON/);
  refused('['.repeat(200) + ']'.repeat(200), /not valid JSON/);
  refused([envelope()], /json object/);
  refused(envelope({ id: undefined }), /^id must/);
  refused(envelope({ id: 5 }), /^id must/);
  refused(envelope({ time: 'yesterday' }), /time is not/);
  refused(envelope({ region: 'eu west/1' }), /region/);
  refused(envelope({ detail: 'x' }), /detail must be an object/);
  refused(envelope({ resources: 'arn' }), /resources must be an array/);
  refused(envelope({ resources: [1] }), /only strings/);
  refused(
    envelope({ resources: Array.from({ length: EVENTBRIDGE_MAX_RESOURCES + 1 }, () => 'r') }),
    /at most/,
  );
  refused(envelope({ id: 'a\u0007b' }), /valid CloudEvent/);
  refused(
    envelope({
      source: 'aws.ecr',
      'detail-type': 'ECR Image Action',
      detail: { 'action-type': 'PUSH', result: 'SUCCESS' },
    }),
    /repository-name/,
  );
});
