/**
 * The security-report source (`type: security-report`): a CI job uploads a scanner's report to
 * `POST /hooks/<name>` and every finding in it becomes one `security.finding` CloudEvent. Three
 * formats are read: SARIF 2.1.0, Trivy JSON and Grype JSON (see docs/sources-security.md).
 *
 * What callers may assume:
 * - Authentication is a bearer token (`token`, see `http-auth.ts`), checked before parsing.
 * - The format is detected from the body, or forced with `X-Junction-Report-Format`; a forced
 *   format whose shape the body does not have is refused, never guessed around.
 * - One event per finding, in report order. The CloudEvent id is
 *   `finding-<first 32 hex of sha256(tool name, rule or vulnerability id, location or package and
 *   version, target, subject)>`, so uploading the same report again stores nothing new (a
 *   repeated identity within one report is numbered, see `findingId`). The dedupe key is
 *   `security-report:<source name>:<id>`.
 * - `X-Junction-Report-Subject` (at most 256 printable ASCII characters) becomes the CloudEvent
 *   `subject` and part of the id, so the same CVE in two images is two findings.
 * - `data.payload` is the finding object alone (never the whole report); one that serializes to
 *   more than `MAX_PAYLOAD_BYTES` is dropped (`payload: null`, `payloadTruncated: true`). Rule
 *   descriptions and messages are shortened to `MAX_TEXT_BYTES`.
 * - `map` is pure and throws only SOURCE_PAYLOAD_INVALID, for an unreadable or misshapen report or
 *   one holding more than `MAX_FINDINGS` findings; a report is refused as a whole, never half
 *   mapped. A report without findings maps to no events and the note "no findings".
 */
import { createHash } from 'node:crypto';
import { JunctionError, isJunctionError } from '../errors/index.ts';
import { parseJsonBytes, validateCloudEvent } from '../events/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HookRequest, MappedEvent, SourceFactory, SourceResult } from './source.ts';

export const SECURITY_REPORT_SOURCE_TYPE = 'security-report';
/** The most findings one upload may carry. */
export const MAX_FINDINGS = 10_000;
/** The largest finding object kept under `data.payload`, serialized as JSON. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Rule descriptions and messages are cut to this many UTF-8 bytes. */
export const MAX_TEXT_BYTES = 1024;
/** The longest `X-Junction-Report-Subject`. */
export const MAX_SUBJECT_LENGTH = 256;
export const FORMAT_HEADER = 'x-junction-report-format';
export const SUBJECT_HEADER = 'x-junction-report-subject';

