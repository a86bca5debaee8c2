import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isJunctionError } from '../errors/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { validateCloudEvent } from '../events/index.ts';
import {
  MAX_FINDINGS,
  MAX_PAYLOAD_BYTES,
  MAX_TEXT_BYTES,
  detectReportFormat,
  sarifSeverity,
  securityReportSource,
  shorten,
  wordSeverity,
} from './security-report.ts';
import type { HookRequest, SourceResult } from './source.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');
const present = fs.existsSync(path.join(fixtures, 'sarif'));
const skip = present ? false : `security report fixtures not found at ${fixtures}`;
if (!present) console.warn(`# NOTICE skipping security report fixture tests: ${fixtures} is absent`);

const TOKEN = 'ci-upload-token';
const source = securityReportSource({ name: 'ci', type: 'security-report', token: TOKEN });
const auth = { authorization: `Bearer ${TOKEN}` };

function req(body: unknown, headers: Record<string, string> = {}): HookRequest {
  const bytes = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { headers: { ...auth, ...headers }, body: bytes, receivedAt: new Date('2026-11-27T12:00:00Z') };
}

function map(body: unknown, headers: Record<string, string> = {}): SourceResult {
  return source.map(req(body, headers));
}

function dataOf(event: CloudEvent): Record<string, unknown> {
  assert.equal(typeof event.data, 'object');
  return event.data as Record<string, unknown>;
}

function fixture(rel: string): Buffer {
  return fs.readFileSync(path.join(fixtures, rel));
}

function refused(body: unknown, pattern: RegExp, headers: Record<string, string> = {}): void {
  assert.throws(
    () => map(body, headers),
    (error: unknown) => {
      assert.ok(isJunctionError(error, 'SOURCE_PAYLOAD_INVALID'), String(error));
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

function sarif(results: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'semgrep',
            version: '1.2.3',
            rules: [
              {
                id: 'js/sqli',
                name: 'SqlInjection',
                fullDescription: { text: 'user input reaches a query' },
                defaultConfiguration: { level: 'error' },
                properties: { 'security-severity': '9.8' },
              },
              { id: 'js/style', name: 'Style', defaultConfiguration: { level: 'note' } },
            ],
          },
        },
        results,
        ...extra,
      },
    ],
  };
}

function sarifResult(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ruleId: 'js/sqli',
    message: { text: 'tainted value flows into query' },
    locations: [{ physicalLocation: { artifactLocation: { uri: 'src/db.js' }, region: { startLine: 12 } } }],
    partialFingerprints: { primaryLocationLineHash: 'abc:1' },
    ...extra,
  };
}

function grypeMatch(id: string, pkg = 'openssl', version = '1.1.1'): Record<string, unknown> {
  return {
    vulnerability: { id, severity: 'Negligible', fix: { versions: ['1.1.2'], state: 'fixed' } },
    artifact: { name: pkg, version, type: 'deb' },
  };
}

function grype(matches: unknown, target: unknown = 'registry.example/app:1'): Record<string, unknown> {
  return {
    matches,
    source: { type: 'image', target: { userInput: target } },
    descriptor: { name: 'grype', version: '0.80.0', timestamp: '2026-11-27T10:00:00Z' },
  };
}

const FIXTURES: Record<string, { format: string; count: number }> = {
  'sarif/codeql-action.fingerprinting.input.sarif.json': { format: 'sarif', count: 2 },
  'sarif/codeql-action.valid-sarif.sarif.json': { format: 'sarif', count: 3 },
  'sarif/trivy.alpine-310.sarif.json': { format: 'sarif', count: 4 },
  'trivy/reports/alpine-310.json': { format: 'trivy', count: 4 },
  'trivy/reports/debian-buster.json': { format: 'trivy', count: 2 },
  'trivy/reports/dockerfile.json': { format: 'trivy', count: 1 },
  'trivy/reports/npm.json': { format: 'trivy', count: 1 },
  'trivy/reports/secrets.json': { format: 'trivy', count: 2 },
  'grype/directory.json': { format: 'grype', count: 2 },
  'grype/image.json': { format: 'grype', count: 2 },
};

