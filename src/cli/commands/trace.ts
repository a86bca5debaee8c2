/**
 * `junction trace ID`: the causal chain an event or a run belongs to, from its root, as an indented
 * tree: each event with its type and a short summary, each run with its pipeline, status (and
 * reason when it did not succeed) and duration; the node asked for is marked `◀`. `--json` prints
 * the API's answer (`GET /api/v1/trace/:id`). An unknown id exits 5 (not found).
 */
import type { Command } from 'commander';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { paint, printJson } from '../output.ts';
import { durationOf } from './runs.ts';

interface EventNode {
  kind: 'event';
  id: string;
  type: string;
  source: string;
  subject: string | null;
  time: string;
  summary: string;
  focus?: boolean;
  children: TraceNode[];
}

interface RunNode {
  kind: 'run';
  id: string;
  pipeline: string;
  status: string;
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  rerunOf: string | null;
  focus?: boolean;
  children: TraceNode[];
}

type TraceNode = EventNode | RunNode;

export interface TraceAnswer {
  root: TraceNode;
  focus: string;
  nodes: number;
  truncated: boolean;
}

const REASON_WIDTH = 60;
const SUMMARY_WIDTH = 80;

/** One line of text a terminal cannot act on: control characters become spaces, long text is cut. */
function clean(text: string, width: number): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? ' ' : char;
  }
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > width ? `${out.slice(0, width - 1)}…` : out;
}

function statusColour(status: string): 'green' | 'red' | 'yellow' | 'cyan' | 'gray' {
  if (status === 'succeeded') return 'green';
  if (status === 'failed' || status === 'timed-out') return 'red';
  if (status === 'cancelled' || status === 'skipped') return 'yellow';
  if (status === 'running') return 'cyan';
  return 'gray';
}

/** `14:02:11` from an ISO 8601 time (UTC), or '' when it is not one. */
function clock(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? '' : new Date(time).toISOString().slice(11, 19);
}

function describeNode(node: TraceNode, now: number): string {
  const parts: string[] = [];
  if (node.kind === 'event') {
    parts.push(`evt ${clean(node.id, 80)}`, paint('bold', clean(node.type, 80)));
    const summary = clean(node.summary, SUMMARY_WIDTH);
    if (summary !== '') parts.push(summary);
    const at = clock(node.time);
    if (at !== '') parts.push(paint('dim', `(${at})`));
  } else {
    parts.push(`run ${clean(node.id, 80)}`, paint('bold', clean(node.pipeline, 80)));
    const status = clean(node.status, 20);
    const reason =
      node.status === 'succeeded' || node.reason === null ? '' : clean(node.reason, REASON_WIDTH);
    parts.push(paint(statusColour(node.status), reason === '' ? status : `${status}: ${reason}`));
    const took = durationOf(node.startedAt, node.finishedAt, now);
    if (took !== '-') parts.push(took);
    if (node.rerunOf !== null) parts.push(paint('dim', `(re-run of ${clean(node.rerunOf, 80)})`));
  }
  const line = parts.join('  ');
  return node.focus === true ? `${line}  ${paint('bold', '◀')}` : line;
}

/** The tree `trace` prints, one node a line. Pure, for tests. */
export function formatTrace(trace: TraceAnswer, now: number = Date.now()): string {
  const lines: string[] = [];
  const walk = (node: TraceNode, prefix: string, branch: string): void => {
    lines.push(`${prefix}${branch}${describeNode(node, now)}`);
    const below = prefix + (branch === '' ? '' : branch === '└─ ' ? '   ' : '│  ');
    node.children.forEach((child, index) => {
      walk(child, below, index === node.children.length - 1 ? '└─ ' : '├─ ');
    });
  };
  walk(trace.root, '', '');
  if (trace.truncated) {
    lines.push(
      paint(
        'yellow',
        `… the chain is longer than shown (${String(trace.nodes)} nodes); trace a node further down to see past it`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function registerTrace(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('trace')
      .description('show the causal chain of an event or a run: event → runs → emitted events → runs …')
      .argument('<id>', 'an event id (from emit or events) or a run id (run_…)')
      .option('--json', 'print JSON ({ focus, nodes, truncated, root })'),
  ).action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
    const client = clientFrom(flags);
    const { body } = await client.request<TraceAnswer>('GET', `/api/v1/trace/${encodeURIComponent(id)}`);
    if (flags.json === true) {
      printJson(body);
      return;
    }
    process.stdout.write(formatTrace(body));
  });
}