const MAX_DEPTH = 128;
const MAX_SHORT = 512;
const REPORT_FORMATS = ['sarif', 'trivy', 'grype'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info' | 'unknown';

type JsonObject = { readonly [key: string]: unknown };

/** One finding as read from a report, before it becomes an event. */
interface Finding {
  readonly tool: { readonly name: string; readonly version: string | null };
  readonly rule: {
    readonly id: string | null;
    readonly name: string | null;
    readonly description: string | null;
  };
  readonly severity: Severity;
  readonly message: string | null;
  readonly location: { readonly uri: string | null; readonly startLine: number | null } | null;
  readonly package: {
    readonly name: string | null;
    readonly installedVersion: string | null;
    readonly fixedVersion: string | null;
    readonly type: string | null;
  } | null;
  readonly vulnerability: string | null;
  readonly target: string | null;
  readonly fingerprint: string | null;
  /** What identifies the finding when it has no rule id (a SARIF result may lack one). */
  readonly fallbackIdentity?: string;
  readonly raw: JsonObject;
}

interface ParsedReport {
  readonly findings: readonly Finding[];
  readonly time: string | undefined;
}

export const securityReportSource: SourceFactory = (settings) => {
  const auth = httpAuthFromSettings(settings);
  if (auth.scheme !== 'bearer') {
    throw new JunctionError(
      'CONFIG_INVALID',
      `sources[name=${settings.name}]: a security-report source authenticates with 'token' (bearer), not basic auth`,
      { details: { source: settings.name } },
    );
  }
  const name = settings.name;
  return {
    name,
    type: settings.type,
    authenticate(request: HookRequest): void {
      checkHttpAuth(auth, request, name);
    },
    map(request: HookRequest): SourceResult {
      return mapSecurityReport(request, name);
    },
  };
};

/** Maps one uploaded report; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapSecurityReport(request: HookRequest, sourceName: string): SourceResult {
  try {
    const forced = forcedFormat(request.headers[FORMAT_HEADER]);
    const subject = reportSubject(request.headers[SUBJECT_HEADER]);
    const body = parseBody(request.body);
    const detected = detectReportFormat(body);
    if (forced !== undefined && detected !== undefined && detected !== forced) {
      throw payloadInvalid(
        `header x-junction-report-format says '${forced}' but the body is a ${detected} report`,
      );
    }
    const format = forced ?? detected;
    if (format === undefined) throw payloadInvalid(undetectedMessage(body));
    const report = readReport(format, body, forced !== undefined);
    return toEvents(report, { format, sourceName, subject, receivedAt: request.receivedAt });
  } catch (error) {
    if (isJunctionError(error, 'SOURCE_PAYLOAD_INVALID')) throw error;
    throw new JunctionError('SOURCE_PAYLOAD_INVALID', 'security report could not be mapped', {
      cause: error,
    });
  }
}

/** The format a parsed body announces itself as, or undefined. */
export function detectReportFormat(body: unknown): ReportFormat | undefined {
  if (!isObject(body)) return undefined;
  if (body.version === '2.1.0' && body.runs !== undefined) return 'sarif';
  if (
    typeof body.SchemaVersion === 'number' &&
    (body.Results !== undefined || body.ArtifactName !== undefined)
  ) {
    return 'trivy';
  }
  if (body.matches !== undefined && isObject(body.descriptor) && body.descriptor.name === 'grype')
    return 'grype';
  return undefined;
}

/**
 * SARIF severity: `properties.security-severity` (a CVSS score, from the result or else its rule)
 * when it is a number from 0 to 10 — at least 9 critical, 7 high, 4 medium, above 0 low, 0 info —
 * otherwise the level (the result's, else the rule's default, else SARIF's default `warning`):
 * error high, warning medium, note low, none info.
 */
export function sarifSeverity(level: unknown, securitySeverity: unknown): Severity {
  const score = cvssScore(securitySeverity);
  if (score !== undefined) {
    if (score >= 9) return 'critical';
    if (score >= 7) return 'high';
    if (score >= 4) return 'medium';
    if (score > 0) return 'low';
    return 'info';
  }
  switch (level) {
    case 'error':
      return 'high';
    case 'note':
      return 'low';
    case 'none':
      return 'info';
    case 'warning':
    case undefined:
      return 'medium';
    default:
      return 'unknown';
  }
}

/** Trivy and Grype severity words, case-insensitively; Negligible is info. */
export function wordSeverity(word: unknown): Severity {
  if (typeof word !== 'string') return 'unknown';
  switch (word.trim().toLowerCase()) {
    case 'critical':
      return 'critical';
    case 'high':
      return 'high';
    case 'medium':
      return 'medium';
    case 'low':
      return 'low';
    case 'negligible':
    case 'info':
    case 'informational':
      return 'info';
    default:
      return 'unknown';
  }
}

function cvssScore(value: unknown): number | undefined {
  let score: number;
  if (typeof value === 'number') score = value;
  else if (typeof value === 'string' && /^\s*\d{1,2}(\.\d+)?\s*$/.test(value)) score = Number(value);
  else return undefined;
  return Number.isFinite(score) && score >= 0 && score <= 10 ? score : undefined;
}

// ---- request headers and body -------------------------------------------------------------

function forcedFormat(header: string | undefined): ReportFormat | undefined {
  if (header === undefined) return undefined;
  const value = header.trim().toLowerCase();
  if ((REPORT_FORMATS as readonly string[]).includes(value)) return value as ReportFormat;
  throw payloadInvalid(
    `header x-junction-report-format is '${printable(header, 40)}' (expected one of: ${REPORT_FORMATS.join(', ')})`,
  );
}

function reportSubject(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length === 0 || header.length > MAX_SUBJECT_LENGTH || !/^[\x20-\x7e]+$/.test(header)) {
    throw payloadInvalid(
      `header x-junction-report-subject must be 1 to ${MAX_SUBJECT_LENGTH} printable ascii characters (got ${header.length} characters)`,
    );
  }
  return header;
}

