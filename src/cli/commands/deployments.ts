/**
 * `junction deployments [ENV] [SERVICE] [--limit N] [--json]`: the deployments a running server
 * recorded (`GET /api/v1/deployments`), newest first, as a table of time, environment, service,
 * version, status and run; a rollback is marked `↩ rollback of <version>`, and a deployment that
 * was refused or failed shows why. `--json` prints the API's answer. Exit codes: 0 listed, 2 bad
 * usage (a name the deployments could not have), 3 no server, 4 not allowed.
 */
import type { Command } from 'commander';
import { JunctionError } from '../../errors/index.ts';
import { targetProblem } from '../../runs/index.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { paint, printJson } from '../output.ts';

/** One deployment as the API answers it (server/routes/api-deployments.ts). */
export interface DeploymentItem {
  id: string;
  environment: string;
  service: string;
  version: string;
  url: string | null;
  status: string;
  reason: string | null;
  runId: string;
  jobName: string;
  pipeline: string;
  isRollback: boolean;
  rollbackOf: string | null;
  rollbackOfVersion?: string | null;
  cause: string | null;
  actor: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const REASON_WIDTH = 60;
const CELL_WIDTH = 80;

type Colour = 'green' | 'red' | 'yellow' | 'cyan' | 'gray';

function colourOf(status: string): Colour {
  switch (status) {
    case 'succeeded':
      return 'green';
    case 'failed':
    case 'refused':
      return 'red';
    case 'cancelled':
      return 'yellow';
    case 'running':
      return 'cyan';
    default:
      return 'gray';
  }
}

/** Control characters (an escape sequence in a stored reason) become spaces. */
function printable(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? ' ' : char;
  }
  return out;
}

function clip(text: string, width: number): string {
  const line = printable(text).replace(/\s+/g, ' ').trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** The status cell: the status, and for a rollback what it rolled back from. */
export function statusCell(d: DeploymentItem): string {
  if (!d.isRollback) return d.status;
  const from = d.rollbackOfVersion ?? d.rollbackOf;
  return from === null ? `${d.status} ↩ rollback` : `${d.status} ↩ rollback of ${from}`;
}

/** The deployments table. Widths are measured before colour, so colour keeps columns aligned. */
export function formatDeploymentTable(items: readonly DeploymentItem[]): string {
  const headers = ['TIME', 'ENV', 'SERVICE', 'VERSION', 'STATUS', 'RUN', 'REASON'];
  const rows = items.map((d) =>
    [
      d.createdAt.replace(/\.\d+Z$/, 'Z'),
      d.environment,
      d.service,
      d.version,
      statusCell(d),
      d.runId,
      d.reason ?? '',
    ].map((cell, i) => clip(cell, i === 6 ? REASON_WIDTH : CELL_WIDTH)),
  );
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[], status?: string): string =>
    cells
      .map((cell, i) => {
        if (i === cells.length - 1) return cell;
        const padded = cell.padEnd(widths[i]!);
        return i === 4 && status !== undefined ? paint(colourOf(status), padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const body = rows.map((row, i) => line(row, items[i]!.status));
  return `${[paint('bold', line(headers)), ...body].join('\n')}\n`;
}

/** Refuses, before asking the server, a name no deployment can have. */
export function checkTargetName(what: 'environment' | 'service', value: string): void {
  const problem = targetProblem({
    name: what === 'environment' ? value : 'x',
    service: what === 'service' ? value : 'x',
    version: 'x',
  });
  if (problem !== undefined) throw new JunctionError('CLI_USAGE', problem);
}

interface DeploymentsFlags extends ClientFlags {
  limit?: number;
  json?: boolean;
}

export function registerDeployments(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('deployments')
      .description('list deployments, newest first; rollbacks are marked with ↩')
      .argument('[environment]', 'only deployments to this environment')
      .argument('[service]', 'only deployments of this service')
      .option('-n, --limit <n>', 'how many (1-1000, default 20)', (v) => Number(v))
      .option('--json', 'print JSON ({ items })'),
  ).action(async (environment: string | undefined, service: string | undefined, flags: DeploymentsFlags) => {
    const limit = flags.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new JunctionError('CLI_USAGE', '--limit must be an integer from 1 to 1000');
    }
    const query = new URLSearchParams({ limit: String(limit) });
    if (environment !== undefined) {
      checkTargetName('environment', environment);
      query.set('environment', environment);
    }
    if (service !== undefined) {
      checkTargetName('service', service);
      query.set('service', service);
    }
    const { body } = await clientFrom(flags).request<{ items: DeploymentItem[] }>(
      'GET',
      `/api/v1/deployments?${query.toString()}`,
    );
    if (flags.json === true) printJson(body);
    else if (body.items.length === 0) {
      const of = service === undefined ? '' : ` of ${service}`;
      const to = environment === undefined ? '' : ` to ${environment}`;
      process.stdout.write(`no deployments${of}${to}\n`);
    } else process.stdout.write(formatDeploymentTable(body.items));
  });
}
