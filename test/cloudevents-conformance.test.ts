/**
 * Runs the published CloudEvents material through the HTTP binding:
 * - the HTTP scenarios of the cloudevents/conformance Gherkin feature (a small reader for exactly
 *   what that file uses: Scenario Outline, an HTTP request doc string, an attribute table, a data
 *   doc string and an Examples table);
 * - the events of the conformance YAML, sent the way the conformance tool sends them (binary
 *   mode, values trimmed, no content-type) and, for `Mode: structured`, as a JSON-format body;
 * - the spec's JSON-format examples and their binary-mode HTTP renderings, each checked against
 *   the other, as one batch, and the JSON form checked against the spec's JSON Schema.
 * The fixtures live beside the repository (../shared/fixtures) and are never copied into it.
 * Without them the suite is skipped with a notice, except under CI=true where that is a failure.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';
import {
  parseHttpEvents,
  toJsonFormat,
  type CloudEvent,
  type ParsedHttpEvents,
} from '../src/events/index.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');
const cloudevents = path.join(fixtures, 'cloudevents');
const present = fs.existsSync(cloudevents);
const skip = present ? false : `CloudEvents fixtures not found at ${cloudevents}`;

if (!present) {
  if (process.env.CI === 'true') {
    void test('CloudEvents conformance fixtures are present', () => {
      assert.fail(`${cloudevents} is missing; CI must provide ../shared/fixtures`);
    });
  } else {
    console.warn(`notice: skipping CloudEvents conformance tests: ${cloudevents} is absent`);
  }
}

const limits = { maxJsonDepth: 64, maxBatchEvents: 100 };
const encoder = new TextEncoder();

function parse(headers: Record<string, string>, body: string): ParsedHttpEvents {
  return parseHttpEvents({ headers, body: encoder.encode(body), limits });
}

/** The canonical string form of an attribute value, for comparing binary with structured. */
function canonical(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// --- Gherkin reader -----------------------------------------------------------------------

interface Scenario {
  readonly name: string;
  readonly request: string;
  readonly attributes: [string, string][];
  readonly data: string | undefined;
}

function tableRow(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** Expands every Scenario Outline of a feature file into concrete scenarios. */
function readFeature(text: string): Scenario[] {
  const lines = text.split(/\r?\n/);
  const outlines: { name: string; body: string[] }[] = [];
  for (const line of lines) {
    const m = /^\s*Scenario(?: Outline)?:\s*(.*)$/.exec(line);
    if (m !== null) outlines.push({ name: m[1]!, body: [] });
    else outlines.at(-1)?.body.push(line);
  }
  const scenarios: Scenario[] = [];
  for (const outline of outlines) {
    let request = '';
    let data: string | undefined;
    const attributes: [string, string][] = [];
    const examples: Record<string, string>[] = [];
    let section: 'none' | 'request' | 'data' | 'attributes' | 'examples' = 'none';
    let header: string[] | undefined;
    for (let i = 0; i < outline.body.length; i++) {
      const line = outline.body[i]!;
      const trimmed = line.trim();
      if (trimmed === '"""') {
        // A doc string: its content lines lose the indentation of the opening delimiter.
        const indent = line.indexOf('"""');
        const content: string[] = [];
        for (i++; i < outline.body.length && outline.body[i]!.trim() !== '"""'; i++) {
          content.push(outline.body[i]!.slice(indent));
        }
        if (section === 'request') request = content.join('\n');
        if (section === 'data') data = content.join('\n');
        continue;
      }
      if (/^Given an HTTP request/.test(trimmed)) section = 'request';
      else if (/^(And|Then) the data is equal to the following JSON/.test(trimmed)) section = 'data';
      else if (/^Then the attributes are/.test(trimmed)) [section, header] = ['attributes', undefined];
      else if (/^Examples:/.test(trimmed)) [section, header] = ['examples', undefined];
      else if (trimmed.startsWith('|')) {
        const row = tableRow(trimmed);
        if (header === undefined) header = row;
        else if (section === 'attributes') attributes.push([row[0]!, row[1]!]);
        else if (section === 'examples')
          examples.push(Object.fromEntries(header.map((h, k) => [h, row[k]!])));
      }
    }
    const substitute = (s: string, values: Record<string, string>) =>
      s.replace(/<([^<>\s]+)>/g, (whole, key: string) => values[key] ?? whole);
    for (const values of examples.length > 0 ? examples : [{}]) {
      scenarios.push({
        name: substitute(outline.name, values),
        request: substitute(request, values),
        attributes: attributes.map(([k, v]) => [k, substitute(v, values)]),
        data: data === undefined ? undefined : substitute(data, values),
      });
    }
  }
  return scenarios;
}

/** An HTTP/1.1 request as text → headers (names as written) and body. */
function readHttpRequest(text: string): { headers: Record<string, string>; body: string } {
  const lines = text.split('\n');
  const blank = lines.indexOf('', 1);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1, blank < 0 ? undefined : blank)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { headers, body: blank < 0 ? '' : lines.slice(blank + 1).join('\n') };
}

void describe('CloudEvents conformance: http-protocol-binding.feature', { timeout: 30_000, skip }, () => {
  const file = path.join(cloudevents, 'conformance', 'http-protocol-binding.feature');
  const scenarios = present ? readFeature(fs.readFileSync(file, 'utf8')) : [];

  void test('the reader found every scenario', () => {
    assert.equal(scenarios.length, 4);
    for (const s of scenarios) {
      assert.ok(s.request.startsWith('POST '), s.name);
      assert.ok(s.attributes.length >= 6, s.name);
      assert.ok(s.data !== undefined, s.name);
    }
  });

  for (const scenario of scenarios) {
    void test(scenario.name, () => {
      const { headers, body } = readHttpRequest(scenario.request);
      const { mode, events } = parse(headers, body);
      assert.equal(mode, /^Binary/.test(scenario.name) ? 'binary' : 'structured');
      assert.equal(events.length, 1);
      const event = events[0]!;
      for (const [key, value] of scenario.attributes) {
        assert.equal(event[key], value, `attribute ${key}`);
      }
      assert.deepEqual(event.data, JSON.parse(scenario.data!));
    });
  }
});

void describe('CloudEvents conformance: v1.yaml', { timeout: 30_000, skip }, () => {
  interface YamlEvent {
    Mode: string;
    ContextAttributes: Record<string, unknown> & { Extensions?: Record<string, string> };
    TransportExtensions?: Record<string, string>;
    Data: string;
  }
  const file = path.join(cloudevents, 'conformance', 'v1.yaml');
  // The failsafe schema keeps every scalar a string, as the conformance tool's Go structs do
  // (`specversion: 1.0` must stay "1.0", not the number 1).
  const docs = present
    ? parseAllDocuments(fs.readFileSync(file, 'utf8'), { schema: 'failsafe' }).map(
        (d) => d.toJS() as YamlEvent,
      )
    : [];

  void test('the reader found both events', () => {
    assert.deepEqual(
      docs.map((d) => d.Mode),
      ['binary', 'structured'],
    );
  });

  docs.forEach((doc, index) => {
    void test(`event ${index} (${doc.Mode})`, () => {
      const { Extensions: extensions = {}, ...attributes } = doc.ContextAttributes;
      // Like the tool's sender: every value trimmed, data sent as written, no content-type.
      const trimmed = (record: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(record).map(([k, v]) => [k, String(v).trim()]));
      const attrs = trimmed(attributes);
      const exts = trimmed(extensions);
      const transport = trimmed(doc.TransportExtensions ?? {});
      let parsed: ParsedHttpEvents;
      if (doc.Mode === 'binary') {
        const headers: Record<string, string> = { ...transport };
        for (const [k, v] of Object.entries({ ...attrs, ...exts })) headers[`ce-${k}`] = v;
        parsed = parse(headers, doc.Data);
      } else {
        const body = JSON.stringify({ ...attrs, ...exts, data: JSON.parse(doc.Data) });
        parsed = parse({ ...transport, 'content-type': 'application/cloudevents+json' }, body);
      }
      assert.equal(parsed.mode, doc.Mode);
      const event = parsed.events[0]!;
      for (const [k, v] of Object.entries({ ...attrs, ...exts })) assert.equal(event[k], v, k);
      assert.equal(event['user-agent'], undefined, 'transport headers are not attributes');
      assert.equal(event.datacontenttype, undefined);
      assert.deepEqual(event.data, JSON.parse(doc.Data));
      assert.deepEqual(event.comexampleextension2, '{"othervalue": 5}');
    });
  });
});

void describe(
  'CloudEvents spec examples: JSON format and HTTP binary rendering',
  { timeout: 30_000, skip },
  () => {
    const dir = path.join(cloudevents, 'spec');
    const files = present ? fs.readdirSync(dir).sort() : [];
    const structuredFiles = files.filter(
      (f) => f.endsWith('.structured.json') || f === 'spec.md.example.json',
    );
    const binaryFiles = files.filter((f) => f.endsWith('.binary-http.json'));
    const structured = (file: string): CloudEvent => {
      const body = fs.readFileSync(path.join(dir, file), 'utf8');
      const { mode, events } = parse({ 'content-type': 'application/cloudevents+json; charset=UTF-8' }, body);
      assert.equal(mode, 'structured');
      return events[0]!;
    };

    void test('the examples are there', () => {
      assert.equal(structuredFiles.length, 4);
      assert.equal(binaryFiles.length, 3);
    });

    for (const file of structuredFiles) {
      void test(`structured: ${file}`, () => {
        const raw = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
        const event = structured(file);
        for (const [key, value] of Object.entries(raw)) {
          if (value === null) assert.equal(Object.hasOwn(event, key), false, `${key}: null means absent`);
          else assert.deepEqual(event[key], value, key);
        }
      });
    }

    for (const file of binaryFiles) {
      void test(`binary: ${file} matches its structured rendering`, () => {
        const wrapper = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
          headers: Record<string, string>;
          body_raw: string;
        };
        const { mode, events } = parse(wrapper.headers, wrapper.body_raw);
        assert.equal(mode, 'binary');
        const binary = events[0]!;
        const twin = structured(file.replace('.binary-http.json', '.structured.json'));
        const names = new Set([...Object.keys(binary), ...Object.keys(twin)]);
        names.delete('data');
        for (const name of names) {
          // Binary mode carries every attribute as a string; compare canonical string forms.
          assert.equal(canonical(binary[name]), canonical(twin[name]), name);
        }
        if (typeof binary.data === 'string') {
          // Text data keeps the body byte for byte; the spec's HTTP rendering ends with a newline
          // that the JSON example's string does not have.
          assert.equal(binary.data, wrapper.body_raw);
          assert.equal(binary.data.trimEnd(), twin.data);
        } else {
          assert.deepEqual(binary.data, twin.data);
        }
      });
    }

    void test('all structured examples as one batch', () => {
      const events = structuredFiles.map(
        (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as unknown,
      );
      const { mode, events: parsed } = parse(
        { 'content-type': 'application/cloudevents-batch+json' },
        JSON.stringify(events),
      );
      assert.equal(mode, 'batch');
      assert.deepEqual(parsed, structuredFiles.map(structured));
    });

    void test("Junction's JSON output of every example matches the spec's JSON Schema", () => {
      const schema = JSON.parse(
        fs.readFileSync(path.join(cloudevents, 'schema', 'cloudevents.json'), 'utf8'),
      ) as object;
      const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
      addFormats.default(ajv);
      const validate = ajv.compile(schema);
      const outputs = [
        ...structuredFiles.map(structured),
        ...binaryFiles.map((f) => {
          const w = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
            headers: Record<string, string>;
            body_raw: string;
          };
          return parse(w.headers, w.body_raw).events[0]!;
        }),
      ].map(toJsonFormat);
      for (const output of outputs) {
        assert.ok(validate(output), JSON.stringify(validate.errors));
      }
    });
  },
);