function parseBody(body: Uint8Array): JsonObject {
  let value: unknown;
  try {
    value = parseJsonBytes(body, { maxDepth: MAX_DEPTH, what: 'security report' }).value;
  } catch (error) {
    throw payloadInvalid(error instanceof Error ? error.message : 'unreadable', error);
  }
  if (!isObject(value)) throw payloadInvalid(`security report must be a json object (got ${kindOf(value)})`);
  return value;
}

function undetectedMessage(body: JsonObject): string {
  if (body.runs !== undefined && typeof body.version === 'string') {
    return `sarif version '${printable(body.version, 40)}' is not supported (expected '2.1.0')`;
  }
  return (
    'security report format not recognized: expected sarif 2.1.0 (version "2.1.0" and runs), ' +
    'trivy json (SchemaVersion and Results) or grype json (matches and descriptor.name "grype"), ' +
    'or set header x-junction-report-format'
  );
}

function readReport(format: ReportFormat, body: JsonObject, forced: boolean): ParsedReport {
  switch (format) {
    case 'sarif':
      return readSarif(body, forced);
    case 'trivy':
      return readTrivy(body);
    case 'grype':
      return readGrype(body);
  }
}

// ---- SARIF 2.1.0 --------------------------------------------------------------------------

function readSarif(body: JsonObject, forced: boolean): ParsedReport {
  if (!forced && body.version !== '2.1.0') throw payloadInvalid('sarif report needs version "2.1.0"');
  const runs = arrayAt(body.runs, 'sarif report needs runs as an array');
  const runObjects = runs.map((run, i) => objectAt(run, `sarif runs[${i}] must be an object`));
  let total = 0;
  for (const [i, run] of runObjects.entries()) {
    if (run.results === undefined || run.results === null) continue;
    total += arrayAt(run.results, `sarif runs[${i}].results must be an array`).length;
  }
  checkCount(total);
  const findings: Finding[] = [];
  let time: string | undefined;
  for (const [i, run] of runObjects.entries()) {
    const results = Array.isArray(run.results) ? run.results : [];
    const context = sarifRunContext(run, i);
    time ??= sarifRunTime(run);
    for (const [j, result] of results.entries()) {
      findings.push(
        sarifFinding(objectAt(result, `sarif runs[${i}].results[${j}] must be an object`), context),
      );
    }
  }
  return { findings, time };
}

interface SarifRun {
  readonly tool: Finding['tool'];
  readonly rulesById: ReadonlyMap<string, JsonObject>;
  readonly rules: readonly unknown[];
  readonly artifacts: readonly unknown[];
}

function sarifRunContext(run: JsonObject, index: number): SarifRun {
  const driver = objectAt(
    isObject(run.tool) ? run.tool.driver : undefined,
    `sarif runs[${index}].tool.driver must be an object`,
  );
  const name = shortString(driver.name);
  if (name === null) throw payloadInvalid(`sarif runs[${index}].tool.driver.name must be a string`);
  const rules = Array.isArray(driver.rules) ? driver.rules : [];
  const rulesById = new Map<string, JsonObject>();
  for (const rule of rules) {
    if (isObject(rule) && typeof rule.id === 'string' && !rulesById.has(rule.id))
      rulesById.set(rule.id, rule);
  }
  return {
    tool: { name, version: shortString(driver.version) ?? shortString(driver.semanticVersion) },
    rulesById,
    rules,
    artifacts: Array.isArray(run.artifacts) ? run.artifacts : [],
  };
}

function sarifRunTime(run: JsonObject): string | undefined {
  const invocation: unknown = Array.isArray(run.invocations) ? run.invocations[0] : undefined;
  if (!isObject(invocation)) return undefined;
  return rfc3339(invocation.endTimeUtc) ?? rfc3339(invocation.startTimeUtc);
}

