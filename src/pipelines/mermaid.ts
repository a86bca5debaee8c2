/**
 * How events flow between pipelines, as a graph and as a Mermaid `flowchart LR` picture. Pure
 * functions over loaded pipeline specs.
 *
 * Nodes are event types (each trigger's `event`, exact or a glob such as `image.*`), pipelines,
 * the types `uses: emit` steps publish, and `pipeline.succeeded` / `pipeline.failed`, which every
 * run publishes when it ends but which are drawn only when some trigger listens for them. An emit
 * whose type holds `${{ }}` is a `dynamic` node of its pipeline. Edges: type → pipeline for a
 * trigger, pipeline → type for an emit or a run's end, and type → glob for each known type a
 * trigger's glob matches. A trigger's other filters (`branches`, `if`, …) are not evaluated: an
 * edge means "can start", not "will start".
 *
 * Callers may assume: the same pipelines in any order give byte-identical output; node ids are
 * generated (`e1`, `p1`, `d1`) and never taken from names; every label is escaped, so no pipeline
 * name or event type can break the Mermaid syntax.
 */
import type { InputValue, JobSpec, PipelineSpec } from './types.ts';

export type FlowNodeKind = 'event' | 'pattern' | 'pipeline' | 'dynamic';
export type FlowEdgeKind = 'trigger' | 'emit' | 'end' | 'match';

export interface FlowNode {
  readonly id: string;
  readonly kind: FlowNodeKind;
  /** The event type or glob, the pipeline name, or `dynamic`. */
  readonly label: string;
  /** For `dynamic` nodes: the emit steps' `with.type` templates, sorted. */
  readonly templates?: readonly string[];
}

export interface FlowEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: FlowEdgeKind;
}

export interface PipelineFlow {
  readonly nodes: readonly FlowNode[];
  readonly edges: readonly FlowEdge[];
}

/** The events every run publishes when it ends. */
export const RUN_END_EVENTS = ['pipeline.succeeded', 'pipeline.failed'] as const;
const MAX_LABEL_CHARS = 120;

/**
 * True when `type` matches the trigger `event` glob: `*` is one dot-separated segment (or part of
 * one), `**` one or more whole segments; without `*` the two must be equal. The same rules as the
 * router's (docs/triggers.md), kept here because pipelines may not depend on triggers.
 */