void test('every fixture report maps, each finding to one valid security.finding event', { skip }, () => {
  const seen = new Set<string>();
  for (const [file, expected] of Object.entries(FIXTURES)) {
    const { events, note } = source.map(req(fixture(file)));
    assert.equal(note, undefined, file);
    assert.equal(events.length, expected.count, file);
    for (const { event, dedupeKey } of events) {
      assert.deepEqual(validateCloudEvent(event), event);
      assert.equal(event.type, 'security.finding');
      assert.equal(event.source, 'security-report/ci');
      assert.match(event.id, /^finding-[0-9a-f]{32}$/);
      assert.equal(dedupeKey, `security-report:ci:${event.id}`);
      assert.ok(!seen.has(event.id), `${file}: id ${event.id} repeats`);
      seen.add(event.id);
      const data = dataOf(event);
      assert.equal(data.format, expected.format, file);
      assert.match(String(data.severity), /^(critical|high|medium|low|info|unknown)$/);
      assert.equal(typeof (data.tool as { name: unknown }).name, 'string');
      assert.ok(data.location !== null || data.package !== null, `${file}: location or package`);
      assert.equal(typeof data.payload, 'object');
      assert.equal(data.payloadTruncated, false);
    }
  }
  // The schema itself is not a report.
  assert.throws(() => source.map(req(fixture('sarif/sarif-schema-2.1.0.json'))), /not recognized/);
});

void test('fixture: trivy vulnerabilities carry package, fixed version, target and the cve', { skip }, () => {
  const [first] = source.map(req(fixture('trivy/reports/alpine-310.json'))).events;
  assert.ok(first);
  const data = dataOf(first.event);
  assert.deepEqual(data.tool, { name: 'Trivy', version: 'dev' });
  assert.deepEqual(data.package, {
    name: 'libcrypto1.1',
    installedVersion: '1.1.1c-r0',
    fixedVersion: '1.1.1d-r0',
    type: 'alpine',
  });
  assert.equal(data.vulnerability, 'CVE-2019-1549');
  assert.equal(data.severity, 'medium');
  assert.equal(data.target, 'testdata/fixtures/images/alpine-310.tar.gz (alpine 3.10.2)');
  assert.equal((data.rule as { id: unknown }).id, 'CVE-2019-1549');
  assert.equal(first.event.time, '2021-08-25T12:20:30.000000005Z');
  assert.equal((data.payload as Record<string, unknown>).PkgID, 'libcrypto1.1@1.1.1c-r0');
  assert.equal((data.payload as Record<string, unknown>).Results, undefined);
});

void test('fixture: trivy misconfigurations and secrets carry a location in the target', { skip }, () => {
  const [misconf] = source.map(req(fixture('trivy/reports/dockerfile.json'))).events;
  assert.ok(misconf);
  const m = dataOf(misconf.event);
  assert.equal((m.rule as { id: unknown }).id, 'DS-0002');
  assert.equal(m.severity, 'high');
  assert.deepEqual(m.location, { uri: 'Dockerfile', startLine: null });
  const secrets = source.map(req(fixture('trivy/reports/secrets.json'))).events;
  const s = dataOf(secrets[0]?.event ?? assert.fail('no secret event'));
  assert.equal(s.severity, 'critical');
  assert.deepEqual(s.location, { uri: 'deploy.sh', startLine: 3 });
});

void test(
  'fixture: sarif from trivy gets its severity from security-severity and keeps every package',
  { skip },
  () => {
    const { events } = source.map(req(fixture('sarif/trivy.alpine-310.sarif.json')));
    const first = dataOf(events[0]?.event ?? assert.fail('no event'));
    assert.equal(first.severity, 'medium'); // security-severity 5.3
    assert.equal(first.vulnerability, 'CVE-2019-1549');
    assert.deepEqual(first.location, { uri: 'testdata/fixtures/images/alpine-310.tar.gz', startLine: 1 });
    // libcrypto and libssl share rule and location: both are kept, with distinct ids.
    assert.equal(new Set(events.map((e) => e.event.id)).size, 4);
  },
);

void test(
  'fixture: sarif artifact locations given by index are resolved through run.artifacts',
  { skip },
  () => {
    const { events } = source.map(req(fixture('sarif/codeql-action.fingerprinting.input.sarif.json')));
    const second = dataOf(events[1]?.event ?? assert.fail('no event'));
    assert.deepEqual(second.location, { uri: 'testFile2.js', startLine: 2 });
    assert.deepEqual(second.tool, { name: 'CodeQL command-line toolchain', version: '2.0.0' });
  },
);