function sarifFinding(result: JsonObject, run: SarifRun): Finding {
  const ruleRef = isObject(result.rule) ? result.rule : {};
  const ruleId = shortString(result.ruleId) ?? shortString(ruleRef.id);
  const ruleIndex = typeof result.ruleIndex === 'number' ? result.ruleIndex : ruleRef.index;
  const indexed: unknown = typeof ruleIndex === 'number' ? run.rules[ruleIndex] : undefined;
  const rule =
    (ruleId === null ? undefined : run.rulesById.get(ruleId)) ?? (isObject(indexed) ? indexed : {});
  const id = ruleId ?? shortString(rule.id);
  const properties = isObject(result.properties) ? result.properties : {};
  const ruleProperties = isObject(rule.properties) ? rule.properties : {};
  const defaults = isObject(rule.defaultConfiguration) ? rule.defaultConfiguration : {};
  const level = result.level ?? defaults.level;
  const securitySeverity = properties['security-severity'] ?? ruleProperties['security-severity'];
  const message = textOf(result.message);
  return {
    tool: run.tool,
    rule: {
      id,
      name: shortString(rule.name),
      description: shorten(textOf(rule.fullDescription) ?? textOf(rule.shortDescription)),
    },
    severity: sarifSeverity(level, securitySeverity),
    message: shorten(message),
    location: sarifLocation(result, run),
    package: null,
    vulnerability: vulnerabilityId(id),
    target: null,
    fingerprint: sarifFingerprint(result),
    ...(id === null ? { fallbackIdentity: `message:${sha256(message ?? '')}` } : {}),
    raw: result,
  };
}

function sarifLocation(result: JsonObject, run: SarifRun): Finding['location'] {
  const first: unknown = Array.isArray(result.locations) ? result.locations[0] : undefined;
  const physical = isObject(first) && isObject(first.physicalLocation) ? first.physicalLocation : undefined;
  if (physical === undefined) return null;
  const artifact = isObject(physical.artifactLocation) ? physical.artifactLocation : {};
  let uri = boundedString(artifact.uri);
  if (uri === null && typeof artifact.index === 'number') {
    const entry: unknown = run.artifacts[artifact.index];
    if (isObject(entry) && isObject(entry.location)) uri = boundedString(entry.location.uri);
  }
  const region = isObject(physical.region) ? physical.region : {};
  return { uri, startLine: positiveInt(region.startLine) };
}

function sarifFingerprint(result: JsonObject): string | null {
  for (const key of ['fingerprints', 'partialFingerprints'] as const) {
    const prints = result[key];
    if (!isObject(prints)) continue;
    for (const value of Object.values(prints)) {
      const print = shortString(value);
      if (print !== null) return print;
    }
  }
  return null;
}

// ---- Trivy JSON ---------------------------------------------------------------------------

const TRIVY_LISTS = ['Vulnerabilities', 'Misconfigurations', 'Secrets'] as const;

function readTrivy(body: JsonObject): ParsedReport {
  if (typeof body.SchemaVersion !== 'number') {
    throw payloadInvalid(`trivy report needs SchemaVersion as a number (got ${kindOf(body.SchemaVersion)})`);
  }
  const results =
    body.Results === undefined || body.Results === null
      ? []
      : arrayAt(body.Results, 'trivy report needs Results as an array');
  const resultObjects = results.map((r, i) => objectAt(r, `trivy Results[${i}] must be an object`));
  let total = 0;
  for (const [i, result] of resultObjects.entries()) {
    for (const list of TRIVY_LISTS) {
      const items = result[list];
      if (items === undefined || items === null) continue;
      total += arrayAt(items, `trivy Results[${i}].${list} must be an array`).length;
    }
  }
  checkCount(total);
  const trivy = isObject(body.Trivy) ? body.Trivy : {};
  const tool = { name: 'Trivy', version: shortString(trivy.Version) };
  const findings: Finding[] = [];
  for (const [i, result] of resultObjects.entries()) {
    const target = boundedString(result.Target);
    for (const list of TRIVY_LISTS) {
      const items = Array.isArray(result[list]) ? (result[list] as unknown[]) : [];
      for (const [j, item] of items.entries()) {
        const raw = objectAt(item, `trivy Results[${i}].${list}[${j}] must be an object`);
        const finding = trivyFinding(list, raw, { tool, target, result });
        if (finding !== undefined) findings.push(finding);
      }
    }
  }
  return { findings, time: rfc3339(body.CreatedAt) };
}

interface TrivyContext {
  readonly tool: Finding['tool'];
  readonly target: string | null;
  readonly result: JsonObject;
}

