/**
 * `junction dlq`: dead letters on a running server (server/routes/api-dead-letters.ts).
 * - `dlq list [--kind K] [--receiver R] [--limit N] [--json]`: a table, oldest first.
 * - `dlq show ID [--json]`: one dead letter, its headers and its payload as text (or base64).
 * - `dlq replay ID`: takes it in again; prints the stored event ids, the runs created, or the event
 *   queued for publishing again (outbox).
 * - `dlq drop ID`: deletes it.
 * An unknown id exits 5 (`DEAD_LETTER_NOT_FOUND`); a replay that fails again exits with the
 * code of its error and leaves the dead letter as it was.
 */
import type { Command } from 'commander';
import { JunctionError } from '../../errors/index.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { formatTable, paint, printJson } from '../output.ts';

/** One dead letter as the list answers it. */
export interface DeadLetterItem {
  id: string;
  kind: string;
  code: string;
  reason: string;
  attempts: number;
  receiver: string | null;
  destination: string | null;
  eventId: string | null;
  contentType: string | null;
  payloadBytes: number;
  createdAt: string;
  replayedAt: string | null;
  replayEventId: string | null;
}

interface DeadLetterDetail extends DeadLetterItem {
  headers: Record<string, string> | null;
  history: { at: string; status: number | null; error: string | null; durationMs: number }[];
  payloadBase64: string | null;
  payloadText: string | null;
}

const KINDS = ['intake', 'routing', 'delivery', 'outbox'];

/** The table `dlq list` prints. Pure, for tests. */
export function formatDeadLetterTable(items: readonly DeadLetterItem[]): string {
  return formatTable(
    ['ID', 'KIND', 'FROM', 'CODE', 'ATTEMPTS', 'CREATED', 'REPLAYED', 'REASON'],
    items.map((d) => [
      d.id,
      d.kind,
      d.receiver ?? d.destination ?? '-',
      d.code,
      String(d.attempts),
      d.createdAt,
      d.replayedAt ?? '-',
      d.reason,
    ]),
  );
}

function formatDetail(d: DeadLetterDetail): string {
  const lines = [
    `${paint('bold', `dead letter ${d.id}`)} (${d.kind})`,
    `code:      ${d.code}`,
    `reason:    ${d.reason}`,
    `attempts:  ${d.attempts}`,
    `created:   ${d.createdAt}`,
  ];
  if (d.receiver !== null) lines.push(`receiver:  ${d.receiver}`);
  if (d.destination !== null) lines.push(`sent to:   ${d.destination}`);
  if (d.eventId !== null) lines.push(`event:     ${d.eventId}`);
  if (d.replayedAt !== null) {
    lines.push(`replayed:  ${d.replayedAt}${d.replayEventId === null ? '' : ` → event ${d.replayEventId}`}`);
  }
  if (d.headers !== null && Object.keys(d.headers).length > 0) {
    lines.push('headers (credentials removed):');
    for (const [name, value] of Object.entries(d.headers)) lines.push(`  ${name}: ${value}`);
  }
  for (const attempt of d.history) {
    lines.push(`  try ${attempt.at}: ${attempt.status ?? 'no answer'} ${attempt.error ?? ''}`.trimEnd());
  }
  if (d.payloadBase64 !== null) {
    lines.push(`payload (${d.payloadBytes} bytes${d.contentType === null ? '' : `, ${d.contentType}`}):`);
    lines.push(d.payloadText ?? `base64: ${d.payloadBase64}`);
  }
  return `${lines.join('\n')}\n`;
}

function checkId(id: string): string {
  if (id.trim() === '' || id.length > 64) {
    throw new JunctionError(
      'CLI_USAGE',
      `dead letter id '${id.slice(0, 64)}' is not an id from \`junction dlq list\``,
    );
  }
  return encodeURIComponent(id);
}

type ListFlags = ClientFlags & { kind?: string; receiver?: string; limit?: number; json?: boolean };

export function registerDlq(program: Command, clientFrom: ClientFactory): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: deliveries that could not be taken in, routed or delivered');

  clientOptions(
    dlq
      .command('list')
      .description('list dead letters, oldest first')
      .option('--kind <kind>', `only this kind (${KINDS.join(', ')})`)
      .option('--receiver <name>', "only those that came to this source (or 'events')")
      .option('-n, --limit <n>', 'how many (1-1000, default 100)', (v) => Number(v))
      .option('--json', 'print JSON ({ items, next })'),
  ).action(async (flags: ListFlags) => {
    const limit = flags.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new JunctionError('CLI_USAGE', '--limit must be an integer from 1 to 1000');
    }
    if (flags.kind !== undefined && !KINDS.includes(flags.kind)) {
      throw new JunctionError(
        'CLI_USAGE',
        `--kind must be one of ${KINDS.join(', ')}, got '${flags.kind.slice(0, 40)}'`,
      );
    }
    const query = new URLSearchParams({ limit: String(limit) });
    if (flags.kind !== undefined) query.set('kind', flags.kind);
    if (flags.receiver !== undefined) query.set('receiver', flags.receiver);
    const { body } = await clientFrom(flags).request<{ items: DeadLetterItem[]; next: string | null }>(
      'GET',
      `/api/v1/dead-letters?${query.toString()}`,
    );
    if (flags.json === true) printJson(body);
    else if (body.items.length === 0) process.stdout.write('no dead letters\n');
    else {
      process.stdout.write(formatDeadLetterTable(body.items));
      if (body.next !== null)
        process.stdout.write(paint('dim', 'more: --json gives the cursor of the next page\n'));
    }
  });

  clientOptions(
    dlq
      .command('show')
      .description('show one dead letter with its headers and payload')
      .argument('<id>', 'the dead letter id (from dlq list)')
      .option('--json', 'print JSON'),
  ).action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
    const { body } = await clientFrom(flags).request<DeadLetterDetail>(
      'GET',
      `/api/v1/dead-letters/${checkId(id)}`,
    );
    if (flags.json === true) printJson(body);
    else process.stdout.write(formatDetail(body));
  });

  clientOptions(
    dlq
      .command('replay')
      .description('take a dead letter in again (intake: map and validate; routing: route the event)')
      .argument('<id>', 'the dead letter id (from dlq list)')
      .option('--json', 'print JSON'),
  ).action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
    const { body } = await clientFrom(flags).request<{
      id: string;
      ids: string[];
      duplicates: number;
      runs: string[];
      requeued?: string | null;
    }>('POST', `/api/v1/dead-letters/${checkId(id)}/replay`);
    if (flags.json === true) {
      printJson(body);
      return;
    }
    const parts: string[] = [];
    if (body.ids.length > 0)
      parts.push(
        `stored ${body.ids.join(', ')}${body.duplicates > 0 ? ` (${body.duplicates} already stored)` : ''}`,
      );
    if (body.runs.length > 0) parts.push(`runs ${body.runs.join(', ')}`);
    if (typeof body.requeued === 'string') parts.push(`event ${body.requeued} queued for publishing`);
    process.stdout.write(`replayed ${body.id}${parts.length === 0 ? '' : `: ${parts.join('; ')}`}\n`);
  });

  clientOptions(
    dlq
      .command('drop')
      .description('delete a dead letter')
      .argument('<id>', 'the dead letter id (from dlq list)'),
  ).action(async (id: string, flags: ClientFlags) => {
    await clientFrom(flags).request('DELETE', `/api/v1/dead-letters/${checkId(id)}`);
    process.stdout.write(`dropped ${id}\n`);
  });
}