void test('fixture: grype findings use the source target and map Negligible-style words', { skip }, () => {
  const { events } = source.map(req(fixture('grype/directory.json')));
  const first = dataOf(events[0]?.event ?? assert.fail('no event'));
  assert.equal(first.target, '/some/path');
  assert.equal(first.severity, 'low');
  assert.deepEqual(first.package, {
    name: 'package-1',
    installedVersion: '1.1.1',
    fixedVersion: '1.2.1, 2.1.3, 3.4.0',
    type: 'rpm',
  });
  const image = dataOf(source.map(req(fixture('grype/image.json'))).events[1]?.event ?? assert.fail());
  assert.equal(image.target, 'user-input');
  assert.equal(image.severity, 'critical');
});

void test('sarif severity: security-severity thresholds first, then level', () => {
  const table: [unknown, unknown, string][] = [
    ['note', '9.0', 'critical'],
    ['note', 10, 'critical'],
    ['note', '8.9', 'high'],
    ['note', '7', 'high'],
    ['error', '6.9', 'medium'],
    ['error', '4.0', 'medium'],
    ['error', '3.9', 'low'],
    ['error', '0.1', 'low'],
    ['error', '0', 'info'],
    ['error', 'high', 'high'], // not a number: the level decides
    ['error', '11', 'high'], // out of range: the level decides
    ['error', undefined, 'high'],
    ['warning', undefined, 'medium'],
    [undefined, undefined, 'medium'], // sarif's default level
    ['note', undefined, 'low'],
    ['none', undefined, 'info'],
    ['fatal', undefined, 'unknown'],
  ];
  for (const [level, score, expected] of table) {
    assert.equal(sarifSeverity(level, score), expected, `${String(level)} ${String(score)}`);
  }
  assert.equal(wordSeverity('CRITICAL'), 'critical');
  assert.equal(wordSeverity('Negligible'), 'info');
  assert.equal(wordSeverity('UNKNOWN'), 'unknown');
  assert.equal(wordSeverity(3), 'unknown');
});

void test('a sarif result maps rule, severity, location, fingerprint and the result alone as payload', () => {
  const { events } = map(sarif([sarifResult(), sarifResult({ ruleId: 'js/style', level: 'warning' })]));
  assert.equal(events.length, 2);
  const [a, b] = events.map((e) => e.event) as [CloudEvent, CloudEvent];
  const data = dataOf(a);
  assert.deepEqual(data.rule, {
    id: 'js/sqli',
    name: 'SqlInjection',
    description: 'user input reaches a query',
  });
  assert.equal(data.severity, 'critical');
  assert.deepEqual(data.location, { uri: 'src/db.js', startLine: 12 });
  assert.equal(data.fingerprint, 'abc:1');
  assert.equal(data.message, 'tainted value flows into query');
  assert.deepEqual(data.payload, sarifResult());
  assert.equal(a.time, '2026-11-27T12:00:00.000Z'); // no invocation time: when received
  assert.equal(dataOf(b).severity, 'medium'); // the result's level beats the rule's default
});

void test('re-uploading a report gives the same ids; the subject header separates images', () => {
  const body = grype([grypeMatch('CVE-2024-0001'), grypeMatch('GHSA-abcd-efgh-jkmp')]);
  const a = map(body);
  const b = map(structuredClone(body));
  assert.deepEqual(a, b);
  assert.equal(dataOf(a.events[1]?.event ?? assert.fail()).vulnerability, 'GHSA-abcd-efgh-jkmp');
  const imageA = map(body, { 'x-junction-report-subject': 'registry.example/app@sha256:aaa' });
  const imageB = map(body, { 'x-junction-report-subject': 'registry.example/app@sha256:bbb' });
  assert.equal(imageA.events[0]?.event.subject, 'registry.example/app@sha256:aaa');
  assert.equal(dataOf(imageA.events[0]?.event ?? assert.fail()).subject, 'registry.example/app@sha256:aaa');
  const ids = new Set([a, imageA, imageB].flatMap((r) => r.events.map((e) => e.event.id)));
  assert.equal(ids.size, 6);
  // The tool version and the report time are not part of a finding's identity.
  const newer = structuredClone(body);
  (newer.descriptor as Record<string, unknown>).version = '0.81.0';
  (newer.descriptor as Record<string, unknown>).timestamp = '2026-11-28T10:00:00Z';
  assert.deepEqual(
    map(newer).events.map((e) => e.event.id),
    a.events.map((e) => e.event.id),
  );
  // A new installed version is a new finding.
  const upgraded = map(grype([grypeMatch('CVE-2024-0001', 'openssl', '1.1.2')]));
  assert.notEqual(upgraded.events[0]?.event.id, a.events[0]?.event.id);
});