function trivyFinding(
  list: (typeof TRIVY_LISTS)[number],
  raw: JsonObject,
  ctx: TrivyContext,
): Finding | undefined {
  const common = { tool: ctx.tool, target: ctx.target, severity: wordSeverity(raw.Severity), raw };
  switch (list) {
    case 'Vulnerabilities': {
      const id = shortString(raw.VulnerabilityID);
      return {
        ...common,
        rule: { id, name: shortString(raw.Title), description: shorten(boundedString(raw.Description)) },
        message: null,
        location: null,
        package: {
          name: shortString(raw.PkgName),
          installedVersion: shortString(raw.InstalledVersion),
          fixedVersion: shortString(raw.FixedVersion),
          type: shortString(ctx.result.Type),
        },
        vulnerability: id,
        fingerprint: shortString(raw.Fingerprint),
      };
    }
    case 'Misconfigurations': {
      // Passed and excepted checks appear only with --include-non-failures; they are not findings.
      if (raw.Status !== undefined && raw.Status !== 'FAIL') return undefined;
      const cause = isObject(raw.CauseMetadata) ? raw.CauseMetadata : {};
      return {
        ...common,
        rule: {
          id: shortString(raw.ID) ?? shortString(raw.AVDID),
          name: shortString(raw.Title),
          description: shorten(boundedString(raw.Description)),
        },
        message: shorten(boundedString(raw.Message)),
        location: { uri: ctx.target, startLine: positiveInt(cause.StartLine) },
        package: null,
        vulnerability: null,
        fingerprint: null,
      };
    }
    case 'Secrets':
      return {
        ...common,
        rule: { id: shortString(raw.RuleID), name: shortString(raw.Title), description: null },
        message: null,
        location: { uri: ctx.target, startLine: positiveInt(raw.StartLine) },
        package: null,
        vulnerability: null,
        fingerprint: null,
      };
  }
}

// ---- Grype JSON ---------------------------------------------------------------------------

function readGrype(body: JsonObject): ParsedReport {
  const matches = arrayAt(body.matches, 'grype report needs matches as an array');
  checkCount(matches.length);
  const descriptor = isObject(body.descriptor) ? body.descriptor : {};
  const tool = { name: shortString(descriptor.name) ?? 'grype', version: shortString(descriptor.version) };
  const target = grypeTarget(body.source);
  const findings = matches.map((match, i): Finding => {
    const raw = objectAt(match, `grype matches[${i}] must be an object`);
    const vuln = objectAt(raw.vulnerability, `grype matches[${i}].vulnerability must be an object`);
    const artifact = objectAt(raw.artifact, `grype matches[${i}].artifact must be an object`);
    const id = shortString(vuln.id);
    const fix = isObject(vuln.fix) ? vuln.fix : {};
    const versions = Array.isArray(fix.versions) ? fix.versions.filter((v) => typeof v === 'string') : [];
    return {
      tool,
      rule: { id, name: null, description: shorten(boundedString(vuln.description)) },
      severity: wordSeverity(vuln.severity),
      message: null,
      location: null,
      package: {
        name: shortString(artifact.name),
        installedVersion: shortString(artifact.version),
        fixedVersion: versions.length > 0 ? shortString(versions.join(', ')) : null,
        type: shortString(artifact.type),
      },
      vulnerability: id,
      target,
      fingerprint: null,
      raw,
    };
  });
  return { findings, time: rfc3339(descriptor.timestamp) };
}

/** Grype's `source.target`: a path for directories and files, an object (userInput…) for images. */
function grypeTarget(source: unknown): string | null {
  if (!isObject(source)) return null;
  const target = source.target;
  if (typeof target === 'string') return boundedString(target);
  if (isObject(target)) return boundedString(target.userInput) ?? boundedString(target.imageID);
  return null;
}

// ---- findings to events -------------------------------------------------------------------

interface EventContext {
  readonly format: ReportFormat;
  readonly sourceName: string;
  readonly subject: string | undefined;
  readonly receivedAt: Date;
}

function toEvents(report: ParsedReport, ctx: EventContext): SourceResult {
  if (report.findings.length === 0) return { events: [], note: 'no findings' };
  const time = report.time ?? ctx.receivedAt.toISOString();
  const occurrences = new Map<string, number>();
  const events: MappedEvent[] = [];
  for (const [index, finding] of report.findings.entries()) {
    const identity = findingIdentity(finding, ctx.subject);
    const occurrence = (occurrences.get(identity) ?? 0) + 1;
    occurrences.set(identity, occurrence);
    const id = findingId(identity, occurrence);
    events.push({
      event: findingEvent(finding, id, time, ctx, index),
      dedupeKey: `${SECURITY_REPORT_SOURCE_TYPE}:${ctx.sourceName}:${id}`,
    });
  }
  return { events };
}

