/**
 * `junction explain EVENT_ID`: why an event did or did not start pipelines, one line per trigger
 * that listens for the event's type: `✓ ci[0] matched → run run_…` or
 * `✗ deploy[1] branch 'dev' not in [main]`. `--json` prints the API's answer
 * (`GET /api/v1/events/:id/decisions`) with the event's type added.
 */
import type { Command } from 'commander';
import { paint, printJson } from '../output.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';

interface DecisionItem {
  pipeline: string;
  triggerIndex: number;
  matched: boolean;
  reason: string;
  runId: string | null;
  decidedAt: string;
}

interface EventItem {
  id: string;
  event: { type: string; source: string };
}

/** The lines `explain` prints for an event's decisions. Pure, for tests. */
export function formatDecisions(type: string, items: readonly DecisionItem[]): string {
  if (items.length === 0) {
    return `no pipeline listens for type '${type}' (or the event has not been routed yet)\n`;
  }
  return items
    .map((d) => {
      const name = `${d.pipeline}[${d.triggerIndex}]`;
      if (d.matched) {
        const run = d.runId === null ? '' : ` → run ${d.runId}`;
        return `${paint('green', '✓')} ${name} ${d.reason}${run}\n`;
      }
      return `${paint('red', '✗')} ${name} ${d.reason}\n`;
    })
    .join('');
}

export function registerExplain(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('explain')
      .description('show which pipelines an event matched, and why the others did not')
      .argument('<eventId>', "the event's id as Junction stored it (from emit or events)")
      .option('--json', 'print JSON ({ type, items, next })'),
  ).action(async (eventId: string, flags: ClientFlags & { json?: boolean }) => {
    const client = clientFrom(flags);
    const path = `/api/v1/events/${encodeURIComponent(eventId)}`;
    const { body: stored } = await client.request<EventItem>('GET', path);
    const { body } = await client.request<{ items: DecisionItem[]; next: string | null }>(
      'GET',
      `${path}/decisions`,
    );
    if (flags.json === true) {
      printJson({ type: stored.event.type, ...body });
      return;
    }
    process.stdout.write(
      paint('dim', `event ${stored.id} (${stored.event.type} from ${stored.event.source})\n`),
    );
    process.stdout.write(formatDecisions(stored.event.type, body.items));
  });
}