void test('reports without findings are a note, not an error', () => {
  assert.deepEqual(map(sarif([])), { events: [], note: 'no findings' });
  assert.deepEqual(map({ version: '2.1.0', runs: [] }), { events: [], note: 'no findings' });
  assert.deepEqual(map({ SchemaVersion: 2, ArtifactName: '.', Results: [{ Target: 'go.sum' }] }), {
    events: [],
    note: 'no findings',
  });
  assert.deepEqual(map(grype([])), { events: [], note: 'no findings' });
});

void test('the format header forces a format and is checked against the body', () => {
  const bare = { runs: sarif([sarifResult()]).runs }; // no version: not detected
  refused(bare, /not recognized/);
  assert.equal(map(bare, { 'x-junction-report-format': 'sarif' }).events.length, 1);
  assert.equal(map(bare, { 'x-junction-report-format': ' SARIF ' }).events.length, 1);
  refused(sarif([sarifResult()]), /says 'trivy' but the body is a sarif report/, {
    'x-junction-report-format': 'trivy',
  });
  refused(bare, /trivy report needs SchemaVersion/, { 'x-junction-report-format': 'trivy' });
  refused(bare, /grype report needs matches as an array/, { 'x-junction-report-format': 'grype' });
  refused(bare, /x-junction-report-format is 'cyclonedx' \(expected one of: sarif, trivy, grype\)/, {
    'x-junction-report-format': 'cyclonedx',
  });
  assert.equal(detectReportFormat([]), undefined);
});

void test('the subject header must be 1 to 256 printable characters', () => {
  const body = grype([grypeMatch('CVE-2024-0001')]);
  assert.equal(map(body, { 'x-junction-report-subject': 'x'.repeat(256) }).events.length, 1);
  for (const bad of ['', 'x'.repeat(257), 'a\tb', 'caf\u00e9', 'line\nbreak']) {
    refused(body, /x-junction-report-subject must be 1 to 256 printable/, {
      'x-junction-report-subject': bad,
    });
  }
});

void test('missing or wrong tokens are refused before anything is parsed', () => {
  const attempts: Record<string, string | undefined>[] = [
    {},
    { authorization: 'Bearer wrong' },
    { authorization: `Basic ${Buffer.from(`ci:${TOKEN}`).toString('base64')}` },
    { authorization: TOKEN },
  ];
  for (const headers of attempts) {
    assert.throws(
      () => source.authenticate({ headers, body: Buffer.from('not json'), receivedAt: new Date() }),
      (error: unknown) => {
        assert.ok(isJunctionError(error, 'SOURCE_UNAUTHENTICATED'));
        assert.ok(!error.message.includes(TOKEN));
        return true;
      },
    );
  }
  source.authenticate(req('not json'));
  assert.throws(
    () => securityReportSource({ name: 'ci', type: 'security-report', username: 'u', password: 'p' }),
    (error: unknown) => isJunctionError(error, 'CONFIG_INVALID') && /token/.test(error.message),
  );
  assert.throws(
    () => securityReportSource({ name: 'ci', type: 'security-report' }),
    (error: unknown) => isJunctionError(error, 'CONFIG_INVALID'),
  );
});

void test('malformed and wrongly shaped reports are refused with SOURCE_PAYLOAD_INVALID only', () => {
  refused('not json', /json/i);
  refused(Buffer.from([0xff, 0xfe, 0x00]), /utf-8/i);
  refused('[1,2]', /must be a json object \(got an array\)/);
  refused('"sarif"', /must be a json object/);
  refused('['.repeat(100_000), /deep|depth/i);
  refused({ version: '2.1.0', runs: { results: [] } }, /runs as an array \(got an object\)/);
  refused({ version: '2.0.0', runs: [] }, /sarif version '2.0.0' is not supported/);
  refused(sarif('nope'), /runs\[0\]\.results must be an array/);
  refused(sarif([42]), /runs\[0\]\.results\[0\] must be an object/);
  refused({ version: '2.1.0', runs: [{ results: [] }] }, /tool\.driver must be an object/);
  refused({ version: '2.1.0', runs: [null] }, /runs\[0\] must be an object/);
  refused({ SchemaVersion: 2, Results: 'x' }, /Results as an array/);
  refused(
    { SchemaVersion: 2, Results: [{ Vulnerabilities: {} }] },
    /Results\[0\]\.Vulnerabilities must be an array/,
  );
  refused(grype([{ artifact: {} }]), /matches\[0\]\.vulnerability must be an object/);
  refused({ matches: [], descriptor: { name: 'syft' } }, /not recognized/);
  refused({}, /not recognized/);
});