/** What makes a finding the same finding across uploads (see the module comment). */
function findingIdentity(finding: Finding, subject: string | undefined): string {
  const where =
    finding.package !== null
      ? ['package', finding.package.name, finding.package.installedVersion]
      : ['location', finding.location?.uri ?? null, finding.location?.startLine ?? null];
  return JSON.stringify([
    finding.tool.name,
    finding.rule.id ?? finding.vulnerability ?? finding.fallbackIdentity ?? null,
    where,
    finding.target,
    subject ?? null,
  ]);
}

/**
 * `finding-<first 32 hex of sha256(identity)>`. A report can repeat an identity (Trivy's SARIF
 * puts every package of an image at the image's line 1); the n-th repetition (n >= 2) hashes
 * `<identity>#<n>`, so every finding is kept and a re-upload of the same report, in the same
 * order, still gives the same ids.
 */
function findingId(identity: string, occurrence: number): string {
  const input = occurrence === 1 ? identity : `${identity}#${occurrence}`;
  return `finding-${sha256(input).slice(0, 32)}`;
}

function findingEvent(
  finding: Finding,
  id: string,
  time: string,
  ctx: EventContext,
  index: number,
): CloudEvent {
  const size = Buffer.byteLength(JSON.stringify(finding.raw), 'utf8');
  const truncated = size > MAX_PAYLOAD_BYTES;
  const candidate: CloudEvent = {
    specversion: '1.0',
    id,
    source: `${SECURITY_REPORT_SOURCE_TYPE}/${ctx.sourceName}`,
    type: 'security.finding',
    ...(ctx.subject === undefined ? {} : { subject: ctx.subject }),
    time,
    datacontenttype: 'application/json',
    data: {
      format: ctx.format,
      tool: finding.tool,
      rule: finding.rule,
      severity: finding.severity,
      message: finding.message,
      location: finding.location,
      package: finding.package,
      vulnerability: finding.vulnerability,
      target: finding.target,
      fingerprint: finding.fingerprint,
      subject: ctx.subject ?? null,
      payload: truncated ? null : finding.raw,
      payloadTruncated: truncated,
    },
  };
  try {
    return validateCloudEvent(candidate);
  } catch (error) {
    throw payloadInvalid(
      `finding ${index} does not make a valid event: ${error instanceof Error ? error.message : 'invalid'}`,
      error,
    );
  }
}

// ---- small helpers ------------------------------------------------------------------------

function checkCount(count: number): void {
  if (count > MAX_FINDINGS) {
    throw payloadInvalid(`security report holds ${count} findings (at most ${MAX_FINDINGS} per upload)`);
  }
}

function vulnerabilityId(id: string | null): string | null {
  return id !== null && /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3})$/i.test(id) ? id : null;
}

function textOf(value: unknown): string | null {
  if (!isObject(value)) return null;
  return typeof value.text === 'string'
    ? value.text
    : typeof value.markdown === 'string'
      ? value.markdown
      : null;
}

/** Cuts text to MAX_TEXT_BYTES of UTF-8, never inside a character, ending with '…' when cut. */
export function shorten(text: string | null): string | null {
  if (text === null || Buffer.byteLength(text, 'utf8') <= MAX_TEXT_BYTES) return text;
  const budget = MAX_TEXT_BYTES - Buffer.byteLength('…', 'utf8');
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}

/** An identifier-like string (names, ids, versions), or null when absent, empty or too long. */
function shortString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_SHORT) : null;
}

/** A path-like string kept whole up to MAX_TEXT_BYTES of characters, else cut. */
function boundedString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value.slice(0, 4 * MAX_TEXT_BYTES) : null;
}

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null;
}

function rfc3339(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) &&
    !value.startsWith('0001-')
    ? value
    : undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function arrayAt(value: unknown, message: string): readonly unknown[] {
  if (!Array.isArray(value)) throw payloadInvalid(`${message} (got ${kindOf(value)})`);
  return value;
}

function objectAt(value: unknown, message: string): JsonObject {
  if (!isObject(value)) throw payloadInvalid(`${message} (got ${kindOf(value)})`);
  return value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** A header value safe to quote in a message: printable ASCII only, cut. */
function printable(value: string, max: number): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

function payloadInvalid(message: string, cause?: unknown): JunctionError {
  return new JunctionError('SOURCE_PAYLOAD_INVALID', message, cause === undefined ? {} : { cause });
}
