/**
 * `junction replay`: re-inject stored events as new deliveries (server/routes/api-replay.ts).
 * - `junction replay EVENT_ID [--dry-run]`
 * - `junction replay --type T [--source S] [--since T] [--until T] [--limit N] [--dry-run]`
 * A replay prints `evt <stored id> git.push → replayed as <new id>`. With `--dry-run` nothing is
 * stored and each event prints what the pipelines loaded now would do, and why:
 * `evt <id> git.push → ci: would run (matched) · deploy: no (branch 'feature' not in [main])`.
 */
import type { Command } from 'commander';
import { JunctionError } from '../../errors/index.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { paint, printJson } from '../output.ts';

interface ReplayDecision {
  pipeline: string;
  triggerIndex: number;
  matched: boolean;
  reason: string;
}

export interface ReplayItem {
  eventId: string;
  type: string;
  source: string;
  replayId?: string;
  error?: { code: string; message: string };
  decisions?: ReplayDecision[];
}

/** One line per event: the replay's id, its error, or (dry run) each pipeline's verdict. Pure. */
export function formatReplayItems(items: readonly ReplayItem[]): string {
  if (items.length === 0) return 'no stored events match\n';
  return items
    .map((item) => {
      const head = `evt ${item.eventId} ${item.type} → `;
      if (item.error !== undefined)
        return `${head}${paint('red', `refused: ${item.error.code}`)} ${item.error.message}\n`;
      if (item.decisions === undefined) return `${head}replayed as ${item.replayId ?? '?'}\n`;
      if (item.decisions.length === 0) return `${head}no pipeline listens for this type\n`;
      const verdicts = item.decisions.map((d) => {
        const name = multiple(item.decisions!, d.pipeline) ? `${d.pipeline}[${d.triggerIndex}]` : d.pipeline;
        return d.matched ? `${name}: would run (${d.reason})` : `${name}: no (${d.reason})`;
      });
      return `${head}${verdicts.join(' · ')}\n`;
    })
    .join('');
}

function multiple(decisions: readonly ReplayDecision[], pipeline: string): boolean {
  return decisions.filter((d) => d.pipeline === pipeline).length > 1;
}

type ReplayFlags = ClientFlags & {
  type?: string;
  source?: string;
  since?: string;
  until?: string;
  limit?: number;
  dryRun?: boolean;
  json?: boolean;
};

export function registerReplay(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('replay')
      .description('re-inject stored events as new deliveries, or --dry-run to see what would run now')
      .argument('[eventId]', 'one stored event (else choose with --type / --source)')
      .option('--type <type>', 'replay the stored events of this type')
      .option('--source <source>', 'replay the stored events from this CloudEvents source')
      .option('--since <time>', 'received at or after (ISO 8601)')
      .option('--until <time>', 'received before (ISO 8601)')
      .option('-n, --limit <n>', 'at most this many events (1-1000, default 100)', (v) => Number(v))
      .option('--dry-run', 'store nothing; print which pipelines would run under the pipelines loaded now')
      .option('--json', 'print JSON ({ dryRun, items })'),
  ).action(async (eventId: string | undefined, flags: ReplayFlags) => {
    const dryRun = flags.dryRun === true;
    const client = clientFrom(flags);
    let items: ReplayItem[];
    if (eventId !== undefined) {
      const selectors = [flags.type, flags.source, flags.since, flags.until, flags.limit].filter(
        (v) => v !== undefined,
      );
      if (selectors.length > 0) {
        throw new JunctionError(
          'CLI_USAGE',
          'give an event id or --type/--source/--since/--until/--limit, not both',
        );
      }
      const { body } = await client.request<{ items: ReplayItem[] }>(
        'POST',
        `/api/v1/events/${encodeURIComponent(eventId)}/replay`,
        { body: JSON.stringify({ dryRun }), headers: { 'content-type': 'application/json' } },
      );
      items = body.items;
    } else {
      if (flags.type === undefined && flags.source === undefined) {
        throw new JunctionError(
          'CLI_USAGE',
          'give an event id, or --type and/or --source to choose stored events',
        );
      }
      const limit = flags.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new JunctionError('CLI_USAGE', '--limit must be an integer from 1 to 1000');
      }
      const request = {
        ...(flags.type === undefined ? {} : { type: flags.type }),
        ...(flags.source === undefined ? {} : { source: flags.source }),
        ...(flags.since === undefined ? {} : { since: flags.since }),
        ...(flags.until === undefined ? {} : { until: flags.until }),
        limit,
        dryRun,
      };
      const { body } = await client.request<{ items: ReplayItem[] }>('POST', '/api/v1/replay', {
        body: JSON.stringify(request),
        headers: { 'content-type': 'application/json' },
      });
      items = body.items;
    }
    if (flags.json === true) printJson({ dryRun, items });
    else {
      if (dryRun) process.stdout.write(paint('dim', 'dry run: nothing stored, nothing run\n'));
      process.stdout.write(formatReplayItems(items));
    }
    // Some events refused by intake (their schema changed, say): the others were replayed.
    if (items.some((item) => item.error !== undefined)) process.exitCode = 1;
  });
}