void test('a sarif result without a rule id still maps; its message tells it apart', () => {
  const noRule = (text: string): Record<string, unknown> => {
    const { ruleId: _ruleId, ...rest } = sarifResult({ message: { text } });
    return rest;
  };
  const { events } = map(sarif([noRule('first'), noRule('second'), noRule('first')]));
  assert.equal(events.length, 3);
  const data = dataOf(events[0]?.event ?? assert.fail());
  assert.deepEqual(data.rule, { id: null, name: null, description: null });
  assert.equal(data.severity, 'medium');
  assert.equal(new Set(events.map((e) => e.event.id)).size, 3);
  // A rule found by ruleIndex alone gives its id.
  const byIndex = map(sarif([{ ...noRule('x'), ruleIndex: 1 }]));
  assert.equal((dataOf(byIndex.events[0]?.event ?? assert.fail()).rule as { id: unknown }).id, 'js/style');
});

void test('enormous messages and descriptions are shortened; an oversized finding drops its payload', () => {
  const huge = 'é'.repeat(MAX_PAYLOAD_BYTES); // 128 KiB of UTF-8
  const body = sarif([sarifResult({ message: { text: huge } }), sarifResult({ ruleId: 'js/style' })]);
  const rules = (body.runs as { tool: { driver: { rules: Record<string, unknown>[] } } }[])[0]?.tool.driver
    .rules;
  if (rules?.[0] !== undefined) rules[0].fullDescription = { text: huge };
  const { events } = map(body);
  const big = dataOf(events[0]?.event ?? assert.fail());
  assert.equal(big.payload, null);
  assert.equal(big.payloadTruncated, true);
  const message = String(big.message);
  assert.ok(Buffer.byteLength(message) <= MAX_TEXT_BYTES);
  assert.ok(message.endsWith('…'));
  assert.ok(!message.includes('\ufffd'));
  const description = String((big.rule as { description: unknown }).description);
  assert.ok(Buffer.byteLength(description) <= MAX_TEXT_BYTES);
  const small = dataOf(events[1]?.event ?? assert.fail());
  assert.equal(small.payloadTruncated, false);
  assert.notEqual(small.payload, null);
  assert.equal(shorten('short'), 'short');
  assert.equal(shorten('a'.repeat(MAX_TEXT_BYTES)), 'a'.repeat(MAX_TEXT_BYTES));
  assert.equal(Buffer.byteLength(shorten('😀'.repeat(1000)) ?? ''), 1020 + 3);
});

void test('more than 10,000 findings are refused whole, saying the count and the limit', () => {
  const matches = Array.from({ length: MAX_FINDINGS }, (_, i) => grypeMatch(`CVE-2024-${10000 + i}`));
  const full = map(grype(matches));
  assert.equal(full.events.length, MAX_FINDINGS);
  refused(
    grype([...matches, grypeMatch('CVE-2025-0001')]),
    /holds 10001 findings \(at most 10000 per upload\)/,
  );
  const results = Array.from({ length: 5001 }, (_, i) => sarifResult({ locations: [], ruleId: `r${i}` }));
  const twoRuns = sarif(results);
  (twoRuns.runs as unknown[]).push((twoRuns.runs as unknown[])[0]);
  refused(twoRuns, /holds 10002 findings/);
  const vulns = Array.from({ length: 10_001 }, (_, i) => ({
    VulnerabilityID: `CVE-2024-${i}`,
    PkgName: 'p',
  }));
  refused({ SchemaVersion: 2, Results: [{ Target: 't', Vulnerabilities: vulns }] }, /holds 10001 findings/);
});

void test('__proto__ keys stay data: nothing reaches a prototype and the report still maps', () => {
  const text =
    '{"__proto__":{"polluted":1},"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x",' +
    '"rules":[{"id":"__proto__","name":"proto","__proto__":{"polluted":2}}]}},' +
    '"results":[{"ruleId":"__proto__","__proto__":{"polluted":3},"message":{"text":"m"},' +
    '"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.js"}}}],"properties":{"__proto__":{"security-severity":"9.9"}}}]}]}';
  const { events } = map(text);
  assert.equal(events.length, 1);
  const data = dataOf(events[0]?.event ?? assert.fail());
  assert.deepEqual(data.rule, { id: '__proto__', name: 'proto', description: null });
  assert.equal(data.severity, 'medium'); // security-severity hidden under __proto__ is not read
  assert.ok(Object.hasOwn(data.payload as object, '__proto__'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});