function matchesType(pattern: string, type: string): boolean {
  if (!pattern.includes('*')) return pattern === type;
  const parts = pattern.split('.').map((segment) => {
    if (segment === '**') return '[^.]+(?:\\.[^.]+)*';
    if (segment === '*') return '[^.]+';
    return segment
      .split('*')
      .map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('[^.]*');
  });
  return new RegExp(`^${parts.join('\\.')}$`, 'u').test(type);
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function emittedTypes(jobs: Readonly<Record<string, JobSpec>>): InputValue[] {
  const types: InputValue[] = [];
  for (const job of Object.values(jobs))
    for (const step of job.steps) if (step.uses === 'emit') types.push(step.with['type'] ?? null);
  return types;
}

/** The flow graph of `pipelines`: nodes sorted by kind then label, edges by their ends. */
export function pipelineFlow(pipelines: readonly PipelineSpec[]): PipelineFlow {
  const sorted = [...pipelines].sort((a, b) => compare(a.name, b.name));
  const triggerTypes = new Set<string>();
  const emitted = new Map<string, Set<string>>(); // pipeline → exact types
  const dynamic = new Map<string, Set<string>>(); // pipeline → templates
  for (const pipeline of sorted) {
    for (const trigger of pipeline.on) triggerTypes.add(trigger.event);
    const exact = new Set<string>();
    const templates = new Set<string>();
    for (const type of [...emittedTypes(pipeline.jobs), ...emittedTypes(pipeline.finally)]) {
      if (typeof type !== 'string' || type === '') continue;
      if (type.includes('${{')) templates.add(type);
      else exact.add(type);
    }
    emitted.set(pipeline.name, exact);
    if (templates.size > 0) dynamic.set(pipeline.name, templates);
  }
  const runEnds = RUN_END_EVENTS.filter((type) => [...triggerTypes].some((p) => matchesType(p, type)));

  // Every event node, keyed by its text: trigger types and globs, emitted types, run ends.
  const eventTexts = new Set<string>(triggerTypes);
  for (const types of emitted.values()) for (const type of types) eventTexts.add(type);
  for (const type of runEnds) eventTexts.add(type);
  const isPattern = (text: string): boolean => text.includes('*') && triggerTypes.has(text);

  const nodes: FlowNode[] = [];
  const ids = new Map<string, string>();
  [...eventTexts].sort(compare).forEach((text, i) => {
    const id = `e${i + 1}`;
    ids.set(`event:${text}`, id);
    nodes.push({ id, kind: isPattern(text) ? 'pattern' : 'event', label: text });
  });
  sorted.forEach((pipeline, i) => {
    const id = `p${i + 1}`;
    ids.set(`pipeline:${pipeline.name}`, id);
    nodes.push({ id, kind: 'pipeline', label: pipeline.name });
  });
  [...dynamic.keys()].forEach((name, i) => {
    const id = `d${i + 1}`;
    ids.set(`dynamic:${name}`, id);
    nodes.push({ id, kind: 'dynamic', label: 'dynamic', templates: [...dynamic.get(name)!].sort(compare) });
  });

  const edges = new Map<string, FlowEdge>();
  const add = (from: string | undefined, to: string | undefined, kind: FlowEdgeKind): void => {
    if (from === undefined || to === undefined) return;
    edges.set(`${from}>${to}`, { from, to, kind });
  };
  const event = (text: string): string | undefined => ids.get(`event:${text}`);
  for (const pipeline of sorted) {
    const self = ids.get(`pipeline:${pipeline.name}`);
    for (const trigger of pipeline.on) add(event(trigger.event), self, 'trigger');
    for (const type of emitted.get(pipeline.name) ?? []) add(self, event(type), 'emit');
    for (const type of runEnds) add(self, event(type), 'end');
    if (dynamic.has(pipeline.name)) add(self, ids.get(`dynamic:${pipeline.name}`), 'emit');
  }
  for (const pattern of triggerTypes) {
    if (!isPattern(pattern)) continue;
    for (const text of eventTexts)
      if (text !== pattern && !isPattern(text) && matchesType(pattern, text))
        add(event(text), event(pattern), 'match');
  }
  const rank = (id: string): number =>
    ['e', 'p', 'd'].indexOf(id.charAt(0)) * 1_000_000 + Number(id.slice(1));
  const sortedEdges = [...edges.values()].sort(
    (a, b) => rank(a.from) - rank(b.from) || rank(a.to) - rank(b.to),
  );
  return { nodes, edges: sortedEdges };
}

/** A label as Mermaid text inside `"…"`: anything but plain characters becomes `#code;`. */
export function mermaidLabel(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const cut =
    [...flat].length > MAX_LABEL_CHARS ? `${[...flat].slice(0, MAX_LABEL_CHARS - 1).join('')}…` : flat;
  let out = '';
  for (const char of cut) {
    out += /^[A-Za-z0-9 ._\-/*:@+,=]$/.test(char) ? char : `#${char.codePointAt(0)!};`;
  }
  return out;
}

function nodeLine(node: FlowNode): string {
  const label = `"${mermaidLabel(node.label)}"`;
  switch (node.kind) {
    case 'event':
    case 'pattern':
      return `  ${node.id}([${label}])`;
    case 'pipeline':
      return `  ${node.id}[${label}]`;
    case 'dynamic':
      return `  ${node.id}([${label}]):::dynamic`;
  }
}

const ARROWS: Record<FlowEdgeKind, string> = {
  trigger: '-->',
  emit: '-->',
  end: '-.->',
  match: '-. matches .->',
};

/** Renders a flow graph as Mermaid `flowchart LR` text, one statement a line. */
export function renderMermaid(flow: PipelineFlow): string {
  const lines = ['flowchart LR'];
  for (const node of flow.nodes) lines.push(nodeLine(node));
  for (const edge of flow.edges) lines.push(`  ${edge.from} ${ARROWS[edge.kind]} ${edge.to}`);
  if (flow.nodes.some((n) => n.kind === 'dynamic')) lines.push('  classDef dynamic stroke-dasharray: 4 3');
  return `${lines.join('\n')}\n`;
}

/** The Mermaid `flowchart LR` picture of how events flow between `pipelines`. */
export function pipelineFlowGraph(pipelines: readonly PipelineSpec[]): string {
  return renderMermaid(pipelineFlow(pipelines));
}
