/**
 * `junction approve RUN JOB [--reject] [--comment TEXT]`: decides on a deployment that waits for
 * approval (`POST /api/v1/runs/:id/jobs/:job/approval`, scope `approve`) and prints where it
 * stands after: approved (it starts, or waits only for a freeze window or its turn), still waiting
 * for more approvals, or rejected (the job fails). Exit codes: 0 recorded, 4 the token may not
 * approve, 5 no such run, 6 refused (not waiting for approval, already decided), 2 bad usage.
 */
import type { Command } from 'commander';
import { JunctionError } from '../../errors/index.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { paint, printJson } from '../output.ts';

/** The server's answer (runs/approvals.ts `ApprovalState`), as far as the CLI reads it. */
export interface ApprovalAnswer {
  runId: string;
  job: string;
  environment: string;
  service: string;
  version: string;
  required: number;
  approvedBy: string[];
  asked: string;
  state: 'waiting' | 'approved' | 'rejected' | 'none';
  reason: string | null;
  decisions: { decision: string; author: string; comment: string | null; at: string }[];
}

const MAX_COMMENT = 1000;

/** The outcome for people. Pure, for tests. */
export function formatApproval(answer: ApprovalAnswer): string {
  const target = `${answer.service} ${answer.version} to ${answer.environment}`;
  const counted = `${answer.approvedBy.length} of ${answer.required} approval${answer.required === 1 ? '' : 's'}`;
  switch (answer.state) {
    case 'approved':
      return `approved: ${target} (${counted}: ${answer.approvedBy.join(', ')}); run ${answer.runId} job ${answer.job} goes on\n`;
    case 'rejected': {
      const rejection = answer.decisions.find((d) => d.decision === 'rejected');
      const by = rejection === undefined ? '' : ` by ${rejection.author}`;
      return `rejected${by}: ${target}; job ${answer.job} of run ${answer.runId} fails\n`;
    }
    case 'waiting':
      return `recorded: ${target} has ${counted}; still waiting for ${answer.asked}\n`;
    case 'none':
      return `${target}: ${answer.asked}\n`;
  }
}

export function registerApprove(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('approve')
      .description('approve (or with --reject, reject) a deployment that waits for approval')
      .argument('<run>', 'the run id')
      .argument('<job>', 'the job that deploys')
      .option('--reject', 'reject the deployment: the job fails')
      .option('--comment <text>', 'why; recorded with the decision')
      .option('--json', 'print the server answer as JSON'),
  ).action(
    async (
      runId: string,
      job: string,
      flags: ClientFlags & { reject?: boolean; comment?: string; json?: boolean },
    ) => {
      if (flags.comment !== undefined && flags.comment.length > MAX_COMMENT) {
        throw new JunctionError(
          'CLI_USAGE',
          `--comment may hold at most ${MAX_COMMENT} characters, got ${flags.comment.length}`,
        );
      }
      const { body } = await clientFrom(flags).request<ApprovalAnswer>(
        'POST',
        `/api/v1/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(job)}/approval`,
        {
          body: JSON.stringify({
            decision: flags.reject === true ? 'reject' : 'approve',
            ...(flags.comment === undefined ? {} : { comment: flags.comment }),
          }),
          headers: { 'content-type': 'application/json' },
        },
      );
      if (flags.json === true) printJson(body);
      else {
        const text = formatApproval(body);
        process.stdout.write(body.state === 'rejected' ? paint('red', text) : text);
      }
    },
  );
}
